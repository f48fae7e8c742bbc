package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Defaults of the serving settings (docs/serving.md).
const (
	DefaultInvokeTimeout      = 10 * time.Minute
	DefaultModelLoadWait      = 60 * time.Second
	DefaultModelUnitSequences = 4
	DefaultModelUnitKVTokens  = 8192
	DefaultMaxModelUnits      = 64
)

// kvBlockTokens is the KV cache block size; a model unit's KV tokens are a
// whole number of blocks.
const kvBlockTokens = 16

// Duration is a time.Duration written as a Go duration string ("90s",
// "10m") in JSON and in the environment.
type Duration time.Duration

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"90s\" or \"10m\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ByteSize is a size in bytes, written in JSON as a number of bytes or a
// string with a unit ("512MiB", "48GiB", "2GB").
type ByteSize int64

// MarshalJSON writes the number of bytes.
func (s ByteSize) MarshalJSON() ([]byte, error) { return json.Marshal(int64(s)) }

// UnmarshalJSON reads a number of bytes or a size string.
func (s *ByteSize) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		var n int64
		if err := json.Unmarshal(b, &n); err != nil {
			return errors.New("size must be a number of bytes or a string such as \"48GiB\"")
		}
		*s = ByteSize(n)
		return nil
	}
	v, err := ParseByteSize(str)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{ // longest suffixes first
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40},
	{"B", 1},
}

// ParseByteSize parses a size: a whole or decimal number followed by an
// optional unit, B, KB/MB/GB/TB (powers of 1000) or KiB/MiB/GiB/TiB and
// K/M/G/T (powers of 1024), e.g. "48GiB", "1.5G", "1073741824".
func ParseByteSize(s string) (ByteSize, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	if num == "" || strings.Trim(num, "0123456789.") != "" || strings.Count(num, ".") > 1 || num == "." {
		return 0, fmt.Errorf("size %q: want a number with an optional unit such as 48GiB", s)
	}
	if n, err := strconv.ParseInt(num, 10, 64); err == nil {
		if n > math.MaxInt64/mult {
			return 0, fmt.Errorf("size %q is too large", s)
		}
		return ByteSize(n * mult), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: want a number with an optional unit such as 48GiB", s)
	}
	v := f * float64(mult)
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return ByteSize(v), nil
}

// String writes the size in the largest binary unit that divides it.
func (s ByteSize) String() string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if s != 0 && int64(s)%u.mult == 0 {
			return strconv.FormatInt(int64(s)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// applyServingEnv reads the serving settings' STRATA_* variables.
func (c *Config) applyServingEnv(getenv func(string) string) error {
	if v := getenv("STRATA_MEMORY_BUDGET"); v != "" {
		n, err := ParseByteSize(v)
		if err != nil {
			return fmt.Errorf("config: STRATA_MEMORY_BUDGET: %w", err)
		}
		c.MemoryBudget = n
	}
	for env, dst := range map[string]*Duration{"STRATA_INVOKE_TIMEOUT": &c.InvokeTimeout, "STRATA_MODEL_LOAD_WAIT": &c.ModelLoadWait} {
		if v := getenv(env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("config: %s=%q: not a duration such as 90s or 10m", env, v)
			}
			*dst = Duration(d)
		}
	}
	return nil
}

// validateServing checks the serving settings.
func (c *Config) validateServing() error {
	switch {
	case c.MemoryBudget < 0:
		return fmt.Errorf("config: memoryBudget must be >= 0 (0: three quarters of the machine's memory)")
	case c.InvokeTimeout <= 0:
		return fmt.Errorf("config: invokeTimeout must be > 0")
	case c.ModelLoadWait < 0:
		return fmt.Errorf("config: modelLoadWait must be >= 0")
	case c.ModelUnitSequences < 1 || c.ModelUnitSequences > 4096:
		return fmt.Errorf("config: modelUnitSequences %d must be between 1 and 4096", c.ModelUnitSequences)
	case c.ModelUnitKVTokens < kvBlockTokens || c.ModelUnitKVTokens > 1<<24 || c.ModelUnitKVTokens%kvBlockTokens != 0:
		return fmt.Errorf("config: modelUnitKvTokens %d must be a multiple of %d between %d and %d", c.ModelUnitKVTokens, kvBlockTokens, kvBlockTokens, 1<<24)
	case c.MaxModelUnits < 1:
		return fmt.Errorf("config: maxModelUnits must be >= 1")
	}
	return nil
}
