// Package chart draws a latency report's shape over time as a PNG: p50, p90
// and p99 per time bucket on a log scale, with any alert thresholds as
// lines. It renders with gonum.org/v1/plot, pure Go, so the Lambda needs no
// cgo and no system fonts. Charts reads a window from the sketch store and
// draws it, for the scheduled report and `/slackbot latency … chart` alike.
// Only the percentiles and commands functions (and the dev server) import
// it, each from its main: the plotting library and its fonts would add to
// the INIT of the events function, which never draws.
package chart

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
)

// Buckets is about how many points a chart has across its window.
const Buckets = 60

// Step is the bucket width for a window: a sixtieth of it, in whole
// minutes, hours from an hour up and days from a day up, so each bucket is
// read from whole rollups of one level.
func Step(window time.Duration) time.Duration {
	step := (window + Buckets - 1) / Buckets
	for _, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute} {
		if step >= unit || unit == time.Minute {
			return (step + unit - 1) / unit * unit
		}
	}
	return step
}

// Threshold is a horizontal line across the chart, in milliseconds.
type Threshold struct {
	Label string
	Ms    float64
}

// quantiles are the lines drawn, with their colours.
var quantiles = []struct {
	q     float64
	label string
	color color.Color
}{
	{0.50, "p50", color.RGBA{R: 0x2e, G: 0x7d, B: 0x32, A: 0xff}},
	{0.90, "p90", color.RGBA{R: 0xef, G: 0x6c, B: 0x00, A: 0xff}},
	{0.99, "p99", color.RGBA{R: 0xc6, G: 0x28, B: 0x28, A: 0xff}},
}

// floorMs keeps a 0 ms value drawable on a log scale.
const floorMs = 0.01

// ErrNoData is a window without a single request to draw.
var ErrNoData = errors.New("no requests in the window to draw")

// Size of the image: 900×420 pixels at vgimg's 96 dpi.
const (
	width  = 9.375 * vg.Inch
	height = 4.375 * vg.Inch
)

// Render draws the buckets of a series (bucket i starts at start+i·step)
// as a PNG titled title.
func Render(title string, start time.Time, step time.Duration, buckets []*sketchstore.Sketches, thresholds []Threshold) (png []byte, err error) {
	// gonum/plot panics on some impossible axes; a report must not.
	defer func() {
		if r := recover(); r != nil {
			png, err = nil, fmt.Errorf("draw chart: %v", r)
		}
	}()
	p := plot.New()
	p.Title.Text = title
	p.X.Tick.Marker = plot.TimeTicks{Format: tickFormat(step * time.Duration(len(buckets)))}
	p.X.Label.Text = "UTC"
	p.Y.Label.Text = "responseLatency, ms (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true

	lo, hi := math.Inf(1), math.Inf(-1)
	lines := make([]plotter.XYs, len(quantiles))
	for i, b := range buckets {
		if b == nil || b.Response.IsEmpty() {
			continue
		}
		vs, err := b.Response.GetValuesAtQuantiles([]float64{quantiles[0].q, quantiles[1].q, quantiles[2].q})
		if err != nil {
			return nil, fmt.Errorf("draw chart: %w", err)
		}
		// A bucket's point sits in its middle.
		x := float64(start.Add(step*time.Duration(i) + step/2).Unix())
		for j, v := range vs {
			v = max(v, floorMs)
			lines[j] = append(lines[j], plotter.XY{X: x, Y: v})
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if len(lines[0]) == 0 {
		return nil, ErrNoData
	}
	for j, q := range quantiles {
		l, err := plotter.NewLine(lines[j])
		if err != nil {
			return nil, fmt.Errorf("draw chart: %w", err)
		}
		l.Color = q.color
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(q.label, l)
	}
	x0, x1 := float64(start.Unix()), float64(start.Add(step*time.Duration(len(buckets))).Unix())
	for _, t := range thresholds {
		if !(t.Ms > 0) {
			continue
		}
		l, err := plotter.NewLine(plotter.XYs{{X: x0, Y: t.Ms}, {X: x1, Y: t.Ms}})
		if err != nil {
			return nil, fmt.Errorf("draw chart: %w", err)
		}
		l.Color = color.Gray{Y: 0x60}
		l.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
		p.Add(l)
		p.Legend.Add(t.Label, l)
		lo, hi = min(lo, t.Ms), max(hi, t.Ms)
	}
	p.X.Min, p.X.Max = x0, x1
	// Whole decades around the data, so the log ticks have labels.
	p.Y.Min = math.Pow(10, math.Floor(math.Log10(lo)))
	p.Y.Max = math.Pow(10, math.Ceil(math.Log10(hi*1.05)))

	w, err := p.WriterTo(width, height, "png")
	if err != nil {
		return nil, fmt.Errorf("draw chart: %w", err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encode chart: %w", err)
	}
	return buf.Bytes(), nil
}

// tickFormat labels the time axis as precisely as its span needs.
func tickFormat(span time.Duration) string {
	switch {
	case span <= 24*time.Hour:
		return "15:04"
	case span <= 7*24*time.Hour:
		return "Jan 2 15:04"
	}
	return "Jan 2"
}
