package main

import (
	"context"
	"fmt"
	"time"

	"github.com/lambda-slackbot/slackbot/functions/internal/chart"
	"github.com/lambda-slackbot/slackbot/functions/internal/chartcall"
	"github.com/lambda-slackbot/slackbot/functions/internal/chat"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
)

// charts is the chart of the scheduled report, with the latency rules'
// thresholds.
func (h *Handler) charts() *chart.Charts {
	c := &chart.Charts{Store: h.Store, Sources: h.Sources, Match: latency.MatchRoutes}
	if h.Alerts != nil {
		c.Rules = h.Alerts.Rules
	}
	return c
}

// chart uploads the chart of the scheduled report's window, drawn from the
// series the report was built from, in the report's thread, and says how
// it went for the Outcome.
func (h *Handler) chart(ctx context.Context, source string, series *sketchstore.Series, at time.Time, reportTS string) string {
	up, ok := h.Poster.(chat.Uploader)
	if !ok {
		return "skipped: an incoming webhook cannot carry a file; reportVia bot (with the files:write scope) uploads charts"
	}
	png, title, err := h.charts().Draw(series, source, at, h.Window, "")
	switch {
	case err != nil:
		h.Logger.Error("latency chart", "source", source, "error", err.Error())
		return "failed: " + err.Error()
	case png == nil:
		return "skipped: no requests to draw"
	}
	ts := reportTS
	if ts == "printed" {
		ts = "" // the Printer's stand-in, not a real message
	}
	err = up.Upload(ctx, chat.File{Channel: h.Channel, Name: "latency.png", Title: title, ThreadTS: ts, Data: png})
	if err != nil {
		h.Logger.Error("upload the latency chart", "error", err.Error(), "channel", h.Channel)
		return "failed: " + err.Error()
	}
	h.Logger.Info("uploaded latency chart", "channel", h.Channel, "bytes", len(png))
	return "uploaded"
}

// drawChart draws the chart the commands function asked for (chartcall),
// and answers it: the caller uploads it where it was asked, under its own
// limits. Drawing only reads the sketches, so a request from anyone allowed
// to invoke this function reveals nothing it could not read itself.
func (h *Handler) drawChart(ctx context.Context, req chartcall.Request) (Outcome, error) {
	// The seconds are checked before they become a Duration, whose
	// nanoseconds a huge count would wrap into a window that looks fine.
	if req.WindowSeconds <= 0 || req.WindowSeconds > int64(90*24*time.Hour/time.Second) {
		return Outcome{}, fmt.Errorf("chart: window of %d seconds, want 1 to 90 days", req.WindowSeconds)
	}
	window := time.Duration(req.WindowSeconds) * time.Second
	png, title, err := h.charts().Chart(ctx, req.Source, window, req.Route)
	if err != nil {
		return Outcome{}, fmt.Errorf("chart: %w", err)
	}
	return Outcome{Chart: &chartcall.Answer{PNG: png, Title: title}}, nil
}
