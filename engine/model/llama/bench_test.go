package llama

import (
	"bufio"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
)

// smolLM2Config is SmolLM2-135M's shape (HuggingFaceTB/SmolLM2-135M config.json).
func smolLM2Config() *model.Config {
	c := &model.Config{Architectures: []string{"LlamaForCausalLM"}, HiddenSize: 576, IntermediateSize: 1536,
		NumHiddenLayers: 30, NumAttentionHeads: 9, NumKeyValueHeads: 3, VocabSize: 49152, RMSNormEps: 1e-5,
		RopeTheta: 100000, MaxPositionEmbeddings: 8192, TieWordEmbeddings: true}
	c.Fill()
	return c
}

func randomBatch(b, t, v int, seed uint64) *model.Batch {
	r := rand.New(rand.NewPCG(seed, 1))
	bt := &model.Batch{B: b, T: t, Tokens: make([]int32, b*t), Targets: make([]int32, b*t)}
	for i := range bt.Tokens {
		bt.Tokens[i] = int32(r.IntN(v))
		bt.Targets[i] = int32(r.IntN(v))
	}
	return bt
}

// cpuSeconds returns the process's user+system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// peakRSSMB returns the process's peak resident set (VmHWM) in MiB, or 0.
func peakRSSMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

// BenchmarkTrainStepSmolLM2 times one training step (forward + backward, no
// optimizer) of a randomly initialised SmolLM2-135M-shaped model on a
// 4×512 batch: LoRA r=16 on all seven projections, and full fine-tuning.
// Reports tok/s and the process's peak RSS. tools/torch/step_bench.py runs
// the same step in PyTorch; scripts/bench.sh prints both and the ratio. Run
// each sub-benchmark in its own process (peak RSS is per process), e.g.
//
//	go test ./engine/model/llama -run '^$' -bench 'TrainStepSmolLM2/lora$' -benchtime 2x
func BenchmarkTrainStepSmolLM2(b *testing.B) {
	for _, mode := range []string{"lora", "full"} {
		b.Run(mode, func(b *testing.B) {
			cfg := smolLM2Config()
			m, err := New(cfg, 1, model.Options{})
			if err != nil {
				b.Fatal(err)
			}
			if mode == "lora" {
				if _, err := m.EnableLoRA(lora.Config{Rank: 16, Alpha: 32}, 2); err != nil {
					b.Fatal(err)
				}
			}
			batch := randomBatch(4, 512, cfg.VocabSize, 3)
			m.Params() // allocate gradients before timing
			// One untimed warm-up step (buffers, page faults), as step_bench.py does.
			if _, _, err := m.ForwardBackward(batch); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu0 := cpuSeconds()
			for b.Loop() {
				m.ZeroGrad()
				if _, _, err := m.ForwardBackward(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch.B*batch.T)/b.Elapsed().Seconds(), "tok/s")
			// CPU seconds per step: comparable across runs on a shared machine.
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu_s/step")
			b.ReportMetric(peakRSSMB(), "peakRSS_MB")
		})
	}
}

// BenchmarkTrainStepTiny times a training step of the parity fixture model.
func BenchmarkTrainStepTiny(b *testing.B) {
	m, err := model.Load("testdata/llama", model.Options{})
	if err != nil {
		b.Fatal(err)
	}
	batch := randomBatch(4, 64, m.Config().VocabSize, 1)
	m.Params()
	for b.Loop() {
		m.ZeroGrad()
		if _, _, err := m.ForwardBackward(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch.B*batch.T)/b.Elapsed().Seconds(), "tok/s")
}

// BenchmarkDecodeStepSmolLM2 times one batched decode step of 8 sequences
// with 256 cached tokens each, half of them with their own LoRA adapter.
func BenchmarkDecodeStepSmolLM2(b *testing.B) {
	cfg := smolLM2Config()
	cfg.NumHiddenLayers = 4 // enough to time the per-layer cost; keeps setup short
	m, err := New(cfg, 1, model.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ad, _ := lora.New(lora.Config{Rank: 16, Alpha: 32}, len(m.Layers), func(mod lora.Module) (int, int) { return projShape(cfg, mod) }, 1)
	seqs := make([]model.Seq, 8)
	for i := range seqs {
		seqs[i] = model.Seq{Tokens: randomBatch(1, 256, cfg.VocabSize, uint64(i)).Tokens, Cache: m.NewCache()}
		if i%2 == 0 {
			seqs[i].Adapter = ad
		}
	}
	if _, err := m.Step(seqs); err != nil {
		b.Fatal(err)
	}
	for i := range seqs {
		seqs[i].Tokens = []int32{5}
	}
	for b.Loop() {
		for i := range seqs {
			seqs[i].Cache.Truncate(256)
		}
		if _, err := m.Step(seqs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(seqs))/b.Elapsed().Seconds(), "tok/s")
}
