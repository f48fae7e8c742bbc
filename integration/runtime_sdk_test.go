//go:build integration

package integration

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/strata-ml/strata/engine/starter"
)

// tinyModelID is a foundation model registered from a freshly built,
// untrained starter directory (real tokenizer, chat template and Llama
// weights from random init).
const tinyModelID = "meta.tiny-v1:0"

// StartTinyServer builds the tiny model, registers it and starts a server
// without the (slow) starter build.
func StartTinyServer(t *testing.T) *Server {
	t.Helper()
	dir := t.TempDir()
	md, err := starter.EnsureWith(t.Context(), filepath.Join(dir, "tiny"), starter.Options{PretrainEpochs: -1, VocabSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	Strata(t, "models", "add", "--data-dir", dir, "--id", tinyModelID, "--dir", md, "--family", "llama")
	return StartServer(t, dir, "STRATA_NO_STARTER=1")
}

// Runtime returns a Go SDK runtime client for the test credentials.
func (s *Server) Runtime() *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{Region: testRegion, BaseEndpoint: aws.String(s.Endpoint), Credentials: creds(testAKID, testSecret), HTTPClient: &http.Client{}})
}

func userMsg(text string) []rttypes.Message {
	return []rttypes.Message{{Role: rttypes.ConversationRoleUser, Content: []rttypes.ContentBlock{&rttypes.ContentBlockMemberText{Value: text}}}}
}

// converseStreamText reads a ConverseStream to its end and returns the text,
// the event kinds in order and the stream's error.
func converseStreamText(t *testing.T, out *bedrockruntime.ConverseStreamOutput) (string, []string, error) {
	var text strings.Builder
	var kinds []string
	for ev := range out.GetStream().Events() {
		switch v := ev.(type) {
		case *rttypes.ConverseStreamOutputMemberMessageStart:
			kinds = append(kinds, "messageStart")
		case *rttypes.ConverseStreamOutputMemberContentBlockDelta:
			if kinds[len(kinds)-1] != "contentBlockDelta" {
				kinds = append(kinds, "contentBlockDelta")
			}
			text.WriteString(v.Value.Delta.(*rttypes.ContentBlockDeltaMemberText).Value)
		case *rttypes.ConverseStreamOutputMemberContentBlockStop:
			kinds = append(kinds, "contentBlockStop")
		case *rttypes.ConverseStreamOutputMemberMessageStop:
			kinds = append(kinds, "messageStop")
		case *rttypes.ConverseStreamOutputMemberMetadata:
			kinds = append(kinds, "metadata")
		}
	}
	return text.String(), kinds, out.GetStream().Err()
}

// TestRuntimeGoSDK drives all four runtime operations with the AWS SDK for
// Go v2 against the real binary, on demand and through a Provisioned
// Throughput, and checks the typed errors.
func TestRuntimeGoSDK(t *testing.T) {
	srv := StartTinyServer(t)
	rt, cp := srv.Runtime(), srv.Bedrock()
	ctx := t.Context()
	fmARN := "arn:aws:bedrock:us-east-1::foundation-model/" + tinyModelID
	body := []byte(`{"prompt":"Ticket: the upload fails with ERR_500\nAnswer:","max_gen_len":12,"temperature":0}`)
	var first string
	for _, id := range []string{tinyModelID, fmARN, "us." + tinyModelID} {
		out, err := rt.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(id), Body: body})
		if err != nil {
			t.Fatalf("InvokeModel(%s): %v", id, err)
		}
		var r struct {
			Generation           string `json:"generation"`
			PromptTokenCount     int    `json:"prompt_token_count"`
			GenerationTokenCount int    `json:"generation_token_count"`
			StopReason           string `json:"stop_reason"`
		}
		if err := json.Unmarshal(out.Body, &r); err != nil {
			t.Fatal(err)
		}
		if r.PromptTokenCount == 0 || r.GenerationTokenCount == 0 || (r.StopReason != "length" && r.StopReason != "stop") {
			t.Errorf("InvokeModel(%s) = %s", id, out.Body)
		}
		if first == "" {
			first = r.Generation
		} else if r.Generation != first {
			t.Errorf("greedy generation differs by identifier: %q vs %q", r.Generation, first)
		}
	}

	// Streaming gives the same greedy text as the complete response.
	is, err := rt.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(tinyModelID), Body: body})
	if err != nil {
		t.Fatal(err)
	}
	var streamed strings.Builder
	var last map[string]any
	for ev := range is.GetStream().Events() {
		last = nil
		if err := json.Unmarshal(ev.(*rttypes.ResponseStreamMemberChunk).Value.Bytes, &last); err != nil {
			t.Fatal(err)
		}
		streamed.WriteString(last["generation"].(string))
	}
	if err := is.GetStream().Err(); err != nil {
		t.Fatal(err)
	}
	if streamed.String() != first || last["amazon-bedrock-invocationMetrics"] == nil {
		t.Errorf("stream %q (last chunk %v), complete %q", streamed.String(), last, first)
	}

	cfg := &rttypes.InferenceConfiguration{MaxTokens: aws.Int32(10), Temperature: aws.Float32(0)}
	cv, err := rt.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(tinyModelID), Messages: userMsg("Hello there"), InferenceConfig: cfg,
		AdditionalModelRequestFields: nil})
	if err != nil {
		t.Fatal(err)
	}
	ctext := cv.Output.(*rttypes.ConverseOutputMemberMessage).Value.Content[0].(*rttypes.ContentBlockMemberText).Value
	if aws.ToInt32(cv.Usage.InputTokens) == 0 || cv.Metrics == nil || cv.StopReason == "" {
		t.Errorf("Converse = %+v", cv)
	}
	cs, err := rt.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(tinyModelID), Messages: userMsg("Hello there"), InferenceConfig: cfg})
	if err != nil {
		t.Fatal(err)
	}
	stext, kinds, err := converseStreamText(t, cs)
	if err != nil {
		t.Fatal(err)
	}
	if stext != ctext {
		t.Errorf("ConverseStream text %q, Converse %q", stext, ctext)
	}
	if got := strings.Join(kinds, ","); !strings.HasPrefix(got, "messageStart,") || !strings.HasSuffix(got, "contentBlockStop,messageStop,metadata") {
		t.Errorf("ConverseStream events %s", got)
	}

	// Typed errors.
	var ve *rttypes.ValidationException
	if _, err := rt.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(tinyModelID), Body: []byte(`{"inputText":"hi"}`)}); !errors.As(err, &ve) ||
		!strings.HasPrefix(ve.ErrorMessage(), "Malformed input request: ") {
		t.Errorf("Titan body to a Llama model: %v", err)
	}
	var nf *rttypes.ResourceNotFoundException
	if _, err := rt.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("meta.nope-v1:0"), Messages: userMsg("x")}); !errors.As(err, &nf) {
		t.Errorf("unknown model: %v", err)
	}
	if _, err := rt.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(tinyModelID), Messages: []rttypes.Message{{Role: rttypes.ConversationRoleAssistant,
		Content: []rttypes.ContentBlock{&rttypes.ContentBlockMemberText{Value: "x"}}}}}); !errors.As(err, &ve) {
		t.Errorf("conversation starting with assistant: %v", err)
	}

	// Provisioned Throughput over the foundation model.
	pt, err := cp.CreateProvisionedModelThroughput(ctx, &bedrock.CreateProvisionedModelThroughputInput{ModelId: aws.String(tinyModelID),
		ModelUnits: aws.Int32(1), ProvisionedModelName: aws.String("tiny-pt")})
	if err != nil {
		t.Fatal(err)
	}
	Eventually(t, time.Minute, "InService", func() (bool, error) {
		g, err := cp.GetProvisionedModelThroughput(ctx, &bedrock.GetProvisionedModelThroughputInput{ProvisionedModelId: pt.ProvisionedModelArn})
		return err == nil && g.Status == "InService", err
	})
	out, err := rt.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: pt.ProvisionedModelArn, Body: body})
	if err != nil || !strings.Contains(string(out.Body), first) {
		t.Errorf("InvokeModel through the Provisioned Throughput: %v %s", err, out.Body)
	}
	if _, err := cp.DeleteProvisionedModelThroughput(ctx, &bedrock.DeleteProvisionedModelThroughputInput{ProvisionedModelId: aws.String("tiny-pt")}); err != nil {
		t.Fatal(err)
	}

	// The aws CLI: bedrock-runtime invoke-model writes the body to a file.
	if _, err := exec.LookPath("aws"); err == nil {
		d := t.TempDir()
		req, outFile := filepath.Join(d, "req.json"), filepath.Join(d, "out.json")
		if err := os.WriteFile(req, body, 0o644); err != nil {
			t.Fatal(err)
		}
		c := exec.Command("aws", "bedrock-runtime", "invoke-model", "--model-id", tinyModelID, "--body", "fileb://"+req,
			"--endpoint-url", srv.Endpoint, outFile)
		c.Env = pythonEnv(srv)
		if b, err := c.CombinedOutput(); err != nil {
			t.Fatalf("aws bedrock-runtime invoke-model: %v\n%s", err, b)
		}
		got, _ := os.ReadFile(outFile)
		if !strings.Contains(string(got), `"generation"`) || !strings.Contains(string(got), first) {
			t.Errorf("aws invoke-model wrote %s", got)
		}
	} else if os.Getenv("CI") == "true" {
		t.Fatal("aws CLI missing")
	}
}
