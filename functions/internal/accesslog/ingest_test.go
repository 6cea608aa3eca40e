package accesslog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

func TestIngestCountsPerRouteMinute(t *testing.T) {
	ctx := context.Background()
	t0 := batchTime // 13:00:00
	reqs := []request{
		{"POST", "/slack/events", t0.Add(1 * time.Second), 12, 10},
		{"POST", "/slack/events", t0.Add(59 * time.Second), 30, 25},
		{"POST", "/slack/events", t0.Add(60 * time.Second), 40, 38}, // the next minute
		{"POST", "/slack/commands", t0.Add(2 * time.Second), 200, -1},
		{"GET", "/slack/events", t0.Add(3 * time.Second), 5, 4}, // another method is another route
	}
	var lines []string
	for i, r := range reqs {
		lines = append(lines, r.line(i))
	}
	lines = append(lines,
		accessLine("u", t0.UnixMilli(), "GET", "-", "403", "1", "-"), // unrouted
		"not json", `{"httpMethod":"GET"}`, `{"httpMethod":"GET","resourcePath":"/a","responseLatency":"x"}`, "[]", // 4 malformed
	)
	var logs bytes.Buffer
	store := memStore()
	in := NewIngester(store, slog.New(slog.NewJSONHandler(&logs, nil)))
	stats, err := in.Ingest(ctx, compress(t, batchOf(t, DataMessage, lines, t0)))
	if err != nil {
		t.Fatal(err)
	}
	want := IngestStats{Batch: stats.Batch, MessageType: DataMessage, LogGroup: "/aws/apigateway/slackbot-dev/access",
		Events: len(lines), Added: len(reqs), Malformed: 4, Unrouted: 1, Parts: 4, FirstMinute: t0.Unix(), LastMinute: t0.Unix() + 60}
	if stats != want {
		t.Errorf("stats = %+v\nwant    %+v", stats, want)
	}
	if stats.Batch == "" {
		t.Error("no batch id")
	}
	// The first three malformed lines are logged one by one, then a summary.
	if n := strings.Count(logs.String(), "skipping a malformed access-log line"); n != maxLoggedMalformed {
		t.Errorf("%d malformed lines logged, want %d:\n%s", n, maxLoggedMalformed, logs.String())
	}
	if !strings.Contains(logs.String(), `"malformed":4`) {
		t.Errorf("no summary of 4 malformed lines in the log:\n%s", logs.String())
	}

	if Route("POST", "/slack/events") != "POST /slack/events" {
		t.Errorf("Route() does not name routes as the ingest does")
	}
	for _, c := range []struct {
		route         string
		minute        time.Time
		count, integs int64
		p50           float64
	}{
		{"POST /slack/events", t0, 2, 2, 12},
		{"POST /slack/events", t0.Add(time.Minute), 1, 1, 40},
		{"POST /slack/commands", t0, 1, 0, 200},
		{"GET /slack/events", t0, 1, 1, 5},
	} {
		got, err := sketchstore.Range(ctx, store, contract.DefaultSource, c.minute, c.minute.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		s := got[c.route]
		if s == nil {
			t.Errorf("%s at %s: nothing stored", c.route, c.minute.Format("15:04"))
			continue
		}
		sum := sketchstore.Summarize(s.Response)
		if sum.Count != c.count || int64(s.Integration.GetCount()) != c.integs || testenv.RelErr(sum.P50, c.p50) > sketchstore.RelativeAccuracy {
			t.Errorf("%s at %s: count %d, integration count %v, p50 %v; want %d, %d, %v",
				c.route, c.minute.Format("15:04"), sum.Count, s.Integration.GetCount(), sum.P50, c.count, c.integs, c.p50)
		}
	}
}

// A line without requestTimeEpoch counts in the minute CloudWatch Logs
// stamped it with.
func TestIngestFallsBackToEventTimestamp(t *testing.T) {
	ctx := context.Background()
	store := memStore()
	at := batchTime.Add(5 * time.Minute)
	line := `{"httpMethod":"POST","resourcePath":"/slack/events","responseLatency":"7","integrationLatency":"5"}`
	if _, err := NewIngester(store, nil).Ingest(ctx, compress(t, batchOf(t, DataMessage, []string{line}, at))); err != nil {
		t.Fatal(err)
	}
	got, _ := sketchstore.Range(ctx, store, contract.DefaultSource, at, at.Add(time.Minute))
	if s := got["POST /slack/events"]; s == nil || s.Response.GetCount() != 1 {
		t.Errorf("the line is not in the minute of its event timestamp: %v", got)
	}
}

func TestIngestRetriedBatchCountsOnce(t *testing.T) {
	ctx := context.Background()
	store := memStore()
	in := NewIngester(store, nil)
	batch, n := realisticBatch(t, 20_000, batchTime, 1)
	data := compress(t, batch)
	other, m := realisticBatch(t, 10_000, batchTime.Add(10*time.Second), 2)
	for _, d := range [][]byte{data, data, compress(t, other), data} {
		if _, err := in.Ingest(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := sketchstore.Range(ctx, store, contract.DefaultSource, batchTime, batchTime.Add(time.Hour))
	var total float64
	for _, s := range got {
		total += s.Response.GetCount()
	}
	if int(total) != n+m {
		t.Errorf("stored %v requests, want %d: a retried batch counted again, or a new one was skipped", total, n+m)
	}
}

func TestIngestControlMessage(t *testing.T) {
	store := memStore()
	data := compress(t, []byte(`{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1700000000000,"message":"CWL CONTROL MESSAGE: Checking health of destination Lambda."}]}`))
	stats, err := NewIngester(store, nil).Ingest(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := sketchstore.Range(context.Background(), store, contract.DefaultSource, time.Unix(0, 0), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if stats.MessageType != ControlMessage || stats.Added != 0 || stats.Malformed != 0 || stats.Parts != 0 || len(stored) != 0 {
		t.Errorf("control message: stats %+v, %d routes stored; want it ignored", stats, len(stored))
	}
}

func TestIngestRejectsUnknownMessageType(t *testing.T) {
	data := compress(t, []byte(`{"messageType":"SOMETHING_NEW","logEvents":[]}`))
	_, err := NewIngester(memStore(), nil).Ingest(context.Background(), data)
	if !errors.Is(err, ErrMalformedDelivery) || !strings.Contains(err.Error(), "SOMETHING_NEW") {
		t.Errorf("error = %v, want ErrMalformedDelivery naming the type", err)
	}
}

type failingStore struct{ sketchstore.Store }

func (failingStore) Merge(context.Context, string, map[sketchstore.Key]*sketchstore.Sketches) error {
	return errors.New("throttled")
}

func TestIngestReportsStoreErrors(t *testing.T) {
	batch, _ := realisticBatch(t, 2000, batchTime, 3)
	_, err := NewIngester(failingStore{}, nil).Ingest(context.Background(), compress(t, batch))
	if err == nil || !strings.Contains(err.Error(), "throttled") {
		t.Errorf("error = %v, want the store's error", err)
	}
}

// BenchmarkIngest is the hot path of the percentiles Lambda: one delivery of
// 1 MiB of subscription JSON (decompressed) from the Lambda event's base64
// through gunzip and parsing into per-route-minute sketches. MB/s counts the
// decompressed JSON.
func BenchmarkIngest(b *testing.B) {
	plain, n := realisticBatch(b, 1<<20, batchTime, 42)
	data := compress(b, plain)
	b.Logf("batch: %d records, %d bytes of JSON, %d bytes base64 of gzip", n, len(plain), len(data))
	b.SetBytes(int64(len(plain)))
	w := &batchWork{parts: make(map[sketchstore.Key]*sketchstore.Sketches), routes: make(map[string]string)}
	logger := slog.New(slog.DiscardHandler)
	start := testenv.CPUTime()
	for b.Loop() {
		stats, err := w.aggregate(data, logger)
		if err != nil || stats.Added != n {
			b.Fatalf("added %d of %d: %v", stats.Added, n, err)
		}
	}
	elapsed := b.Elapsed()
	cpu := testenv.CPUTime() - start
	b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(n)*float64(b.N)/cpu.Seconds(), "records/cpu-s")
}

// BenchmarkIngestStdlib is BenchmarkIngest's baseline: the same batch and the
// same sketches, decoded as the obvious code would, with aws-lambda-go's
// Parse (encoding/base64, compress/gzip and encoding/json) and then
// encoding/json and strconv per line. It reports records/cpu-s as
// BenchmarkIngest does, so `make bench` shows what the hand-written decoding
// buys.
func BenchmarkIngestStdlib(b *testing.B) {
	plain, n := realisticBatch(b, 1<<20, batchTime, 42)
	// Lambda's runtime hands a handler that unmarshals the event a string.
	raw := events.CloudwatchLogsRawData{Data: string(compress(b, plain))}
	b.SetBytes(int64(len(plain)))
	start := testenv.CPUTime()
	for b.Loop() {
		added, err := ingestStdlib(raw)
		if err != nil || added != n {
			b.Fatalf("added %d of %d: %v", added, n, err)
		}
	}
	elapsed := b.Elapsed()
	cpu := testenv.CPUTime() - start
	b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(n)*float64(b.N)/cpu.Seconds(), "records/cpu-s")
}

// ingestStdlib aggregates a batch into per-route-minute sketches with the
// standard library alone, and returns how many lines it added.
func ingestStdlib(raw events.CloudwatchLogsRawData) (int, error) {
	d, err := raw.Parse()
	if err != nil {
		return 0, err
	}
	parts := make(map[sketchstore.Key]*sketchstore.Sketches)
	added := 0
	for _, e := range d.LogEvents {
		var l struct {
			RequestTimeEpoch   string `json:"requestTimeEpoch"`
			HTTPMethod         string `json:"httpMethod"`
			ResourcePath       string `json:"resourcePath"`
			Status             string `json:"status"`
			ResponseLatency    string `json:"responseLatency"`
			IntegrationLatency string `json:"integrationLatency"`
		}
		if err := json.Unmarshal([]byte(e.Message), &l); err != nil || l.ResourcePath == "-" {
			continue
		}
		ms, err := strconv.ParseInt(l.RequestTimeEpoch, 10, 64)
		if err != nil {
			ms = e.Timestamp
		}
		k := sketchstore.Key{Source: contract.DefaultSource, Route: Route(l.HTTPMethod, l.ResourcePath), Minute: floorMinute(ms)}
		s := parts[k]
		if s == nil {
			s = sketchstore.NewSketches()
			parts[k] = s
		}
		// "-" (no value) fails to parse and is skipped, as the ingest does.
		if v, err := strconv.ParseFloat(l.ResponseLatency, 64); err == nil {
			_ = s.Response.Add(v)
		}
		if v, err := strconv.ParseFloat(l.IntegrationLatency, 64); err == nil {
			_ = s.Integration.Add(v)
		}
		status, _ := strconv.Atoi(l.Status)
		s.CountStatus(status)
		added++
	}
	return added, nil
}

// BenchmarkIngestStages splits BenchmarkIngest's time between its stages:
// base64 and gunzip; scanning the batch (which parses each access-log line
// in place); adding to the sketches is the rest.
func BenchmarkIngestStages(b *testing.B) {
	plain, n := realisticBatch(b, 1<<20, batchTime, 42)
	data := compress(b, plain)
	b.Run("base64+gunzip", func(b *testing.B) {
		var d decoder
		b.SetBytes(int64(len(plain)))
		start := testenv.CPUTime()
		for b.Loop() {
			if _, err := d.decompress(data); err != nil {
				b.Fatal(err)
			}
		}
		testenv.ReportCPU(b, start)
	})
	b.Run("scan+parse", func(b *testing.B) {
		b.SetBytes(int64(len(plain)))
		var e delivery
		start := testenv.CPUTime()
		for b.Loop() {
			if err := decodeDelivery(plain, &e); err != nil {
				b.Fatal(err)
			}
		}
		testenv.ReportCPU(b, start)
		if len(e.events) != n || !e.events[n-1].parsed {
			b.Fatalf("%d events, last parsed in place: %v; want %d, true", len(e.events), e.events[n-1].parsed, n)
		}
	})
}

func TestIngestSkipsLinesFarFromTheirDelivery(t *testing.T) {
	ctx := context.Background()
	store := memStore()
	lines := []string{
		request{"POST", "/slack/events", batchTime.Add(23 * time.Hour), 5, 4}.line(1),  // late, but within a day
		request{"POST", "/slack/events", batchTime.Add(-25 * time.Hour), 5, 4}.line(2), // a day before its delivery
		request{"POST", "/slack/events", batchTime.Add(400 * 24 * time.Hour), 5, 4}.line(3),
	}
	stats, err := NewIngester(store, nil).Ingest(ctx, compress(t, batchOf(t, DataMessage, lines, batchTime)))
	if err != nil {
		t.Fatal(err)
	}
	if stats.Added != 1 || stats.Malformed != 2 || stats.Parts != 1 {
		t.Errorf("stats %+v, want 1 added and 2 skipped", stats)
	}
}

// Each route-minute counts its responses by status class, for error rates.
func TestIngestCountsStatusClasses(t *testing.T) {
	ctx := context.Background()
	var lines []string
	for i, status := range []string{"200", "201", "302", "400", "404", "429", "500", "502", "-"} {
		lines = append(lines, accessLine(fmt.Sprint(i), batchTime.UnixMilli()+int64(i), "POST", "/slack/events", status, "10", "9"))
	}
	store := memStore()
	if _, err := NewIngester(store, nil).Ingest(ctx, compress(t, batchOf(t, DataMessage, lines, batchTime))); err != nil {
		t.Fatal(err)
	}
	got, err := sketchstore.Range(ctx, store, contract.DefaultSource, batchTime, batchTime.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	s := got["POST /slack/events"]
	if s == nil || s.Requests != 9 || s.Status4xx != 3 || s.Status5xx != 2 {
		t.Errorf("counts %+v, want 9 requests, 3 of them 4xx and 2 5xx", s)
	}
}

// memStore is a MemoryStore whose clock is a day after batchTime, so
// nothing the tests write has expired.
func memStore() *sketchstore.MemoryStore {
	s := sketchstore.NewMemoryStore()
	s.Now = func() time.Time { return batchTime.Add(24 * time.Hour) }
	return s
}
