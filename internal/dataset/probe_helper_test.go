package dataset

import (
	"os"
	"path/filepath"

	"github.com/strata-ml/strata/engine/model"
)

// saveRandomModel writes random weights for dir/config.json into dir.
func saveRandomModel(dir string) error {
	cfg, err := model.LoadConfig(dir)
	if err != nil {
		return err
	}
	m, err := model.New(cfg, 1, model.Options{})
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(dir, "m")
	if err != nil {
		return err
	}
	if err := m.Save(tmp); err != nil {
		return err
	}
	return os.Rename(filepath.Join(tmp, "model.safetensors"), filepath.Join(dir, "model.safetensors"))
}
