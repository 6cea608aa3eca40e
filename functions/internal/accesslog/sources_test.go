package accesslog

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

const ownGroup = "/aws/apigateway/slackbot-dev/access"

// testSources is a config of each kind, as contract.ParseLatencySources
// reads it.
func testSources(t testing.TB, maxRoutes int) []contract.LatencySource {
	t.Helper()
	limit := ""
	if maxRoutes > 0 {
		limit = fmt.Sprintf(`,"maxRoutes":%d`, maxRoutes)
	}
	srcs, err := contract.ParseLatencySources(`[
		{"name":"orders","kind":"apigateway","logGroup":"/aws/apigateway/orders-prod"` + limit + `},
		{"name":"items","kind":"apigateway","logGroup":"/aws/apigateway/items-http"},
		{"name":"workers","kind":"lambda","functions":["billing","orders-worker"]},
		{"name":"web","kind":"alb","bucket":"acme-alb-logs","prefix":"web/AWSLogs/","routes":["/files/{name}"]` + limit + `}]`)
	if err != nil {
		t.Fatal(err)
	}
	return srcs
}

// groupBatch is the decompressed JSON of a data batch from group.
func groupBatch(t testing.TB, group string, messages []string, at time.Time) []byte {
	t.Helper()
	return subscriptionBatch(t, group, DataMessage, messages, at)
}

func sourceIngester(t testing.TB, store sketchstore.Store, maxRoutes int) *Ingester {
	in := NewIngester(store, nil)
	in.SetSources(ownGroup, testSources(t, maxRoutes))
	return in
}

type tally struct{ requests, s5xx, samples int64 }

func tallyOf(s *sketchstore.Sketches) tally {
	if s == nil {
		return tally{}
	}
	return tally{s.Requests, s.Status5xx, int64(s.Response.GetCount())}
}

// Each batch goes to the source whose log group sent it; a stranger's is
// dropped, and the bot's own is as it always was.
func TestSourceBatchesByLogGroup(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 12, 4, 15, 1, 0, 0, time.UTC)
	store := sketchstore.NewMemoryStore()
	store.Now = func() time.Time { return at.Add(time.Hour) }
	in := sourceIngester(t, store, 0)

	ingest := func(group string, msgs []string) IngestStats {
		t.Helper()
		stats, err := in.Ingest(ctx, compress(t, groupBatch(t, group, msgs, at)))
		if err != nil {
			t.Fatalf("%s: %v", group, err)
		}
		return stats
	}
	rest := ingest("/aws/apigateway/orders-prod", sourceLines(t, "apigateway-rest.log"))
	if want := (IngestStats{Batch: rest.Batch, MessageType: DataMessage, LogGroup: "/aws/apigateway/orders-prod", Source: "orders",
		Events: 6, Added: 5, NoLatency: 1, NoLatencyMinute: at.Unix(), Other: 1, Parts: 5, FirstMinute: at.Unix() - 3600, LastMinute: at.Unix()}); rest != want {
		t.Errorf("orders:\n got %+v\nwant %+v", rest, want)
	}
	billing := ingest("/aws/lambda/billing", sourceLines(t, "lambda-report.json"))
	if billing.Source != "workers" || billing.Added != 11 || billing.Skipped != 6 || billing.Malformed != 0 {
		t.Errorf("billing: %+v, want 8 invocations and 3 cold starts added, 6 lines skipped", billing)
	}
	stranger := ingest("/aws/lambda/someone-elses", sourceLines(t, "lambda-report.json"))
	if !stranger.Dropped || stranger.Added != 0 || stranger.Parts != 0 {
		t.Errorf("a stranger's batch: %+v, want it dropped", stranger)
	}
	own := ingest(ownGroup, []string{request{"POST", contract.EventsPath, at, 12, 10}.line(1)})
	if own.Added != 1 || own.Source != "" {
		t.Errorf("the bot's own batch: %+v", own)
	}

	read := func(source string) map[string]*sketchstore.Sketches {
		got, err := sketchstore.Range(ctx, store, source, at.Add(-2*time.Hour), at.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	orders := read("orders")
	for route, want := range map[string]tally{
		"GET /pets/{petId}":    {1, 0, 1},
		"DELETE /pets/{petId}": {1, 0, 1},
		"POST /pets":           {1, 1, 1},
		"GET /pets":            {1, 0, 0}, // throttled: counted, no latency
		contract.OtherRoute:    {1, 0, 1}, // matched no resource
	} {
		if got := tallyOf(orders[route]); got != want {
			t.Errorf("orders %s: %+v, want %+v", route, got, want)
		}
	}
	workers := read("workers")
	if got, want := tallyOf(workers["billing"]), (tally{8, 3, 8}); got != want {
		t.Errorf("workers billing: %+v, want %+v", got, want)
	}
	if got, want := tallyOf(workers["billing init"]), (tally{3, 0, 3}); got != want {
		t.Errorf("workers billing init: %+v, want %+v", got, want)
	}
	if c := workers["billing init"]; c != nil {
		if max, _ := c.Response.GetMaxValue(); testenv.RelErr(max, 183.45) > sketchstore.RelativeAccuracy {
			t.Errorf("slowest cold start %v ms, want 183.45", max)
		}
	}
	if len(read("web")) != 0 || len(read("items")) != 0 {
		t.Error("sources that sent nothing have data")
	}
	if got := tallyOf(read("")["POST "+contract.EventsPath]); got != (tally{1, 0, 1}) {
		t.Errorf("the bot's own: %+v", got)
	}
	st, err := store.SourceStats(ctx, "orders")
	if err != nil || st.LatestNoLatency != at.Unix() || st.Routes != 5 {
		t.Errorf("orders stats %+v, %v; want 5 routes and a minute without latency at %d", st, err, at.Unix())
	}

	// Without the bot's own group configured, a batch of no source is the
	// bot's own, as before there were sources.
	old := NewIngester(store, nil)
	old.SetSources("", testSources(t, 0))
	if stats, err := old.Ingest(ctx, compress(t, groupBatch(t, "/aws/apigateway/anything", []string{request{"POST", contract.EventsPath, at, 12, 10}.line(2)}, at))); err != nil || stats.Dropped || stats.Added != 1 {
		t.Errorf("unmatched batch without an own group: %+v, %v; want it read as the bot's own", stats, err)
	}
}

// The source of every function reads any function's group under the
// function's name, leaves a group another source names to that source, and
// never reads an ignored group (the percentiles function's own), nor a
// group that is no function's.
func TestAllFunctionsSource(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 12, 4, 15, 1, 0, 0, time.UTC)
	store := sketchstore.NewMemoryStore()
	store.Now = func() time.Time { return at.Add(time.Hour) }
	srcs, err := contract.ParseLatencySources(`[{"name":"fns","kind":"lambda","functions":["*"]},{"name":"workers","kind":"lambda","functions":["billing"]}]`)
	if err != nil {
		t.Fatal(err)
	}
	in := NewIngester(store, nil)
	in.SetSources(ownGroup, srcs)
	self := "/aws/lambda/slackbot-dev-percentiles"
	in.Ignore(self)

	lines := sourceLines(t, "lambda-report.json")
	for _, tc := range []struct {
		group, source string
		added         int
	}{
		{"/aws/lambda/orders-worker", "fns", 11},
		{"/aws/lambda/billing", "workers", 11},
		{self, "", 0},
		{"/aws/lambda/", "", 0},
		{"/ecs/orders", "", 0},
	} {
		stats, err := in.Ingest(ctx, compress(t, groupBatch(t, tc.group, lines, at)))
		if err != nil || stats.Source != tc.source || stats.Added != tc.added || (tc.source == "") != stats.Dropped {
			t.Errorf("%s: %+v, %v; want source %q, %d added", tc.group, stats, err, tc.source, tc.added)
		}
	}
	got, err := sketchstore.Range(ctx, store, "fns", at.Add(-2*time.Hour), at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || tallyOf(got["orders-worker"]) != (tally{8, 3, 8}) || tallyOf(got["orders-worker init"]) != (tally{3, 0, 3}) {
		t.Errorf("every function's source holds %v, want orders-worker and its cold starts only", slices.Sorted(maps.Keys(got)))
	}
}

// albObject is a gzip ALB log of lines.
func albObject(t testing.TB, lines []string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	for _, l := range lines {
		_, _ = w.Write([]byte(l))
		_, _ = w.Write([]byte{'\n'})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// albLine is an ALB line of the documentation's https example, for a
// request of path at, taking the three processing times (s).
func albLine(at time.Time, method, path string, rp, tp, sp string, status int) string {
	return fmt.Sprintf(`https %s app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 %s %s %s %d %d 0 57 "%s https://www.example.com:443%s?q=1 HTTP/1.1" "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/121.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 %s "authenticate,forward" "-" "-" "10.0.0.1:80" "%d" "-" "-" TID_a1b2c3d4e5f60718293a4b5c6d7e8f90`,
		at.UTC().Format("2006-01-02T15:04:05.000000Z"), rp, tp, sp, status, status, method, path, at.UTC().Add(-50*time.Millisecond).Format("2006-01-02T15:04:05.000000Z"), status)
}

// A source keeps at most maxRoutes routes, across containers; every further
// request counts under (other), and totals stay exact.
func TestRouteLimitCountsTheRestUnderOther(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 12, 4, 15, 1, 0, 0, time.UTC)
	store := sketchstore.NewMemoryStore()
	store.Now = func() time.Time { return at.Add(time.Hour) }
	const limit = 3
	r := rand.New(rand.NewPCG(7, 7))
	var lines []string
	perRoute := map[string]int{}
	for i := range 2000 {
		path := fmt.Sprintf("/p%d/x", r.IntN(12)) // 12 routes, in random order
		if i%10 == 0 {
			path = fmt.Sprintf("/spray-%x", r.Uint64()) // invented paths
		}
		perRoute["GET "+path]++
		lines = append(lines, albLine(at.Add(time.Duration(i)*10*time.Millisecond), "GET", path, "0.001", "0.010", "0.000", 200))
	}
	// Two containers, each with half the object.
	var stats []IngestStats
	for i, half := range [][]string{lines[:1000], lines[1000:]} {
		in := sourceIngester(t, store, limit)
		s, err := in.IngestALB(ctx, "web", bytes.NewReader(albObject(t, half)), fmt.Sprintf("acme-alb-logs/web/%d.log.gz@v1", i))
		if err != nil {
			t.Fatal(err)
		}
		stats = append(stats, s)
	}
	got, err := sketchstore.Range(ctx, store, "web", at.Add(-time.Hour), at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	var total, other int64
	for route, s := range got {
		total += s.Requests
		if route == contract.OtherRoute {
			other = s.Requests
			continue
		}
		routes = append(routes, route)
		if want := int64(perRoute[route]); s.Requests != want {
			t.Errorf("%s: %d requests, want all %d of them", route, s.Requests, want)
		}
	}
	if len(routes) != limit || other == 0 {
		t.Errorf("routes %v and (other) %d; want %d routes and the rest under (other)", routes, other, limit)
	}
	if total != int64(len(lines)) {
		t.Errorf("%d requests stored, want all %d", total, len(lines))
	}
	if int64(stats[0].Other+stats[1].Other) != other || stats[0].Added+stats[1].Added != len(lines) {
		t.Errorf("stats %+v: other %d+%d, want %d", stats, stats[0].Other, stats[1].Other, other)
	}
}

// An object is claimed by its id, so its retry counts once, though it is
// merged in pieces.
func TestALBObjectRetryCountsOnce(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 12, 4, 15, 1, 0, 0, time.UTC)
	store := sketchstore.NewMemoryStore()
	store.Now = func() time.Time { return at.Add(time.Hour) }
	obj := albObject(t, sourceLines(t, "alb.log"))
	in := sourceIngester(t, store, 0)
	for range 2 {
		s, err := in.IngestALB(ctx, "web", bytes.NewReader(obj), "acme-alb-logs/web/a.log.gz@v1")
		if err != nil || s.Added != 10 {
			t.Fatalf("stats %+v, %v", s, err)
		}
	}
	got, _ := sketchstore.Range(ctx, store, "web", time.Date(2018, 7, 1, 0, 0, 0, 0, time.UTC), time.Date(2018, 12, 31, 0, 0, 0, 0, time.UTC))
	var n int64
	for _, s := range got {
		n += s.Requests
	}
	if n != 10 {
		t.Errorf("%d requests, want 10: a retried object counted twice", n)
	}
	if s := got["GET /files/{name}"]; tallyOf(s) != (tally{1, 0, 1}) {
		t.Errorf("GET /files/{name}: %+v", tallyOf(s))
	}
	if s := got["POST /orders/{id}/items"]; tallyOf(s) != (tally{1, 1, 0}) {
		t.Errorf("the -1 line: %+v, want counted with its 504 and no latency", tallyOf(s))
	}
	if _, err := in.IngestALB(ctx, "orders", bytes.NewReader(obj), "x"); err == nil {
		t.Error("an object for an apigateway source was read")
	}
	if _, err := in.IngestALB(ctx, "web", strings.NewReader("not gzip"), "y"); err == nil {
		t.Error("an object that is not gzip was read")
	}
}

// Each kind keeps its quantiles within the sketch's 1% of the exact ones.
func TestAccuracyOfEachKind(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)
	const n = 20000
	r := rand.New(rand.NewPCG(3, 4))
	values := func(format func(v float64) (string, float64)) ([]string, []float64) {
		var texts []string
		var exact []float64
		for range n {
			s, v := format(lognormal(r, 40, 0.9))
			texts = append(texts, s)
			exact = append(exact, v)
		}
		return texts, exact
	}
	parse := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
	for _, c := range []struct {
		kind, source, route string
		ingest              func(store sketchstore.Store, texts []string) error
		format              func(v float64) (string, float64)
	}{
		{"apigateway", "orders", "GET /pets/{petId}", func(store sketchstore.Store, texts []string) error {
			var msgs []string
			for i, v := range texts {
				msgs = append(msgs, fmt.Sprintf(`{"requestId":"%d","requestTimeEpoch":"%d","httpMethod":"GET","resourcePath":"/pets/{petId}","status":"200","responseLatency":"%s"}`, i, at.UnixMilli()+int64(i), v))
			}
			_, err := sourceIngester(t, store, 0).Ingest(ctx, compress(t, groupBatch(t, "/aws/apigateway/orders-prod", msgs, at)))
			return err
		}, func(v float64) (string, float64) { s := strconv.Itoa(int(v) + 1); return s, parse(s) }},
		{"lambda", "workers", "orders-worker", func(store sketchstore.Store, texts []string) error {
			var msgs []string
			for i, v := range texts {
				msgs = append(msgs, fmt.Sprintf("REPORT RequestId: %08d-e9a3-11e6-939a-754dd98c7be3\tDuration: %s ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 18 MB\t\n", i, v))
			}
			_, err := sourceIngester(t, store, 0).Ingest(ctx, compress(t, groupBatch(t, "/aws/lambda/orders-worker", msgs, at)))
			return err
		}, func(v float64) (string, float64) { s := strconv.FormatFloat(v, 'f', 2, 64); return s, parse(s) }},
		{"alb", "web", "GET /files/{name}", func(store sketchstore.Store, texts []string) error {
			var lines []string
			for i, v := range texts {
				lines = append(lines, albLine(at.Add(time.Duration(i)*time.Millisecond), "GET", "/files/"+strconv.Itoa(i), "0.000", v, "0.000", 200))
			}
			_, err := sourceIngester(t, store, 0).IngestALB(ctx, "web", bytes.NewReader(albObject(t, lines)), "acme-alb-logs/web/acc.log.gz@v1")
			return err
		}, func(v float64) (string, float64) {
			s := strconv.FormatFloat(v/1000, 'f', 3, 64)
			return s, parse(s) * 1000
		}},
	} {
		t.Run(c.kind, func(t *testing.T) {
			store := sketchstore.NewMemoryStore()
			store.Now = func() time.Time { return at.Add(time.Hour) }
			texts, exact := values(c.format)
			if err := c.ingest(store, texts); err != nil {
				t.Fatal(err)
			}
			got, err := sketchstore.Range(ctx, store, c.source, at, at.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			s := got[c.route]
			if s == nil || s.Requests != n {
				t.Fatalf("%s: %+v, want %d requests", c.route, tallyOf(s), n)
			}
			slices.Sort(exact)
			for _, q := range []float64{0.5, 0.9, 0.95, 0.99} {
				v, err := s.Response.GetValueAtQuantile(q)
				want := testenv.ExactQuantile(exact, q)
				if err != nil || testenv.RelErr(v, want) > 0.01 {
					t.Errorf("p%v = %v, exact %v: off by %.2f%%", q*100, v, want, 100*testenv.RelErr(v, want))
				}
			}
		})
	}
}

// Lines cut anywhere between writes come out whole; a line too long is
// passed on cut short, for the caller to refuse; the last needs no newline.
func TestLineSplitter(t *testing.T) {
	long := strings.Repeat("x", maxALBLine+10)
	text := "a\nbb\n\n" + long + "\nccc\ndd"
	for _, size := range []int{1, 2, 3, 7, 4096, len(text)} {
		var got []string
		sp := lineSplitter{line: func(l []byte) error { got = append(got, string(l)); return nil }}
		for p := text; len(p) > 0; {
			n := min(size, len(p))
			if _, err := sp.Write([]byte(p[:n])); err != nil {
				t.Fatal(err)
			}
			p = p[n:]
		}
		if err := sp.end(); err != nil {
			t.Fatal(err)
		}
		if len(got) != 6 || got[0] != "a" || got[1] != "bb" || got[2] != "" || len(got[3]) <= maxALBLine || got[4] != "ccc" || got[5] != "dd" {
			lens := []int{}
			for _, g := range got {
				lens = append(lens, len(g))
			}
			t.Errorf("writes of %d: lines of lengths %v", size, lens)
		}
	}
}

// partsStore keeps what each batch merges, as text.
type partsStore struct {
	nopStore
	merged []string
}

func (s *partsStore) Merge(_ context.Context, batch string, parts map[sketchstore.Key]*sketchstore.Sketches) error {
	for k, p := range parts {
		q50, _ := p.Response.GetValueAtQuantile(0.5)
		s.merged = append(s.merged, fmt.Sprintf("%s %s/%s@%d: %d requests %d/%d 4xx/5xx, %v samples summing to %v, median %v",
			batch, k.Source, k.Route, k.Minute, p.Requests, p.Status4xx, p.Status5xx, p.Response.GetCount(), p.Response.GetSum(), q50))
	}
	slices.Sort(s.merged)
	return nil
}

// A source's lines counted as the batch is scanned count as those counted
// after it: when the scanner leaves the batch to encoding/json having
// counted some (a messageType repeated after the events), and when it
// counts none (the messageType only after the events), the stats, the
// malformed lines logged and the parts merged are the same; and so when
// more new routes come than the store is asked about at once.
func TestCountedAsScannedOrAfter(t *testing.T) {
	at := time.Date(2026, 12, 4, 15, 1, 0, 0, time.UTC)
	var report []string
	for _, m := range sourceLines(t, "lambda-report.json") {
		// Text lines with a cold start, and beside START and END.
		report = append(report, m, "START RequestId: 1 Version: $LATEST\n",
			"REPORT RequestId: 1\tDuration: 12.25 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\tInit Duration: 150.5 ms\t\n")
	}
	// More new routes than the store is asked about at once.
	spray := []string{`not json`}
	for i := range 3 * resolveEvery {
		spray = append(spray, fmt.Sprintf(`{"routeKey":"GET /r%d","status":"200","responseLatency":"%d"}`, i%(2*resolveEvery), i))
	}
	for group, msgs := range map[string][]string{
		"/aws/apigateway/items-http": spray,
		"/aws/apigateway/orders-prod": append(sourceLines(t, "apigateway-rest.log"),
			`{"httpMethod":"GET","resourcePath":"/a","status":"200"}`, // no latency
			`{"httpMethod":"GET","resourcePath":"/a","status":"200","responseLatency":"-3"}`,
			`not json`,
			`{"httpMethod":"GET","resourcePath":"/a","status":"200","responseLatency":"3"}`),
		"/aws/lambda/billing": append(report, "REPORT RequestId: 2\tDuration: x ms\t\n"),
	} {
		batch := groupBatch(t, group, msgs, at)
		typ := []byte(`"messageType":"DATA_MESSAGE",`)
		if bytes.Count(batch, typ) != 1 {
			t.Fatalf("the batch does not hold its messageType once: %.200s", batch)
		}
		atEnd := func(b []byte) []byte { // with typ again, at the end
			return fmt.Appendf(nil, "%s,%s}", b[:len(b)-1], typ[:len(typ)-1])
		}
		var want string
		for i, b := range [][]byte{
			batch,
			atEnd(batch),                             // repeated: the scanner counts, then leaves the batch to encoding/json
			atEnd(bytes.Replace(batch, typ, nil, 1)), // only after the events: nothing is counted as the batch is scanned
		} {
			var log bytes.Buffer
			store := &partsStore{}
			in := NewIngester(store, slog.New(slog.NewJSONHandler(&log, nil)))
			in.SetSources(ownGroup, testSources(t, 0))
			stats, err := in.Ingest(context.Background(), compress(t, b))
			if err != nil {
				t.Fatalf("%s, batch %d: %v", group, i, err)
			}
			if stats.Malformed == 0 || stats.Added == 0 || stats.Batch == "" {
				t.Fatalf("%s: %+v; want lines added, malformed lines and a batch id", group, stats)
			}
			got := fmt.Sprintf("%+v\n%s\n%s", stats, strings.Join(store.merged, "\n"), timeless(log.String()))
			if i == 0 {
				want = got
				if !strings.Contains(got, `"batch":"`+stats.Batch+`","line"`) {
					t.Errorf("%s: the malformed lines' logs do not name the batch:\n%s", group, got)
				}
			} else if got != want {
				t.Errorf("%s, batch %d:\n%s\nwant, as CloudWatch Logs writes the batch:\n%s", group, i, got, want)
			}
		}
	}
}

// timeless drops the times of JSON log records, and the escapes of a line
// logged as it lay in its batch, still inside a JSON string.
func timeless(log string) string {
	log = strings.NewReplacer(`\\\"`, `\"`, `\\t`, `\t`, `\\n`, `\n`).Replace(log)
	return regexp.MustCompile(`"time":"[^"]*",`).ReplaceAllString(log, "")
}
