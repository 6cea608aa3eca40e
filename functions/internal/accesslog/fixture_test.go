package accesslog

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// The subscription events under testdata are Lambda events of the shape
// CloudWatch Logs delivers to a subscribed function, {"awslogs":{"data":
// base64 of gzip}}, and each has its decompressed payload beside it
// (*.plain.json) for a reader. They were written by hand to that shape, not
// recorded from a deployed stack: twelve access-log lines of two minutes of
// traffic in contract.AccessLogFormat, among them a Slack retry answered 409,
// a forged request answered 401, a request the stage throttled (429, no
// integration latency), one that matched no route and a function timeout
// answered 502. To change one, edit its .plain.json and rewrite the event:
//
//	printf '{"awslogs":{"data":"%s"}}\n' "$(gzip -9 -n -c X.plain.json | base64 -w0)" > X.json

// readSubscription reads testdata/<name>.json as Lambda hands it to the
// function, and checks that aws-lambda-go's own decoder finds exactly
// <name>.plain.json inside, so the event is one the library understands
// and the readable copy is not stale. It returns the "data" field, which
// is what the percentiles handler gives Ingest.
func readSubscription(t *testing.T, name string) (data []byte, plain events.CloudwatchLogsData) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.CloudwatchLogsEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	got, err := ev.AWSLogs.Parse()
	if err != nil {
		t.Fatalf("%s: aws-lambda-go cannot read it: %v", name, err)
	}
	b, err := os.ReadFile(filepath.Join("testdata", name+".plain.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&plain); err != nil {
		t.Fatalf("%s.plain.json: %v", name, err)
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(plain)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Fatalf("%s.json holds\n%s\nnot %s.plain.json:\n%s", name, gotJSON, name, wantJSON)
	}
	return []byte(ev.AWSLogs.Data), plain
}

// accessLogValue is one "key":"value" pair of an access-log line.
var accessLogValue = regexp.MustCompile(`"(\w+)":"[^"]*"`)

// TestSubscriptionEventFixture ingests the data-message fixture through the
// real Ingester and checks what the store then holds, per route and minute:
// requests, 4xx and 5xx, and how many lines had each latency.
func TestSubscriptionEventFixture(t *testing.T) {
	ctx := context.Background()
	data, plain := readSubscription(t, "subscription-data")

	// Every message is a line of this repository's format: putting each
	// variable back in place of its value gives the format itself.
	for _, e := range plain.LogEvents {
		if got := accessLogValue.ReplaceAllString(e.Message, `"$1":"$$context.$1"`); got != contract.AccessLogFormat {
			t.Errorf("event %s: not a line of contract.AccessLogFormat: %s", e.ID, e.Message)
		}
	}

	t0 := time.Date(2026, 1, 14, 9, 41, 0, 0, time.UTC)
	store := sketchstore.NewMemoryStore()
	store.Now = func() time.Time { return t0.Add(time.Hour) }
	stats, err := NewIngester(store, nil).Ingest(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	want := IngestStats{Batch: stats.Batch, MessageType: DataMessage, LogGroup: "/aws/apigateway/slackbot-dev/access",
		Events: 12, Added: 11, Unrouted: 1, Parts: 6, FirstMinute: t0.Unix(), LastMinute: t0.Unix() + 60}
	if stats != want {
		t.Errorf("stats = %+v\nwant    %+v", stats, want)
	}

	type counts struct{ requests, s4xx, s5xx, responses, integrations int64 }
	for _, c := range []struct {
		from   time.Time
		minute int // minutes read from from
		route  string
		want   counts
	}{
		// 200, 200, 409 (a retry), 401 (forged) and 200 at 09:41:58.999
		// in the first minute; one 200 in the second.
		{t0, 2, "POST " + contract.EventsPath, counts{6, 2, 0, 6, 6}},
		{t0, 1, "POST " + contract.EventsPath, counts{5, 2, 0, 5, 5}},
		// 200, then 429 from the stage's throttling with no integration
		// latency; the 502 of a timeout starts the second minute.
		{t0, 1, "POST " + contract.CommandsPath, counts{2, 1, 0, 2, 1}},
		{t0.Add(time.Minute), 1, "POST " + contract.CommandsPath, counts{1, 0, 1, 1, 1}},
		{t0, 2, "POST " + contract.InteractionsPath, counts{2, 0, 0, 2, 2}},
	} {
		got, err := sketchstore.Range(ctx, store, contract.DefaultSource, c.from, c.from.Add(time.Duration(c.minute)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		s := got[c.route]
		if s == nil {
			t.Errorf("%s from %s for %d min: nothing stored", c.route, c.from.Format("15:04"), c.minute)
			continue
		}
		have := counts{s.Requests, s.Status4xx, s.Status5xx, int64(s.Response.GetCount()), int64(s.Integration.GetCount())}
		if have != c.want {
			t.Errorf("%s from %s for %d min: %+v, want %+v", c.route, c.from.Format("15:04"), c.minute, have, c.want)
		}
	}
	all, err := sketchstore.Range(ctx, store, contract.DefaultSource, t0, t0.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Errorf("routes stored: %d, want the three POST routes and not the unrouted GET", len(all))
	}
	// The timeout's 10012 ms is the slowest response; the sketch keeps it
	// within its relative accuracy.
	if c := all["POST "+contract.CommandsPath]; c != nil {
		got, err := c.Response.GetMaxValue()
		if err != nil || testenv.RelErr(got, 10012) > sketchstore.RelativeAccuracy {
			t.Errorf("slowest commands response %v ms (%v), want 10012", got, err)
		}
	}
}

// TestSubscriptionControlFixture: the message CloudWatch Logs sends when a
// subscription is created, to check the function is reachable, is
// recognised and counts nothing.
func TestSubscriptionControlFixture(t *testing.T) {
	ctx := context.Background()
	data, _ := readSubscription(t, "subscription-control")
	store := sketchstore.NewMemoryStore()
	stats, err := NewIngester(store, nil).Ingest(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	want := IngestStats{MessageType: ControlMessage, Events: 1}
	if stats != want {
		t.Errorf("stats = %+v, want %+v", stats, want)
	}
	stored, err := sketchstore.Range(ctx, store, contract.DefaultSource, time.Unix(0, 0), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 0 {
		t.Errorf("a control message stored %d routes", len(stored))
	}
}
