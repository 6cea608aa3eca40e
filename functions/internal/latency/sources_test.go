package latency

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

var testSources = []contract.LatencySource{
	{Name: "orders", Kind: contract.SourceAPIGateway, LogGroup: "/aws/apigateway/orders"},
	{Name: "web", Kind: contract.SourceALB, Bucket: "logs"},
}

// mergeSource adds n requests of ms milliseconds to route of source, in the
// minute before reportEnd.
func mergeSource(t *testing.T, s sketchstore.Store, source, route string, n int, ms float64, status int) {
	t.Helper()
	p := sketchstore.NewSketches()
	for range n {
		if err := p.Response.Add(ms); err != nil {
			t.Fatal(err)
		}
		p.CountStatus(status)
	}
	key := sketchstore.Key{Source: source, Route: route, Minute: reportEnd.Add(-time.Minute).Unix()}
	if err := s.Merge(context.Background(), "", map[sketchstore.Key]*sketchstore.Sketches{key: p}); err != nil {
		t.Fatal(err)
	}
}

// A report of a source reads only that source, names it, says what its
// latencies are, and its metadata and controls carry it; without a source
// the first configured one is reported.
func TestReportOfASource(t *testing.T) {
	s := sketchstore.NewMemoryStore()
	s.Now = func() time.Time { return reportEnd }
	mergeSource(t, s, "orders", "GET /orders", 30, 120, 200)
	mergeSource(t, s, "web", "GET /files/{name}", 7, 900, 503)
	s.Record(eventsRoute, reportEnd.Add(-time.Minute), 40*time.Millisecond, 30*time.Millisecond)
	b := NewBuilder(s, testSources, nil)

	for _, c := range []struct {
		source, want, measured string
		count                  int64
	}{
		{"", "orders", "API Gateway responseLatency", 30},
		{"orders", "orders", "API Gateway responseLatency", 30},
		{"web", "web", "ALB request + target + response processing time", 7},
		{"slackbot", "slackbot", "API Gateway responseLatency", 1},
	} {
		m, err := b.ReportEnding(context.Background(), reportEnd, Request{Source: c.source, Window: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		p := m.Metadata.EventPayload
		total := p["total"].(map[string]any)
		if p["source"] != c.want || total["count"] != c.count {
			t.Errorf("source %q: metadata source %v, count %v; want %s, %d", c.source, p["source"], total["count"], c.want, c.count)
		}
		blocks := testenv.PlainJSON(t, m.Blocks)
		if !strings.Contains(blocks, "Latency of "+c.want+": last 1h") || !strings.Contains(blocks, c.measured) {
			t.Errorf("source %q: blocks do not name %s and what is measured (%s): %s", c.source, c.want, c.measured, blocks)
		}
		// Every control carries the source, but the bot's own, so that
		// buttons posted before sources mean what they meant.
		wantChoice := c.want
		if c.want == contract.DefaultSource {
			wantChoice = ""
		}
		actions := m.Blocks[len(m.Blocks)-1].(*slack.ActionBlock)
		for _, el := range actions.Elements.ElementSet {
			var values []string
			switch el := el.(type) {
			case *slack.ButtonBlockElement:
				values = append(values, el.Value)
			case *slack.SelectBlockElement:
				for _, o := range el.Options {
					values = append(values, o.Value)
				}
			}
			for _, v := range values {
				var ch contract.ReportChoice
				if err := json.Unmarshal([]byte(v), &ch); err != nil || ch.Source != wantChoice {
					t.Errorf("source %q: control value %s, want source %q", c.source, v, wantChoice)
				}
			}
		}
	}

	// A source without traffic says so, by name.
	m, err := b.ReportEnding(context.Background(), reportEnd.Add(2*time.Hour), Request{Source: "web", Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Text, "No traffic to web in the last 1h") || m.Metadata.EventPayload["source"] != "web" {
		t.Errorf("no traffic: %q, metadata %v", m.Text, m.Metadata.EventPayload)
	}
}

// `latency sources` lists each source with its kind, routes and latest data,
// and names the one whose log lacks a latency.
func TestSourceList(t *testing.T) {
	s := sketchstore.NewMemoryStore()
	s.Now = func() time.Time { return reportEnd }
	mergeSource(t, s, "orders", "GET /orders", 3, 120, 200)
	mergeSource(t, s, "orders", "POST /orders", 3, 120, 200)
	if err := s.NoteNoLatency(context.Background(), "orders", reportEnd.Add(-3*time.Minute).Unix()); err != nil {
		t.Fatal(err)
	}
	// Old news: a format fixed two days ago is not warned about.
	if err := s.NoteNoLatency(context.Background(), "web", reportEnd.Add(-48*time.Hour).Unix()); err != nil {
		t.Fatal(err)
	}
	b := NewBuilder(s, testSources, func() time.Time { return reportEnd })
	for _, text := range []string{"sources", "SOURCES"} {
		req, err := b.ParseRequest(text, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		m, err := b.Report(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		blocks := testenv.PlainJSON(t, m.Blocks)
		lines := strings.Split(m.Blocks[0].(*slack.SectionBlock).Text.Text, "\n")
		want := []string{
			"*orders* (apigateway) · 2 routes · latest data Nov 25 13:59 UTC, 1 min ago · the default",
			":warning: its log has lines without `$context.responseLatency` (latest Nov 25 13:57 UTC, 3 min ago): they are counted as unusable, not measured",
			"*web* (alb) · 0 routes · no data yet",
			"*slackbot* (the bot's own API) · 0 routes · no data yet",
		}
		if strings.Join(lines, "\n") != strings.Join(want, "\n") {
			t.Errorf("%q: list\n%s\nwant\n%s", text, strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
		if m.Text != "Latency sources: orders, web, slackbot." || !strings.Contains(blocks, "without a source, orders") {
			t.Errorf("%q: text %q, blocks %s", text, m.Text, blocks)
		}
	}
}
