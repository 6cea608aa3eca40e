package accesslog

import (
	"bufio"
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/klauspost/compress/gzip"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// The source benchmarks measure what the ingest does with a delivery, from
// the Lambda event's bytes (base64 of gzip, or the S3 object's gzip
// stream) to per-route-minute sketches, as BenchmarkIngest does for the
// bot's own log: the store's writes are left out (nopStore), being the same
// whatever the format. Each reports records per CPU-second beside a
// baseline measured the same way: the standard library's obvious code, and
// decompression alone.

// nopStore admits every route and keeps nothing.
type nopStore struct{ sketchstore.Store }

func (nopStore) Merge(context.Context, string, map[sketchstore.Key]*sketchstore.Sketches) error {
	return nil
}
func (nopStore) Admit(_ context.Context, _ string, routes []string, _ int) ([]string, error) {
	return routes, nil
}
func (nopStore) NoteNoLatency(context.Context, string, int64) error { return nil }

var benchRoutes = []string{"GET /pets", "GET /pets/{petId}", "POST /pets", "DELETE /pets/{petId}", "GET /orders", "POST /orders", "GET /orders/{orderId}", "GET /health"}

// gatewayMessages are n access-log lines of a REST stage in the format the
// README tells a team to set, with request ids random as API Gateway's are
// (which matters to how well a batch compresses, so to gunzip's share).
func gatewayMessages(n int, start time.Time, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 2))
	msgs := make([]string, n)
	for i := range msgs {
		route := benchRoutes[r.IntN(len(benchRoutes))]
		method, path, _ := strings.Cut(route, " ")
		at := start.Add(time.Duration(i) * 20 * time.Millisecond)
		msgs[i] = fmt.Sprintf(`{"requestId":"%s","requestTimeEpoch":"%d","httpMethod":"%s","resourcePath":"%s","status":"200","responseLatency":"%d"}`,
			randomUUID(r), at.UnixMilli(), method, path, int(lognormal(r, 35, 0.6))+3)
	}
	return msgs
}

// wideGatewayMessages are lines of a wider format of a team's own: the
// fields of AWS's documented example, the latencies and both times.
func wideGatewayMessages(n int, start time.Time, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 2))
	msgs := make([]string, n)
	for i := range msgs {
		route := benchRoutes[r.IntN(len(benchRoutes))]
		method, path, _ := strings.Cut(route, " ")
		at := start.Add(time.Duration(i) * 20 * time.Millisecond)
		integ := int(lognormal(r, 35, 0.6))
		msgs[i] = fmt.Sprintf(`{"requestId":"%s","ip":"198.51.100.%d","requestTime":"%s","requestTimeEpoch":"%d","httpMethod":"%s","resourcePath":"%s","status":"200","protocol":"HTTP/1.1","responseLength":"%d","responseLatency":"%d","integrationLatency":"%d"}`,
			randomUUID(r), r.IntN(255), at.Format("02/Jan/2006:15:04:05 -0700"), at.UnixMilli(), method, path, 40+r.IntN(400), integ+3, integ)
	}
	return msgs
}

// randomUUID is a version 4 UUID.
func randomUUID(r *rand.Rand) string {
	u, v := r.Uint64(), r.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", u>>32, u>>16&0xffff, u&0xfff, 0x8000|v>>48&0x3fff, v&0xffffffffffff)
}

func reportTextLine(r *rand.Rand, i int) string {
	d := lognormal(r, 35, 0.6)
	return fmt.Sprintf("REPORT RequestId: %08x-e9a3-11e6-939a-%012x\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: 128 MB\tMax Memory Used: %d MB\t\n", i, i*7919, d, int(d)+1, 60+r.IntN(20))
}

func reportJSONLine(r *rand.Rand, i int, at time.Time) string {
	d := lognormal(r, 35, 0.6)
	return fmt.Sprintf(`{"time":"%s","type":"platform.report","record":{"requestId":"%08x-e9a3-11e6-939a-%012x","metrics":{"durationMs":%.3f,"billedDurationMs":%d,"memorySizeMB":128,"maxMemoryUsedMB":%d},"status":"success"}}`,
		at.Format("2006-01-02T15:04:05.000Z"), i, i*7919, d, int(d)+1, 60+r.IntN(20))
}

// lambdaMessages are n records of a function's log: kind "text" or "json"
// is only REPORT lines; "log" is each invocation as Lambda logs it, START,
// a line of the function's own, END and REPORT, with n invocations.
func lambdaMessages(kind string, n int, start time.Time, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 3))
	var msgs []string
	for i := range n {
		at := start.Add(time.Duration(i) * 20 * time.Millisecond)
		switch kind {
		case "text":
			msgs = append(msgs, reportTextLine(r, i))
		case "json":
			msgs = append(msgs, reportJSONLine(r, i, at))
		default:
			id := fmt.Sprintf("%08x-e9a3-11e6-939a-%012x", i, i*7919)
			msgs = append(msgs,
				"START RequestId: "+id+" Version: $LATEST\n",
				at.Format("2006-01-02T15:04:05.000Z")+"\t"+id+"\tINFO\tprocessed order "+strconv.Itoa(i)+"\n",
				"END RequestId: "+id+"\n",
				reportTextLine(r, i))
		}
	}
	return msgs
}

var benchStart = time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)

// benchSources are the benchmarks' sources, with room for their routes.
func benchIngester() *Ingester {
	in := NewIngester(nopStore{}, nil)
	srcs, _ := contract.ParseLatencySources(`[{"name":"orders","kind":"apigateway","logGroup":"/aws/apigateway/orders-prod"},` +
		`{"name":"workers","kind":"lambda","functions":["billing"]},` +
		`{"name":"web","kind":"alb","bucket":"b","routes":["/files/{name}"]}]`)
	in.SetSources(ownGroup, srcs)
	return in
}

// benchBatch is a subscription delivery of about 1 MiB decompressed, as
// the Lambda event's data, with the number of records it holds.
func benchBatch(b *testing.B, group string, gen func(n int) []string, perRecord int) ([]byte, []byte, int) {
	n := 1
	for {
		plain := groupBatch(b, group, gen(n), benchStart)
		if len(plain) >= 1<<20 {
			b.Logf("batch: %d records, %d bytes of JSON (%d bytes a message), %d bytes base64 of gzip", n, len(plain), len(plain)/(n*perRecord), len(compress(b, plain)))
			return plain, compress(b, plain), n
		}
		n = max(n*2, n*(1<<20)/len(plain)+1)
	}
}

func reportRecords(b *testing.B, n int, start time.Duration) {
	elapsed := b.Elapsed()
	cpu := testenv.CPUTime() - start
	b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(n)*float64(b.N)/cpu.Seconds(), "records/cpu-s")
}

// benchSource runs the ingest of one source's delivery, and the stdlib
// baseline and decompression alone as sub-benchmarks.
func benchSource(b *testing.B, group string, gen func(n int) []string, perRecord int, stdlib func(events.CloudwatchLogsRawData) int) {
	plain, data, n := benchBatch(b, group, gen, perRecord)
	want := n
	b.Run("ingest", func(b *testing.B) {
		in := benchIngester()
		ctx := context.Background()
		b.SetBytes(int64(len(plain)))
		start := testenv.CPUTime()
		for b.Loop() {
			stats, err := in.Ingest(ctx, data)
			if err != nil || stats.Added < want {
				b.Fatalf("%+v, %v; want %d added", stats, err, want)
			}
		}
		reportRecords(b, n, start)
	})
	b.Run("stdlib", func(b *testing.B) {
		raw := events.CloudwatchLogsRawData{Data: string(data)}
		b.SetBytes(int64(len(plain)))
		start := testenv.CPUTime()
		for b.Loop() {
			if got := stdlib(raw); got < want {
				b.Fatalf("stdlib added %d, want %d", got, want)
			}
		}
		reportRecords(b, n, start)
	})
	b.Run("gunzip", func(b *testing.B) {
		var d decoder
		b.SetBytes(int64(len(plain)))
		start := testenv.CPUTime()
		for b.Loop() {
			if _, err := d.decompress(data); err != nil {
				b.Fatal(err)
			}
		}
		reportRecords(b, n, start)
	})
}

// stdlibParts aggregates as the stdlib baselines do.
type stdlibParts map[sketchstore.Key]*sketchstore.Sketches

func (p stdlibParts) add(route string, ms int64, latency float64, status int) {
	k := sketchstore.Key{Source: "x", Route: route, Minute: floorMinute(ms)}
	s := p[k]
	if s == nil {
		s = sketchstore.NewSketches()
		p[k] = s
	}
	if latency >= 0 {
		_ = s.Response.Add(latency)
	}
	s.CountStatus(status)
}

func BenchmarkIngestGateway(b *testing.B) { benchGateway(b, gatewayMessages) }

// BenchmarkIngestGatewayWide is BenchmarkIngestGateway with lines half as
// long again: not a figure of make bench, a measure of what width costs.
func BenchmarkIngestGatewayWide(b *testing.B) { benchGateway(b, wideGatewayMessages) }

func benchGateway(b *testing.B, gen func(n int, start time.Time, seed uint64) []string) {
	benchSource(b, "/aws/apigateway/orders-prod", func(n int) []string { return gen(n, benchStart, 42) }, 1,
		func(raw events.CloudwatchLogsRawData) int {
			d, err := raw.Parse()
			if err != nil {
				return 0
			}
			parts, added := stdlibParts{}, 0
			for _, e := range d.LogEvents {
				var l struct {
					RequestTimeEpoch string `json:"requestTimeEpoch"`
					HTTPMethod       string `json:"httpMethod"`
					ResourcePath     string `json:"resourcePath"`
					Status           string `json:"status"`
					ResponseLatency  string `json:"responseLatency"`
				}
				if json.Unmarshal([]byte(e.Message), &l) != nil {
					continue
				}
				ms, _ := strconv.ParseInt(l.RequestTimeEpoch, 10, 64)
				v, err := strconv.ParseFloat(l.ResponseLatency, 64)
				if err != nil {
					v = -1
				}
				status, _ := strconv.Atoi(l.Status)
				parts.add(l.HTTPMethod+" "+l.ResourcePath, ms, v, status)
				added++
			}
			return added
		})
}

// stdlibReport reads a REPORT line with strings.Fields-like splitting.
func stdlibReport(parts stdlibParts, fn, msg string, ms int64) bool {
	if !strings.HasPrefix(msg, "REPORT ") {
		return false
	}
	for _, f := range strings.Split(msg, "\t") {
		if v, ok := strings.CutPrefix(f, "Duration: "); ok {
			d, err := strconv.ParseFloat(strings.TrimSuffix(v, " ms"), 64)
			if err == nil {
				parts.add(fn, ms, d, 200)
				return true
			}
		}
	}
	return false
}

func benchLambda(b *testing.B, kind string, perRecord int) {
	benchSource(b, "/aws/lambda/billing", func(n int) []string { return lambdaMessages(kind, n, benchStart, 42) }, perRecord,
		func(raw events.CloudwatchLogsRawData) int {
			d, err := raw.Parse()
			if err != nil {
				return 0
			}
			parts, added := stdlibParts{}, 0
			for _, e := range d.LogEvents {
				if strings.HasPrefix(e.Message, "{") {
					var r struct {
						Type   string `json:"type"`
						Record struct {
							Metrics struct {
								DurationMs float64 `json:"durationMs"`
							} `json:"metrics"`
						} `json:"record"`
					}
					if json.Unmarshal([]byte(e.Message), &r) == nil && r.Type == "platform.report" {
						parts.add("billing", e.Timestamp, r.Record.Metrics.DurationMs, 200)
						added++
					}
					continue
				}
				if stdlibReport(parts, "billing", e.Message, e.Timestamp) {
					added++
				}
			}
			return added
		})
}

func BenchmarkIngestReportText(b *testing.B) { benchLambda(b, "text", 1) }
func BenchmarkIngestReportJSON(b *testing.B) { benchLambda(b, "json", 1) }

// BenchmarkIngestLambdaLog counts invocations: four messages each.
func BenchmarkIngestLambdaLog(b *testing.B) { benchLambda(b, "log", 4) }

// BenchmarkSourceCount is each subscription format's ingest after base64
// and gunzip: the scan, the parser and the sketches, which is what this
// package's code decides. Not a figure of make bench: decompression is most
// of an ingest, so this measures a change to the rest more sharply.
func BenchmarkSourceCount(b *testing.B) {
	gateway, lambda := "/aws/apigateway/orders-prod", "/aws/lambda/billing"
	for _, c := range []struct {
		name, group string
		gen         func(n int) []string
		perRecord   int
	}{
		{"gateway", gateway, func(n int) []string { return gatewayMessages(n, benchStart, 42) }, 1},
		{"gateway-wide", gateway, func(n int) []string { return wideGatewayMessages(n, benchStart, 42) }, 1},
		{"report-text", lambda, func(n int) []string { return lambdaMessages("text", n, benchStart, 42) }, 1},
		{"report-json", lambda, func(n int) []string { return lambdaMessages("json", n, benchStart, 42) }, 1},
		{"lambda-log", lambda, func(n int) []string { return lambdaMessages("log", n, benchStart, 42) }, 4},
	} {
		b.Run(c.name, func(b *testing.B) {
			plain, _, n := benchBatch(b, c.group, c.gen, c.perRecord)
			in := benchIngester()
			w := in.work()
			ctx := context.Background()
			start := testenv.CPUTime()
			for b.Loop() {
				if stats, err := in.ingestJSON(ctx, w, plain); err != nil || stats.Events != n*c.perRecord {
					b.Fatalf("%+v, %v; want %d events", stats, err, n*c.perRecord)
				}
			}
			reportRecords(b, n, start)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*b.N), "ns/record")
		})
	}
}

// albBenchLine is an ALB line of about 640 bytes, as real ones are: the
// documentation's https example with a browser's user agent.
func albBenchLine(r *rand.Rand, i int, at time.Time) string {
	paths := []string{"/", "/files/q3-report.pdf", "/orders/" + strconv.Itoa(10000+r.IntN(90000)), "/api/v1/items", "/static/app.js", "/users/3f2b8c1e-9d4a-4b7c-8e6f-1a2b3c4d5e6f/avatar"}
	tp := lognormal(r, 0.035, 0.6)
	return fmt.Sprintf(`https %s app/my-loadbalancer/50dc6c495c0c9188 198.51.100.%d:%d 10.0.0.%d:80 0.000 %.3f 0.000 200 200 %d %d "GET https://www.example.com:443%s?session=%x HTTP/2.0" "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-%08x-%024x" "www.example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 %s "forward" "-" "-" "10.0.0.%d:80" "200" "-" "-" TID_%032x`,
		at.Format("2006-01-02T15:04:05.000000Z"), r.IntN(255), 1024+r.IntN(60000), r.IntN(8), tp, 200+r.IntN(800), 500+r.IntN(20000),
		paths[r.IntN(len(paths))], r.Uint64(), at.Unix(), r.Uint64(), at.Add(-40*time.Millisecond).Format("2006-01-02T15:04:05.000000Z"), r.IntN(8), r.Uint64())
}

// albStream writes an ALB log of n lines, gzip-compressed, to w, making
// each line as it goes, so the writer holds no more for a million lines
// than for ten thousand.
func albStream(w io.Writer, n int, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 5))
	level := gzip.DefaultCompression
	if n > 100_000 {
		level = gzip.BestSpeed // the benchmark of heap need not wait for better
	}
	zw, _ := gzip.NewWriterLevel(w, level)
	bw := bufio.NewWriterSize(zw, 64<<10)
	for i := range n {
		bw.WriteString(albBenchLine(r, i, benchStart.Add(time.Duration(i)*time.Millisecond)))
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return zw.Close()
}

func BenchmarkIngestALB(b *testing.B) {
	const n = 20000
	var obj bytes.Buffer
	if err := albStream(&obj, n, 42); err != nil {
		b.Fatal(err)
	}
	plainLen := 0
	if zr, err := gzip.NewReader(bytes.NewReader(obj.Bytes())); err == nil {
		m, _ := io.Copy(io.Discard, zr)
		plainLen = int(m)
	}
	b.Logf("object: %d lines, %d bytes (%d a line), %d bytes of gzip", n, plainLen, plainLen/n, obj.Len())
	b.Run("ingest", func(b *testing.B) {
		in := benchIngester()
		ctx := context.Background()
		b.SetBytes(int64(plainLen))
		start := testenv.CPUTime()
		for b.Loop() {
			stats, err := in.IngestALB(ctx, "web", bytes.NewReader(obj.Bytes()), "b/o@1")
			if err != nil || stats.Added != n {
				b.Fatalf("%+v, %v", stats, err)
			}
		}
		reportRecords(b, n, start)
	})
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(int64(plainLen))
		start := testenv.CPUTime()
		for b.Loop() {
			zr, err := stdgzip.NewReader(bytes.NewReader(obj.Bytes()))
			if err != nil {
				b.Fatal(err)
			}
			parts, added := stdlibParts{}, 0
			sc := bufio.NewScanner(zr)
			sc.Buffer(make([]byte, 64<<10), 64<<10)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) < 14 {
					continue
				}
				at, err := time.Parse(time.RFC3339Nano, f[1])
				if err != nil {
					continue
				}
				var lat float64
				for _, v := range f[5:8] {
					s, _ := strconv.ParseFloat(v, 64)
					lat += s * 1000
				}
				status, _ := strconv.Atoi(f[8])
				path := f[13]
				if i := strings.Index(path, "://"); i >= 0 {
					path = path[i+3:]
					path = path[strings.IndexByte(path, '/'):]
				}
				path, _, _ = strings.Cut(path, "?")
				parts.add(strings.TrimPrefix(f[12], `"`)+" "+path, at.UnixMilli(), lat, status)
				added++
			}
			if added != n {
				b.Fatalf("stdlib added %d of %d", added, n)
			}
		}
		reportRecords(b, n, start)
	})
	for _, c := range []struct {
		name string
		open func(io.Reader) (io.Reader, error)
	}{
		{"gunzip", func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
		{"gunzip-stdlib", func(r io.Reader) (io.Reader, error) { return stdgzip.NewReader(r) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(plainLen))
			start := testenv.CPUTime()
			for b.Loop() {
				zr, err := c.open(bytes.NewReader(obj.Bytes()))
				if err != nil {
					b.Fatal(err)
				}
				// io.Copy takes the fastest way the reader offers
				// (klauspost's WriteTo).
				if _, err := io.Copy(io.Discard, zr); err != nil {
					b.Fatal(err)
				}
			}
			reportRecords(b, n, start)
		})
	}
}

// BenchmarkIngestALBMemory reads objects of 10 thousand and 1 million
// lines (the larger about 640 MB decompressed) from a stream made as it is
// read, and reports the most heap in use meanwhile: it stays flat.
func BenchmarkIngestALBMemory(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			in := benchIngester()
			ctx := context.Background()
			var peak atomic.Uint64
			for b.Loop() {
				runtime.GC()
				pr, pw := io.Pipe()
				go func() { pw.CloseWithError(albStream(pw, n, 7)) }()
				done := make(chan struct{})
				go func() {
					var ms runtime.MemStats
					t := time.NewTicker(2 * time.Millisecond)
					defer t.Stop()
					for {
						runtime.ReadMemStats(&ms)
						if ms.HeapInuse > peak.Load() {
							peak.Store(ms.HeapInuse)
						}
						select {
						case <-done:
							return
						case <-t.C:
						}
					}
				}()
				stats, err := in.IngestALB(ctx, "web", pr, "b/o@1")
				close(done)
				if err != nil || stats.Added != n {
					b.Fatalf("%+v, %v", stats, err)
				}
			}
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
		})
	}
}

// BenchmarkALBStages splits an ALB line's cost: parsing it, and counting it
// under its route.
func BenchmarkALBStages(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	var lines [][]byte
	for i := range 1024 {
		lines = append(lines, []byte(albBenchLine(r, i, benchStart.Add(time.Duration(i)*time.Millisecond))))
	}
	b.Run("parse", func(b *testing.B) {
		var p albParser
		var route []byte
		var h hit
		i := 0
		for b.Loop() {
			if err := p.parse(lines[i&1023], &route, &h); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parse+add", func(b *testing.B) {
		in := benchIngester()
		w := in.work()
		var stats IngestStats
		a := in.newAdder(context.Background(), w, in.sources["web"], &stats)
		var h hit
		i := 0
		for b.Loop() {
			if err := w.alb.parse(lines[i&1023], &w.route, &h); err != nil {
				b.Fatal(err)
			}
			a.add(h)
			i++
		}
	})
}
