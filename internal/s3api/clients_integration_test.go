//go:build integration

package s3api_test

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
)

// needTool returns the path of an external client or skips (fails under CI=true).
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not on PATH (required under CI=true)", name)
		}
		t.Skipf("%s not on PATH", name)
	}
	return p
}

// clientEnv is the environment for aws/boto3 against e with alice's key and no
// other AWS configuration.
func clientEnv(t *testing.T) []string {
	home := t.TempDir()
	env := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"),
		"AWS_ACCESS_KEY_ID=AKIDALICE", "AWS_SECRET_ACCESS_KEY=" + testKeys["AKIDALICE"][0],
		"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=" + filepath.Join(home, "none"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"), "AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER="}
	for _, k := range []string{"PYENV_ROOT", "PYENV_VERSION", "LANG", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func runTool(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Env = env
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	start := time.Now()
	defer func() {
		t.Logf("%s %s: %v", filepath.Base(name), strings.Join(args[:min(len(args), 3)], " "), time.Since(start).Round(time.Millisecond))
	}()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, out.String(), stderr.String())
	}
	return out.String()
}

// writeRandomFile streams n pseudo-random bytes to path and returns their MD5.
func writeRandomFile(t *testing.T, path string, n int64, seed uint64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := md5.New()
	r := rand.New(rand.NewPCG(seed, 2))
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	buf := make([]byte, 8)
	for i := int64(0); i < n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			buf[j] = byte(v >> (8 * j))
		}
		w.Write(buf[:min(8, n-i)])
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func fileMD5(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := md5.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// TestAWSCLI runs the aws CLI's s3 commands against the endpoint:
// mb, cp both ways (sizes around the 8 MiB multipart threshold and one
// 100 MiB file), ls, sync both ways, rm, rb.
func TestAWSCLI(t *testing.T) {
	aws := needTool(t, "aws")
	e := newEnv(t, diskblobOpts())
	env := clientEnv(t)
	ep := []string{"--endpoint-url", e.srv.URL}
	s3 := func(args ...string) string {
		return runTool(t, env, aws, append(append([]string{"s3"}, args...), ep...)...)
	}
	s3("mb", "s3://cli-bucket")
	src, dst := t.TempDir(), t.TempDir()
	sizes := map[string]int64{"zero": 0, "one": 1, "eight-minus": 8<<20 - 1, "eight": 8 << 20, "eight-plus": 8<<20 + 1, "hundred": 100 << 20}
	sums := map[string]string{}
	for name, n := range sizes {
		sums[name] = writeRandomFile(t, filepath.Join(src, name), n, uint64(n))
	}
	// One file alone, then the whole directory both ways (the CLI switches to
	// multipart uploads and ranged downloads at 8 MiB).
	s3("cp", filepath.Join(src, "eight-plus"), "s3://cli-bucket/single/eight-plus")
	s3("cp", "s3://cli-bucket/single/eight-plus", filepath.Join(dst, "single"))
	if got := fileMD5(t, filepath.Join(dst, "single")); got != sums["eight-plus"] {
		t.Errorf("aws s3 cp round trip of one file: md5 %s, want %s", got, sums["eight-plus"])
	}
	// A server-side copy above the threshold is a multipart UploadPartCopy.
	s3("cp", "s3://cli-bucket/single/eight-plus", "s3://cli-bucket/copied/eight-plus")
	s3("cp", "s3://cli-bucket/copied/eight-plus", filepath.Join(dst, "copied"))
	if got := fileMD5(t, filepath.Join(dst, "copied")); got != sums["eight-plus"] {
		t.Errorf("aws s3 cp s3->s3 of 8 MiB+1: md5 %s, want %s", got, sums["eight-plus"])
	}
	if h, err := e.client("AKIDALICE").HeadObject(t.Context(), &s3sdk.HeadObjectInput{Bucket: awssdk.String("cli-bucket"), Key: awssdk.String("copied/eight-plus")}); err != nil || !strings.HasSuffix(awssdk.ToString(h.ETag), `-2"`) {
		t.Errorf("copied object: HeadObject = %v; want a 2-part multipart ETag (UploadPartCopy)", err)
	}
	// aws s3 presign, fetched with plain HTTP.
	url := strings.TrimSpace(s3("presign", "s3://cli-bucket/single/eight-plus", "--expires-in", "300"))
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	h := md5.New()
	io.Copy(h, resp.Body)
	resp.Body.Close()
	if got := hex.EncodeToString(h.Sum(nil)); resp.StatusCode != 200 || got != sums["eight-plus"] {
		t.Errorf("GET %s = %d, md5 %s; want 200, %s", url, resp.StatusCode, got, sums["eight-plus"])
	}
	s3("cp", "--recursive", src, "s3://cli-bucket/cp/")
	s3("cp", "--recursive", "s3://cli-bucket/cp/", dst)
	for name := range sizes {
		if got := fileMD5(t, filepath.Join(dst, name)); got != sums[name] {
			t.Errorf("aws s3 cp round trip of %s (%d bytes): md5 %s, want %s", name, sizes[name], got, sums[name])
		}
	}
	ls := s3("ls", "s3://cli-bucket/cp/")
	for name := range sizes {
		if !strings.Contains(ls, " "+name+"\n") {
			t.Errorf("aws s3 ls does not list %s:\n%s", name, ls)
		}
	}
	// sync a tree with nested dirs and awkward names up and back down.
	tree := t.TempDir()
	files := []string{"a.txt", "dir/b c.txt", "dir/sub/ü+é.bin", "z/last"}
	for i, f := range files {
		os.MkdirAll(filepath.Join(tree, filepath.Dir(f)), 0o755)
		writeRandomFile(t, filepath.Join(tree, f), int64(1000*(i+1)), uint64(i))
	}
	s3("sync", tree, "s3://cli-bucket/tree/")
	down := t.TempDir()
	s3("sync", "s3://cli-bucket/tree/", down)
	for _, f := range files {
		if a, b := fileMD5(t, filepath.Join(tree, f)), fileMD5(t, filepath.Join(down, f)); a != b {
			t.Errorf("sync round trip of %s: md5 %s, want %s", f, b, a)
		}
	}
	if out := s3("sync", tree, "s3://cli-bucket/tree/"); strings.Contains(out, "upload:") {
		t.Errorf("second sync uploaded again:\n%s", out)
	}
	rec := s3("ls", "--recursive", "s3://cli-bucket/tree/")
	var keys []string
	for line := range strings.SplitSeq(strings.TrimSpace(rec), "\n") {
		f := strings.Fields(line)
		keys = append(keys, strings.Join(f[3:], " "))
	}
	want := []string{"tree/a.txt", "tree/dir/b c.txt", "tree/dir/sub/ü+é.bin", "tree/z/last"}
	if !slices.Equal(keys, want) {
		t.Errorf("aws s3 ls --recursive keys = %q, want %q", keys, want)
	}
	t.Logf("aws CLI upload payload modes: %v", e.modes)
	s3("rm", "s3://cli-bucket/cp/one")
	s3("rm", "--recursive", "s3://cli-bucket/")
	s3("rb", "s3://cli-bucket")
	if out := s3("ls"); strings.Contains(out, "cli-bucket") {
		t.Errorf("bucket still listed after rb:\n%s", out)
	}
}

const boto3Script = `
import hashlib, os, sys, urllib.request
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

ep, work, verify = sys.argv[1], sys.argv[2], sys.argv[3] == "verify"
s3 = boto3.client("s3", endpoint_url=ep, verify=verify, config=Config(retries={"max_attempts": 1}))
s3.create_bucket(Bucket="boto-bucket")

def md5(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()

src = os.path.join(work, "big.bin")
with open(src, "wb") as f:
    for i in range(50):
        f.write(hashlib.sha256(str(i).encode()).digest() * 32768)  # 1 MiB each
cfg = TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20)
s3.upload_file(src, "boto-bucket", "models/big.bin", Config=cfg)
head = s3.head_object(Bucket="boto-bucket", Key="models/big.bin")
assert head["ETag"].strip('"').endswith("-7"), head["ETag"]
dst = os.path.join(work, "big.out")
s3.download_file("boto-bucket", "models/big.bin", dst, Config=cfg)
assert md5(src) == md5(dst), "download differs"

for algo in ["CRC32", "SHA1", "SHA256"]:  # CRC32C and CRC64NVME need botocore[crt]
    key = "checksums/" + algo
    s3.put_object(Bucket="boto-bucket", Key=key, Body=b"hello strata " * 1000, ChecksumAlgorithm=algo)
    got = s3.get_object(Bucket="boto-bucket", Key=key, ChecksumMode="ENABLED")
    assert got["Body"].read() == b"hello strata " * 1000
    assert "Checksum" + algo in got, (algo, got.keys())

for i in range(23):
    s3.put_object(Bucket="boto-bucket", Key="pages/%03d" % i, Body=b"x")
keys = []
pages = 0
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="boto-bucket", Prefix="pages/", PaginationConfig={"PageSize": 5}):
    pages += 1
    keys += [o["Key"] for o in page.get("Contents", [])]
assert keys == ["pages/%03d" % i for i in range(23)], keys
assert pages == 5, pages

# boto3's default presigned URL is signature version 2; s3v4 is the other form.
for signer in [None, "s3v4"]:
    c = boto3.client("s3", endpoint_url=ep, verify=verify, config=Config(signature_version=signer)) if signer else s3
    url = c.generate_presigned_url("get_object", Params={"Bucket": "boto-bucket", "Key": "checksums/CRC32"}, ExpiresIn=300)
    ctx = None if verify else __import__("ssl")._create_unverified_context()
    assert urllib.request.urlopen(url, context=ctx).read() == b"hello strata " * 1000, (signer, url)

try:
    s3.get_object(Bucket="boto-bucket", Key="missing")
    raise SystemExit("get of a missing key succeeded")
except s3.exceptions.NoSuchKey:
    pass
print("boto3 ok")
`

// TestBoto3 runs boto3's transfer manager (50 MiB multipart upload and
// ranged download), checksummed puts, the ListObjectsV2 paginator and presigned
// GETs (signature versions 2 and 4), over HTTP and over HTTPS (where botocore
// streams uploads as aws-chunked with a trailing checksum).
func TestBoto3(t *testing.T) {
	py := needTool(t, "python3")
	if out, err := exec.Command(py, "-c", "import boto3").CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("boto3 not importable: %s", out)
		}
		t.Skipf("boto3 not importable: %s", out)
	}
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprint("tls=", tls), func(t *testing.T) {
			e := newEnvTLS(t, diskblobOpts(), tls)
			verify := "verify"
			if tls {
				verify = "insecure"
			}
			out := runTool(t, clientEnv(t), py, "-c", boto3Script, e.srv.URL, t.TempDir(), verify)
			t.Logf("boto3 upload payload modes: %v", e.modes)
			if !strings.Contains(out, "boto3 ok") {
				t.Errorf("boto3 script output: %s", out)
			}
			if tls && e.modes["STREAMING-UNSIGNED-PAYLOAD-TRAILER trailer x-amz-checksum-crc32"] == 0 {
				t.Errorf("botocore over HTTPS sent no aws-chunked upload with a trailing CRC32: %v", e.modes)
			}
		})
	}
}

// TestAWSCLITLS copies a file both ways over HTTPS, where the CLI streams
// uploads as aws-chunked with a trailing checksum.
func TestAWSCLITLS(t *testing.T) {
	aws := needTool(t, "aws")
	e := newEnvTLS(t, diskblobOpts(), true)
	env := clientEnv(t)
	s3 := func(args ...string) string {
		return runTool(t, env, aws, append(append([]string{"s3"}, args...), "--endpoint-url", e.srv.URL, "--no-verify-ssl")...)
	}
	s3("mb", "s3://tls-bucket")
	dir := t.TempDir()
	sum := writeRandomFile(t, filepath.Join(dir, "f"), 9<<20+5, 9)
	s3("cp", filepath.Join(dir, "f"), "s3://tls-bucket/f")
	s3("cp", "s3://tls-bucket/f", filepath.Join(dir, "g"))
	if got := fileMD5(t, filepath.Join(dir, "g")); got != sum {
		t.Errorf("round trip over HTTPS: md5 %s, want %s", got, sum)
	}
	t.Logf("aws CLI upload payload modes over HTTPS: %v", e.modes)
	streamed := 0
	for m, n := range e.modes {
		if strings.HasPrefix(m, "STREAMING-UNSIGNED-PAYLOAD-TRAILER") {
			streamed += n
		}
	}
	if streamed == 0 {
		t.Errorf("the CLI sent no aws-chunked upload over HTTPS: %v", e.modes)
	}
}
