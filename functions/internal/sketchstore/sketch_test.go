package sketchstore

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// busyMinute is a heavy route-minute: 60,000 requests (1,000 a second),
// integer milliseconds as API Gateway writes them, spread from 0 ms over a
// lognormal body to a tail reaching API Gateway's 29 s integration timeout.
func busyMinute() *Sketch {
	r := rand.New(rand.NewPCG(7, 7))
	s := NewSketch()
	for i := range 60_000 {
		v := math.Round(lognormal(r, 40, 1.2))
		if i%100 == 0 {
			v = float64(r.IntN(29_001)) // the tail: anything up to the timeout
		}
		_ = s.Add(min(v, 29_000))
	}
	return s
}

// spreadMinute holds every integer millisecond from 0 to 29 s once: every
// bin the sketch can use for an API Gateway latency is occupied, the most
// the encoding can be asked to hold.
func spreadMinute() *Sketch {
	s := NewSketch()
	for v := range 29_001 {
		_ = s.Add(float64(v))
	}
	return s
}

func TestEncodedMinuteSize(t *testing.T) {
	const limit = 2 << 10
	for _, c := range []struct {
		name string
		s    *Sketch
	}{{"busy minute", busyMinute()}, {"every millisecond 0–29 s", spreadMinute()}} {
		b := EncodeSketch(nil, c.s)
		t.Logf("%s: %d values, %d bytes", c.name, int(c.s.GetCount()), len(b))
		if len(b) > limit {
			t.Errorf("%s: encoded %d bytes, want at most %d", c.name, len(b), limit)
		}
		d, err := DecodeSketch(b)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := Summarize(d), Summarize(c.s); got.Count != want.Count || got.P99 != want.P99 || got.Max != want.Max || got.P50 != want.P50 {
			t.Errorf("%s: decoded %+v, want %+v", c.name, got, want)
		}
	}
}

// sketches-go's decoder does not notice truncation (it drops a store's
// decode error); what it does check, and what this package adds, is tested.
func TestDecodeSketchRejectsWhatItCannotRead(t *testing.T) {
	full := EncodeSketch(nil, busyMinute())
	other, _ := ddsketch.LogCollapsingLowestDenseDDSketch(0.02, MaxBins)
	_ = other.Add(12)
	var otherBytes []byte
	other.Encode(&otherBytes, false)
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"no mapping", full[len(full)-8:]},
		{"another accuracy", otherBytes},
		{"empty", nil},
	} {
		if _, err := DecodeSketch(c.b); err == nil {
			t.Errorf("%s: DecodeSketch succeeded, want an error", c.name)
		}
	}
	if err := mergeEncoded(NewSketch(), otherBytes); err == nil {
		t.Error("mergeEncoded took a sketch of another accuracy")
	}
}

func TestHistogramBuckets(t *testing.T) {
	s := NewSketch()
	// One value per bucket, away from edges, plus two in the first.
	for _, v := range []float64{0, 0.5, 1.5, 3, 7, 15, 30, 70, 150, 300, 700, 1500, 3000, 7000, 20000} {
		_ = s.Add(v)
	}
	want := []float64{2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	if got := Histogram(s); !slices.Equal(got, want) {
		t.Errorf("Histogram = %v, want %v", got, want)
	}
}

func TestTailMean(t *testing.T) {
	for _, c := range []struct {
		name   string
		values []float64
		want   float64
	}{
		// Fewer than 100 values: the slowest 1% is the slowest one.
		{"one value", []float64{5}, 5},
		{"ten values", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 100}, 100},
		// 200 values: the slowest two.
		{"two hundred", append(slices.Repeat([]float64{10}, 198), 1000, 3000), 2000},
		{"zeros", []float64{0, 0, 0}, 0},
	} {
		s := NewSketch()
		for _, v := range c.values {
			_ = s.Add(v)
		}
		if got := TailMean(s, TailFraction); testenv.RelErr(got, c.want) > RelativeAccuracy {
			t.Errorf("%s: TailMean = %v, want %v within 1%%", c.name, got, c.want)
		}
	}
	if got := TailMean(NewSketch(), TailFraction); !math.IsNaN(got) {
		t.Errorf("TailMean of an empty sketch = %v, want NaN", got)
	}
}

func TestSummarizeEmpty(t *testing.T) {
	if s := Summarize(NewSketch()); s.Count != 0 || s.Histogram != nil {
		t.Errorf("Summarize(empty) = %+v, want the zero Summary", s)
	}
}

func BenchmarkSketchAdd(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	values := make([]float64, 4096)
	for i := range values {
		values[i] = math.Round(lognormal(r, 40, 1))
	}
	s := NewSketch()
	i := 0
	start := testenv.CPUTime()
	for b.Loop() {
		_ = s.Add(values[i&4095])
		i++
	}
	testenv.ReportCPU(b, start)
}

func BenchmarkSketchMerge(b *testing.B) {
	minute := busyMinute()
	acc := NewSketch()
	for b.Loop() {
		_ = acc.MergeWith(minute)
	}
}

func BenchmarkSketchEncode(b *testing.B) {
	minute := busyMinute()
	buf := EncodeSketch(nil, minute)
	for b.Loop() {
		buf = EncodeSketch(buf[:0], minute)
	}
	b.ReportMetric(float64(len(buf)), "bytes/sketch")
}

// BenchmarkSketchDecodeAndMerge is how a report reads a stored minute: into
// the window's sketch, with no sketch of its own.
func BenchmarkSketchDecodeAndMerge(b *testing.B) {
	buf := EncodeSketch(nil, busyMinute())
	acc := NewSketch()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if err := mergeEncoded(acc, buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSketchDecode(b *testing.B) {
	buf := EncodeSketch(nil, busyMinute())
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := DecodeSketch(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// DecodeSketch decodes what EncodeSketch wrote. The mapping must be in the
// bytes and equal this package's, so bytes of another accuracy or from
// elsewhere fail here instead of merging into nonsense.
func DecodeSketch(b []byte) (*Sketch, error) {
	s, err := ddsketch.DecodeDDSketchWithExactSummaryStatistics(b, newStore, nil)
	if err != nil {
		return nil, fmt.Errorf("decode sketch: %w", err)
	}
	if !s.IndexMapping.Equals(indexMapping) {
		return nil, fmt.Errorf("decode sketch: its index mapping (%s) is not this package's (%s)", s.IndexMapping, indexMapping)
	}
	return s, nil
}
