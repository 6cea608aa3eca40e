// Command benchreport runs the headline benchmarks and prints each figure
// beside its target and beside a baseline measured in the same run, so a
// reader sees at a glance what holds. It is what `make bench` runs.
//
// The figures stay benchmarks: a number that misses its target is reported,
// not failed, since timing on a shared machine is no test. benchreport exits
// non-zero only when a benchmark could not run.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
)

func main() {
	benchtime := flag.String("benchtime", "", "passed to go test -benchtime (default: go test's)")
	// One run of a benchmark on a shared two-core machine strays by 5-10%;
	// the median of three, each figure beside its baseline's runs
	// interleaved with its own, holds still enough to read a target by.
	count := flag.Int("count", 3, "passed to go test -count; each figure is the median of its runs")
	flag.Parse()

	results := results{}
	failed := false
	for _, pkg := range packages(figures) {
		args := []string{"test", "-run", "^$", "-bench", benchRegexp(figures, pkg), "-benchmem", "-count", fmt.Sprint(*count)}
		if *benchtime != "" {
			args = append(args, "-benchtime", *benchtime)
		}
		fmt.Fprintf(os.Stderr, "go %s %s\n", strings.Join(args, " "), pkg)
		var out bytes.Buffer
		cmd := exec.Command("go", append(args, pkg)...)
		// The raw output goes by as it comes: the table follows at the end.
		cmd.Stdout, cmd.Stderr = io.MultiWriter(os.Stderr, &out), os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "benchreport: %s: %v\n", pkg, err)
			failed = true
		}
		results.parse(out.String())
	}
	fmt.Println()
	writeTable(os.Stdout, figures, results)
	if failed {
		os.Exit(1)
	}
}

// packages lists the figures' packages in order, once each.
func packages(figs []figure) []string {
	var pkgs []string
	for _, f := range figs {
		if !slices.Contains(pkgs, f.Pkg) {
			pkgs = append(pkgs, f.Pkg)
		}
	}
	return pkgs
}

// benchRegexp selects the top-level benchmarks pkg's figures read; their
// sub-benchmarks run with them.
func benchRegexp(figs []figure, pkg string) string {
	var names []string
	for _, f := range figs {
		if f.Pkg != pkg {
			continue
		}
		for _, r := range slices.Concat(f.Value, f.Baseline, f.Baseline2) {
			top, _, _ := strings.Cut(r.Bench, "/")
			if !slices.Contains(names, top) {
				names = append(names, top)
			}
		}
	}
	return "^(" + strings.Join(names, "|") + ")$"
}

// results holds every benchmark line's values by benchmark name (without
// the -GOMAXPROCS suffix) and unit, one for each run.
type results map[string]map[string][]float64

var procsSuffix = regexp.MustCompile(`-\d+$`)

// parse reads go test's benchmark lines:
//
//	BenchmarkIngest-2   100   11528491 ns/op   1.52e+06 records/cpu-s   0 B/op
func (r results) parse(out string) {
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		name := procsSuffix.ReplaceAllString(f[0], "")
		for i := 2; i+1 < len(f); i += 2 {
			var v float64
			if _, err := fmt.Sscan(f[i], &v); err != nil {
				break
			}
			if r[name] == nil {
				r[name] = map[string][]float64{}
			}
			r[name][f[i+1]] = append(r[name][f[i+1]], v)
		}
	}
}

// find returns the median of the first of refs that was measured, in the
// figure's unit.
func (r results) find(refs []ref) (float64, bool) {
	for _, ref := range refs {
		if v := r[ref.Bench][ref.Unit]; len(v) > 0 {
			return median(v) * ref.Scale, true
		}
	}
	return 0, false
}

// median of runs, the mean of the middle two for an even count.
func median(runs []float64) float64 {
	s := slices.Sorted(slices.Values(runs))
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}
