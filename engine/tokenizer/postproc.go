package tokenizer

// postProcessor adds special tokens around a single encoded sequence.
type postProcessor interface {
	// process returns the ids to put before and after the sequence.
	process() (pre, post []int32)
}

// templateProc is TemplateProcessing's single template.
type templateProc struct{ pre, post []int32 }

func (t templateProc) process() ([]int32, []int32) { return t.pre, t.post }

type procSeq []postProcessor

func (q procSeq) process() (pre, post []int32) {
	for _, p := range q {
		a, b := p.process()
		pre = append(append([]int32(nil), a...), pre...)
		post = append(post, b...)
	}
	return pre, post
}
