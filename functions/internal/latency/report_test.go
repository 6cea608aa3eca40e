package latency

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// reportEnd is where the fixture's report window ends: 13:00–14:00 UTC, and
// the hour before it for comparison.
var reportEnd = time.Date(2025, 11, 25, 14, 0, 0, 0, time.UTC)

const (
	eventsRoute   = "POST /slack/events"
	commandsRoute = "POST /slack/commands"
)

// fixtureStore holds two hours of traffic with a known shape: the events
// route fast, slower this hour than the last; the commands route slower,
// with a few very slow requests.
func fixtureStore() (*sketchstore.MemoryStore, map[string][]float64) {
	s := sketchstore.NewMemoryStore()
	s.Now = func() time.Time { return reportEnd } // or pruning would drop the fixture as old
	r := rand.New(rand.NewPCG(2025, 11))
	current := map[string][]float64{}
	add := func(route string, at time.Time, ms float64, cur bool) {
		ms = math.Round(ms) // API Gateway logs whole milliseconds
		// One request in 200 fails with a 502, one in 50 is refused 401.
		status := 200
		switch n := len(current[route]); {
		case n%200 == 7:
			status = 502
		case n%50 == 3:
			status = 401
		}
		s.RecordStatus(route, at, status, time.Duration(ms*float64(time.Millisecond)), time.Duration(ms*0.8*float64(time.Millisecond)))
		if cur {
			current[route] = append(current[route], ms)
		}
	}
	for hour, cur := range []bool{false, true} {
		start := reportEnd.Add(time.Duration(hour-2) * time.Hour)
		events, commands, median := 2700, 420, 32.0
		if cur {
			events, commands, median = 3000, 400, 35
		}
		for i := range events {
			add(eventsRoute, start.Add(time.Duration(i)*time.Hour/time.Duration(events)), lognormal(r, median, 0.5), cur)
		}
		for i := range commands {
			v := lognormal(r, 120, 0.4)
			if i%50 == 0 {
				v = 1500 + 2000*r.Float64()
			}
			add(commandsRoute, start.Add(time.Duration(i)*time.Hour/time.Duration(commands)), v, cur)
		}
	}
	return s, current
}

func reportFor(t *testing.T, route string) notify.Message {
	t.Helper()
	s, _ := fixtureStore()
	m, err := NewBuilder(s, nil, nil).ReportEnding(context.Background(), reportEnd, Request{Window: time.Hour, Route: route})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// postedJSON is m as the JSON body of chat.postMessage, indented.
func postedJSON(t *testing.T, m notify.Message) []byte {
	t.Helper()
	b, err := json.MarshalIndent(notify.PostMessageBody(m), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what the report now gives (go test -update rewrites it):\n%s", path, got)
	}
}

func TestReportAsPosted(t *testing.T) {
	m := reportFor(t, "")
	m.Channel = "#ops"
	golden(t, "report.golden.json", postedJSON(t, m))
}

func TestReportMetadataMatchesTheSketches(t *testing.T) {
	s, current := fixtureStore()
	m, err := NewBuilder(s, nil, nil).ReportEnding(context.Background(), reportEnd, Request{Window: time.Hour, Route: ""})
	if err != nil {
		t.Fatal(err)
	}
	if m.Channel != "" {
		t.Errorf("Channel = %q, want it left to the caller", m.Channel)
	}
	if m.Metadata == nil || m.Metadata.EventType != MetadataEventType {
		t.Fatalf("metadata %+v, want event_type %s", m.Metadata, MetadataEventType)
	}
	// Read it back as a tool would: from the JSON Slack stores.
	var meta struct {
		EventPayload struct {
			WindowSeconds int64         `json:"window_seconds"`
			Start         int64         `json:"start"`
			End           int64         `json:"end"`
			Routes        []metaPayload `json:"routes"`
			Total         metaPayload   `json:"total"`
		} `json:"event_payload"`
	}
	b, _ := json.Marshal(m.Metadata)
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	p := meta.EventPayload
	if p.WindowSeconds != 3600 {
		t.Errorf("window_seconds %d, want 3600", p.WindowSeconds)
	}
	if len(p.Routes) != 2 || p.Routes[0].Route != eventsRoute || p.Routes[1].Route != commandsRoute {
		t.Fatalf("routes %+v, want events then commands (busiest first)", p.Routes)
	}
	var all []float64
	for _, r := range append(p.Routes, p.Total) {
		values := current[r.Route]
		if r.Route == "*" {
			values = append(slices.Clone(current[eventsRoute]), current[commandsRoute]...)
		}
		all = values
		sorted := slices.Sorted(slices.Values(values))
		if r.Count != int64(len(sorted)) {
			t.Errorf("%s: count %d, want %d", r.Route, r.Count, len(sorted))
		}
		for _, c := range []struct {
			name      string
			got, want float64
			tol       float64
		}{
			{"p50", r.P50, testenv.ExactQuantile(sorted, 0.5), sketchstore.RelativeAccuracy},
			{"p90", r.P90, testenv.ExactQuantile(sorted, 0.9), sketchstore.RelativeAccuracy},
			{"p95", r.P95, testenv.ExactQuantile(sorted, 0.95), sketchstore.RelativeAccuracy},
			{"p99", r.P99, testenv.ExactQuantile(sorted, 0.99), sketchstore.RelativeAccuracy},
			{"max", r.Max, sorted[len(sorted)-1], 0},
			{"tail_mean_p99", r.TailMeanP99, testenv.ExactTailMean(sorted, sketchstore.TailFraction), 2 * sketchstore.RelativeAccuracy},
		} {
			// The metadata rounds to the digits shown: half a unit of the last.
			if e := testenv.RelErr(c.got, c.want); e > c.tol+0.005/c.want {
				t.Errorf("%s %s: %v, exact %v (%.2f%% off)", r.Route, c.name, c.got, c.want, 100*e)
			}
		}
	}
	if r0 := p.Routes[0]; r0.Status5xx != 15 || r0.Status4xx != 60 || p.Total.Status5xx != 17 || p.Total.Status4xx != 68 {
		t.Errorf("status counts: events %d/%d, total %d/%d 5xx/4xx; want 15/60 and 17/68 as the fixture made them",
			r0.Status5xx, r0.Status4xx, p.Total.Status5xx, p.Total.Status4xx)
	}
	if p.Total.Route != "*" || p.Total.Count != int64(len(all)) {
		t.Errorf("total %+v, want route * and count %d", p.Total, len(all))
	}
	if p.End-p.Start != 3600 || p.End != reportEnd.Unix() {
		t.Errorf("start %d, end %d; want the hour ending %d", p.Start, p.End, reportEnd.Unix())
	}
}

type metaPayload struct {
	Route       string  `json:"route"`
	Count       int64   `json:"count"`
	P50         float64 `json:"p50"`
	P90         float64 `json:"p90"`
	P95         float64 `json:"p95"`
	P99         float64 `json:"p99"`
	Max         float64 `json:"max"`
	TailMeanP99 float64 `json:"tail_mean_p99"`
	Status4xx   int64   `json:"status_4xx"`
	Status5xx   int64   `json:"status_5xx"`
}

// sectionTexts are the mrkdwn texts of m's section blocks.
func sectionTexts(m notify.Message) []string {
	var out []string
	for _, b := range m.Blocks {
		if s, ok := b.(*slack.SectionBlock); ok {
			out = append(out, s.Text.Text)
		}
	}
	return out
}

func TestReportShowsEachRouteAndTheTotal(t *testing.T) {
	m := reportFor(t, "")
	texts := sectionTexts(m)
	if len(texts) != 3 || !strings.HasPrefix(texts[0], "*All routes* · 3,400 requests") ||
		!strings.HasPrefix(texts[1], "*POST /slack/events* · 3,000 requests (▲11%)") ||
		!strings.HasPrefix(texts[2], "*POST /slack/commands* · 400 requests (▼5%)") {
		t.Fatalf("sections:\n%s", strings.Join(texts, "\n"))
	}
	for _, text := range texts {
		for _, row := range []string{"\nms ", "\nchange ", "\nshape "} {
			if !strings.Contains(text, row) {
				t.Errorf("section has no %q row:\n%s", strings.TrimSpace(row), text)
			}
		}
		if n := utf8.RuneCountInString(text); n > 3000 {
			t.Errorf("section of %d characters; Slack takes 3000", n)
		}
	}
	// The events route's median rose from ~32 to ~35 ms: about 9% slower.
	change := regexp.MustCompile(`\nchange +(\S+)`).FindStringSubmatch(texts[1])
	if change == nil || !strings.HasPrefix(change[1], "▲") {
		t.Fatalf("events p50 change: %v, want a rise", change)
	}
	if pct, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(change[1], "▲"), "%")); pct < 5 || pct > 14 {
		t.Errorf("events p50 change %s, want about ▲9%%", change[1])
	}
	if !strings.Contains(m.Text, "3,400 requests") || !strings.Contains(m.Text, "p99") {
		t.Errorf("fallback text %q lacks the count or p99", m.Text)
	}
	if _, ok := m.Blocks[0].(*slack.HeaderBlock); !ok {
		t.Errorf("first block is %T, want a header", m.Blocks[0])
	}
}

func TestReportOfOneRoute(t *testing.T) {
	for _, q := range []string{"events", "/slack/events", "POST /slack/events", "post /SLACK/events/", "slack/events"} {
		t.Run(q, func(t *testing.T) {
			m := reportFor(t, q)
			texts := sectionTexts(m)
			if len(texts) != 1 || !strings.HasPrefix(texts[0], "*POST /slack/events* · 3,000 requests") {
				t.Fatalf("sections:\n%s", strings.Join(texts, "\n"))
			}
			routes := m.Metadata.EventPayload["routes"].([]any)
			total := m.Metadata.EventPayload["total"].(map[string]any)
			if len(routes) != 1 || total["count"] != int64(3000) {
				t.Errorf("metadata routes %v, total %v; want only the events route", routes, total)
			}
		})
	}
}

func TestReportWithoutTraffic(t *testing.T) {
	s, _ := fixtureStore()
	rep := NewBuilder(s, nil, nil)
	for _, c := range []struct {
		name       string
		end        time.Time
		route      string
		text       string
		noMetadata bool
	}{
		{"an empty window", reportEnd.Add(5 * time.Hour), "",
			"No API traffic in the last 1h (18:00–19:00 UTC).", false},
		{"an empty window after a busy one", reportEnd.Add(time.Hour), "",
			"No API traffic in the last 1h (14:00–15:00 UTC). The 1h before had 3,400 requests.", false},
		{"a known route without requests", reportEnd.Add(time.Hour), "commands",
			"No requests to POST /slack/commands in the last 1h (14:00–15:00 UTC). The 1h before had 400 requests.", false},
		{"a route nobody has", reportEnd, "webhooks",
			`I don't know a route matching "webhooks". Routes with traffic in the last 1h: POST /slack/commands, POST /slack/events.`, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := rep.ReportEnding(context.Background(), c.end, Request{Window: time.Hour, Route: c.route})
			if err != nil {
				t.Fatal(err)
			}
			if m.Text != c.text {
				t.Errorf("text %q\nwant %q", m.Text, c.text)
			}
			// A short section, and the controls unless there is no such route.
			if want := map[bool]int{true: 1, false: 2}[c.noMetadata]; len(m.Blocks) != want {
				t.Errorf("%d blocks, want %d", len(m.Blocks), want)
			}
			if (m.Metadata == nil) != c.noMetadata {
				t.Errorf("metadata %v, want present: %v", m.Metadata, !c.noMetadata)
			}
			if m.Metadata != nil {
				total := m.Metadata.EventPayload["total"].(map[string]any)
				if total["count"] != int64(0) || total["p99"] != nil {
					t.Errorf("total %v, want count 0 and no latencies", total)
				}
			}
		})
	}
}

// Report's window runs up to now, the current minute included: a request
// made a moment ago is in it.
func TestReportIncludesTheCurrentMinute(t *testing.T) {
	s := sketchstore.NewMemoryStore()
	s.Now = func() time.Time { return reportEnd }
	now := reportEnd.Add(20 * time.Second)
	s.Record(eventsRoute, now.Add(-5*time.Second), 42*time.Millisecond, 40*time.Millisecond)
	s.Record(eventsRoute, now.Add(-16*time.Minute), 500*time.Millisecond, 40*time.Millisecond) // before the window
	m, err := NewBuilder(s, nil, func() time.Time { return now }).Report(context.Background(), Request{Window: 15 * time.Minute, Route: ""})
	if err != nil {
		t.Fatal(err)
	}
	total := m.Metadata.EventPayload["total"].(map[string]any)
	if total["count"] != int64(1) || total["max"] != 42.0 {
		t.Errorf("total %v, want the one request of a moment ago", total)
	}
}

func TestReportRejectsBadWindows(t *testing.T) {
	rep := NewBuilder(sketchstore.NewMemoryStore(), nil, nil)
	for _, w := range []time.Duration{0, 30 * time.Second, 90 * time.Second, contract.MaxWindow + time.Minute} {
		if _, err := rep.ReportEnding(context.Background(), reportEnd, Request{Window: w, Route: ""}); err == nil {
			t.Errorf("window %v: no error", w)
		}
	}
}

func TestMatchRoutes(t *testing.T) {
	routes := []string{"POST /slack/events", "GET /slack/events", "POST /slack/commands", "GET /health", "POST /slack/events"}
	for _, c := range []struct {
		q    string
		want []string
	}{
		{"POST /slack/events", []string{"POST /slack/events"}},
		{"post /slack/events/", []string{"POST /slack/events"}},
		{"/slack/events", []string{"GET /slack/events", "POST /slack/events"}},
		{"slack/events", []string{"GET /slack/events", "POST /slack/events"}},
		{"events", []string{"GET /slack/events", "POST /slack/events"}},
		{"commands", []string{"POST /slack/commands"}},
		{"slack", []string{"GET /slack/events", "POST /slack/commands", "POST /slack/events"}},
		{"comm", []string{"POST /slack/commands"}},
		{"GET health", []string{"GET /health"}},
		{"DELETE /slack/events", nil},
		{"nothing", nil},
		{"", nil},
	} {
		if got := MatchRoutes(c.q, routes); !slices.Equal(got, c.want) {
			t.Errorf("MatchRoutes(%q) = %q, want %q", c.q, got, c.want)
		}
	}
}

func TestSparkline(t *testing.T) {
	for _, c := range []struct {
		h    []float64
		want string
	}{
		{[]float64{0, 8, 4, 1, 0, 0, 1}, "  ██▄▄▁▁    ▁▁"},
		{[]float64{0, 0, 0}, ""},
		{[]float64{1000, 1}, "██▁▁"},
	} {
		if got := Sparkline(c.h); got != c.want {
			t.Errorf("Sparkline(%v) = %q, want %q", c.h, got, c.want)
		}
	}
}

// The axis labels sit over the buckets they name.
func TestSparkAxisLinesUpWithTheBuckets(t *testing.T) {
	axis := []rune(sparkAxis)
	for label, edge := range map[string]float64{"1ms": 1, "10ms": 10, "100ms": 100, "1s": 1000, "10s+": 10000} {
		bucket := slices.Index(sketchstore.HistogramEdges, edge) + 1 // the bucket that starts at edge
		col := 2 * bucket
		if col+len(label) > len(axis) || string(axis[col:col+len(label)]) != label {
			t.Errorf("label %q not at column %d of %q", label, col, sparkAxis)
		}
	}
}

func TestChange(t *testing.T) {
	for _, c := range []struct {
		cur, prev float64
		had       bool
		want      string
	}{
		{212, 189, true, "▲12%"},
		{90, 100, true, "▼10%"},
		{100.2, 100, true, "±0%"},
		{5, 0, true, "▲"},
		{5, 0, false, "new"},
	} {
		if got := change(c.cur, c.prev, c.had); got != c.want {
			t.Errorf("change(%v, %v, %v) = %q, want %q", c.cur, c.prev, c.had, got, c.want)
		}
	}
}

func TestFormatMs(t *testing.T) {
	for v, want := range map[float64]string{0: "0.00", 1.234: "1.23", 9.996: "10.0", 12.34: "12.3", 99.96: "100", 212.4: "212", 12345: "12345"} {
		if got := formatMs(v); got != want {
			t.Errorf("formatMs(%v) = %q, want %q", v, got, want)
		}
	}
}

// benchStore is three routes' traffic for days days before reportEnd, every
// minute a busy one's sketch, merged an hour per call as the ingest would:
// in a MemoryStore and, through the real DynamoStore, in an in-process
// stand-in for DynamoDB that serves the encoded items in 1 MB pages, so a
// benchmark measures this code's reading, decoding and merging, not the
// network.
func benchStores(b *testing.B, days int) map[string]sketchstore.Store {
	r := rand.New(rand.NewPCG(1, 1))
	minute := sketchstore.NewSketches()
	for range 600 {
		_ = minute.Response.Add(math.Round(lognormal(r, 40, 0.8)))
		_ = minute.Integration.Add(math.Round(lognormal(r, 35, 0.8)))
		minute.CountStatus(200)
	}
	mem := sketchstore.NewMemoryStore()
	mem.Now = func() time.Time { return reportEnd }
	stand := testenv.NewDynamoStandIn(contract.SketchRouteKey, contract.SketchMinuteKey)
	dyn := sketchstore.NewDynamoStore(stand, "sketches")
	dyn.Now = mem.Now
	stores := map[string]sketchstore.Store{"memory": mem, "dynamodb": dyn}
	start := reportEnd.Add(-time.Duration(days) * 24 * time.Hour).Unix()
	for h := range int64(days * 24) {
		parts := map[sketchstore.Key]*sketchstore.Sketches{}
		for m := range int64(60) {
			for _, route := range benchRoutes {
				parts[sketchstore.Key{Source: contract.DefaultSource, Route: route, Minute: start + h*3600 + m*60}] = minute
			}
		}
		for _, s := range stores {
			if err := s.Merge(context.Background(), "", parts); err != nil {
				b.Fatal(err)
			}
		}
	}
	return stores
}

var benchRoutes = []string{eventsRoute, commandsRoute, "GET /health"}

// benchReport builds the report of window ending at reportEnd (and at 37
// minutes past, so the edges are minutes) from each store.
func benchReport(b *testing.B, stores map[string]sketchstore.Store, window time.Duration) {
	for _, name := range []string{"memory", "dynamodb"} {
		b.Run(name, func(b *testing.B) {
			rep := NewBuilder(stores[name], nil, nil)
			end := reportEnd.Add(-23 * time.Minute)
			// A start older than the minutes' retention is read from its
			// hour: the minutes before it in that hour count too.
			minutes := int64(window / time.Minute)
			if start := end.Add(-window); reportEnd.Sub(start) > sketchstore.Minute.Retention() {
				minutes += int64(start.Sub(start.Truncate(time.Hour)) / time.Minute)
			}
			want := int64(len(benchRoutes)) * minutes * 600
			cpu := testenv.CPUTime()
			for b.Loop() {
				m, err := rep.ReportEnding(context.Background(), end, Request{Window: window, Route: ""})
				if err != nil {
					b.Fatal(err)
				}
				if total := m.Metadata.EventPayload["total"].(map[string]any); total["count"] != want {
					b.Fatalf("total %v, want %d requests", total, want)
				}
			}
			testenv.ReportCPU(b, cpu)
		})
	}
}

// BenchmarkReport24h builds a day's report over three routes, and the day
// before for comparison.
func BenchmarkReport24h(b *testing.B) {
	benchReport(b, benchStores(b, 3), 24*time.Hour)
}

// BenchmarkReport30d builds a 30-day report over three routes, and the 30
// days before: days, hours at the edges and minutes at theirs. Target:
// ≤ 300 ms from the DynamoDB stand-in.
func BenchmarkReport30d(b *testing.B) {
	benchReport(b, benchStores(b, 61), 30*24*time.Hour)
}

// The golden file is PostMessageBody's JSON; this checks that it is what the
// notify client really sends chat.postMessage (as form fields holding JSON).
func TestReportAsSentBySlackClient(t *testing.T) {
	var form url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		form = r.Form
		_, _ = w.Write([]byte(`{"ok":true,"channel":"C0OPS00001","ts":"1.2"}`))
	}))
	defer srv.Close()
	m := reportFor(t, "")
	m.Channel = "C0OPS00001"
	if _, err := notify.NewClient("xoxb-test", srv.URL+"/", notify.Retry{}).Post(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	body := notify.PostMessageBody(m)
	for _, field := range []string{"blocks", "metadata"} {
		want, _ := json.Marshal(body[field])
		if !jsonEqual(t, []byte(form.Get(field)), want) {
			t.Errorf("%s sent:\n%s\nwant:\n%s", field, form.Get(field), want)
		}
	}
	if form.Get("text") != m.Text || form.Get("channel") != m.Channel {
		t.Errorf("text %q, channel %q; want %q, %q", form.Get("text"), form.Get("channel"), m.Text, m.Channel)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

// TestReportEscapesRouteNames: routes come from access logs, and any client
// can put markup in a path. Neither the blocks nor the fallback text that
// Slack notifies with may carry it raw.
func TestReportEscapesRouteNames(t *testing.T) {
	s := sketchstore.NewMemoryStore()
	s.Now = func() time.Time { return reportEnd }
	now := reportEnd.Add(20 * time.Second)
	hostile := "POST /" + testenv.HostileText
	s.Record(hostile, now.Add(-5*time.Second), 42*time.Millisecond, 40*time.Millisecond)
	rep := NewBuilder(s, nil, func() time.Time { return now })
	for _, query := range []string{"", testenv.HostileText, "no-such-route " + testenv.HostileText} {
		m, err := rep.Report(context.Background(), Request{Window: 15 * time.Minute, Route: query})
		if err != nil {
			t.Fatal(err)
		}
		if m.Text == "" {
			t.Fatalf("query %q: no fallback text", query)
		}
		testenv.NoRawMarkup(t, "report fallback text", m.Text)
		// Metadata keeps the route as it is: it is data for programs, never shown.
		testenv.NoRawMarkupIn(t, "report blocks", m.Blocks)
	}
	// The route is there, escaped, so the report still names it.
	m, _ := rep.Report(context.Background(), Request{Window: 15 * time.Minute, Route: ""})
	if !strings.Contains(testenv.PlainJSON(t, m.Blocks), "&lt;!channel&gt;") {
		t.Errorf("the hostile route is not in the report, escaped: %s", testenv.PlainJSON(t, m.Blocks))
	}
}

func lognormal(r *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(r.NormFloat64()*sigma)
}

// Every report carries its controls: a button per window and a menu of the
// routes with traffic, each value a ReportChoice within Slack's limits.
func TestReportButtons(t *testing.T) {
	s, _ := fixtureStore()
	long := "POST /" + strings.Repeat("x", 200) // too long for an option's 150 bytes
	s.Record(long, reportEnd.Add(-time.Minute), time.Millisecond, time.Millisecond)
	for _, c := range []struct {
		query, route string // asked for, and the route the controls keep
		initial      string // the menu's initial option's route, "-" for none
	}{
		{"", "", ""},
		{"events", eventsRoute, eventsRoute},
		{"slack", "slack", "-"}, // two routes match: the query is kept as typed
	} {
		m, err := NewBuilder(s, nil, nil).ReportEnding(context.Background(), reportEnd, Request{Window: time.Hour, Route: c.query})
		if err != nil {
			t.Fatal(err)
		}
		actions, ok := m.Blocks[len(m.Blocks)-1].(*slack.ActionBlock)
		if !ok {
			t.Fatalf("%q: last block %T, want the controls", c.query, m.Blocks[len(m.Blocks)-1])
		}
		els := actions.Elements.ElementSet
		if len(els) != len(contract.ReportWindows)+1 {
			t.Fatalf("%q: %d elements, want %d buttons and a menu", c.query, len(els), len(contract.ReportWindows))
		}
		ids := map[string]bool{}
		for i, w := range contract.ReportWindows {
			b := els[i].(*slack.ButtonBlockElement)
			var ch contract.ReportChoice
			if err := json.Unmarshal([]byte(b.Value), &ch); err != nil || ch != (contract.ReportChoice{Window: w, Route: c.route}) || len(b.Value) > 2000 {
				t.Errorf("%q: button %s value %s, want window %s and route %q", c.query, w, b.Value, w, c.route)
			}
			if got := b.Style == slack.StylePrimary; got != (w == "1h") {
				t.Errorf("%q: button %s primary %v: the current window is 1h", c.query, w, got)
			}
			ids[b.ActionID] = true
		}
		menu := els[len(els)-1].(*slack.SelectBlockElement)
		ids[menu.ActionID] = true
		if len(ids) != len(els) || menu.ActionID != contract.ActionReportRoute {
			t.Errorf("%q: action ids %v: Slack wants them unique in a block", c.query, ids)
		}
		var routes []string
		for _, o := range menu.Options {
			var ch contract.ReportChoice
			if err := json.Unmarshal([]byte(o.Value), &ch); err != nil || ch.Window != "1h" || len(o.Value) > 150 {
				t.Errorf("%q: option value %s", c.query, o.Value)
			}
			routes = append(routes, ch.Route)
		}
		if !slices.Equal(routes, []string{"", eventsRoute, commandsRoute}) {
			t.Errorf("%q: menu routes %q, want all, then each route with traffic but the one too long to carry", c.query, routes)
		}
		initial := "-"
		if menu.InitialOption != nil {
			var ch contract.ReportChoice
			_ = json.Unmarshal([]byte(menu.InitialOption.Value), &ch)
			initial = ch.Route
		}
		if initial != c.initial {
			t.Errorf("%q: initial option %q, want %q", c.query, initial, c.initial)
		}
	}
}
