package config

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "strata.json")
	if err := os.WriteFile(path, []byte(`{"addr":"0.0.0.0:9000","workers":2,"models":[{"id":"meta.llama3-1-8b-instruct-v1:0","dir":"/m","family":"llama"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"STRATA_WORKERS": "3", "STRATA_TRAIN_COMMAND": "/bin/x train"}
	c, err := Load(path, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Addr, want.Workers, want.TrainCommand = "0.0.0.0:9000", 3, []string{"/bin/x", "train"}
	want.Models = []ModelConfig{{ID: "meta.llama3-1-8b-instruct-v1:0", Dir: "/m", Family: "llama"}}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
	if c.DB() != "sqlite:data/strata.db" {
		t.Errorf("DB() = %q", c.DB())
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tt := range []struct{ name, file string }{
		{"unknown key", `{"adr":"x"}`},
		{"bad type", `{"workers":"two"}`},
		{"negative", `{"workers":-1}`},
		{"account", `{"accountId":"12"}`},
		{"model", `{"models":[{"id":"x"}]}`},
		{"bucket name", `{"buckets":{"Bad_Bucket":{"endpoint":"http://127.0.0.1:9000"}}}`},
		{"bucket endpoint", `{"buckets":{"ext-data":{"endpoint":"127.0.0.1:9000"}}}`},
		{"bucket endpoint scheme", `{"buckets":{"ext-data":{"endpoint":"ftp://h"}}}`},
		{"bucket half key", `{"buckets":{"ext-data":{"accessKeyId":"AK"}}}`},
		{"bucket unknown key", `{"buckets":{"ext-data":{"usePathStyle":true}}}`},
	} {
		var c Config
		if err := Parse([]byte(tt.file), &c); err == nil {
			t.Errorf("%s: Parse(%s) succeeded", tt.name, tt.file)
		}
	}
	for _, env := range []map[string]string{
		{"STRATA_WORKERS": "x"},
		{"STRATA_S3_ENDPOINT": "http://127.0.0.1:9000"},
		{"STRATA_S3_BUCKETS": "ok-bucket", "STRATA_S3_PATH_STYLE": "maybe"},
		{"STRATA_S3_BUCKETS": "UPPER", "STRATA_S3_ENDPOINT": "http://127.0.0.1:9000"},
	} {
		if _, err := Load("", func(k string) string { return env[k] }); err == nil {
			t.Errorf("Load with %v succeeded", env)
		}
	}
}

// TestBuckets reads external bucket mappings from the file and the
// STRATA_S3_* environment, the environment winning per bucket.
func TestBuckets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "strata.json")
	file := `{"buckets":{"ext-data":{"endpoint":"http://127.0.0.1:9000","region":"eu-west-1","pathStyle":true,"accessKeyId":"AK","secretAccessKey":"SK"},
		"*":{"region":"us-west-2"}}}`
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"STRATA_S3_BUCKETS": "env-a, env-b", "STRATA_S3_ENDPOINT": "https://s3.example.com"}
	c, err := Load(path, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	envBucket := BucketConfig{Endpoint: "https://s3.example.com", PathStyle: true}
	want := map[string]BucketConfig{
		"ext-data": {Endpoint: "http://127.0.0.1:9000", Region: "eu-west-1", PathStyle: true, AccessKeyID: "AK", SecretAccessKey: "SK"},
		AllBuckets: {Region: "us-west-2"},
		"env-a":    envBucket, "env-b": envBucket,
	}
	if diff := cmp.Diff(want, c.Buckets); diff != "" {
		t.Errorf("Buckets (-want +got):\n%s", diff)
	}
	env["STRATA_S3_PATH_STYLE"] = "false"
	if c, err = Load("", func(k string) string { return env[k] }); err != nil || c.Buckets["env-a"].PathStyle {
		t.Errorf("STRATA_S3_PATH_STYLE=false: %+v, %v", c.Buckets, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`{"addr":"0.0.0.0:9000","workers":2}`)
	f.Add(`{"models":[{"id":"a.b","dir":"/m"}]}`)
	f.Add(`{"buckets":{"ext-data":{"endpoint":"http://127.0.0.1:9000","pathStyle":true},"*":{}}}`)
	f.Add(`{"memoryBudget":"48GiB","invokeTimeout":"90s","modelLoadWait":"0s","modelUnitSequences":8,"modelUnitKvTokens":4096,"maxModelUnits":10}`)
	f.Fuzz(func(t *testing.T, s string) {
		var c Config
		_ = Parse([]byte(s), &c)
	})
}

var update = flag.Bool("update", false, "rewrite golden files")

// TestDescribeGolden pins the settings table (strata server --describe-config).
func TestDescribeGolden(t *testing.T) {
	var b strings.Builder
	for _, s := range Describe() {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\n", s.Key, s.Env, s.Default, s.Help)
	}
	path := filepath.Join("testdata", "describe.golden")
	if *update {
		_ = os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("Describe() (-want +got):\n%s", diff)
	}
}
