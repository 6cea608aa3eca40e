package accesslog

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sourceLines reads testdata/sources/<name>: a .json array of messages, or
// one message per line.
func sourceLines(t testing.TB, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "sources", name))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(name, ".json") {
		var msgs []string
		if err := json.Unmarshal(b, &msgs); err != nil {
			t.Fatal(err)
		}
		return msgs
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// escapeJSON is s as the content of a JSON string, as CloudWatch Logs
// writes a message into a batch.
func escapeJSON(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	out := bytes.TrimSpace(b.Bytes())
	return out[1 : len(out)-1]
}

func clf(t testing.TB, s string) int64 {
	t.Helper()
	tm, err := time.Parse("02/Jan/2006:15:04:05 -0700", s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixMilli()
}

type wantHit struct {
	route   string
	latency float64
	status  int
	ms      int64
	init    float64
	err     error
}

func checkHit(t *testing.T, what string, h hit, err error, w wantHit) {
	t.Helper()
	if w.err != nil || err != nil {
		if !errors.Is(err, w.err) {
			t.Errorf("%s: error %v, want %v", what, err, w.err)
		}
		return
	}
	if fullRoute(h) != w.route || math.Abs(h.latency-w.latency) > 1e-9 || h.status != w.status || h.ms != w.ms || math.Abs(h.init-w.init) > 1e-9 {
		t.Errorf("%s:\n got route %q, latency %v, status %d, ms %d, init %v\nwant route %q, latency %v, status %d, ms %d, init %v",
			what, fullRoute(h), h.latency, h.status, h.ms, h.init, w.route, w.latency, w.status, w.ms, w.init)
	}
}

// AWS's documented access-log formats, REST and HTTP API, read where they
// lie in the batch and decoded, agree on every line.
func TestGatewayLinesOfAWSFormats(t *testing.T) {
	g := newGatewayFormat(nil)
	lines := append(sourceLines(t, "apigateway-rest.log"), sourceLines(t, "apigateway-http.log")...)
	want := []wantHit{
		{route: "GET /pets/{petId}", latency: 35, status: 200, ms: clf(t, "04/Dec/2026:15:01:02 +0000"), init: -1},
		{route: "POST /pets", latency: 29004, status: 502, ms: clf(t, "04/Dec/2026:15:01:09 +0100"), init: -1},
		{err: errLacksLatency}, // the console's default format
		{route: "DELETE /pets/{petId}", latency: 17.5, status: 204, ms: 1796396465123, init: -1},
		{route: "", latency: 2, status: 403, ms: clf(t, "04/Dec/2026:15:01:05 +0000"), init: -1},           // no resource matched
		{route: "GET /pets", latency: -1, status: 429, ms: clf(t, "04/Dec/2026:15:01:06 +0000"), init: -1}, // throttled: no latency value
		{route: "GET /items/{id}", latency: 12, status: 200, ms: clf(t, "04/Dec/2026:15:01:04 +0000"), init: -1},
		{route: "$default", latency: 250, status: 500, ms: 1796396466000, init: -1},
		{route: "", latency: 1, status: 404, ms: clf(t, "04/Dec/2026:15:01:06 +0000"), init: -1},
		{route: "PUT /items/{id}", latency: 8, status: 200, ms: clf(t, "04/Dec/2026:15:01:07 +0000"), init: -1},
		{err: errLacksLatency},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, %d expectations", len(lines), len(want))
	}
	var text []byte
	for i, l := range lines {
		w := want[i]
		w.init = 0 // a gateway hit has no init
		h, err := g.parse([]byte(l), false, &text)
		checkHit(t, "line "+strconv.Itoa(i), h, err, w)
		h, err = g.parse(escapeJSON(l), true, &text)
		checkHit(t, "escaped line "+strconv.Itoa(i), h, err, w)
	}
}

// A format of the team's own, named by fields.
func TestGatewayFieldsRemap(t *testing.T) {
	g := newGatewayFormat(map[string]string{"route": "path", "latency": "duration_ms", "status": "code", "time": "ts"})
	var text []byte
	for _, c := range []struct {
		line string
		want wantHit
	}{
		{`{"path":"/v1/quote","duration_ms":"42.5","code":201,"ts":1796396465000}`, wantHit{route: "/v1/quote", latency: 42.5, status: 201, ms: 1796396465000}},
		{`{"ts":"2026-12-04T15:01:05.250Z","code":"503","duration_ms":7,"path":"/v1/quote","responseLatency":"999"}`, wantHit{route: "/v1/quote", latency: 7, status: 503, ms: 1796396465250}},
		{`{"ts":"04/Dec/2026:15:01:05 +0000","duration_ms":1,"path":"/x"}`, wantHit{route: "/x", latency: 1, ms: 1796396465000}},
		{`{"path":"/v1/quote","responseLatency":"12"}`, wantHit{err: errLacksLatency}},
		{`{"path":"/v1/quote","duration_ms":"fast"}`, wantHit{err: errBadLatency}},
		{`{"path":"/v1/quote","duration_ms":3,"ts":"yesterday"}`, wantHit{err: errBadTimeField}},
	} {
		h, err := g.parse([]byte(c.line), false, &text)
		checkHit(t, c.line, h, err, c.want)
		h, err = g.parse(escapeJSON(c.line), true, &text)
		checkHit(t, "escaped "+c.line, h, err, c.want)
	}
}

// Lambda's REPORT lines, text and JSON, and every line around them.
func TestReportLinesOfAWSFormats(t *testing.T) {
	msgs := sourceLines(t, "lambda-report.json")
	skip := wantHit{err: errNotARequest}
	want := []wantHit{
		skip, skip, skip, // START, the function's output, END
		{latency: 12.34, status: 200, init: -1},
		{latency: 120.48, status: 200, init: 162.21},
		{latency: 2.25, status: 200, init: 180.49},
		{latency: 3000, status: 500, init: -1},  // Status: timeout
		{latency: 41.07, status: 500, init: -1}, // Status: error
		skip, skip, skip,                        // "Task timed out", platform.start, a JSON application log
		{latency: 2.49, status: 200, init: 183.45},
		{latency: 88, status: 200, init: -1},
		{latency: 3000, status: 500, init: -1},
	}
	if len(msgs) != len(want) {
		t.Fatalf("%d messages, %d expectations", len(msgs), len(want))
	}
	var text []byte
	for i, m := range msgs {
		h, err := parseReport([]byte(m), false, &text)
		checkHit(t, "message "+strconv.Itoa(i), h, err, want[i])
		h, err = parseReport(escapeJSON(m), true, &text)
		checkHit(t, "escaped message "+strconv.Itoa(i), h, err, want[i])
	}
}

func albMs(t testing.TB, s string) int64 {
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.Truncate(time.Second).UnixMilli()
}

// The Elastic Load Balancing documentation's example lines and more.
func TestALBLinesOfAWSFormat(t *testing.T) {
	lines := sourceLines(t, "alb.log")
	at := albMs(t, "2018-07-02T22:23:00Z")
	lambda := albMs(t, "2018-11-30T22:23:00Z")
	want := []wantHit{
		{route: "GET /", latency: 1, status: 200, ms: at},
		{route: "GET /", latency: 171, status: 200, ms: at},
		{route: "GET /", latency: 2, status: 200, ms: at}, // h2
		{route: "GET /", latency: 4, status: 101, ms: at}, // ws
		{route: "GET /", latency: 1, status: 101, ms: at}, // wss
		{route: "GET /", latency: 1, status: 200, ms: lambda},
		{route: "GET /", latency: 1, status: 502, ms: lambda},
		{route: "POST /orders/12345/items", latency: -1, status: 504, ms: albMs(t, "2018-07-02T22:24:13Z")},
		{route: "GET /files/q3-report.pdf", latency: 121, status: 200, ms: albMs(t, "2018-07-02T22:24:59Z")},
		{route: "GET /users/3f2b8c1e-9d4a-4b7c-8e6f-1a2b3c4d5e6f/avatars/0123456789abcdef0123", latency: 32, status: 404, ms: albMs(t, "2018-07-02T22:25:01Z")},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, %d expectations", len(lines), len(want))
	}
	var p albParser
	var route []byte
	for i, l := range lines {
		w := want[i]
		w.init = -1
		h, err := parseALB(&p, []byte(l), &route)
		checkHit(t, "line "+strconv.Itoa(i), h, err, w)
	}
}

func TestTemplates(t *testing.T) {
	tm := newTemplater([]string{"/files/{name}", "/v1/{account}/export"})
	for _, c := range []struct{ in, want string }{
		{"GET /files/q3-report.pdf", "GET /files/{name}"},
		{"GET /files/", "GET /files/"},       // an empty segment is no {name}
		{"GET /files/a/b", "GET /files/a/b"}, // one segment more
		{"GET /v1/acme/export", "GET /v1/{account}/export"},
		{"POST /orders/12345/items", "POST /orders/{id}/items"},
		{"GET /users/3f2b8c1e-9d4a-4b7c-8e6f-1a2b3c4d5e6f", "GET /users/{id}"},
		{"GET /blobs/0123456789abcdef0123", "GET /blobs/{id}"},
		{"GET /blobs/0123456789abcde", "GET /blobs/0123456789abcde"}, // 15 hex digits: a word, perhaps
		{"GET /blobs/deadbeef", "GET /blobs/deadbeef"},
		{"GET /", "GET /"},
		{"GET /v2/items/", "GET /v2/items/"},
	} {
		if got := string(tm.route(nil, []byte(c.in))); got != c.want {
			t.Errorf("%s: %s, want %s", c.in, got, c.want)
		}
	}
}

// ---- reference parsers, plain and slow, that the fast ones must agree with

// reportTextReference reads a text REPORT line with strings.Split and
// strconv.
func reportTextReference(line string) (hit, error) {
	if !strings.HasPrefix(line, "REPORT RequestId: ") {
		return hit{}, errNotARequest
	}
	h := hit{latency: -1, init: -1, status: 200}
	saw := false
	for _, f := range strings.Split(line[len("REPORT RequestId: "):], "\t")[1:] {
		f = strings.TrimRight(f, "\r\n")
		var dst *float64
		switch {
		case strings.HasPrefix(f, "Duration: "):
			dst, saw = &h.latency, true
		case strings.HasPrefix(f, "Init Duration: "):
			dst = &h.init
		case f == "Status: timeout" || f == "Status: error":
			h.status = 500
			continue
		default:
			continue
		}
		_, v, _ := strings.Cut(f, ": ")
		v, ok := strings.CutSuffix(v, " ms")
		if !ok || v == "" || strings.ContainsAny(v, "+-eEinfINFxX_") || strings.HasPrefix(v, ".") || strings.HasSuffix(v, ".") {
			return hit{}, errBadLatency
		}
		ms, err := strconv.ParseFloat(v, 64)
		if err != nil || ms >= maxLatencyMillis {
			return hit{}, errBadLatency
		}
		*dst = ms
	}
	if !saw {
		return hit{}, errLacksLatency
	}
	return h, nil
}

// parseALB is p.parse returning the hit, as the reference does.
func parseALB(p *albParser, line []byte, route *[]byte) (hit, error) {
	var h hit
	err := p.parse(line, route, &h)
	return h, err
}

// albReference reads an ALB line with strings.Fields-like splitting,
// strconv and time.Parse.
func albReference(line string) (hit, error) {
	parts := strings.SplitN(line, " ", albFields+1)
	if len(parts) <= albFields {
		return hit{}, errALBShort
	}
	h := hit{init: -1}
	ts := parts[1]
	if !strings.HasSuffix(ts, "Z") || len(ts) < 20 || len(ts) > 20 && (ts[19] != '.' || strings.Trim(ts[20:len(ts)-1], "0123456789") != "") {
		return hit{}, errALBTime
	}
	tm, err := time.Parse("2006-01-02T15:04:05", ts[:19])
	if err != nil {
		return hit{}, errALBTime
	}
	h.ms = tm.UnixMilli()
	for _, v := range parts[5:8] {
		if v == "-1" {
			h.latency = -1
			continue
		}
		if v == "" || strings.ContainsAny(v, "+-eEinfINFxX_") || strings.HasPrefix(v, ".") || strings.HasSuffix(v, ".") {
			return hit{}, errALBLatency
		}
		s, err := strconv.ParseFloat(v, 64)
		if err != nil || s >= maxLatencyMillis {
			return hit{}, errALBLatency
		}
		if h.latency >= 0 {
			h.latency += s * 1000
		}
	}
	if h.latency >= maxLatencyMillis {
		return hit{}, errALBLatency
	}
	if parts[8] != "-" {
		code, err := strconv.Atoi(parts[8])
		if err != nil || len(parts[8]) != 3 || code < 100 || code > 599 {
			return hit{}, errALBStatus
		}
		h.status = code
	}
	rest := parts[albFields]
	if !strings.HasPrefix(rest, `"`) {
		return hit{}, errALBRequest
	}
	req, _, ok := strings.Cut(rest[1:], `"`)
	method, tail, ok2 := strings.Cut(req, " ")
	if !ok || !ok2 || method == "" {
		return hit{}, errALBRequest
	}
	url, _, _ := strings.Cut(tail, " ")
	if i := strings.Index(url, "://"); i >= 0 {
		rest := url[i+3:]
		if j := strings.Index(rest, "/"); j >= 0 {
			url = rest[j:]
		} else {
			url = "/"
		}
	}
	if j := strings.IndexAny(url, "?#"); j >= 0 {
		url = url[:j]
	}
	if strings.HasPrefix(url, "/") && method != "-" {
		h.route = []byte(method + " " + url)
	}
	return h, nil
}

// fullRoute is a hit's route with its method, if apart.
func fullRoute(h hit) string {
	if h.method != nil {
		return string(h.method) + " " + string(h.route)
	}
	return string(h.route)
}

func sameHit(a, b hit) bool {
	near := func(x, y float64) bool { return x == y || math.Abs(x-y) <= 1e-9*math.Max(math.Abs(x), math.Abs(y)) }
	return fullRoute(a) == fullRoute(b) && near(a.latency, b.latency) && a.status == b.status && a.ms == b.ms && near(a.init, b.init)
}

// agree fails unless the fast and the reference answers are the same hit,
// or both refuse the line.
func agree(t *testing.T, what string, got hit, gotErr error, want hit, wantErr error) {
	t.Helper()
	switch {
	case (gotErr == nil) != (wantErr == nil):
		t.Fatalf("%s: fast %+v, %v; reference %+v, %v", what, got, gotErr, want, wantErr)
	case gotErr == nil && !sameHit(got, want):
		t.Fatalf("%s: fast %+v; reference %+v", what, got, want)
	}
}

func FuzzGatewayLine(f *testing.F) {
	for _, l := range sourceLines(f, "apigateway-rest.log") {
		f.Add(l, false)
	}
	for _, l := range sourceLines(f, "apigateway-http.log") {
		f.Add(l, true)
	}
	f.Add(`{"path":"/a","ms":"1.5e2","code":"200","ts":"2026-12-04T15:01:05Z"}`, true)
	f.Add(`{"routeKey":"GET \u0041","responseLatency":[1],"status":null}`, false)
	f.Fuzz(func(t *testing.T, line string, remap bool) {
		var fields map[string]string
		if remap {
			fields = map[string]string{"route": "path", "latency": "ms", "status": "code", "time": "ts"}
		}
		g := newGatewayFormat(fields)
		var ref [gwCount]rawField
		var text []byte
		var want hit
		wantErr := g.reference([]byte(line), &ref)
		if wantErr == nil {
			want, wantErr = g.interpret(&ref)
		}
		got, err := g.parse([]byte(line), false, &text)
		agree(t, "plain", got, err, want, wantErr)
		if !json.Valid([]byte(`"` + string(escapeJSON(line)) + `"`)) {
			return
		}
		got, err = g.parse(escapeJSON(line), true, &text)
		agree(t, "escaped", got, err, want, wantErr)
		// Read in place, the line ends at its string's closing quote.
		esc := escapeJSON(line)
		var ev logEvent
		if end, ok := g.inline(append(esc, `"},{"id":"1"}]}`...), &ev); ok {
			if end != len(esc) {
				t.Fatalf("in place: ends at %d, want %d", end, len(esc))
			}
			agree(t, "in place", ev.h, ev.err, want, wantErr)
		}
		// With the shape of a documented line, then of this line itself,
		// the keys matched whole read as the keys read.
		for _, learn := range []string{sourceLines(t, "apigateway-http.log")[0], line} {
			var shape gwShape
			var ev logEvent
			g.inlineShaped(append(escapeJSON(learn), '"'), &ev, &shape)
			ev = logEvent{}
			if end, ok := g.inlineShaped(append(esc, `"}]}`...), &ev, &shape); ok {
				if end != len(esc) {
					t.Fatalf("shaped: ends at %d, want %d", end, len(esc))
				}
				agree(t, "shaped", ev.h, ev.err, want, wantErr)
			}
		}
	})
}

func FuzzReportLine(f *testing.F) {
	for _, m := range sourceLines(f, "lambda-report.json") {
		f.Add(m)
	}
	f.Add("REPORT RequestId: x\tDuration: 1e3 ms\t")
	f.Add(`{"time":"2026-12-04T15:01:06.012Z","type":"platform.report","record":{"requestId":"6d68","metrics":{"durationMs":2.49,"billedDurationMs":3,"memorySizeMB":128,"maxMemoryUsedMB":71,"initDurationMs":183.45},"status":"timeout"}}`)
	f.Add(`{"time":"t","type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":0,"billedDurationMs":1,"memorySizeMB":2,"maxMemoryUsedMB":3},"status":""}}`)
	f.Add(`{"type":"platform.report","record":{"metrics":{"durationMs":1,"durationMs":"2"}},"record":{}}`)
	f.Fuzz(func(t *testing.T, line string) {
		var want hit
		var wantErr error
		if strings.HasPrefix(line, "REPORT RequestId: ") {
			want, wantErr = reportTextReference(line)
		} else {
			want, wantErr = reportJSONReference([]byte(line))
		}
		var text []byte
		got, err := parseReport([]byte(line), false, &text)
		agree(t, "plain", got, err, want, wantErr)
		if wantErr != nil && !errors.Is(err, wantErr) && !(wantErr == errNotARequest || err == errNotARequest) {
			t.Fatalf("fast says %v, reference %v", err, wantErr)
		}
		got, err = parseReport(escapeJSON(line), true, &text)
		agree(t, "escaped", got, err, want, wantErr)
		// Read in place, the line ends at its string's closing quote.
		esc := escapeJSON(line)
		var ev logEvent
		if end, ok := reportInline(append(esc, `"},{"id":"1"}]}`...), &ev); ok {
			if end != len(esc) {
				t.Fatalf("in place: ends at %d, want %d", end, len(esc))
			}
			agree(t, "in place", ev.h, ev.err, want, wantErr)
		}
	})
}

func FuzzALBLine(f *testing.F) {
	for _, l := range sourceLines(f, "alb.log") {
		f.Add(l)
	}
	seeds := sourceLines(f, "alb.log")
	f.Fuzz(func(t *testing.T, line string) {
		want, wantErr := albReference(line)
		var p albParser
		var route []byte
		got, err := parseALB(&p, []byte(line), &route)
		agree(t, "alb", got, err, want, wantErr)
		// What the parser keeps of the last line (its hour, load balancer
		// and URL origin) must not change an answer: not the same line's,
		// nor a documented line's, which a mutation shares much with.
		got, err = parseALB(&p, []byte(line), &route)
		agree(t, "alb again", got, err, want, wantErr)
		for _, s := range seeds {
			parseALB(&p, []byte(s), &route)
			got, err = parseALB(&p, []byte(line), &route)
			agree(t, "alb after a documented line", got, err, want, wantErr)
		}
	})
}

// TestALBParserAfterOtherLines reads lines that share some of the last
// line's load balancer, time or URL origin, each after the one before:
// what the parser remembers must not change an answer.
func TestALBParserAfterOtherLines(t *testing.T) {
	const base = `https 2026-12-04T18:00:00.123456Z app/lb/50dc6c495c0c9188 198.51.100.1:2817 10.0.0.1:80 0.000 0.035 0.000 200 200 34 366 "GET https://www.example.com:443/orders/7?x=1 HTTP/1.1" "curl/8"`
	lines := []string{base}
	for _, r := range [][2]string{
		{"app/lb/50dc6c495c0c9188", "app/lb/50dc6c495c0c91889"}, // the last balancer, longer
		{"app/lb/50dc6c495c0c9188", "app/lb/50dc6c495c0c918"},   // shorter
		{"app/lb/50dc6c495c0c9188 ", "app/lb/50dc6c495c0c9188  "},
		{"app/lb/50dc6c495c0c9188 ", ""},                                  // a field short
		{"18:00:00.123456Z", "18:00:00.12345Z "},                          // the 28th byte a space, the time 26
		{"18:00:00.123456Z", "18:00:00.12 456Z"},                          // a space inside a 27-byte time
		{"18:00:00.123456Z", "18:00:00Z"},                                 // no fraction
		{"2026-12-04T18", "2026-12-04T19"},                                // another hour
		{"https ", "h2 "},                                                 // another type
		{"https ", "https2345 "},                                          // a type of eight bytes or more
		{"https://www.example.com:443/", "https://www.example.com:443?/"}, // the origin, then a query
		{"https://www.example.com:443/", "https://www.example.com:4430/"},
		{"https://www.example.com:443/", "https://www.example.com:44/"},
		{"https://www.example.com:443/", "https://www.example.com:443 /"},
		{"https://www.example.com:443/", "https://www.example.com:443"},
		{"https://www.example.com:443/", "https://www.example.com:443/"}, // the same
		{"https://www.example.com:443/", "http://www.example.com:443/"},
		{"https://www.example.com:443/", "xhttps://www.example.com:443/"},
		{"https://www.example.com:443/", "1://www.example.com:443/"},
		{"https://www.example.com:443/", "/"},
		{"/orders/7?x=1 HTTP/1.1\"", "/orders/7\""},
	} {
		lines = append(lines, strings.Replace(base, r[0], r[1], 1))
	}
	// Every line after every other.
	for _, a := range lines {
		for _, b := range lines {
			var p albParser
			var route []byte
			for _, l := range []string{a, b, a} {
				want, wantErr := albReference(l)
				got, err := parseALB(&p, []byte(l), &route)
				agree(t, l, got, err, want, wantErr)
			}
		}
	}
}

// The escaped reading of a message must see what decoding it would.
func TestUnescapeStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"plain", "tab\tquote\"back\\slash", "\u00e9\u2028", "\x01", "emoji 😀", "<&>"} {
		esc := escapeJSON(s)
		end, ok := simpleString(append(append([]byte{}, esc...), '"'))
		if !ok || end != len(esc) {
			if strings.ContainsFunc(s, func(r rune) bool { return r >= 0x80 }) {
				continue // raw UTF-8 is decoded by str instead
			}
			t.Fatalf("%q: simpleString = %d, %v", s, end, ok)
		}
		if got := string(unescapeString(nil, esc)); got != s {
			t.Errorf("unescape(%s) = %q, want %q", esc, got, s)
		}
	}
}
