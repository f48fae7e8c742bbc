package train

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-ml/strata/engine/model"
	_ "github.com/strata-ml/strata/engine/model/llama"
)

// BenchmarkLoopVsBareStep compares the training loop's throughput with the
// engine's bare step on the same model and token shapes: bare is
// ForwardBackward on one fixed (B=8, T=128) batch; loop is Run (continued
// pre-training, full fine-tuning: data order, batching, gradient clipping,
// AdamW, metrics, events) timed from its first to its last step event. The
// target is loop/bare ≥ 0.9 (reported as "ratio").
func BenchmarkLoopVsBareStep(b *testing.B) {
	const B, T, steps = 8, 128, 6
	cfg := &model.Config{Architectures: []string{"LlamaForCausalLM"}, HiddenSize: 256, IntermediateSize: 704,
		NumHiddenLayers: 4, NumAttentionHeads: 4, VocabSize: 2048, MaxPositionEmbeddings: 512, TieWordEmbeddings: true, HiddenAct: "silu"}
	dir := b.TempDir()
	// Documents of T-1 bytes: BOS + text + EOS fills exactly one row of T.
	var sb strings.Builder
	for i := range B * steps {
		doc := make([]byte, T-2)
		for j := range doc {
			doc[j] = 'a' + byte((i*31+j*7)%26)
		}
		fmt.Fprintf(&sb, `{"input":%q}`+"\n", doc)
	}
	data := filepath.Join(dir, "data.jsonl")
	if err := os.WriteFile(data, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	hp, err := ParseHyperParameters(map[string]string{"epochCount": "1", "batchSize": fmt.Sprint(B), "maxSeqLen": fmt.Sprint(T), "microBatchTokens": fmt.Sprint(B * T), "learningRate": "1e-4"})
	if err != nil {
		b.Fatal(err)
	}
	batch := &model.Batch{B: B, T: T, Tokens: make([]int32, B*T), Targets: make([]int32, B*T)}
	for i := range batch.Tokens {
		batch.Tokens[i] = int32(i % 2048)
		batch.Targets[i] = int32((i + 1) % 2048)
	}
	var bareDur, loopDur time.Duration
	var bareTok, loopTok float64
	for b.Loop() {
		m, err := model.New(cfg, 1, model.Options{})
		if err != nil {
			b.Fatal(err)
		}
		m.ForwardBackward(batch) // warm up buffers
		start := time.Now()
		for range steps {
			m.ZeroGrad()
			if _, _, err := m.ForwardBackward(batch); err != nil {
				b.Fatal(err)
			}
		}
		bareDur += time.Since(start)
		bareTok += float64(steps * B * T)

		m, _ = model.New(cfg, 1, model.Options{})
		m.ForwardBackward(batch)
		var first, last time.Time
		var toks float64
		_, err = Run(b.Context(), Options{
			Model: m, Tokens: Tokens{Encoder: charEncoder{v: 2048}, BOS: 0, EOS: 1}, PreTraining: true,
			TrainFiles: []string{data}, HP: hp, Full: true, Seed: 1, OutputDir: filepath.Join(b.TempDir(), "out"),
			OnEvent: func(e Event) {
				switch {
				case e.Type == EventStatus && e.Stage == "Training":
					first = time.Now()
				case e.Type == EventStep:
					last = time.Now()
					toks += float64(B * T)
				}
			},
		})
		if err != nil {
			b.Fatal(err)
		}
		loopDur += last.Sub(first)
		loopTok += toks
	}
	bare := bareTok / bareDur.Seconds()
	loop := loopTok / loopDur.Seconds()
	b.ReportMetric(bare, "bare-tok/s")
	b.ReportMetric(loop, "loop-tok/s")
	b.ReportMetric(loop/bare, "ratio")
}
