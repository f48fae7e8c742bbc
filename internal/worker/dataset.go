package worker

import (
	"context"
	"os"
	"path/filepath"

	"github.com/strata-ml/strata/internal/dataset"
)

// ReportFile is the dataset report a job's Validation phase leaves in its
// work directory (served at /strata/v1/jobs/{id}/dataset-report).
const ReportFile = "dataset-report.json"

// ValidateDataset is the DatasetCheck backed by internal/dataset: Bedrock's
// rules for the base model's family, with the base model's own tokenizer and
// chat template. It writes the full report next to the job's inputs. A model
// directory the validator cannot load (no tokenizer) skips the check: the
// training child then reports what is wrong.
func ValidateDataset(ctx context.Context, req DatasetRequest) (string, error) {
	rep, err := dataset.ValidateJob(ctx, dataset.Job{
		ModelDir: req.ModelDir, BaseModelID: req.BaseModelID, Type: dataset.CustomizationType(req.CustomizationType),
		HyperParameters: req.HyperParameters, TrainFile: req.TrainFile, ValidationFiles: req.ValidationFiles,
		Templates: dataset.EngineTemplates, SpillDir: req.WorkDir,
	})
	if err != nil {
		if ctx.Err() != nil {
			return "", err
		}
		return "", nil
	}
	defer rep.Close()
	if req.WorkDir != "" {
		tmp := filepath.Join(req.WorkDir, ReportFile+".tmp")
		if f, err := os.Create(tmp); err == nil {
			werr := rep.WriteJSON(f)
			if werr == nil {
				werr = f.Sync()
			}
			if cerr := f.Close(); werr == nil && cerr == nil {
				_ = os.Rename(tmp, filepath.Join(req.WorkDir, ReportFile))
			}
		}
	}
	if !rep.Valid {
		return rep.FailureMessage, nil
	}
	return "", nil
}
