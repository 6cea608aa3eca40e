package main

import (
	"strings"
	"testing"
)

// out is go test output of the kinds benchreport reads: ns/op, custom
// metrics, sub-benchmarks, and lines that are not results.
const out = `goos: linux
goarch: amd64
pkg: github.com/lambda-slackbot/slackbot/functions/internal/eventsapi
BenchmarkURLVerification-2          	  300000	      4210 ns/op	    2312 B/op	      31 allocs/op
BenchmarkURLVerificationMinimal-2   	 1000000	      1105 ns/op	     656 B/op	      12 allocs/op
    ingest_test.go:176: batch: 4400 records, 1048576 bytes of JSON
BenchmarkIngest-2   	     100	  11528491 ns/op	  90.95 MB/s	 3.82e+05 records/s	 1.520e+06 records/cpu-s	    1024 B/op	       3 allocs/op
BenchmarkReport24h/memory-2         	     100	  12000000 ns/op
BenchmarkReport24h/dynamodb-2       	      20	  61000000 ns/op
BenchmarkColdInit-2   	       3	 400000000 ns/op	 14.0 commands-init-ms/op	 1.40 commands-x-minimal	 12.0 events-init-ms/op	 1.20 events-x-minimal	 10.0 minimal-init-ms/op
PASS
ok  	github.com/lambda-slackbot/slackbot/functions/internal/eventsapi	3.1s
`

func TestTable(t *testing.T) {
	r := results{}
	r.parse(out)
	var b strings.Builder
	writeTable(&b, figures, r)
	table := b.String()
	for _, want := range []string{
		// value, target, baseline and verdict side by side
		"URL verification, signed, in process  4.21 µs",
		"≤ 20 µs",
		"1.1 µs (a handler that only decodes and answers)",
		"1.52 M records/CPU-s",
		"not measured (gzip and encoding/json)",
		"61 ms",
		"12 ms (the same from memory)",
		"12 ms (1.20×)", // events INIT against the minimal handler's 10 ms
		"14 ms (1.40×)",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	verdicts := map[string]string{}
	for _, f := range figures {
		verdicts[f.Name] = f.row(r).holds
	}
	for name, want := range map[string]string{
		"URL verification, signed, in process": "yes",
		"access-log ingest":                    "yes",
		"24 h report, DynamoDB stand-in":       "no", // 61 ms > 50 ms
		"30 d report, DynamoDB stand-in":       "?",  // not measured
		"events INIT, Lambda emulator":         "yes",
		"commands INIT, Lambda emulator":       "yes",
		"one signed answer, whole process":     "?",
	} {
		if verdicts[name] != want {
			t.Errorf("%s holds = %q, want %q", name, verdicts[name], want)
		}
	}
}

func TestTimesTargetNeedsItsBaseline(t *testing.T) {
	r := results{}
	r.parse("BenchmarkColdInit-2  1  1 ns/op  16.0 events-init-ms/op  10.0 minimal-init-ms/op\n")
	f := figures[4] // events INIT
	if got := f.row(r); got.holds != "no" || !strings.Contains(got.value, "1.60×") {
		t.Errorf("16 ms against 10 ms, at most 1.5×: %+v, want 1.60× and no", got)
	}
	delete(r["BenchmarkColdInit"], "minimal-init-ms/op")
	if got := f.row(r); got.holds != "?" {
		t.Errorf("without its baseline: holds %q, want ?", got.holds)
	}
}

func TestSubBenchmarksWin(t *testing.T) {
	r := results{}
	r.parse("BenchmarkColdInit/minimal-2  5  8000000 ns/op\nBenchmarkColdInit/events-2  5  9000000 ns/op\n")
	if got := figures[4].row(r); got.value != "9 ms (1.12×)" || got.holds != "yes" {
		t.Errorf("sub-benchmarks: %+v", got)
	}
}

func TestBenchRegexp(t *testing.T) {
	if got, want := benchRegexp(figures, "./functions/e2e"), "^(BenchmarkColdInit|BenchmarkOneAnswer)$"; got != want {
		t.Errorf("e2e: %s, want %s", got, want)
	}
	if got, want := benchRegexp(figures, "./functions/internal/accesslog"), "^(BenchmarkIngest|BenchmarkIngestStdlib|BenchmarkIngestGateway|BenchmarkIngestReportText|BenchmarkIngestReportJSON|BenchmarkIngestLambdaLog|BenchmarkIngestALB|BenchmarkIngestALBMemory)$"; got != want {
		t.Errorf("accesslog: %s, want %s", got, want)
	}
}

// TestFigureWithoutBaseline: the chart's figures have fixed targets and no
// baseline; they hold or not on their own value.
func TestFigureWithoutBaseline(t *testing.T) {
	r := results{}
	r.parse("BenchmarkChart24h-2  40  26000000 ns/op  43430 png-bytes\n")
	var time, size row
	for _, f := range figures {
		switch f.Name {
		case "24 h chart, 3 routes: time":
			time = f.row(r)
		case "24 h chart, 3 routes: PNG":
			size = f.row(r)
		}
	}
	if time.value != "26 ms" || time.baseline != "—" || time.holds != "yes" {
		t.Errorf("chart time row %+v, want 26 ms, no baseline, holds", time)
	}
	if size.value != "43.4 KB" || size.holds != "yes" {
		t.Errorf("chart size row %+v, want 43.4 KB, holds", size)
	}
	r = results{}
	r.parse("BenchmarkChart24h-2  40  61000000 ns/op  250000 png-bytes\n")
	for _, f := range figures {
		if f.Pkg == "./functions/internal/chart" {
			if got := f.row(r); got.holds != "no" {
				t.Errorf("%s at 61 ms and 250 KB: holds %q, want no", f.Name, got.holds)
			}
		}
	}
}

func TestSourceFiguresShowBothBaselines(t *testing.T) {
	r := results{}
	r.parse(`BenchmarkIngestALB/ingest-2  50  25000000 ns/op  0.90e+06 records/cpu-s
BenchmarkIngestALB/stdlib-2  15  72000000 ns/op  0.34e+06 records/cpu-s
BenchmarkIngestALB/gunzip-2  68  18000000 ns/op  1.20e+06 records/cpu-s
`)
	var alb figure
	for _, f := range figures {
		if f.Name == "ALB ingest, from the gzip stream" {
			alb = f
		}
	}
	got := alb.row(r)
	// 0.90 against 0.8 × 1.20 = 0.96: short of the target.
	if got.holds != "no" || !strings.Contains(got.value, "0.75×") || got.target != "≥ 0.8× baseline" ||
		!strings.Contains(got.baseline, "1.2 M records/CPU-s (klauspost gunzip alone); 0.34 (compress/gzip") {
		t.Errorf("row %+v", got)
	}
	r["BenchmarkIngestALB/ingest"]["records/cpu-s"] = []float64{1.0e6}
	if got := alb.row(r); got.holds != "yes" {
		t.Errorf("1.0 against 0.96: %+v, want it to hold", got)
	}
}

// Each figure is the median of its runs: one stray run, fast or slow,
// moves it not at all.
func TestFiguresAreMedians(t *testing.T) {
	r := results{}
	r.parse(`BenchmarkIngestGateway/ingest-2  500  2000000 ns/op  2.2e+06 records/cpu-s
BenchmarkIngestGateway/gunzip-2  900  1000000 ns/op  4.5e+06 records/cpu-s
BenchmarkIngestGateway/ingest-2  500  2000000 ns/op  1.5e+06 records/cpu-s
BenchmarkIngestGateway/gunzip-2  900  1000000 ns/op  4.4e+06 records/cpu-s
BenchmarkIngestGateway/ingest-2  500  2000000 ns/op  2.1e+06 records/cpu-s
BenchmarkIngestGateway/gunzip-2  900  1000000 ns/op  9.9e+06 records/cpu-s
`)
	v, ok := r.find([]ref{{"BenchmarkIngestGateway/ingest", "records/cpu-s", 1e-6}})
	if g, _ := r.find([]ref{{"BenchmarkIngestGateway/gunzip", "records/cpu-s", 1e-6}}); !ok || v != 2.1 || g != 4.5 {
		t.Errorf("medians %v and %v, want 2.1 and 4.5", v, g)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median of four = %v, want 2.5", m)
	}
}
