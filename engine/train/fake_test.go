package train

import (
	"errors"
	"math"
	"strings"

	"github.com/strata-ml/strata/engine/lora"
	"github.com/strata-ml/strata/engine/model"
)

// bigram is a tiny exact model for loop tests: logits(next | tok) = W[tok],
// W (V, V). It implements model.Model for full fine-tuning only.
type bigram struct {
	cfg     model.Config
	w       *model.Param
	nanStep int // ForwardBackward call at which the loss becomes NaN (0 = never)
	calls   int
}

func newBigram(v int) *bigram {
	b := &bigram{cfg: model.Config{VocabSize: v, MaxPositionEmbeddings: 64}}
	w := make([]float32, v*v)
	for i := range w {
		w[i] = float32(math.Sin(float64(i)*1.7)) * 0.1
	}
	b.w = &model.Param{Name: "w", Shape: []int{v, v}, Data: w, Grad: make([]float32, v*v)}
	return b
}

func (b *bigram) Config() *model.Config { return &b.cfg }

func (b *bigram) run(bt *model.Batch, grad bool) (float64, int, error) {
	if err := bt.Validate(b.cfg.VocabSize); err != nil {
		return 0, 0, err
	}
	v := b.cfg.VocabSize
	var sum float64
	n := 0
	for _, t := range bt.Targets {
		if t != model.IgnoreIndex {
			n++
		}
	}
	scale := bt.LossScale
	if scale == 0 {
		scale = 1
	}
	p := make([]float64, v)
	for i, tok := range bt.Tokens {
		tgt := bt.Targets[i]
		if tgt == model.IgnoreIndex {
			continue
		}
		row := b.w.Data[int(tok)*v : int(tok+1)*v]
		mx := math.Inf(-1)
		for _, x := range row {
			mx = math.Max(mx, float64(x))
		}
		var z float64
		for j, x := range row {
			p[j] = math.Exp(float64(x) - mx)
			z += p[j]
		}
		sum += -(float64(row[tgt]) - mx - math.Log(z))
		if grad {
			g := b.w.Grad[int(tok)*v : int(tok+1)*v]
			for j := range g {
				d := p[j] / z
				if j == int(tgt) {
					d--
				}
				g[j] += float32(d * scale / float64(n))
			}
		}
	}
	loss := sum / float64(max(n, 1))
	if grad {
		b.calls++
		if b.nanStep > 0 && b.calls >= b.nanStep {
			loss = math.NaN()
		}
	}
	return loss, n, nil
}

func (b *bigram) Forward(bt *model.Batch) (float64, int, error)         { return b.run(bt, false) }
func (b *bigram) ForwardBackward(bt *model.Batch) (float64, int, error) { return b.run(bt, true) }
func (b *bigram) Params() []*model.Param                                { return []*model.Param{b.w} }
func (b *bigram) ZeroGrad()                                             { clear(b.w.Grad) }
func (b *bigram) EnableLoRA(lora.Config, uint64) (*lora.Adapter, error) {
	return nil, errors.New("bigram: no LoRA")
}
func (b *bigram) AttachLoRA(*lora.Adapter) error { return errors.New("bigram: no LoRA") }
func (b *bigram) MergeLoRA() error               { return errors.New("bigram: no LoRA") }
func (b *bigram) NewCache() *model.KVCache       { return nil }
func (b *bigram) Step([]model.Seq) ([][]float32, error) {
	return nil, errors.New("bigram: no inference")
}
func (b *bigram) Save(dir string) error { return nil }

// charEncoder tokenizes bytes: id = byte value mod (V-2) + 2; 0 is BOS, 1 EOS.
type charEncoder struct{ v int }

func (c charEncoder) Encode(s string) ([]int32, error) {
	ids, _, err := c.EncodeOffsets(s)
	return ids, err
}

func (c charEncoder) EncodeOffsets(s string) ([]int32, [][2]int, error) {
	ids := make([]int32, len(s))
	offs := make([][2]int, len(s))
	for i := range len(s) {
		ids[i] = int32(int(s[i])%(c.v-2) + 2)
		offs[i] = [2]int{i, i + 1}
	}
	return ids, offs, nil
}

// tagChat renders "<u>text<a>text</a>" and learns "text</a>".
type tagChat struct{}

func (tagChat) RenderTraining(system string, msgs []Message) (string, [][2]int, error) {
	var b strings.Builder
	var spans [][2]int
	if system != "" {
		b.WriteString("<s>" + system)
	}
	for _, m := range msgs {
		if m.Role == "user" {
			b.WriteString("<u>" + m.Content)
			continue
		}
		b.WriteString("<a>")
		start := b.Len()
		b.WriteString(m.Content + "</a>")
		spans = append(spans, [2]int{start, b.Len()})
	}
	return b.String(), spans, nil
}
