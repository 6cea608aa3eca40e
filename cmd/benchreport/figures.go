package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// ref is one value of a benchmark's output, and the factor that converts it
// to its figure's unit.
type ref struct {
	Bench string // e.g. "BenchmarkReport24h/dynamodb"
	Unit  string // "ns/op", or a b.ReportMetric unit
	Scale float64
}

// figure is one headline number. Value and Baseline list the refs to try in
// order, so a benchmark can move to sub-benchmarks without breaking the
// report.
type figure struct {
	Name     string
	Pkg      string
	Unit     string // how the value is shown
	Value    []ref
	Target   target
	Baseline []ref
	// BaselineName says what the baseline is.
	BaselineName string
	// Baseline2 is a second baseline of the same run, shown beside the
	// first: decompression alone beside the stdlib's obvious code.
	Baseline2     []ref
	Baseline2Name string
}

// target is the figure's promise: at most Max, at least Min, at most
// Times the baseline, or at least AtLeast times the baseline. One is set.
type target struct {
	Max, Min, Times, AtLeast float64
}

const (
	nsToMicros = 1e-3
	nsToMillis = 1e-6
)

// ingestFigure is a latency source's ingest: bench's "ingest" sub-benchmark
// in millions a CPU-second, at least min, beside its "stdlib" sub-benchmark
// (stdlib says what that is) and its "gunzip" one.
func ingestFigure(name, unit, bench string, min float64, stdlib string) figure {
	sub := func(name string) []ref { return []ref{{bench + "/" + name, "records/cpu-s", 1e-6}} }
	return figure{
		Name: name, Pkg: "./functions/internal/accesslog", Unit: unit,
		Value:    sub("ingest"),
		Target:   target{Min: min},
		Baseline: sub("stdlib"), BaselineName: stdlib,
		Baseline2: sub("gunzip"), Baseline2Name: "base64 and gunzip alone",
	}
}

// figures are the headline numbers, with the targets the code promises.
var figures = []figure{
	{
		Name: "URL verification, signed, in process", Pkg: "./functions/internal/eventsapi", Unit: "µs",
		Value:        []ref{{"BenchmarkURLVerification", "ns/op", nsToMicros}},
		Target:       target{Max: 20},
		Baseline:     []ref{{"BenchmarkURLVerificationMinimal", "ns/op", nsToMicros}},
		BaselineName: "a handler that only decodes and answers",
	},
	{
		Name: "access-log ingest", Pkg: "./functions/internal/accesslog", Unit: "M records/CPU-s",
		Value:        []ref{{"BenchmarkIngest", "records/cpu-s", 1e-6}},
		Target:       target{Min: 1},
		Baseline:     []ref{{"BenchmarkIngestStdlib", "records/cpu-s", 1e-6}},
		BaselineName: "gzip and encoding/json",
	},
	{
		Name: "24 h report, DynamoDB stand-in", Pkg: "./functions/internal/latency", Unit: "ms",
		Value:        []ref{{"BenchmarkReport24h/dynamodb", "ns/op", nsToMillis}},
		Target:       target{Max: 50},
		Baseline:     []ref{{"BenchmarkReport24h/memory", "ns/op", nsToMillis}},
		BaselineName: "the same from memory",
	},
	{
		Name: "30 d report, DynamoDB stand-in", Pkg: "./functions/internal/latency", Unit: "ms",
		Value:        []ref{{"BenchmarkReport30d/dynamodb", "ns/op", nsToMillis}},
		Target:       target{Max: 300},
		Baseline:     []ref{{"BenchmarkReport30d/memory", "ns/op", nsToMillis}},
		BaselineName: "the same from memory",
	},
	{
		Name: "events INIT, Lambda emulator", Pkg: "./functions/e2e", Unit: "ms",
		Value:        []ref{{"BenchmarkColdInit/events", "ns/op", nsToMillis}, {"BenchmarkColdInit", "events-init-ms/op", 1}},
		Target:       target{Times: 1.5},
		Baseline:     []ref{{"BenchmarkColdInit/minimal", "ns/op", nsToMillis}, {"BenchmarkColdInit", "minimal-init-ms/op", 1}},
		BaselineName: "a minimal Go handler",
	},
	{
		Name: "commands INIT, Lambda emulator", Pkg: "./functions/e2e", Unit: "ms",
		Value:        []ref{{"BenchmarkColdInit/commands", "ns/op", nsToMillis}, {"BenchmarkColdInit", "commands-init-ms/op", 1}},
		Target:       target{Times: 1.5},
		Baseline:     []ref{{"BenchmarkColdInit/minimal", "ns/op", nsToMillis}, {"BenchmarkColdInit", "minimal-init-ms/op", 1}},
		BaselineName: "a minimal Go handler",
	},
	{
		Name: "one signed answer, whole process", Pkg: "./functions/e2e", Unit: "ms",
		Value:        []ref{{"BenchmarkOneAnswer/events", "ns/op", nsToMillis}, {"BenchmarkOneAnswer", "events-ms/op", 1}},
		Target:       target{Times: 2},
		Baseline:     []ref{{"BenchmarkOneAnswer/hello", "ns/op", nsToMillis}, {"BenchmarkOneAnswer", "hello-ms/op", 1}},
		BaselineName: "a hello-world Go binary",
	},
	{
		Name: "24 h chart, 3 routes: time", Pkg: "./functions/internal/chart", Unit: "ms",
		Value:  []ref{{"BenchmarkChart24h", "ns/op", nsToMillis}},
		Target: target{Max: 50},
	},
	{
		Name: "24 h chart, 3 routes: PNG", Pkg: "./functions/internal/chart", Unit: "KB",
		Value:  []ref{{"BenchmarkChart24h", "png-bytes", 1e-3}},
		Target: target{Max: 200},
	},
	ingestFigure("API Gateway source ingest", "M records/CPU-s", "BenchmarkIngestGateway", 2, "gzip and encoding/json"),
	ingestFigure("Lambda REPORT text ingest", "M records/CPU-s", "BenchmarkIngestReportText", 2, "gzip, encoding/json and strings.Split"),
	ingestFigure("Lambda platform.report JSON ingest", "M records/CPU-s", "BenchmarkIngestReportJSON", 2, "gzip and encoding/json"),
	// Four messages an invocation (START, output, END, REPORT): 0.5 M
	// invocations are 2 M lines.
	ingestFigure("Lambda log, 4 lines an invocation", "M invocations/CPU-s", "BenchmarkIngestLambdaLog", 0.5, "gzip, encoding/json and strings.Split"),
	{
		Name: "ALB ingest, from the gzip stream", Pkg: "./functions/internal/accesslog", Unit: "M records/CPU-s",
		Value:        []ref{{"BenchmarkIngestALB/ingest", "records/cpu-s", 1e-6}},
		Target:       target{AtLeast: 0.8},
		Baseline:     []ref{{"BenchmarkIngestALB/gunzip", "records/cpu-s", 1e-6}},
		BaselineName: "klauspost gunzip alone",
		Baseline2:    []ref{{"BenchmarkIngestALB/stdlib", "records/cpu-s", 1e-6}}, Baseline2Name: "compress/gzip, bufio.Scanner and strings.Fields",
	},
	{
		Name: "ALB ingest heap, 1 M-line object", Pkg: "./functions/internal/accesslog", Unit: "MiB",
		Value:        []ref{{"BenchmarkIngestALBMemory/1000000", "peak-heap-MiB", 1}},
		Target:       target{Times: 1.5},
		Baseline:     []ref{{"BenchmarkIngestALBMemory/10000", "peak-heap-MiB", 1}},
		BaselineName: "a 10 k-line object",
	},
}

// row is a figure as the table shows it.
type row struct {
	figure, value, target, baseline, holds string
}

func (f figure) row(r results) row {
	out := row{figure: f.Name, value: "not measured", holds: "?"}
	v, ok := r.find(f.Value)
	base, baseOK := r.find(f.Baseline)
	switch {
	case len(f.Baseline) == 0:
		out.baseline = "—"
	case baseOK:
		out.baseline = num(base) + " " + f.Unit + " (" + f.BaselineName + ")"
	default:
		out.baseline = "not measured (" + f.BaselineName + ")"
	}
	if len(f.Baseline2) > 0 {
		if b2, ok := r.find(f.Baseline2); ok {
			out.baseline += "; " + num(b2) + " (" + f.Baseline2Name + ")"
		} else {
			out.baseline += "; not measured (" + f.Baseline2Name + ")"
		}
	}
	switch {
	case f.Target.Max > 0:
		out.target = "≤ " + num(f.Target.Max) + " " + f.Unit
	case f.Target.Min > 0:
		out.target = "≥ " + num(f.Target.Min) + " " + f.Unit
	case f.Target.AtLeast > 0:
		out.target = "≥ " + num(f.Target.AtLeast) + "× baseline"
	default:
		out.target = "≤ " + num(f.Target.Times) + "× baseline"
	}
	if !ok {
		return out
	}
	out.value = num(v) + " " + f.Unit
	var holds bool
	switch {
	case f.Target.Max > 0:
		holds = v <= f.Target.Max
	case f.Target.Min > 0:
		holds = v >= f.Target.Min
	case f.Target.AtLeast > 0:
		if !baseOK || base <= 0 {
			return out
		}
		holds = v >= f.Target.AtLeast*base
		out.value += fmt.Sprintf(" (%.2f×)", v/base)
	default:
		if !baseOK || base <= 0 {
			return out
		}
		holds = v <= f.Target.Times*base
		out.value += fmt.Sprintf(" (%.2f×)", v/base)
	}
	out.holds = "no"
	if holds {
		out.holds = "yes"
	}
	return out
}

// num shows three significant digits: 12.3, 0.812, 1530.
func num(v float64) string {
	if v >= 1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func writeTable(w io.Writer, figs []figure, r results) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\ttarget\tbaseline, same run\tholds")
	for _, f := range figs {
		x := f.row(r)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.figure, x.value, x.target, x.baseline, x.holds)
	}
	tw.Flush()
}
