package chart

import (
	"bytes"
	"errors"
	"image/png"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
)

func TestStep(t *testing.T) {
	for _, c := range []struct{ window, step time.Duration }{
		{15 * time.Minute, time.Minute},
		{time.Hour, time.Minute},
		{24 * time.Hour, 24 * time.Minute},
		{7 * 24 * time.Hour, 3 * time.Hour},
		{30 * 24 * time.Hour, 12 * time.Hour},
		{90 * 24 * time.Hour, 48 * time.Hour},
	} {
		if got := Step(c.window); got != c.step {
			t.Errorf("Step(%v) = %v, want %v", c.window, got, c.step)
		}
	}
}

// day is 60 buckets of 24 minutes of three routes' traffic, merged.
func day() (time.Time, time.Duration, []*sketchstore.Sketches) {
	r := rand.New(rand.NewPCG(3, 4))
	start := time.Date(2025, 11, 25, 0, 0, 0, 0, time.UTC)
	buckets := make([]*sketchstore.Sketches, 60)
	for i := range buckets {
		b := sketchstore.NewSketches()
		for range 3 {
			route := sketchstore.NewSketches()
			for range 24 * 60 {
				_ = route.Response.Add(30 * math.Exp(r.NormFloat64()*0.7) * (1 + float64(i%20)/10))
			}
			_ = b.Merge(route)
		}
		buckets[i] = b
	}
	buckets[17] = nil // a bucket without traffic leaves a gap, not an error
	return start, 24 * time.Minute, buckets
}

func TestRenderIsAPNG(t *testing.T) {
	start, step, buckets := day()
	b, err := Render("Latency of all routes: last 24h", start, step, buckets, []Threshold{{"p99 alert 800 ms", 800}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if s := img.Bounds().Size(); s.X != 900 || s.Y != 420 {
		t.Errorf("image %v, want 900×420", s)
	}
	if len(b) > 200<<10 {
		t.Errorf("%d bytes, want at most 200 KB", len(b))
	}
}

func TestRenderWithoutData(t *testing.T) {
	_, err := Render("empty", time.Now(), time.Minute, make([]*sketchstore.Sketches, 60), nil)
	if !errors.Is(err, ErrNoData) {
		t.Errorf("error %v, want ErrNoData", err)
	}
	// A zero latency is drawn at the floor, not a log-scale failure.
	s := sketchstore.NewSketches()
	_ = s.Response.Add(0)
	if _, err := Render("zero", time.Now(), time.Minute, []*sketchstore.Sketches{s}, []Threshold{{"none", 0}}); err != nil {
		t.Errorf("a 0 ms request: %v", err)
	}
}

// BenchmarkChart24h draws a day over three routes. Targets: ≤ 50 ms and
// ≤ 200 KB.
func BenchmarkChart24h(b *testing.B) {
	start, step, buckets := day()
	var size int
	for b.Loop() {
		png, err := Render("Latency of all routes: last 24h", start, step, buckets, []Threshold{{"p99 alert 800 ms", 800}})
		if err != nil {
			b.Fatal(err)
		}
		size = len(png)
	}
	b.ReportMetric(float64(size), "png-bytes")
}
