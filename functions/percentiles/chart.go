package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/chart"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
)

// chart uploads the chart of the scheduled report's window, in the
// report's thread, and says how it went for the Outcome.
func (h *Handler) chart(ctx context.Context, at time.Time, reportTS string) string {
	up, ok := h.Poster.(notify.Uploader)
	if !ok {
		return "skipped: an incoming webhook cannot carry a file; reportVia bot (with the files:write scope) uploads charts"
	}
	png, title, err := h.renderChart(ctx, at, h.Window)
	switch {
	case errors.Is(err, chart.ErrNoData):
		return "skipped: no requests to draw"
	case err != nil:
		h.Logger.Error("latency chart", "error", err.Error())
		return "failed: " + err.Error()
	}
	ts := reportTS
	if ts == "printed" {
		ts = "" // the Printer's stand-in, not a real message
	}
	err = up.Upload(ctx, notify.File{Channel: h.Channel, Name: "latency.png", Title: title, ThreadTS: ts, Data: png})
	if err != nil {
		h.Logger.Error("upload the latency chart", "error", err.Error(), "channel", h.Channel)
		return "failed: " + err.Error()
	}
	h.Logger.Info("uploaded latency chart", "channel", h.Channel, "bytes", len(png))
	return "uploaded"
}

// renderChart draws the window ending at end (a minute start) over all
// routes, in about chart.Buckets buckets, with the latency rules' thresholds.
func (h *Handler) renderChart(ctx context.Context, end time.Time, window time.Duration) ([]byte, string, error) {
	end = time.Unix(sketchstore.MinuteOf(end), 0).UTC()
	step := chart.Step(window)
	series, err := h.Store.Series(ctx, end.Add(-window), end, step)
	if err != nil {
		return nil, "", fmt.Errorf("read the chart's window: %w", err)
	}
	n := int(end.Sub(series.Start)+step-1) / int(step)
	total := make([]*sketchstore.Sketches, n)
	for _, buckets := range series.Routes {
		for i, b := range buckets {
			switch {
			case b == nil || i >= n:
			case total[i] == nil:
				total[i] = b.Copy()
			default:
				_ = total[i].Merge(b) // one mapping for every sketch: cannot fail
			}
		}
	}
	var lines []chart.Threshold
	if h.Alerts != nil {
		for _, r := range h.Alerts.Rules {
			if !r.IsErrorRule() && r.Route == "*" {
				lines = append(lines, chart.Threshold{
					Label: "alert p" + strconv.FormatFloat(r.Quantile*100, 'g', -1, 64) + " > " + strconv.FormatFloat(r.ThresholdMs, 'g', -1, 64) + " ms",
					Ms:    r.ThresholdMs,
				})
			}
		}
	}
	title := "Latency of all routes: last " + contract.FormatWindow(window) + ", to " + end.Format("Jan 2 15:04") + " UTC"
	png, err := chart.Render(title, series.Start, step, total, lines)
	return png, title, err
}
