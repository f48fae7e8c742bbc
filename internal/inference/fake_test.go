package inference

import "github.com/strata-ml/strata/internal/inference/inferencetest"

const (
	fakeVocab = inferencetest.Vocab
	fakeEOS   = inferencetest.EOS
)

type fakeModel = inferencetest.Model

type byteTokenizer = inferencetest.ByteTokenizer

func newFakeModel() *fakeModel { return inferencetest.NewModel() }

func fakeBase(m *fakeModel) *Base {
	return &Base{Model: m, Tokenizer: byteTokenizer{}, EOS: []int32{fakeEOS}, ContextLen: 4096}
}
