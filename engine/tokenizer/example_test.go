package tokenizer_test

import (
	"fmt"
	"slices"

	"github.com/strata-ml/strata/engine/tokenizer"
)

// Train a small byte-level BPE tokenizer, load it and round-trip text.
func ExampleTrainBPE() {
	corpus := []string{"the cat sat on the mat", "the dog sat on the log", "a cat and a dog"}
	js, err := tokenizer.TrainBPE(slices.Values(corpus), tokenizer.TrainOptions{
		VocabSize:     270,
		SpecialTokens: []string{"<s>", "</s>"},
		BOS:           "<s>",
	})
	if err != nil {
		panic(err)
	}
	tk, err := tokenizer.FromJSON(js) // the same bytes load in HF tokenizers
	if err != nil {
		panic(err)
	}
	ids := tk.Encode("the cat", true)
	fmt.Println(ids[0] == tk.BOS(), tk.Decode(ids, true))
	// Output: true the cat
}
