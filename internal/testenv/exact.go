package testenv

import "math"

// ExactQuantile is the quantile by the definition DDSketch answers to: the
// value of rank ⌊q(n−1)⌋ in sorted order. Accuracy tests check sketches
// against it.
func ExactQuantile(sorted []float64, q float64) float64 {
	return sorted[int(q*float64(len(sorted)-1))]
}

// ExactTailMean is the mean of the slowest ⌈fraction·n⌉ values of sorted.
func ExactTailMean(sorted []float64, fraction float64) float64 {
	k := max(int(math.Ceil(fraction*float64(len(sorted))-1e-9)), 1)
	sum := 0.0
	for _, v := range sorted[len(sorted)-k:] {
		sum += v
	}
	return sum / float64(k)
}

// RelErr is |got−want|/|want|, or |got| when want is 0.
func RelErr(got, want float64) float64 {
	if want == 0 {
		return math.Abs(got)
	}
	return math.Abs(got-want) / math.Abs(want)
}
