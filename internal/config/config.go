// Package config holds the server's settings: embedded defaults, an
// optional JSON config file, STRATA_* environment variables and flags, in
// increasing precedence. Describe documents every setting in one table.
package config

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/strata-ml/strata/internal/blob"
)

// ModelConfig registers a foundation model from a Hugging Face directory.
type ModelConfig struct {
	ID       string `json:"id"`
	Dir      string `json:"dir"`
	Family   string `json:"family"`
	Name     string `json:"name,omitempty"`
	Provider string `json:"provider,omitempty"`
}

// AllBuckets is the Buckets key that sends every bucket not named otherwise
// to an external S3 service instead of the embedded store.
const AllBuckets = "*"

// BucketConfig locates the external S3 service (AWS S3, MinIO, ...) that
// holds some buckets. Empty credentials and region are taken from
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and
// AWS_REGION / AWS_DEFAULT_REGION.
type BucketConfig struct {
	// Endpoint is the service URL ("http://127.0.0.1:9000"); empty for AWS S3.
	Endpoint string `json:"endpoint,omitempty"`
	Region   string `json:"region,omitempty"`
	// PathStyle addresses buckets as /bucket/key (MinIO and most self-hosted S3).
	PathStyle       bool   `json:"pathStyle,omitempty"`
	AccessKeyID     string `json:"accessKeyId,omitempty"`
	SecretAccessKey string `json:"secretAccessKey,omitempty"`
	SessionToken    string `json:"sessionToken,omitempty"`
}

// Config is the server configuration.
type Config struct {
	DataDir         string        `json:"dataDir"`
	Addr            string        `json:"addr"`
	Region          string        `json:"region"`
	DatabaseURL     string        `json:"databaseUrl"`
	Workers         int           `json:"workers"`
	MaxActiveJobs   int           `json:"maxActiveJobs"`
	TrainCommand    []string      `json:"trainCommand,omitempty"`
	TrainThreads    int           `json:"trainThreads"`
	AccessKeyID     string        `json:"-"`
	SecretAccessKey string        `json:"-"`
	AccountID       string        `json:"accountId,omitempty"`
	LogLevel        string        `json:"logLevel"`
	LogFormat       string        `json:"logFormat"`
	NoStarter       bool          `json:"noStarter"`
	Models          []ModelConfig `json:"models,omitempty"`
	// Buckets maps bucket names (or AllBuckets) to the external S3 service
	// that holds them; job data in any other bucket lives in the embedded store.
	Buckets map[string]BucketConfig `json:"buckets,omitempty"`

	// Serving (docs/serving.md).
	// MemoryBudget bounds model weights, adapters and reserved KV cache
	// (0: three quarters of the machine's memory).
	MemoryBudget ByteSize `json:"memoryBudget"`
	// InvokeTimeout bounds one runtime invocation (ModelTimeoutException).
	InvokeTimeout Duration `json:"invokeTimeout"`
	// ModelLoadWait is how long a request waits for a loading model before
	// ModelNotReadyException (0: at once).
	ModelLoadWait Duration `json:"modelLoadWait"`
	// ModelUnitSequences and ModelUnitKVTokens are what one model unit buys
	// on a base model: concurrent sequences and KV cache tokens.
	ModelUnitSequences int `json:"modelUnitSequences"`
	ModelUnitKVTokens  int `json:"modelUnitKvTokens"`
	// MaxModelUnits is the per-account quota of provisioned model units.
	MaxModelUnits int `json:"maxModelUnits"`
}

// Setting documents one configuration setting.
type Setting struct {
	Key, Env, Default, Help string
}

// Describe lists every setting with its environment variable and default.
func Describe() []Setting {
	return []Setting{
		{"dataDir", "STRATA_DATA_DIR", "./data", "data directory: SQLite metadata, objects, job work dirs, model weights, server.key"},
		{"addr", "STRATA_ADDR", "127.0.0.1:8080", "listen address (HOST:PORT; port 0 picks a free port)"},
		{"region", "STRATA_REGION", "us-east-1", "region in ARNs and the accepted SigV4 credential scope"},
		{"databaseUrl", "STRATA_DATABASE_URL", "sqlite:DATADIR/strata.db", "metadata store: sqlite:PATH or postgres://..."},
		{"workers", "STRATA_WORKERS", "1", "customization jobs run at once by the in-process worker (0 = none)"},
		{"maxActiveJobs", "STRATA_MAX_ACTIVE_JOBS", "8", "per-account quota of InProgress+Stopping jobs (ServiceQuotaExceededException past it)"},
		{"trainCommand", "STRATA_TRAIN_COMMAND", "<this binary> train", "child command that runs one job (space-separated)"},
		{"trainThreads", "STRATA_TRAIN_THREADS", "0", "threads per training child (0 = all cores)"},
		{"-", "STRATA_ACCESS_KEY_ID", "(generated)", "access key id of the initial SigV4 key pair"},
		{"-", "STRATA_SECRET_ACCESS_KEY", "(generated)", "secret of the initial SigV4 key pair"},
		{"accountId", "STRATA_ACCOUNT_ID", "(generated)", "account id of the initial key"},
		{"logLevel", "STRATA_LOG_LEVEL", "info", "debug, info, warn or error"},
		{"logFormat", "STRATA_LOG_FORMAT", "text", "text or json"},
		{"noStarter", "STRATA_NO_STARTER", "false", "do not build the offline starter model at startup"},
		{"models", "-", "[]", "foundation models to register: [{id, dir, family}]"},
		{"buckets", "-", "{}", `job-data buckets on an external S3: {"BUCKET" or "*": {endpoint, region, pathStyle, accessKeyId, secretAccessKey}}`},
		{"-", "STRATA_S3_BUCKETS", "(none)", `comma-separated buckets (or "*") on the external S3 below; credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY`},
		{"-", "STRATA_S3_ENDPOINT", "(AWS S3)", "endpoint URL of the external S3 for STRATA_S3_BUCKETS"},
		{"-", "STRATA_S3_REGION", "(AWS_REGION)", "region of the external S3 for STRATA_S3_BUCKETS"},
		{"-", "STRATA_S3_PATH_STYLE", "true with an endpoint", "path-style addressing for STRATA_S3_BUCKETS"},
		{"memoryBudget", "STRATA_MEMORY_BUDGET", "3/4 of RAM", `memory for model weights, adapters and KV cache: bytes or "48GiB" (0 = 3/4 of RAM)`},
		{"invokeTimeout", "STRATA_INVOKE_TIMEOUT", "10m", "deadline of one runtime invocation (ModelTimeoutException past it)"},
		{"modelLoadWait", "STRATA_MODEL_LOAD_WAIT", "60s", "how long a request waits for a loading model before ModelNotReadyException (0 = at once)"},
		{"modelUnitSequences", "STRATA_MODEL_UNIT_SEQUENCES", "4", "concurrent sequences one model unit buys on a base model"},
		{"modelUnitKvTokens", "STRATA_MODEL_UNIT_KV_TOKENS", "8192", "KV cache tokens one model unit buys (multiple of 16), reserved in the memory budget"},
		{"maxModelUnits", "STRATA_MAX_MODEL_UNITS", "64", "per-account quota of provisioned model units (ServiceQuotaExceededException past it)"},
	}
}

// Default returns the embedded defaults.
func Default() Config {
	return Config{DataDir: "./data", Addr: "127.0.0.1:8080", Region: "us-east-1", Workers: 1, MaxActiveJobs: 8,
		LogLevel: "info", LogFormat: "text",
		InvokeTimeout: Duration(DefaultInvokeTimeout), ModelLoadWait: Duration(DefaultModelLoadWait),
		ModelUnitSequences: DefaultModelUnitSequences, ModelUnitKVTokens: DefaultModelUnitKVTokens, MaxModelUnits: DefaultMaxModelUnits}
}

// Load returns the defaults overlaid with the JSON file at path (if not
// empty) and then with environment variables read through getenv.
func Load(path string, getenv func(string) string) (Config, error) {
	c := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		if err := Parse(b, &c); err != nil {
			return c, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if err := c.applyEnv(getenv); err != nil {
		return c, err
	}
	return c, nil
}

// Parse decodes a JSON config document over c, rejecting unknown keys.
func Parse(b []byte, c *Config) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("config: parse: %w", err)
	}
	return c.Validate()
}

func (c *Config) applyEnv(getenv func(string) string) error {
	str := func(env string, dst *string) {
		if v := getenv(env); v != "" {
			*dst = v
		}
	}
	num := func(env string, dst *int) error {
		if v := getenv(env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("config: %s=%q: not an integer", env, v)
			}
			*dst = n
		}
		return nil
	}
	str("STRATA_DATA_DIR", &c.DataDir)
	str("STRATA_ADDR", &c.Addr)
	str("STRATA_REGION", &c.Region)
	str("STRATA_DATABASE_URL", &c.DatabaseURL)
	str("STRATA_ACCESS_KEY_ID", &c.AccessKeyID)
	str("STRATA_SECRET_ACCESS_KEY", &c.SecretAccessKey)
	str("STRATA_ACCOUNT_ID", &c.AccountID)
	str("STRATA_LOG_LEVEL", &c.LogLevel)
	str("STRATA_LOG_FORMAT", &c.LogFormat)
	if v := getenv("STRATA_TRAIN_COMMAND"); v != "" {
		c.TrainCommand = strings.Fields(v)
	}
	if v := getenv("STRATA_NO_STARTER"); v != "" {
		c.NoStarter = v == "1" || v == "true"
	}
	if err := c.applyBucketEnv(getenv); err != nil {
		return err
	}
	if err := c.applyServingEnv(getenv); err != nil {
		return err
	}
	for env, dst := range map[string]*int{"STRATA_WORKERS": &c.Workers, "STRATA_MAX_ACTIVE_JOBS": &c.MaxActiveJobs, "STRATA_TRAIN_THREADS": &c.TrainThreads,
		"STRATA_MODEL_UNIT_SEQUENCES": &c.ModelUnitSequences, "STRATA_MODEL_UNIT_KV_TOKENS": &c.ModelUnitKVTokens, "STRATA_MAX_MODEL_UNITS": &c.MaxModelUnits} {
		if err := num(env, dst); err != nil {
			return err
		}
	}
	return c.Validate()
}

// Validate checks the settings.
func (c *Config) Validate() error {
	if c.Workers < 0 || c.MaxActiveJobs < 0 || c.TrainThreads < 0 {
		return fmt.Errorf("config: workers, maxActiveJobs and trainThreads must be >= 0")
	}
	if c.AccountID != "" && (len(c.AccountID) != 12 || strings.Trim(c.AccountID, "0123456789") != "") {
		return fmt.Errorf("config: accountId %q must be 12 digits", c.AccountID)
	}
	for _, m := range c.Models {
		if m.ID == "" || m.Dir == "" {
			return fmt.Errorf("config: every model needs id and dir")
		}
	}
	if err := c.validateServing(); err != nil {
		return err
	}
	return c.validateBuckets()
}

// applyBucketEnv maps STRATA_S3_BUCKETS to the external S3 that
// STRATA_S3_ENDPOINT, STRATA_S3_REGION and STRATA_S3_PATH_STYLE describe,
// overriding file entries of the same names.
func (c *Config) applyBucketEnv(getenv func(string) string) error {
	list := getenv("STRATA_S3_BUCKETS")
	if list == "" {
		for _, env := range []string{"STRATA_S3_ENDPOINT", "STRATA_S3_REGION", "STRATA_S3_PATH_STYLE"} {
			if getenv(env) != "" {
				return fmt.Errorf("config: %s is set but STRATA_S3_BUCKETS is not", env)
			}
		}
		return nil
	}
	bc := BucketConfig{Endpoint: getenv("STRATA_S3_ENDPOINT"), Region: getenv("STRATA_S3_REGION"), PathStyle: getenv("STRATA_S3_ENDPOINT") != ""}
	if v := getenv("STRATA_S3_PATH_STYLE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("config: STRATA_S3_PATH_STYLE=%q: not a boolean", v)
		}
		bc.PathStyle = b
	}
	buckets := map[string]BucketConfig{}
	for name := range c.Buckets {
		buckets[name] = c.Buckets[name]
	}
	for name := range strings.SplitSeq(list, ",") {
		if name = strings.TrimSpace(name); name != "" {
			buckets[name] = bc
		}
	}
	c.Buckets = buckets
	return nil
}

// validateBuckets checks the external bucket mappings.
func (c *Config) validateBuckets() error {
	for name, b := range c.Buckets {
		if name != AllBuckets {
			if err := blob.ValidateBucketName(name); err != nil {
				return fmt.Errorf("config: buckets: %w", err)
			}
		}
		if b.Endpoint != "" {
			u, err := url.Parse(b.Endpoint)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("config: buckets: %s: endpoint %q must be an http:// or https:// URL with a host", name, b.Endpoint)
			}
		}
		if (b.AccessKeyID == "") != (b.SecretAccessKey == "") {
			return fmt.Errorf("config: buckets: %s: accessKeyId and secretAccessKey must be set together", name)
		}
	}
	return nil
}

// DB returns the database URL, defaulting to SQLite in the data dir.
func (c *Config) DB() string {
	if c.DatabaseURL != "" {
		return c.DatabaseURL
	}
	return "sqlite:" + filepath.Join(c.DataDir, "strata.db")
}
