//go:build integration

package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// rssBytes reads the resident set size of a process.
func rssBytes(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestRuntimeConcurrentStreams keeps 50 streams (ConverseStream and
// InvokeModelWithResponseStream, alternating) running against a Provisioned
// Throughput of 13 model units (52 concurrent sequences) for 60 s — set
// STRATA_IT_STREAM_SECONDS to shorten it (CI may) — while bad requests go to
// the same model. Every stream must complete with its final event, bad
// requests must get their Bedrock errors, and the server's resident memory
// must stay flat after warm-up.
func TestRuntimeConcurrentStreams(t *testing.T) {
	secs := 60
	if v := os.Getenv("STRATA_IT_STREAM_SECONDS"); v != "" {
		secs, _ = strconv.Atoi(v)
	}
	srv := StartTinyServer(t)
	rt, cp := srv.Runtime(), srv.Bedrock()
	ctx := t.Context()
	pt, err := cp.CreateProvisionedModelThroughput(ctx, &bedrock.CreateProvisionedModelThroughputInput{ModelId: aws.String(tinyModelID),
		ModelUnits: aws.Int32(13), ProvisionedModelName: aws.String("load-pt")})
	if err != nil {
		t.Fatal(err)
	}
	Eventually(t, time.Minute, "InService", func() (bool, error) {
		g, err := cp.GetProvisionedModelThroughput(ctx, &bedrock.GetProvisionedModelThroughputInput{ProvisionedModelId: pt.ProvisionedModelArn})
		return err == nil && g.Status == "InService", err
	})
	model := pt.ProvisionedModelArn
	deadline := time.Now().Add(time.Duration(secs) * time.Second)
	warmAt := time.Now().Add(time.Duration(secs) * time.Second / 4)
	var completed, failed, badOK atomic.Int64
	var firstErr sync.Once
	fail := func(format string, args ...any) {
		failed.Add(1)
		t.Logf(format, args...)
		firstErr.Do(func() { t.Errorf(format, args...) })
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			for n := 0; time.Now().Before(deadline); n++ {
				prompt := fmt.Sprintf("Ticket %d-%d: checkout fails with ERR_%d", i, n, 400+n%100)
				if (i+n)%2 == 0 {
					out, err := rt.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: model, Messages: userMsg(prompt),
						InferenceConfig: &rttypes.InferenceConfiguration{MaxTokens: aws.Int32(24), Temperature: aws.Float32(0.7)}})
					if err != nil {
						fail("ConverseStream: %v", err)
						continue
					}
					_, kinds, err := converseStreamText(t, out)
					if err != nil || len(kinds) < 4 || kinds[len(kinds)-1] != "metadata" {
						fail("ConverseStream ended with %v after %v", err, kinds)
						continue
					}
				} else {
					body, _ := json.Marshal(map[string]any{"prompt": prompt, "max_gen_len": 24, "temperature": 0.7})
					out, err := rt.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: model, Body: body})
					if err != nil {
						fail("InvokeModelWithResponseStream: %v", err)
						continue
					}
					var last map[string]any
					for ev := range out.GetStream().Events() {
						last = nil
						_ = json.Unmarshal(ev.(*rttypes.ResponseStreamMemberChunk).Value.Bytes, &last)
					}
					if err := out.GetStream().Err(); err != nil || last == nil || last["amazon-bedrock-invocationMetrics"] == nil {
						fail("InvokeModelWithResponseStream ended with %v, last chunk %v", err, last)
						continue
					}
				}
				completed.Add(1)
			}
		})
	}
	// Bad input alongside: each gets its Bedrock error; none disturbs the streams.
	wg.Go(func() {
		var ve *rttypes.ValidationException
		for time.Now().Before(deadline) {
			_, err := rt.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: model, Body: []byte(`{"inputText":"titan body"}`)})
			if !errors.As(err, &ve) {
				fail("wrong-family body: %v", err)
			}
			_, err = rt.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: model, Body: []byte(`{"prompt":"` + strings.Repeat("overflow ", 2000) + `"}`)})
			if !errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), "too long") {
				fail("prompt past the context: %v", err)
			}
			_, err = rt.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: model, Messages: userMsg(" ")})
			if !errors.As(err, &ve) {
				fail("blank message: %v", err)
			}
			badOK.Add(3)
			time.Sleep(50 * time.Millisecond) // pacing the bad-input sender, not waiting for a result
		}
	})
	var warm int64
	wg.Go(func() {
		time.Sleep(time.Until(warmAt)) // sample memory once warmed up
		warm = rssBytes(t, srv.cmd.Process.Pid)
	})
	wg.Wait()
	end := rssBytes(t, srv.cmd.Process.Pid)
	t.Logf("%d streams completed in %ds by 50 clients, %d failed, %d bad requests rejected; RSS %d MiB after warm-up, %d MiB at the end",
		completed.Load(), secs, failed.Load(), badOK.Load(), warm>>20, end>>20)
	for _, line := range strings.Split(srv.Logs(), "\n") {
		if strings.Contains(line, "level=ERROR") || strings.Contains(line, "level=WARN") || strings.Contains(line, "status=499") {
			t.Logf("server: %s", line)
		}
	}
	if completed.Load() < 50 {
		t.Errorf("only %d streams completed", completed.Load())
	}
	if limit := warm + warm/4 + 64<<20; end > limit {
		t.Errorf("RSS grew from %d MiB to %d MiB under steady load", warm>>20, end>>20)
	}
}
