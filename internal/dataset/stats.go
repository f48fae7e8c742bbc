package dataset

import (
	"math"
	"sort"
)

// Dist is the distribution of one per-record token count.
type Dist struct {
	Count int64   `json:"count"`
	Sum   int64   `json:"sum"`
	Min   int     `json:"min"`
	Max   int     `json:"max"`
	Mean  float64 `json:"mean"`
	P50   int     `json:"p50"`
	P90   int     `json:"p90"`
	P99   int     `json:"p99"`
	// Histogram has power-of-two buckets [Lo, Hi) of token counts.
	Histogram []Bucket `json:"histogram"`
}

// Bucket is one histogram bar: records with Lo ≤ tokens < Hi.
type Bucket struct {
	Lo    int   `json:"lo"`
	Hi    int   `json:"hi"`
	Count int64 `json:"count"`
}

// distBuilder counts values exactly (one map entry per distinct value, so
// memory is bounded by the longest record, not the record count).
type distBuilder struct {
	counts map[int]int64
	n, sum int64
}

func (d *distBuilder) add(v int) {
	if d.counts == nil {
		d.counts = map[int]int64{}
	}
	d.counts[v]++
	d.n++
	d.sum += int64(v)
}

func (d *distBuilder) build() Dist {
	if d.n == 0 {
		return Dist{Histogram: []Bucket{}}
	}
	vals := make([]int, 0, len(d.counts))
	for v := range d.counts {
		vals = append(vals, v)
	}
	sort.Ints(vals)
	out := Dist{Count: d.n, Sum: d.sum, Min: vals[0], Max: vals[len(vals)-1], Mean: math.Round(float64(d.sum)/float64(d.n)*10) / 10}
	q := func(p float64) int {
		// Nearest-rank percentile.
		rank := int64(math.Ceil(p * float64(d.n)))
		if rank < 1 {
			rank = 1
		}
		var seen int64
		for _, v := range vals {
			seen += d.counts[v]
			if seen >= rank {
				return v
			}
		}
		return vals[len(vals)-1]
	}
	out.P50, out.P90, out.P99 = q(0.50), q(0.90), q(0.99)
	// Power-of-two buckets ([0,1), [1,2), [2,4), ...) from the one holding
	// Min to the one holding Max.
	lo, hi := 0, 1
	for hi <= out.Min {
		lo, hi = hi, hi*2
	}
	i := 0
	for lo <= out.Max {
		var c int64
		for ; i < len(vals) && vals[i] < hi; i++ {
			c += d.counts[vals[i]]
		}
		out.Histogram = append(out.Histogram, Bucket{Lo: lo, Hi: hi, Count: c})
		lo, hi = hi, hi*2
	}
	return out
}
