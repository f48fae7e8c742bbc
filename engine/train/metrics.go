package train

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/strata-ml/strata/engine/safetensors"
)

// Metrics file names and headers (SPEC.md §A.11).
const (
	StepMetricsFile       = "step_wise_training_metrics.csv"
	ValidationMetricsFile = "validation_metrics.csv"
	stepHeader            = "step_number,epoch_number,training_loss,perplexity"
	validationHeader      = "step_number,epoch_number,validation_loss,perplexity"
)

// Perplexity is exp(loss), capped at MaxFloat64 for huge losses.
func Perplexity(loss float64) float64 {
	p := math.Exp(loss)
	if math.IsInf(p, 1) {
		return math.MaxFloat64
	}
	return p
}

// csvLog appends rows to one metrics file.
type csvLog struct {
	path string
	f    *os.File
}

// openCSV opens path for appending. Rows whose step_number is ≥ keepBelow
// are dropped first (a resumed run rewrites them), atomically.
func openCSV(path, header string, keepBelow int) (*csvLog, error) {
	var keep bytes.Buffer
	keep.WriteString(header + "\n")
	if b, err := os.ReadFile(path); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		first := true
		for sc.Scan() {
			line := sc.Text()
			if first {
				first = false
				if line == header {
					continue
				}
			}
			f, _, _ := strings.Cut(line, ",")
			n, err := strconv.Atoi(f)
			if err != nil || n >= keepBelow {
				continue
			}
			keep.WriteString(line + "\n")
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("train: metrics: %w", err)
	}
	if err := safetensors.WriteAtomic(path, keep.Bytes()); err != nil {
		return nil, fmt.Errorf("train: metrics: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("train: metrics: %w", err)
	}
	return &csvLog{path: path, f: f}, nil
}

func (c *csvLog) row(step, epoch int, loss float64) error {
	_, err := fmt.Fprintf(c.f, "%d,%d,%s,%s\n", step, epoch,
		strconv.FormatFloat(loss, 'g', 8, 64), strconv.FormatFloat(Perplexity(loss), 'g', 8, 64))
	if err != nil {
		return fmt.Errorf("train: write %s: %w", c.path, err)
	}
	return nil
}

func (c *csvLog) close() error {
	if c == nil {
		return nil
	}
	if err := c.f.Sync(); err != nil {
		c.f.Close()
		return fmt.Errorf("train: sync %s: %w", c.path, err)
	}
	return c.f.Close()
}
