package server

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/catalog"
	"github.com/strata-ml/strata/internal/jobs"
	"github.com/strata-ml/strata/internal/keys"
	"github.com/strata-ml/strata/internal/store/sqlstore"
)

var update = flag.Bool("update", false, "rewrite golden files")

const testAccount = "123456789012"

// headerAuth trusts X-Test-Account (unit tests only).
type headerAuth struct{}

func (headerAuth) Authenticate(r *http.Request) (Identity, error) {
	a := r.Header.Get("X-Test-Account")
	if a == "" {
		return Identity{}, apierr.New(apierr.MissingAuthenticationToken, "Missing Authentication Token")
	}
	return Identity{Account: a, Method: "test"}, nil
}

type testEnv struct {
	srv  *Server
	ts   *httptest.Server
	keys *keys.Manager
}

func newTestEnv(t testing.TB, auth Authenticator) *testEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlstore.Open(t.Context(), filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	km, err := keys.Open(st, dir)
	if err != nil {
		t.Fatal(err)
	}
	if auth == nil {
		auth = headerAuth{}
	}
	cat := catalog.New(st)
	cat.SetStarter(filepath.Join(dir, "starter"), nil)
	svc := jobs.New(jobs.Config{Store: st, Catalog: cat, Region: "us-east-1", MaxActiveJobs: 3})
	srv := New(Options{Store: st, Catalog: cat, Jobs: svc, Region: "us-east-1", Auth: auth})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &testEnv{srv: srv, ts: ts, keys: km}
}

type response struct {
	Status    int
	ErrorType string
	Body      map[string]any
	raw       []byte
	header    http.Header
}

func (e *testEnv) do(t *testing.T, method, path, body string, hdr ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Test-Account", testAccount)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := response{Status: res.StatusCode, ErrorType: res.Header.Get("X-Amzn-ErrorType"), raw: raw, header: res.Header}
	_ = json.Unmarshal(raw, &r.Body)
	if res.Header.Get("X-Amzn-RequestId") == "" {
		t.Errorf("%s %s: no X-Amzn-RequestId", method, path)
	}
	return r
}

func createBody(name string, mod func(m map[string]any)) string {
	m := map[string]any{
		"jobName": name, "customModelName": name + "-model", "roleArn": "arn:aws:iam::123456789012:role/R",
		"baseModelIdentifier": catalog.StarterID, "trainingDataConfig": map[string]any{"s3Uri": "s3://bucket/train.jsonl"},
		"outputDataConfig": map[string]any{"s3Uri": "s3://bucket/out/"}, "hyperParameters": map[string]string{"epochCount": "1"},
	}
	if mod != nil {
		mod(m)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestCreateGetListStop(t *testing.T) {
	e := newTestEnv(t, nil)
	r := e.do(t, "POST", "/model-customization-jobs", createBody("job-1", func(m map[string]any) {
		m["clientRequestToken"] = "tok-1"
		m["validationDataConfig"] = map[string]any{"validators": []any{map[string]any{"s3Uri": "s3://bucket/val.jsonl"}}}
		m["jobTags"] = []any{map[string]any{"key": "team", "value": "ml"}}
	}))
	if r.Status != 201 {
		t.Fatalf("create = %d %s", r.Status, r.raw)
	}
	arn := r.Body["jobArn"].(string)
	if !strings.HasPrefix(arn, "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/strata.starter-v1:0/") {
		t.Errorf("jobArn = %s", arn)
	}
	// Idempotent retry with the same token returns the same ARN.
	r2 := e.do(t, "POST", "/model-customization-jobs", createBody("job-1", func(m map[string]any) { m["clientRequestToken"] = "tok-1" }))
	if r2.Status != 201 || r2.Body["jobArn"] != arn {
		t.Errorf("idempotent create = %d %v", r2.Status, r2.Body)
	}
	g := e.do(t, "GET", "/model-customization-jobs/"+escape(arn), "")
	if g.Status != 200 || g.Body["jobName"] != "job-1" || g.Body["status"] != "InProgress" {
		t.Fatalf("get = %d %s", g.Status, g.raw)
	}
	hp := g.Body["hyperParameters"].(map[string]any)
	if hp["epochCount"] != "1" || hp["learningRate"] != "0.0001" {
		t.Errorf("effective hyperParameters = %v", hp)
	}
	if _, ok := g.Body["endTime"]; ok {
		t.Error("absent endTime was sent")
	}
	if sd := g.Body["statusDetails"].(map[string]any); sd["validationDetails"].(map[string]any)["status"] != "NotStarted" {
		t.Errorf("statusDetails = %v", sd)
	}
	tags := e.do(t, "POST", "/listTagsForResource", `{"resourceARN":"`+arn+`"}`)
	if tags.Status != 200 || len(tags.Body["tags"].([]any)) != 1 {
		t.Errorf("job tags = %s", tags.raw)
	}
	byName := e.do(t, "GET", "/model-customization-jobs/job-1", "")
	if byName.Body["jobArn"] != arn {
		t.Errorf("get by name = %s", byName.raw)
	}
	other := e.do(t, "GET", "/model-customization-jobs/"+escape(arn), "", "X-Test-Account", "999999999999")
	if other.Status != 404 || other.ErrorType != "ResourceNotFoundException" {
		t.Errorf("other account sees job: %d %s", other.Status, other.raw)
	}
	for i := 2; i <= 3; i++ {
		if r := e.do(t, "POST", "/model-customization-jobs", createBody(fmt.Sprintf("job-%d", i), nil)); r.Status != 201 {
			t.Fatalf("create job-%d = %d %s", i, r.Status, r.raw)
		}
	}
	q := e.do(t, "POST", "/model-customization-jobs", createBody("job-4", nil))
	if q.Status != 400 || q.ErrorType != "ServiceQuotaExceededException" {
		t.Errorf("4th active job = %d %s %s", q.Status, q.ErrorType, q.raw)
	}
	// Pagination: 3 jobs, pages of 2, newest first by default.
	p1 := e.do(t, "GET", "/model-customization-jobs?maxResults=2", "")
	s1 := p1.Body["modelCustomizationJobSummaries"].([]any)
	tok, _ := p1.Body["nextToken"].(string)
	if len(s1) != 2 || tok == "" || s1[0].(map[string]any)["jobName"] != "job-3" {
		t.Fatalf("page 1 = %s", p1.raw)
	}
	p2 := e.do(t, "GET", "/model-customization-jobs?maxResults=2&nextToken="+tok, "")
	s2 := p2.Body["modelCustomizationJobSummaries"].([]any)
	if len(s2) != 1 || s2[0].(map[string]any)["jobName"] != "job-1" {
		t.Fatalf("page 2 = %s", p2.raw)
	}
	if _, ok := p2.Body["nextToken"]; ok {
		t.Error("last page has nextToken")
	}
	asc := e.do(t, "GET", "/model-customization-jobs?sortOrder=Ascending&nameContains=job-&statusEquals=InProgress", "")
	if s := asc.Body["modelCustomizationJobSummaries"].([]any); len(s) != 3 || s[0].(map[string]any)["jobName"] != "job-1" {
		t.Errorf("ascending = %s", asc.raw)
	}
	st := e.do(t, "POST", "/model-customization-jobs/job-2/stop", "")
	if st.Status != 200 || string(st.raw) != "{}" {
		t.Fatalf("stop = %d %s", st.Status, st.raw)
	}
	if g := e.do(t, "GET", "/model-customization-jobs/job-2", ""); g.Body["status"] != "Stopped" { // queued: stopped at once
		t.Errorf("after stop status = %v", g.Body["status"])
	}
	if st := e.do(t, "POST", "/model-customization-jobs/job-2/stop", ""); st.Status != 400 || st.ErrorType != "ConflictException" {
		t.Errorf("second stop = %d %s", st.Status, st.raw)
	}
}

func escape(s string) string {
	r := strings.NewReplacer(":", "%3A", "/", "%2F")
	return r.Replace(s)
}

func TestFoundationModelsAndHealth(t *testing.T) {
	e := newTestEnv(t, nil)
	r := e.do(t, "GET", "/foundation-models", "")
	ms := r.Body["modelSummaries"].([]any)
	if r.Status != 200 || len(ms) != 1 || ms[0].(map[string]any)["modelId"] != catalog.StarterID {
		t.Fatalf("list = %s", r.raw)
	}
	if r := e.do(t, "GET", "/foundation-models?byCustomizationType=DISTILLATION", ""); len(r.Body["modelSummaries"].([]any)) != 0 {
		t.Errorf("filter = %s", r.raw)
	}
	g := e.do(t, "GET", "/foundation-models/"+escape("arn:aws:bedrock:us-east-1::foundation-model/"+catalog.StarterID), "")
	if g.Status != 200 || g.Body["modelDetails"].(map[string]any)["modelId"] != catalog.StarterID {
		t.Errorf("get = %s", g.raw)
	}
	h := e.do(t, "GET", "/healthz", "", "X-Test-Account", "")
	if h.Status != 200 || h.Body["starterModel"] != "ready" {
		t.Errorf("healthz = %d %s", h.Status, h.raw)
	}
	m := e.do(t, "GET", "/metrics", "", "X-Test-Account", "")
	if m.Status != 200 || !bytes.Contains(m.raw, []byte(`strata_http_requests_total{operation="ListFoundationModels",code="200"} 2`)) {
		t.Errorf("metrics = %s", m.raw)
	}
}

func TestBearerAuth(t *testing.T) {
	var e *testEnv
	e = newTestEnv(t, authFunc(func(r *http.Request) (Identity, error) { return NewKeyAuth(e.keys, "us-east-1").Authenticate(r) }))
	_, token, err := e.keys.CreateBearer(t.Context(), "111111111111", "t", 0)
	if err != nil {
		t.Fatal(err)
	}
	if r := e.do(t, "GET", "/custom-models", "", "Authorization", "Bearer "+token); r.Status != 200 {
		t.Errorf("bearer = %d %s", r.Status, r.raw)
	}
	for _, tt := range []struct{ auth, code string }{
		{"", "MissingAuthenticationTokenException"},
		{"Bearer ABSKbm9wZTp4", "UnrecognizedClientException"},
		{"AWS4-HMAC-SHA256 Credential=AKIDNOPE/20260101/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("0", 64), ""},
		{"AWS4-HMAC-SHA256 garbage", "IncompleteSignatureException"},
	} {
		r := e.do(t, "GET", "/custom-models", "", "Authorization", tt.auth)
		if r.Status < 400 || r.Status >= 500 || (tt.code != "" && r.ErrorType != tt.code) {
			t.Errorf("auth %q = %d %s %s", tt.auth, r.Status, r.ErrorType, r.raw)
		}
	}
}

type authFunc func(r *http.Request) (Identity, error)

func (f authFunc) Authenticate(r *http.Request) (Identity, error) { return f(r) }

// TestAPIGolden pins status, X-Amzn-ErrorType and message of every error
// case per operation; regenerate with go test ./internal/server -run TestAPIGolden -update.
func TestAPIGolden(t *testing.T) {
	e := newTestEnv(t, nil)
	if r := e.do(t, "POST", "/model-customization-jobs", createBody("done", nil)); r.Status != 201 {
		t.Fatal(r.Status)
	}
	type tc struct{ name, method, path, body string }
	big := `{"jobName":"` + strings.Repeat("a", 2<<20) + `"}`
	cases := map[string][]tc{
		"CreateModelCustomizationJob": {
			{"malformed json", "POST", "/model-customization-jobs", `{"jobName":`},
			{"not an object", "POST", "/model-customization-jobs", `[1,2]`},
			{"wrong type", "POST", "/model-customization-jobs", `{"jobName":5}`},
			{"unknown field", "POST", "/model-customization-jobs", `{"jobName":"a","bogus":1}`},
			{"oversized body", "POST", "/model-customization-jobs", big},
			{"empty body", "POST", "/model-customization-jobs", ``},
			{"bad patterns", "POST", "/model-customization-jobs", createBody("-bad", func(m map[string]any) {
				m["roleArn"] = "role"
				m["customizationType"] = "BOGUS"
				m["outputDataConfig"] = map[string]any{"s3Uri": "http://x"}
			})},
			{"hyperparameter number", "POST", "/model-customization-jobs", strings.Replace(createBody("hp", nil), `"1"`, `1`, 1)},
			{"hyperparameter range", "POST", "/model-customization-jobs", createBody("hp", func(m map[string]any) { m["hyperParameters"] = map[string]string{"epochCount": "99"} })},
			{"hyperparameter unknown", "POST", "/model-customization-jobs", createBody("hp", func(m map[string]any) { m["hyperParameters"] = map[string]string{"foo": "1"} })},
			{"unknown base model", "POST", "/model-customization-jobs", createBody("nb", func(m map[string]any) { m["baseModelIdentifier"] = "meta.llama9-v1:0" })},
			{"duplicate name", "POST", "/model-customization-jobs", createBody("done", nil)},
			{"too many validators", "POST", "/model-customization-jobs", createBody("v", func(m map[string]any) {
				var vs []any
				for range 11 {
					vs = append(vs, map[string]any{"s3Uri": "s3://bucket/v.jsonl"})
				}
				m["validationDataConfig"] = map[string]any{"validators": vs}
			})},
			{"bad tag", "POST", "/model-customization-jobs", createBody("t", func(m map[string]any) { m["jobTags"] = []any{map[string]any{"key": "", "value": "é"}} })},
			{"union two members", "POST", "/model-customization-jobs", createBody("u", func(m map[string]any) {
				m["customizationConfig"] = map[string]any{"distillationConfig": map[string]any{}, "rftConfig": map[string]any{}}
			})},
			{"distillation unsupported", "POST", "/model-customization-jobs", createBody("d", func(m map[string]any) { m["customizationType"] = "DISTILLATION" })},
			{"no auth", "POST", "/model-customization-jobs", "NOAUTH"},
		},
		"GetModelCustomizationJob": {
			{"missing", "GET", "/model-customization-jobs/nope", ""},
			{"bad identifier", "GET", "/model-customization-jobs/-x", ""},
			{"other account arn", "GET", "/model-customization-jobs/" + escape("arn:aws:bedrock:us-east-1:999999999999:model-customization-job/strata.starter-v1:0/abcdefghijkl"), ""},
			{"wrong resource arn", "GET", "/model-customization-jobs/" + escape("arn:aws:bedrock:us-east-1:123456789012:custom-model/strata.starter-v1:0/abcdefghijkl"), ""},
			{"path escape", "GET", "/model-customization-jobs/..%2F..%2Fetc%2Fpasswd", ""},
		},
		"ListModelCustomizationJobs": {
			{"bad maxResults", "GET", "/model-customization-jobs?maxResults=0", ""},
			{"non-integer maxResults", "GET", "/model-customization-jobs?maxResults=ten", ""},
			{"bad status", "GET", "/model-customization-jobs?statusEquals=Running", ""},
			{"bad sort", "GET", "/model-customization-jobs?sortBy=Name&sortOrder=Up", ""},
			{"bad time", "GET", "/model-customization-jobs?creationTimeAfter=yesterday", ""},
			{"bad token", "GET", "/model-customization-jobs?nextToken=garbage", ""},
		},
		"StopModelCustomizationJob": {
			{"missing", "POST", "/model-customization-jobs/nope/stop", ""},
		},
		"GetCustomModel": {
			{"missing", "GET", "/custom-models/nope", ""},
			{"bad identifier", "GET", "/custom-models/%2A%2A", ""},
			{"foundation arn", "GET", "/custom-models/" + escape("arn:aws:bedrock:us-east-1::foundation-model/"+catalog.StarterID), ""},
		},
		"ListCustomModels": {
			{"bad status", "GET", "/custom-models?modelStatus=Gone", ""},
			{"bad base arn", "GET", "/custom-models?baseModelArnEquals=nope", ""},
			{"bad isOwned", "GET", "/custom-models?isOwned=maybe", ""},
		},
		"DeleteCustomModel": {
			{"missing", "DELETE", "/custom-models/nope", ""},
		},
		"GetFoundationModel": {
			{"missing", "GET", "/foundation-models/meta.nope-v1:0", ""},
			{"bad identifier", "GET", "/foundation-models/NOPE", ""},
		},
		"ListFoundationModels": {
			{"bad enum", "GET", "/foundation-models?byOutputModality=AUDIO&byInferenceType=X", ""},
		},
		"TagResource": {
			{"missing resource", "POST", "/tagResource", `{"resourceARN":"arn:aws:bedrock:us-east-1:123456789012:custom-model/strata.starter-v1:0/abcdefghijkl","tags":[]}`},
			{"missing members", "POST", "/tagResource", `{}`},
			{"bad arn", "POST", "/tagResource", `{"resourceARN":"arn:aws:s3:::bucket/x/y/z","tags":[]}`},
			{"other account", "POST", "/tagResource", `{"resourceARN":"arn:aws:bedrock:us-east-1:999999999999:custom-model/strata.starter-v1:0/abcdefghijkl","tags":[]}`},
		},
		"UntagResource": {
			{"missing members", "POST", "/untagResource", `{"resourceARN":"x"}`},
		},
		"ListTagsForResource": {
			{"missing resource", "POST", "/listTagsForResource", `{"resourceARN":"arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdefghijkl"}`},
		},
		"Unknown": {
			{"unknown path", "GET", "/nope", ""},
			{"wrong method", "PUT", "/custom-models", ""},
		},
	}
	ops := make([]string, 0, len(cases))
	for op := range cases {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		t.Run(op, func(t *testing.T) {
			var b strings.Builder
			for _, c := range cases[op] {
				hdr := []string{}
				body := c.body
				if body == "NOAUTH" {
					body, hdr = "", []string{"X-Test-Account", ""}
				}
				r := e.do(t, c.method, c.path, body, hdr...)
				if r.Status < 400 || r.Status >= 500 {
					t.Errorf("%s: status %d, want a 4xx", c.name, r.Status)
				}
				if r.ErrorType == "" || r.header.Get("Content-Type") != "application/json" {
					t.Errorf("%s: no X-Amzn-ErrorType/JSON: %v", c.name, r.header)
				}
				msg, _ := r.Body["message"].(string)
				msg = idRE.ReplaceAllString(msg, "/<id>")
				fmt.Fprintf(&b, "== %s\n%s %s\n%d %s\n%s\n\n", c.name, c.method, truncate(c.path), r.Status, r.ErrorType, msg)
			}
			golden := filepath.Join("testdata", "golden", op+".golden")
			if *update {
				_ = os.MkdirAll(filepath.Dir(golden), 0o755)
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if string(want) != b.String() {
				t.Errorf("%s mismatch (-update to accept):\n--- want\n%s\n--- got\n%s", golden, want, b.String())
			}
		})
	}
}

func truncate(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

// FuzzCreateJobBody feeds arbitrary bodies to CreateModelCustomizationJob:
// every response must be 201 or a 4xx with a Bedrock error type, never a 5xx.
func FuzzCreateJobBody(f *testing.F) {
	f.Add(createBody("a", nil))
	f.Add(`{"jobName":5}`)
	f.Add(`{"trainingDataConfig":{"s3Uri":null},"validationDataConfig":{}}`)
	f.Add(`{"customizationConfig":{"x":1},"vpcConfig":{"subnetIds":[]}}`)
	f.Add(`[]`)
	e := newTestEnv(f, nil)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/model-customization-jobs", strings.NewReader(body))
		req.Header.Set("X-Test-Account", testAccount)
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
		if w.Code >= 500 || (w.Code >= 400 && w.Header().Get("X-Amzn-ErrorType") == "") {
			t.Fatalf("body %q: %d %s", body, w.Code, w.Body.String())
		}
	})
}

var idRE = regexp.MustCompile(`/[a-z0-9]{12}\b`)

func TestJobEventsAndMetrics(t *testing.T) {
	e := newTestEnv(t, nil)
	r := e.do(t, "POST", "/model-customization-jobs", createBody("ev", nil))
	arn := r.Body["jobArn"].(string)
	js := e.do(t, "GET", "/strata/v1/jobs/ev/events", "")
	evs := js.Body["events"].([]any)
	if js.Status != 200 || len(evs) != 1 || evs[0].(map[string]any)["type"] != "created" {
		t.Fatalf("events = %s", js.raw)
	}
	// Stream: the job is stopped by hand (no worker); the SSE stream sends
	// the backlog, then the new events, and ends when the job is terminal.
	ctx := t.Context()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/strata/v1/jobs/"+escape(arn)+"/events", nil)
	req.Header.Set("X-Test-Account", testAccount)
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	if s := e.do(t, "POST", "/model-customization-jobs/ev/stop", ""); s.Status != 200 {
		t.Fatal(s.Status)
	}
	body, _ := io.ReadAll(res.Body)
	for _, want := range []string{"event: created\n", "event: job.Stopped\n", "event: end\ndata: {\"status\":\"Stopped\"}"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("stream lacks %q:\n%s", want, body)
		}
	}
	m := e.do(t, "GET", "/strata/v1/jobs/ev/metrics", "")
	if m.Status != 200 || m.Body["status"] != "Stopped" {
		t.Errorf("metrics = %s", m.raw)
	}
	if d := e.do(t, "GET", "/strata/v1/jobs/ev/dataset-report", ""); d.Status != 404 {
		t.Errorf("dataset-report = %d", d.Status)
	}
}
