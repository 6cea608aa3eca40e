package latency

import (
	"testing"
	"time"

	"github.com/lambda-slackbot/slackbot/contract"
)

func TestParseRequest(t *testing.T) {
	sources := []contract.LatencySource{
		{Name: "orders", Kind: contract.SourceAPIGateway, LogGroup: "/aws/apigateway/orders"},
		{Name: "web", Kind: contract.SourceALB, Bucket: "logs"},
	}
	for _, c := range []struct {
		in      string
		sources []contract.LatencySource
		want    Request
		err     bool
	}{
		{"", nil, Request{Window: time.Hour}, false},
		{"15m", nil, Request{Window: 15 * time.Minute}, false},
		{"24h events", nil, Request{Window: 24 * time.Hour, Route: "events"}, false},
		{"1h POST /slack/events", nil, Request{Window: time.Hour, Route: "POST /slack/events"}, false},
		{"POST /slack/events", nil, Request{Window: time.Hour, Route: "POST /slack/events"}, false},
		{"/slack/commands", nil, Request{Window: time.Hour, Route: "/slack/commands"}, false},
		{"  7d   commands ", nil, Request{Window: 7 * 24 * time.Hour, Route: "commands"}, false},
		{"30d", nil, Request{Window: 30 * 24 * time.Hour}, false},
		{"91d", nil, Request{}, true},
		{"2x events", nil, Request{}, true},
		// Sources: a configured name first, or the bot's own by name.
		{"orders", sources, Request{Source: "orders", Window: time.Hour}, false},
		{"orders 15m", sources, Request{Source: "orders", Window: 15 * time.Minute}, false},
		{"web 24h GET /files/{name}", sources, Request{Source: "web", Window: 24 * time.Hour, Route: "GET /files/{name}"}, false},
		{"web GET /files/{name}", sources, Request{Source: "web", Window: time.Hour, Route: "GET /files/{name}"}, false},
		{"slackbot 1h events", sources, Request{Source: "slackbot", Window: time.Hour, Route: "events"}, false},
		{"slackbot events", nil, Request{Source: "slackbot", Window: time.Hour, Route: "events"}, false},
		{"orders 2x", sources, Request{}, true},
		// Not a configured source: a route of the default source.
		{"billing 1h", sources, Request{Window: time.Hour, Route: "billing 1h"}, false},
		{"orders", nil, Request{Window: time.Hour, Route: "orders"}, false},
		// Names are lower case: "Orders" is a route.
		{"Orders", sources, Request{Window: time.Hour, Route: "Orders"}, false},
		{"1h orders", sources, Request{Window: time.Hour, Route: "orders"}, false},
		{"sources", nil, Request{ListSources: true}, false},
		{" Sources ", sources, Request{ListSources: true}, false},
		{"sources 1h", sources, Request{Window: time.Hour, Route: "sources 1h"}, false},
	} {
		got, err := ParseRequest(c.in, c.sources, time.Hour)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseRequest(%q) = %+v, %v; want %+v, error %v", c.in, got, err, c.want, c.err)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	sources := []contract.LatencySource{{Name: "orders", Kind: contract.SourceAPIGateway, LogGroup: "/g"}}
	for _, s := range []string{"", "orders 1h GET /x", "sources", "7d events", "2x", "slackbot"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		req, err := ParseRequest(s, sources, time.Hour)
		if err != nil {
			return
		}
		if req.Source != "" && req.Source != "orders" && req.Source != contract.DefaultSource {
			t.Fatalf("ParseRequest(%q) took source %q, which is not configured", s, req.Source)
		}
		if !req.ListSources && (req.Window < contract.MinWindow || req.Window > contract.MaxWindow) {
			t.Fatalf("ParseRequest(%q) = window %s", s, req.Window)
		}
	})
}
