package sketchstore

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
)

const (
	// RelativeAccuracy is the sketches' guarantee: every quantile is within 1%
	// of the exact value (the latency report contract in docs/design.md).
	RelativeAccuracy = 0.01

	// MaxBins bounds a sketch's memory and encoded size. At 1% accuracy 2048
	// bins span a factor of e^41 between the fastest and slowest value before
	// the lowest bins collapse, far more than 1 µs to an hour, so collapsing
	// only ever costs accuracy on values nobody asks about.
	MaxBins = 2048
)

// Sketch is a DDSketch that also keeps the exact count, sum, min and max, so a
// report's count and max are exact and quantiles never leave [min, max].
type Sketch = ddsketch.DDSketchWithExactSummaryStatistics

// indexMapping is shared by every sketch: mappings are immutable, and sketches
// only merge when their mappings are equal. The cubically interpolated
// mapping keeps the 1% guarantee with about 1% more bins than the
// logarithmic one, and finds a bin from the float's bits instead of a
// math.Log call, which makes an Add about twice as fast.
var indexMapping = func() mapping.IndexMapping {
	m, err := mapping.NewCubicallyInterpolatedMapping(RelativeAccuracy)
	if err != nil {
		panic(err) // a constant argument; cannot fail
	}
	return m
}()

// newStore collapses the lowest bins past MaxBins: the slow tail is what a
// latency report is for, so it is the fast end that may lose precision.
func newStore() store.Store { return store.NewCollapsingLowestDenseStore(MaxBins) }

// NewSketch returns an empty sketch with this package's accuracy and bounds.
func NewSketch() *Sketch {
	return ddsketch.NewDDSketchWithExactSummaryStatistics(indexMapping, newStore)
}

// EncodeSketch appends s in sketches-go's own compact binary encoding. The
// index mapping is kept in the bytes, so a later change of accuracy shows up as
// a decode error rather than as silently wrong quantiles.
func EncodeSketch(b []byte, s *Sketch) []byte {
	s.Encode(&b, false)
	return b
}

// mergeEncoded merges the sketch EncodeSketch wrote into dst without
// building a sketch for it: a week's report decodes twenty thousand
// minutes per route, and the allocation would be most of the cost. A sketch
// of another mapping is an error.
func mergeEncoded(dst *Sketch, b []byte) error {
	if err := dst.DecodeAndMergeWith(b); err != nil {
		return fmt.Errorf("decode sketch: %w", err)
	}
	return nil
}

// Sketches holds what the access log (docs/design.md) says of one route over
// some span of time: its two latencies and its responses by status class.
// Response is what a client waits for; Integration is the part spent in the
// Lambda function. Counts are exact and merge by addition.
type Sketches struct {
	Response    *Sketch
	Integration *Sketch
	// Requests counts every line; Status4xx and Status5xx those whose
	// status was 4xx or 5xx. A line without a status is a request of
	// neither class.
	Requests, Status4xx, Status5xx int64
}

// NewSketches returns a pair of empty sketches.
func NewSketches() *Sketches {
	return &Sketches{Response: NewSketch(), Integration: NewSketch()}
}

// Merge adds o's values to s.
func (s *Sketches) Merge(o *Sketches) error {
	if err := s.Response.MergeWith(o.Response); err != nil {
		return fmt.Errorf("merge response latency: %w", err)
	}
	if err := s.Integration.MergeWith(o.Integration); err != nil {
		return fmt.Errorf("merge integration latency: %w", err)
	}
	s.Requests += o.Requests
	s.Status4xx += o.Status4xx
	s.Status5xx += o.Status5xx
	return nil
}

// Copy returns a deep copy, so a caller may merge into it without touching
// the store's own sketches.
func (s *Sketches) Copy() *Sketches {
	c := *s
	c.Response, c.Integration = s.Response.Copy(), s.Integration.Copy()
	return &c
}

// CountStatus counts one response of HTTP status code (0: none known).
func (s *Sketches) CountStatus(code int) {
	s.Requests++
	switch code / 100 {
	case 4:
		s.Status4xx++
	case 5:
		s.Status5xx++
	}
}

// ErrorRatio is the share of requests answered 5xx; 0 without requests.
func (s *Sketches) ErrorRatio() float64 {
	if s == nil || s.Requests == 0 {
		return 0
	}
	return float64(s.Status5xx) / float64(s.Requests)
}

// Quantiles a report shows, in the order Summary's fields hold them.
var reportQuantiles = []float64{0.50, 0.90, 0.95, 0.99}

// TailFraction is the share of slowest requests whose mean is the tail mean.
const TailFraction = 0.01

// Summary is what a report shows of one sketch, latencies in milliseconds.
type Summary struct {
	Count              int64
	P50, P90, P95, P99 float64
	Max                float64
	TailMean           float64 // mean of the slowest TailFraction of requests
	Histogram          []float64
}

// Summarize reads a report's numbers from s. An empty sketch gives a zero
// Summary with Count 0.
func Summarize(s *Sketch) Summary {
	if s == nil || s.IsEmpty() {
		return Summary{}
	}
	qs, err := s.GetValuesAtQuantiles(reportQuantiles)
	if err != nil {
		// Only an empty sketch or a quantile outside [0,1] errs, and both are
		// excluded above.
		panic(fmt.Sprintf("sketchstore: quantiles of a non-empty sketch: %v", err))
	}
	maxV, _ := s.GetMaxValue()
	return Summary{
		Count:     int64(math.Round(s.GetCount())),
		P50:       qs[0],
		P90:       qs[1],
		P95:       qs[2],
		P99:       qs[3],
		Max:       maxV,
		TailMean:  TailMean(s, TailFraction),
		Histogram: Histogram(s),
	}
}

type bin struct {
	value, count float64
}

// TailMean is the mean of the slowest fraction of values in s, read from the
// sketch's bins from the top down: each bin stands for its values within the
// sketch's relative accuracy, so the mean is as accurate. The number of values
// taken is ceil(fraction × count), at least one.
func TailMean(s *Sketch, fraction float64) float64 {
	if s == nil || s.IsEmpty() || !(fraction > 0) {
		return math.NaN()
	}
	want := math.Ceil(fraction*s.GetCount() - 1e-9)
	want = max(want, 1)
	minV, _ := s.GetMinValue()
	maxV, _ := s.GetMaxValue()

	bins := make([]bin, 0, 256)
	s.ForEach(func(value, count float64) bool {
		if count > 0 {
			bins = append(bins, bin{value, count})
		}
		return false
	})
	// ForEach promises no order.
	slices.SortFunc(bins, func(a, b bin) int { return cmp.Compare(b.value, a.value) })

	var sum, taken float64
	for _, b := range bins {
		n := min(b.count, want-taken)
		// A bin's representative value may lie up to 1% outside the values it
		// holds; the exact extremes are better where they apply.
		sum += n * min(max(b.value, minV), maxV)
		taken += n
		if taken >= want {
			break
		}
	}
	if taken == 0 {
		return math.NaN()
	}
	return sum / taken
}

// HistogramEdges are the upper bounds, in milliseconds, of a histogram's
// buckets; the last bucket is everything from the last edge up. A 1-2-5 series
// is near enough to logarithmic for the eye and gives labels people read
// without thinking: <1 ms, 1–2, 2–5, 5–10 ms, … ≥10 s. Every histogram uses
// the same buckets, so rows compare by position.
var HistogramEdges = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000}

// Histogram counts s's values per HistogramEdges bucket, from the sketch's
// bins (a bin straddling an edge goes by its representative value).
func Histogram(s *Sketch) []float64 {
	h := make([]float64, len(HistogramEdges)+1)
	if s == nil {
		return h
	}
	s.ForEach(func(value, count float64) bool {
		i, _ := slices.BinarySearch(HistogramEdges, value)
		// BinarySearch finds the first edge >= value; a value equal to an
		// edge belongs to the bucket above it ([1, 2) holds 1).
		if i < len(HistogramEdges) && HistogramEdges[i] == value {
			i++
		}
		h[i] += count
		return false
	})
	return h
}
