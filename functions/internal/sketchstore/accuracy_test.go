package sketchstore

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/dynamo/dynamotest"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// distributions are the shapes the accuracy tests hold the sketch to, in
// milliseconds. Pareto with α = 1.5 has a finite mean but an infinite
// variance: the heavy tail that makes averages lie and percentiles matter.
var distributions = []struct {
	name string
	gen  func(r *rand.Rand) float64
}{
	{"uniform 1–1000 ms", func(r *rand.Rand) float64 { return 1 + 999*r.Float64() }},
	{"lognormal median 50 ms σ 0.8", func(r *rand.Rand) float64 { return lognormal(r, 50, 0.8) }},
	{"bimodal 70% ~20 ms, 30% ~400 ms", func(r *rand.Rand) float64 {
		if r.Float64() < 0.7 {
			return max(0.5, 20+3*r.NormFloat64())
		}
		return max(0.5, 400+40*r.NormFloat64())
	}},
	{"Pareto xm 10 ms α 1.5", func(r *rand.Rand) float64 { return 10 / math.Pow(1-r.Float64(), 1/1.5) }},
	{"constant 42 ms", func(*rand.Rand) float64 { return 42 }},
}

const accuracySamples = 200_000

func samples(i int) []float64 {
	r := rand.New(rand.NewPCG(uint64(i)+1, 42))
	v := make([]float64, accuracySamples)
	for j := range v {
		v[j] = distributions[i].gen(r)
	}
	return v
}

func TestAccuracyAgainstExactQuantiles(t *testing.T) {
	var table strings.Builder
	table.WriteString("| distribution | statistic | exact (ms) | sketch (ms) | relative error |\n|---|---|---:|---:|---:|\n")
	for i, d := range distributions {
		t.Run(d.name, func(t *testing.T) {
			v := samples(i)
			s := NewSketch()
			for _, x := range v {
				if err := s.Add(x); err != nil {
					t.Fatal(err)
				}
			}
			sorted := slices.Clone(v)
			slices.Sort(sorted)
			sum := Summarize(s)
			if sum.Count != int64(len(v)) {
				t.Errorf("count %d, want %d", sum.Count, len(v))
			}
			for _, c := range []struct {
				name           string
				got, want, tol float64
			}{
				{name: "p50", got: sum.P50, want: testenv.ExactQuantile(sorted, 0.50), tol: RelativeAccuracy},
				{name: "p90", got: sum.P90, want: testenv.ExactQuantile(sorted, 0.90), tol: RelativeAccuracy},
				{name: "p95", got: sum.P95, want: testenv.ExactQuantile(sorted, 0.95), tol: RelativeAccuracy},
				{name: "p99", got: sum.P99, want: testenv.ExactQuantile(sorted, 0.99), tol: RelativeAccuracy},
				{name: "max", got: sum.Max, want: sorted[len(sorted)-1], tol: 0},
				{name: "tail mean (slowest 1%)", got: sum.TailMean, want: testenv.ExactTailMean(sorted, TailFraction), tol: 2 * RelativeAccuracy},
			} {
				e := testenv.RelErr(c.got, c.want)
				fmt.Fprintf(&table, "| %s | %s | %.4f | %.4f | %.3f%% |\n", d.name, c.name, c.want, c.got, 100*e)
				// 1e-12 absorbs float rounding of values right on a bin edge.
				if e > c.tol+1e-12 {
					t.Errorf("%s: sketch %.6f, exact %.6f: relative error %.4f%% > %.2f%%", c.name, c.got, c.want, 100*e, 100*c.tol)
				}
			}
			// Every quantile, not only the four a report shows.
			for q := 0.0; q <= 1.0; q += 0.001 {
				got, err := s.GetValueAtQuantile(q)
				if err != nil {
					t.Fatal(err)
				}
				if e := testenv.RelErr(got, testenv.ExactQuantile(sorted, q)); e > RelativeAccuracy+1e-12 {
					t.Fatalf("q=%.3f: sketch %.6f, exact %.6f: relative error %.4f%%", q, got, testenv.ExactQuantile(sorted, q), 100*e)
				}
			}
		})
	}
	t.Logf("accuracy, %d samples per distribution:\n%s", accuracySamples, table.String())
}

// Sixty per-minute sketches, each through the store's encoding, merged, must
// answer exactly as one sketch of all the data: DDSketch merges losslessly.
func TestMergedMinutesEqualOneSketch(t *testing.T) {
	for i, d := range distributions {
		t.Run(d.name, func(t *testing.T) {
			v := samples(i)
			whole := NewSketch()
			merged := NewSketch()
			const minutes = 60
			per := len(v) / minutes
			for m := range minutes {
				piece := NewSketch()
				for _, x := range v[m*per : (m+1)*per] {
					_ = piece.Add(x)
					_ = whole.Add(x)
				}
				decoded, err := DecodeSketch(EncodeSketch(nil, piece))
				if err != nil {
					t.Fatal(err)
				}
				if err := merged.MergeWith(decoded); err != nil {
					t.Fatal(err)
				}
			}
			a, b := Summarize(whole), Summarize(merged)
			if a.Count != int64(minutes*per) || b.Count != a.Count {
				t.Fatalf("counts: whole %d, merged %d, want %d", a.Count, b.Count, minutes*per)
			}
			for _, c := range []struct {
				name         string
				whole, merge float64
			}{{"p50", a.P50, b.P50}, {"p90", a.P90, b.P90}, {"p95", a.P95, b.P95}, {"p99", a.P99, b.P99}, {"max", a.Max, b.Max}} {
				if c.whole != c.merge {
					t.Errorf("%s: one sketch %v, merged minutes %v", c.name, c.whole, c.merge)
				}
			}
			if e := testenv.RelErr(b.TailMean, a.TailMean); e > 1e-9 {
				t.Errorf("tail mean: one sketch %v, merged minutes %v", a.TailMean, b.TailMean)
			}
			if !slices.Equal(a.Histogram, b.Histogram) {
				t.Errorf("histogram: one sketch %v, merged minutes %v", a.Histogram, b.Histogram)
			}
		})
	}
}

// TestRollupsEqualOneSketch: a window read from days, hours and minute
// edges answers exactly as one sketch of the samples in it, so no rollup
// and its minutes are both counted, and none is left out. Both stores, over
// windows that start and end anywhere.
func TestRollupsEqualOneSketch(t *testing.T) {
	ctx := context.Background()
	const route = "POST /slack/events"
	r := rand.New(rand.NewPCG(8, 5))
	start := time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC).Unix()
	const days = 9
	// Every minute of nine days, a few requests each: their minute and
	// their values are kept to build the exact answer.
	type sample struct {
		minute int64
		ms     float64
		status int
	}
	var all []sample
	parts := map[Key]*Sketches{}
	for m := int64(0); m < days*1440; m++ {
		k := Key{"", route, start + m*60}
		p := NewSketches()
		for range 1 + r.IntN(4) {
			s := sample{k.Minute, math.Round(lognormal(r, 40, 0.9)*10) / 10, []int{200, 200, 200, 404, 500}[r.IntN(5)]}
			_ = p.Response.Add(s.ms)
			p.CountStatus(s.status)
			all = append(all, s)
		}
		parts[k] = p
	}
	stand := dynamotest.NewStandIn(contract.SketchRouteKey, contract.SketchMinuteKey)
	clock := func() time.Time { return time.Unix(start+days*86400, 0) }
	mem, dyn := NewMemoryStore(), NewDynamoStore(stand, "t")
	mem.Now, dyn.Now = clock, clock
	stores := map[string]Store{"memory": mem, "dynamodb": dyn}
	for name, s := range stores {
		// A day's minutes per call, as batches would bring them.
		for d := int64(0); d < days; d++ {
			day := map[Key]*Sketches{}
			for k, p := range parts {
				if k.Minute >= start+d*86400 && k.Minute < start+(d+1)*86400 {
					day[k] = p
				}
			}
			if err := s.Merge(ctx, fmt.Sprint("day", d), day); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
	for range 40 {
		from := start + 60*r.Int64N(days*1440)
		to := from + 60*(1+r.Int64N((start+days*86400-from)/60))
		whole := NewSketches()
		for _, s := range all {
			if s.minute >= from && s.minute < to {
				_ = whole.Response.Add(s.ms)
				whole.CountStatus(s.status)
			}
		}
		want := Summarize(whole.Response)
		for name, s := range stores {
			got, err := Range(ctx, s, "", time.Unix(from, 0), time.Unix(to, 0))
			if err != nil {
				t.Fatal(err)
			}
			g := got[route]
			if g == nil {
				t.Fatalf("%s: nothing in [%d, %d)", name, from, to)
			}
			sum := Summarize(g.Response)
			if sum.Count != want.Count || sum.P50 != want.P50 || sum.P99 != want.P99 || sum.Max != want.Max ||
				g.Requests != whole.Requests || g.Status4xx != whole.Status4xx || g.Status5xx != whole.Status5xx {
				t.Errorf("%s, %s from %s: count %d p50 %v p99 %v max %v, %d/%d/%d requests/4xx/5xx; one sketch of the samples: %d %v %v %v, %d/%d/%d",
					name, time.Duration(to-from)*time.Second, time.Unix(from, 0).UTC(), sum.Count, sum.P50, sum.P99, sum.Max, g.Requests, g.Status4xx, g.Status5xx,
					want.Count, want.P50, want.P99, want.Max, whole.Requests, whole.Status4xx, whole.Status5xx)
			}
		}
	}
}

func lognormal(r *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(r.NormFloat64()*sigma)
}

// batchTime is a fixed minute start the store tests write at.
var batchTime = time.Date(2025, 11, 25, 13, 0, 0, 0, time.UTC)
