package train

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/strata-ml/strata/engine/checkpoint"
	"github.com/strata-ml/strata/engine/safetensors"
)

// Output directory names inside OutputDir.
const (
	AdapterDirName = "adapter"
	MergedDirName  = "merged"
)

// TokenizerFiles are copied from the base model directory next to merged
// weights so that the result is a complete Hugging Face directory.
var tokenizerFiles = []string{
	"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
	"generation_config.json", "tokenizer.model", "chat_template.jinja",
}

func (r *runner) finish() (*Result, error) {
	res := &Result{
		TrainingLoss:     r.st.LastLoss,
		Steps:            r.st.Step,
		Epochs:           min(r.st.Epoch, r.hp.EpochCount),
		TrainTokens:      r.st.TrainTokens,
		TruncatedRecords: r.rep.Truncated,
		DroppedRecords:   r.rep.Dropped,
		EarlyStopped:     r.st.Early,
	}
	if r.st.Early && r.st.EpochStep > 0 {
		res.Epochs = r.st.Epoch + 1
	}
	if r.st.BestPath != "" {
		c, err := checkpoint.Load(r.st.BestPath)
		if err != nil {
			return nil, fmt.Errorf("train: load best checkpoint: %w", err)
		}
		if err := r.restoreWeights(c, r.st.BestPath); err != nil {
			return nil, err
		}
		res.BestCheckpoint = r.st.BestPath
	}
	if len(r.valOrd) > 0 {
		res.ValidationLoss = map[string]float64{}
		for _, name := range r.valOrd {
			l, _, err := r.evaluate(r.vals[name])
			if err != nil {
				return nil, err
			}
			res.ValidationLoss[name] = l
		}
	}
	if r.adapter != nil {
		dir := filepath.Join(r.o.OutputDir, AdapterDirName)
		if err := replaceDir(dir, r.adapter.Save); err != nil {
			return nil, fmt.Errorf("train: write adapter: %w", err)
		}
		res.AdapterDir = AdapterDirName
	}
	if r.adapter == nil || r.o.WriteMerged {
		if r.adapter != nil {
			if err := r.m.MergeLoRA(); err != nil {
				return nil, fmt.Errorf("train: merge adapter: %w", err)
			}
		}
		dir := filepath.Join(r.o.OutputDir, MergedDirName)
		err := replaceDir(dir, func(tmp string) error {
			if err := r.m.Save(tmp); err != nil {
				return err
			}
			return CopyTokenizerFiles(r.o.BaseModelDir, tmp)
		})
		if err != nil {
			return nil, fmt.Errorf("train: write merged model: %w", err)
		}
		res.MergedDir = MergedDirName
	}
	r.emit(Event{Type: EventCompleted, Step: r.st.Step, TotalSteps: r.total, Epoch: res.Epochs, Loss: r.st.LastLoss,
		Message: fmt.Sprintf("trained %d steps over %d epochs", r.st.Step, res.Epochs)})
	return res, nil
}

// replaceDir builds a directory with write in a temporary sibling and
// renames it over dir, so dir is always either the old or the new content.
func replaceDir(dir string, write func(tmp string) error) error {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := write(tmp); err != nil {
		return err
	}
	old := tmp + ".old"
	if err := os.Rename(dir, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.Rename(old, dir)
		return err
	}
	os.RemoveAll(old)
	if d, err := os.Open(parent); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// CopyTokenizerFiles copies the tokenizer and generation files that exist in
// src into dst, atomically each.
func CopyTokenizerFiles(src, dst string) error {
	if src == "" {
		return nil
	}
	for _, name := range tokenizerFiles {
		b, err := os.ReadFile(filepath.Join(src, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := safetensors.WriteAtomic(filepath.Join(dst, name), b); err != nil {
			return err
		}
	}
	return nil
}
