package chart

import (
	"bytes"
	"context"
	"image/png"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
)

const (
	events   = "POST /slack/events"
	commands = "POST /slack/commands"
)

// lastHour is a store with an hour of both routes' traffic before end:
// events at 10 ms, 3 requests a minute; commands at 900 ms, 1 a minute.
func lastHour(end time.Time) *sketchstore.MemoryStore {
	s := sketchstore.NewMemoryStore()
	s.Now = func() time.Time { return end }
	for m := range 60 {
		at := end.Add(-time.Duration(m+1) * time.Minute)
		for range 3 {
			s.RecordStatus(events, at, 200, 10*time.Millisecond, 5*time.Millisecond)
		}
		s.RecordStatus(commands, at, 200, 900*time.Millisecond, 800*time.Millisecond)
	}
	return s
}

// TestChartsDrawAWindow: the scheduled report's and the slash command's
// chart, read from the store: all routes or the one asked for, titled with
// it, and nothing (not an error) when nothing matches.
func TestChartsDrawAWindow(t *testing.T) {
	end := time.Date(2025, 11, 25, 12, 0, 0, 0, time.UTC)
	c := &Charts{Store: lastHour(end), Match: latency.MatchRoutes, Now: func() time.Time { return end.Add(-30 * time.Second) }}
	ctx := context.Background()

	b, title, err := c.Chart(ctx, "", time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if title != "Latency of all routes: last 1h, to Nov 25 12:00 UTC" {
		t.Errorf("title %q", title)
	}

	b, title, err = c.ChartEnding(ctx, "", end, 15*time.Minute, "events")
	if err != nil || b == nil {
		t.Fatalf("chart of events: %d bytes, %v", len(b), err)
	}
	if !strings.Contains(title, "Latency of "+events+": last 15m") || strings.Contains(title, commands) {
		t.Errorf("title %q: want the matched route only", title)
	}

	b, title, err = c.ChartEnding(ctx, "", end, time.Hour, "nosuchroute")
	if b != nil || err != nil || !strings.Contains(title, "nosuchroute") {
		t.Errorf("unknown route: %d bytes, %q, %v; want no PNG and no error", len(b), title, err)
	}
	if b, _, err := c.ChartEnding(ctx, "", end.Add(48*time.Hour), time.Hour, ""); b != nil || err != nil {
		t.Errorf("a window without requests: %d bytes, %v; want no PNG and no error", len(b), err)
	}
	if _, _, err := c.Chart(ctx, "", 30*time.Second, ""); err == nil {
		t.Error("a 30 s window was drawn")
	}
}

// TestMergeDrawsOnlyTheRoutesAsked: a route's chart is that route's data,
// not the total's.
func TestMergeDrawsOnlyTheRoutesAsked(t *testing.T) {
	end := time.Date(2025, 11, 25, 12, 0, 0, 0, time.UTC)
	series, err := lastHour(end).Series(context.Background(), contract.DefaultSource, end.Add(-time.Hour), end, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	count := func(routes ...string) (n float64) {
		for _, b := range merge(series, routes, 6) {
			if b != nil {
				n += b.Response.GetCount()
			}
		}
		return n
	}
	if got := count(events); got != 180 {
		t.Errorf("events: %v requests drawn, want 180", got)
	}
	if got := count(events, commands); got != 240 {
		t.Errorf("both routes: %v requests drawn, want 240", got)
	}
	// Merging must not change the store's sketches: the next chart reads them.
	count(events, commands)
	if got := count(events); got != 180 {
		t.Errorf("events after a merge: %v requests, want 180", got)
	}
}

// TestThresholdsOfWhatIsDrawn: a latency rule is drawn on the chart of
// the data it measures, and no other.
func TestThresholdsOfWhatIsDrawn(t *testing.T) {
	c := &Charts{Match: latency.MatchRoutes, Rules: []contract.AlertRule{
		{Route: "*", Quantile: 0.99, ThresholdMs: 800},
		{Route: "events", Quantile: 0.9, ThresholdMs: 50},
		{Route: "*", ErrorRatio: 0.01},
	}}
	all := []string{commands, events}
	labels := func(ts []Threshold) (out []string) {
		for _, t := range ts {
			out = append(out, t.Label)
		}
		return out
	}
	if got := labels(c.thresholds(contract.DefaultSource, "", all, all)); !slices.Equal(got, []string{"alert p99 > 800 ms"}) {
		t.Errorf("all routes: %q", got)
	}
	if got := labels(c.thresholds(contract.DefaultSource, "/slack/events", []string{events}, all)); !slices.Equal(got, []string{"alert p90 > 50 ms"}) {
		t.Errorf("events: %q", got)
	}
	if got := labels(c.thresholds(contract.DefaultSource, "commands", []string{commands}, all)); len(got) != 0 {
		t.Errorf("commands: %q, want none", got)
	}

	// Per source: a rule is drawn on its source's chart only, and a rule
	// without a source is on the default source, the first configured.
	c = &Charts{Match: latency.MatchRoutes, Sources: []contract.LatencySource{{Name: "orders", Kind: contract.SourceAPIGateway, LogGroup: "/g"}},
		Rules: []contract.AlertRule{
			{Source: "orders", Route: "*", Quantile: 0.99, ThresholdMs: 300},
			{Route: "*", Quantile: 0.5, ThresholdMs: 100},
			{Source: contract.DefaultSource, Route: "*", Quantile: 0.99, ThresholdMs: 800},
		}}
	if got := labels(c.thresholds("orders", "", all, all)); !slices.Equal(got, []string{"alert p99 > 300 ms", "alert p50 > 100 ms"}) {
		t.Errorf("orders: %q", got)
	}
	if got := labels(c.thresholds(contract.DefaultSource, "", all, all)); !slices.Equal(got, []string{"alert p99 > 800 ms"}) {
		t.Errorf("the bot's own: %q", got)
	}
}

// TestChartOfASource draws a source's data, titled with its name, and the
// default source when none is named.
func TestChartOfASource(t *testing.T) {
	end := time.Date(2025, 11, 25, 12, 0, 0, 0, time.UTC)
	store := lastHour(end) // the bot's own
	p := sketchstore.NewSketches()
	for i := range 50 {
		_ = p.Response.Add(float64(100 + i))
	}
	if err := store.Merge(context.Background(), "", map[sketchstore.Key]*sketchstore.Sketches{
		{Source: "orders", Route: "GET /orders", Minute: end.Add(-5 * time.Minute).Unix()}: p}); err != nil {
		t.Fatal(err)
	}
	c := &Charts{Store: store, Match: latency.MatchRoutes, Sources: []contract.LatencySource{
		{Name: "orders", Kind: contract.SourceAPIGateway, LogGroup: "/g"}, {Name: "web", Kind: contract.SourceALB, Bucket: "b"}}}
	for _, tc := range []struct{ source, title string }{
		{"", "Latency of orders: all routes: last 1h"},
		{"orders", "Latency of orders: all routes: last 1h"},
		{"slackbot", "Latency of slackbot: all routes: last 1h"},
	} {
		b, title, err := c.ChartEnding(context.Background(), tc.source, end, time.Hour, "")
		if err != nil || b == nil || !strings.HasPrefix(title, tc.title) {
			t.Errorf("source %q: %d bytes, %q, %v; want a chart titled %q", tc.source, len(b), title, err, tc.title)
		}
	}
	if b, _, err := c.ChartEnding(context.Background(), "web", end, time.Hour, ""); b != nil || err != nil {
		t.Errorf("web, without data: %d bytes, %v; want no chart", len(b), err)
	}
}
