package chart

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
)

// Charts draws the chart of a window of a sketch store: the one step from
// stored sketches to a PNG that the scheduled report and `/slackbot latency
// … chart` share, so both draw the same thing for the same window.
type Charts struct {
	Store sketchstore.Store
	// Sources are the latency sources besides the bot's own: a chart
	// without a source draws the default one (contract.DefaultSourceOf),
	// and with sources the title names the one drawn.
	Sources []contract.LatencySource
	// Rules are the alert rules; the latency rules on the source drawn
	// and over exactly the routes drawn become threshold lines.
	Rules []contract.AlertRule
	// Match resolves a route as a user types it ("events") among the
	// routes with data, as latency.MatchRoutes does for reports and alert
	// rules. It is passed in rather than imported so this package stays
	// below the report's. Nil matches exact names only.
	Match func(query string, routes []string) []string
	Now   func() time.Time // nil: time.Now
}

// Chart draws the last window of source ("" for the default one) up to
// now, the current minute included, as latency.Builder.Report reports it.
// route "" means every route, merged. A window without requests to draw is
// a nil PNG and no error, so a caller can say so in words.
func (c *Charts) Chart(ctx context.Context, source string, window time.Duration, route string) (png []byte, title string, err error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	return c.ChartEnding(ctx, source, time.Unix(sketchstore.MinuteOf(now())+60, 0), window, route)
}

// ChartEnding is Chart of the window ending at end, rounded down to the
// minute: a schedule passes its event's time, as for its report.
func (c *Charts) ChartEnding(ctx context.Context, source string, end time.Time, window time.Duration, route string) ([]byte, string, error) {
	source = c.source(source)
	series, err := c.Read(ctx, source, end, window)
	if err != nil {
		return nil, "", err
	}
	return c.Draw(series, source, end, window, route)
}

func (c *Charts) source(name string) string {
	if name == "" {
		return contract.DefaultSourceOf(c.Sources)
	}
	return name
}

// Read reads source's window ending at end (rounded down to the minute) in
// the chart's buckets (Step), for Draw. A caller that also reports the
// window (the scheduled report) reads it once and passes the series to
// both.
func (c *Charts) Read(ctx context.Context, source string, end time.Time, window time.Duration) (*sketchstore.Series, error) {
	if window < contract.MinWindow || window > contract.MaxWindow || window%time.Minute != 0 {
		return nil, fmt.Errorf("chart window %s: want whole minutes from %s to %s",
			window, contract.FormatWindow(contract.MinWindow), contract.FormatWindow(contract.MaxWindow))
	}
	end = time.Unix(sketchstore.MinuteOf(end), 0).UTC()
	series, err := c.Store.Series(ctx, c.source(source), end.Add(-window), end, Step(window))
	if err != nil {
		return nil, fmt.Errorf("read the chart's window: %w", err)
	}
	return series, nil
}

// Draw draws series, which Read returned for the same source, end and
// window.
func (c *Charts) Draw(series *sketchstore.Series, source string, end time.Time, window time.Duration, route string) ([]byte, string, error) {
	source = c.source(source)
	end = time.Unix(sketchstore.MinuteOf(end), 0).UTC()
	step := series.Step
	if step <= 0 {
		return nil, "", fmt.Errorf("chart of a series without buckets (step %s)", step)
	}
	all := slices.Sorted(maps.Keys(series.Routes))
	drawn := all
	if route = strings.TrimSpace(route); route != "" {
		drawn = slices.Sorted(slices.Values(c.match(route, all)))
	}
	n := int(end.Sub(series.Start)+step-1) / int(step)
	total := merge(series, drawn, n)
	subject := "all routes"
	switch {
	case route != "" && len(drawn) > 0:
		subject = strings.Join(drawn, ", ")
	case route != "":
		subject = route
	}
	if len(c.Sources) > 0 {
		subject = source + ": " + subject
	}
	title := "Latency of " + subject + ": last " + contract.FormatWindow(window) + ", to " + end.Format("Jan 2 15:04") + " UTC"
	if len(drawn) == 0 {
		return nil, title, nil
	}
	png, err := Render(title, series.Start, step, total, c.thresholds(source, route, drawn, all))
	if errors.Is(err, ErrNoData) {
		return nil, title, nil
	}
	return png, title, err
}

// merge is the first n buckets of routes' series, merged into one line.
func merge(series *sketchstore.Series, routes []string, n int) []*sketchstore.Sketches {
	total := make([]*sketchstore.Sketches, n)
	for _, r := range routes {
		for i, b := range series.Routes[r] {
			switch {
			case b == nil || i >= n:
			case total[i] == nil:
				total[i] = b.Copy()
			default:
				_ = total[i].Merge(b) // one mapping for every sketch: cannot fail
			}
		}
	}
	return total
}

func (c *Charts) match(query string, routes []string) []string {
	if c.Match != nil {
		return c.Match(query, routes)
	}
	if slices.Contains(routes, query) {
		return []string{query}
	}
	return nil
}

// thresholds are the latency rules that measure exactly what is drawn: a
// "*" rule on the chart of all routes, a rule naming the drawn route on
// that route's, each on the source drawn. A line from a rule over other
// data would mislead.
func (c *Charts) thresholds(source, query string, drawn, all []string) []Threshold {
	var lines []Threshold
	for _, r := range c.Rules {
		if r.IsErrorRule() || c.source(r.Source) != source {
			continue
		}
		applies := r.Route == "*" && query == ""
		if r.Route != "*" && query != "" {
			applies = slices.Equal(slices.Sorted(slices.Values(c.match(r.Route, all))), drawn)
		}
		if applies {
			lines = append(lines, Threshold{
				Label: "alert p" + strconv.FormatFloat(r.Quantile*100, 'g', -1, 64) + " > " + strconv.FormatFloat(r.ThresholdMs, 'g', -1, 64) + " ms",
				Ms:    r.ThresholdMs,
			})
		}
	}
	return lines
}
