package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/internal/apierr"
	"github.com/strata-ml/strata/internal/catalog"
	"github.com/strata-ml/strata/internal/inference"
	"github.com/strata-ml/strata/internal/inference/inferencetest"
	"github.com/strata-ml/strata/internal/inference/provision"
	"github.com/strata-ml/strata/internal/invoke"
	"github.com/strata-ml/strata/internal/jobs"
	"github.com/strata-ml/strata/internal/store/sqlstore"
)

const (
	rtFM     = "meta.fake-v1:0"
	rtFMARN  = "arn:aws:bedrock:us-east-1::foundation-model/meta.fake-v1:0"
	rtCMARN  = "arn:aws:bedrock:us-east-1:123456789012:custom-model/meta.fake-v1:0/aaaaaaaaaaaa"
	rtTitan  = "amazon.fake-v1:0"
	rtPrompt = "abc"
)

// rtResolver serves byte-level fake models: a Meta-family and a
// Titan-family foundation model and one custom model (adapter shift 1).
type rtResolver struct{ model *inferencetest.Model }

func (f *rtResolver) Resolve(ctx context.Context, account, ident string) (provision.Target, error) {
	base := inference.BaseSpec{Key: "fake", Load: func(context.Context) (*inference.Base, error) {
		return &inference.Base{Model: f.model, Tokenizer: inferencetest.ByteTokenizer{}, EOS: []int32{inferencetest.EOS}, ContextLen: 4096}, nil
	}}
	switch ident {
	case rtFM, rtFMARN, "us." + rtFM:
		return provision.Target{ModelARN: rtFMARN, FoundationModelARN: rtFMARN, Family: invoke.Meta, Base: base}, nil
	case rtTitan:
		return provision.Target{ModelARN: "arn:aws:bedrock:us-east-1::foundation-model/" + rtTitan, FoundationModelARN: rtFMARN, Family: invoke.Amazon, Base: base}, nil
	case rtCMARN, "cm1":
		return provision.Target{ModelARN: rtCMARN, FoundationModelARN: rtFMARN, Family: invoke.Meta, Base: base, Custom: true,
			Adapter: &inference.AdapterSpec{Key: "cm1", Load: func(_ context.Context, b *inference.Base) (*lora.Adapter, int64, error) {
				return f.model.Adapter(1), 10, nil
			}}}, nil
	}
	return provision.Target{}, apierr.NotFoundf("The model %s was not found.", ident)
}

type rtEnv struct {
	reg   *inference.Registry
	ts    *httptest.Server
	model *inferencetest.Model
	rt    *bedrockruntime.Client
	cp    *bedrock.Client
}

func newRuntimeEnv(t *testing.T, timeout time.Duration) *rtEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlstore.Open(t.Context(), filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cat := catalog.New(st)
	m := inferencetest.NewModel()
	res := &rtResolver{model: m}
	reg := inference.NewRegistry(inference.RegistryConfig{LoadWait: 10 * time.Second})
	ps := provision.New(provision.Config{Region: "us-east-1"}, provision.NewSQLStore(st), reg, res)
	sv := &Serving{Registry: reg, Provision: ps, Resolver: res, Timeout: timeout}
	t.Cleanup(sv.Close)
	auth := authFunc(func(r *http.Request) (Identity, error) { return Identity{Account: testAccount, Method: "test"}, nil })
	srv := New(Options{Store: st, Catalog: cat, Jobs: jobs.New(jobs.Config{Store: st, Catalog: cat, Region: "us-east-1"}), Region: "us-east-1", Auth: auth, Serving: sv})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, nil
	})
	return &rtEnv{reg: reg, ts: ts, model: m,
		rt: bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Credentials: creds}),
		cp: bedrock.New(bedrock.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), Credentials: creds})}
}

// expected returns what the fake model generates after prompt with shift.
func expected(prompt string, n int, shift byte) string {
	var b strings.Builder
	c := prompt[len(prompt)-1]
	for range n {
		c = c + 1 + shift
		b.WriteByte(c)
	}
	return b.String()
}

func TestSDKInvokeModel(t *testing.T) {
	e := newRuntimeEnv(t, time.Minute)
	ctx := t.Context()
	for _, id := range []string{rtFM, rtFMARN, "us." + rtFM} {
		out, err := e.rt.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(id),
			Body: []byte(`{"prompt":"abc","max_gen_len":4,"temperature":0}`)})
		if err != nil {
			t.Fatalf("InvokeModel(%s): %v", id, err)
		}
		var body struct {
			Generation           string `json:"generation"`
			PromptTokenCount     int    `json:"prompt_token_count"`
			GenerationTokenCount int    `json:"generation_token_count"`
			StopReason           string `json:"stop_reason"`
		}
		if err := json.Unmarshal(out.Body, &body); err != nil {
			t.Fatal(err)
		}
		if body.Generation != "defg" || body.PromptTokenCount != 3 || body.GenerationTokenCount != 4 || body.StopReason != "length" {
			t.Errorf("InvokeModel(%s) body %+v", id, body)
		}
	}
	// A Titan body sent to a Meta model: the model's schema rejects it.
	_, err := e.rt.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(rtFM), Body: []byte(`{"inputText":"hi"}`)})
	var ve *rttypes.ValidationException
	if !errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), "required key [prompt] not found") && !strings.Contains(ve.ErrorMessage(), "schema violations") {
		t.Fatalf("Titan body to Meta model: %v, want ValidationException", err)
	}
	out, err := e.rt.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(rtTitan), ContentType: aws.String("application/json"),
		Body: []byte(`{"inputText":"abc","textGenerationConfig":{"maxTokenCount":3,"temperature":0,"stopSequences":["f"]}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out.Body); got != `{"inputTextTokenCount":3,"results":[{"tokenCount":3,"outputText":"de","completionReason":"STOP_CRITERIA_MET"}]}` {
		t.Errorf("Titan response %s", got)
	}
	var nf *rttypes.ResourceNotFoundException
	if _, err := e.rt.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String("meta.nope-v1:0"), Body: []byte(`{"prompt":"a"}`)}); !errors.As(err, &nf) {
		t.Errorf("unknown model: %v, want ResourceNotFoundException", err)
	}
	if _, err := e.rt.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(rtCMARN), Body: []byte(`{"prompt":"a"}`)}); !errors.As(err, &ve) {
		t.Errorf("custom model on demand: %v, want ValidationException", err)
	}
}

func TestSDKConverseAndStreams(t *testing.T) {
	e := newRuntimeEnv(t, time.Minute)
	ctx := t.Context()
	msgs := []rttypes.Message{{Role: rttypes.ConversationRoleUser, Content: []rttypes.ContentBlock{&rttypes.ContentBlockMemberText{Value: "hi"}}}}
	cfg := &rttypes.InferenceConfiguration{MaxTokens: aws.Int32(5), Temperature: aws.Float32(0)}
	out, err := e.rt.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(rtFM), Messages: msgs, InferenceConfig: cfg,
		System: []rttypes.SystemContentBlock{&rttypes.SystemContentBlockMemberText{Value: "sys"}}})
	if err != nil {
		t.Fatal(err)
	}
	msg := out.Output.(*rttypes.ConverseOutputMemberMessage).Value
	text := msg.Content[0].(*rttypes.ContentBlockMemberText).Value
	// Without a chat template the chat renders as "...Assistant:" lines.
	if want := expected(":", 5, 0); text != want || out.StopReason != rttypes.StopReasonMaxTokens {
		t.Errorf("Converse text %q stop %s, want %q max_tokens", text, out.StopReason, want)
	}
	if *out.Usage.OutputTokens != 5 || *out.Usage.TotalTokens != *out.Usage.InputTokens+5 || out.Metrics == nil {
		t.Errorf("usage %+v", out.Usage)
	}

	cs, err := e.rt.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(rtFM), Messages: msgs, InferenceConfig: cfg,
		System: []rttypes.SystemContentBlock{&rttypes.SystemContentBlockMemberText{Value: "sys"}}})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	var streamed strings.Builder
	for ev := range cs.GetStream().Events() {
		switch v := ev.(type) {
		case *rttypes.ConverseStreamOutputMemberMessageStart:
			kinds = append(kinds, "messageStart")
		case *rttypes.ConverseStreamOutputMemberContentBlockDelta:
			if len(kinds) == 0 || kinds[len(kinds)-1] != "contentBlockDelta" {
				kinds = append(kinds, "contentBlockDelta")
			}
			streamed.WriteString(v.Value.Delta.(*rttypes.ContentBlockDeltaMemberText).Value)
		case *rttypes.ConverseStreamOutputMemberContentBlockStop:
			kinds = append(kinds, "contentBlockStop")
		case *rttypes.ConverseStreamOutputMemberMessageStop:
			kinds = append(kinds, "messageStop:"+string(v.Value.StopReason))
		case *rttypes.ConverseStreamOutputMemberMetadata:
			kinds = append(kinds, "metadata")
			if *v.Value.Usage.OutputTokens != 5 {
				t.Errorf("stream usage %+v", v.Value.Usage)
			}
		}
	}
	if err := cs.GetStream().Err(); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(kinds, ","), "messageStart,contentBlockDelta,contentBlockStop,messageStop:max_tokens,metadata"; got != want {
		t.Errorf("ConverseStream events %s, want %s", got, want)
	}
	if streamed.String() != text {
		t.Errorf("streamed %q, Converse said %q", streamed.String(), text)
	}

	is, err := e.rt.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(rtFM),
		Body: []byte(`{"prompt":"abc","max_gen_len":6,"temperature":0}`)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(is.ContentType) != "application/json" {
		t.Errorf("content type %q", aws.ToString(is.ContentType))
	}
	var gen strings.Builder
	var last map[string]any
	for ev := range is.GetStream().Events() {
		c := ev.(*rttypes.ResponseStreamMemberChunk)
		last = nil
		if err := json.Unmarshal(c.Value.Bytes, &last); err != nil {
			t.Fatal(err)
		}
		gen.WriteString(last["generation"].(string))
	}
	if err := is.GetStream().Err(); err != nil {
		t.Fatal(err)
	}
	if gen.String() != "defghi" || last["stop_reason"] != "length" || last["amazon-bedrock-invocationMetrics"] == nil {
		t.Errorf("stream text %q, last chunk %v", gen.String(), last)
	}
}

// TestSDKStreamExceptions: a request that passes its deadline after the
// stream started ends with a typed exception event.
func TestSDKStreamExceptions(t *testing.T) {
	e := newRuntimeEnv(t, 60*time.Millisecond)
	e.model.Gate = make(chan struct{})
	stop, stopped := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() {
		close(stop)
		<-stopped
		close(e.model.Gate) // let the engine run freely so it can shut down
	})
	go func() { // at most one model step per 2 ms; no prompt reaches EOS within 60 ms
		defer close(stopped)
		tk := time.NewTicker(2 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				select {
				case e.model.Gate <- struct{}{}:
				default:
				}
			}
		}
	}()
	ctx := t.Context()
	is, err := e.rt.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(rtFM),
		Body: []byte(`{"prompt":"{","max_gen_len":2048,"temperature":0}`)})
	if err != nil {
		t.Fatal(err)
	}
	chunks := 0
	for range is.GetStream().Events() {
		chunks++
	}
	var te *rttypes.ModelTimeoutException
	if err := is.GetStream().Err(); !errors.As(err, &te) || chunks == 0 {
		t.Fatalf("after %d chunks: stream err %v, want ModelTimeoutException", chunks, err)
	}
	cs, err := e.rt.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(rtFM),
		Messages:        []rttypes.Message{{Role: rttypes.ConversationRoleUser, Content: []rttypes.ContentBlock{&rttypes.ContentBlockMemberText{Value: "a"}}}},
		InferenceConfig: &rttypes.InferenceConfiguration{MaxTokens: aws.Int32(2048)}})
	if err != nil {
		t.Fatal(err)
	}
	for range cs.GetStream().Events() {
	}
	var me *rttypes.ModelStreamErrorException
	if err := cs.GetStream().Err(); !errors.As(err, &me) {
		t.Fatalf("converse stream err %v, want ModelStreamErrorException", err)
	}
}

func TestSDKProvisionedAndDeployments(t *testing.T) {
	e := newRuntimeEnv(t, time.Minute)
	ctx := t.Context()
	cr, err := e.cp.CreateProvisionedModelThroughput(ctx, &bedrock.CreateProvisionedModelThroughputInput{
		ModelId: aws.String("cm1"), ModelUnits: aws.Int32(2), ProvisionedModelName: aws.String("pt-1")})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(cr.ProvisionedModelArn)
	if !strings.Contains(arn, ":provisioned-model/") {
		t.Fatalf("arn %s", arn)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, err := e.cp.GetProvisionedModelThroughput(ctx, &bedrock.GetProvisionedModelThroughputInput{ProvisionedModelId: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if g.Status == "InService" {
			if aws.ToString(g.ModelArn) != rtCMARN || aws.ToInt32(g.ModelUnits) != 2 || aws.ToString(g.FoundationModelArn) != rtFMARN {
				t.Errorf("GetProvisionedModelThroughput %+v", g)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %s", g.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, id := range []string{arn, "pt-1"} {
		out, err := e.rt.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(id), Body: []byte(`{"prompt":"abc","max_gen_len":3,"temperature":0}`)})
		if err != nil {
			t.Fatalf("invoke %s: %v", id, err)
		}
		if want := `"generation":"` + expected(rtPrompt, 3, 1) + `"`; !strings.Contains(string(out.Body), want) {
			t.Errorf("invoke through %s: %s, want the adapter's %s", id, out.Body, want)
		}
	}
	ls, err := e.cp.ListProvisionedModelThroughputs(ctx, &bedrock.ListProvisionedModelThroughputsInput{StatusEquals: "InService"})
	if err != nil || len(ls.ProvisionedModelSummaries) != 1 {
		t.Fatalf("list: %v %+v", err, ls)
	}
	if _, err := e.cp.UpdateProvisionedModelThroughput(ctx, &bedrock.UpdateProvisionedModelThroughputInput{ProvisionedModelId: aws.String(arn), DesiredProvisionedModelName: aws.String("pt-2")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cp.DeleteProvisionedModelThroughput(ctx, &bedrock.DeleteProvisionedModelThroughputInput{ProvisionedModelId: aws.String("pt-2")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cp.GetProvisionedModelThroughput(ctx, &bedrock.GetProvisionedModelThroughputInput{ProvisionedModelId: aws.String(arn)}); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("after delete: %v", err)
	}

	dr, err := e.cp.CreateCustomModelDeployment(ctx, &bedrock.CreateCustomModelDeploymentInput{ModelArn: aws.String(rtCMARN), ModelDeploymentName: aws.String("dep-1")})
	if err != nil {
		t.Fatal(err)
	}
	darn := aws.ToString(dr.CustomModelDeploymentArn)
	for deadline := time.Now().Add(10 * time.Second); ; {
		g, err := e.cp.GetCustomModelDeployment(ctx, &bedrock.GetCustomModelDeploymentInput{CustomModelDeploymentIdentifier: aws.String(darn)})
		if err != nil {
			t.Fatal(err)
		}
		if g.Status == "Active" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deployment status %s", g.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
	out, err := e.rt.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(darn),
		Messages:        []rttypes.Message{{Role: rttypes.ConversationRoleUser, Content: []rttypes.ContentBlock{&rttypes.ContentBlockMemberText{Value: "x"}}}},
		InferenceConfig: &rttypes.InferenceConfiguration{MaxTokens: aws.Int32(2), Temperature: aws.Float32(0)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Output.(*rttypes.ConverseOutputMemberMessage).Value.Content[0].(*rttypes.ContentBlockMemberText).Value; got != expected(":", 2, 1) {
		t.Errorf("deployment converse %q, want %q", got, expected(":", 2, 1))
	}
	dl, err := e.cp.ListCustomModelDeployments(ctx, &bedrock.ListCustomModelDeploymentsInput{})
	if err != nil || len(dl.ModelDeploymentSummaries) != 1 {
		t.Fatalf("list deployments: %v %+v", err, dl)
	}
	if _, err := e.cp.DeleteCustomModelDeployment(ctx, &bedrock.DeleteCustomModelDeploymentInput{CustomModelDeploymentIdentifier: aws.String(darn)}); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultMemoryBudget(t *testing.T) {
	b := defaultMemoryBudget()
	if b != 0 && b < 64<<20 {
		t.Errorf("defaultMemoryBudget() = %d, want 0 (unknown) or three quarters of the machine", b)
	}
}

// TestSDKThrottling fills one on-demand unit (4 running, 16 queued) while the
// model is held, so further requests get ThrottlingException; the admitted
// ones complete once it runs.
func TestSDKThrottling(t *testing.T) {
	e := newRuntimeEnv(t, time.Minute)
	rt := bedrockruntime.New(e.rt.Options(), func(o *bedrockruntime.Options) { o.RetryMaxAttempts = 1 })
	ctx := t.Context()
	// Load the model first so that requests queue in its engine.
	if _, err := rt.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(rtFM), Body: []byte(`{"prompt":"a","max_gen_len":1}`)}); err != nil {
		t.Fatal(err)
	}
	e.model.Gate = make(chan struct{})
	const n = 40
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := rt.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(rtFM), Body: []byte(`{"prompt":"a","max_gen_len":2}`)})
			errs <- err
		}()
	}
	// Every request is either in the engine (at most 4 running + 16
	// queued) or already throttled; then let the model run.
	var te *rttypes.ThrottlingException
	throttled, ok := 0, 0
	for deadline := time.Now().Add(10 * time.Second); ; {
		select {
		case err := <-errs:
			if !errors.As(err, &te) {
				t.Fatalf("while full: %v, want ThrottlingException", err)
			}
			throttled++
			continue
		default:
		}
		st := e.reg.Loaded()[0].Stats
		if st.Running+st.Waiting+throttled == n {
			if st.Running > 4 || st.Waiting > 16 {
				t.Errorf("engine holds %+v, beyond one unit (4 running, 16 queued)", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("in engine %+v, throttled %d of %d", st, throttled, n)
		}
		time.Sleep(time.Millisecond)
	}
	close(e.model.Gate)
	for range n - throttled {
		if err := <-errs; err != nil {
			t.Errorf("admitted request: %v", err)
		} else {
			ok++
		}
	}
	if throttled < n-20 || throttled == n || ok != n-throttled {
		t.Errorf("throttled %d, completed %d of %d", throttled, ok, n)
	}
}
