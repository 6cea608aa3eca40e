// Command load sends a burst of signed Events API deliveries to the real
// handlers, served by the dev server, with a fake Slack behind them, all on
// loopback. It checks what must hold under load (no 5xx, no duplicate posts,
// no forged request accepted, every event posted exactly once), exiting 1
// when any fails, and reports latency without judging it.
//
//	go run ./cmd/load -rate 300 -duration 10s
//
// The traffic: app_mention events, a share of them redelivered as Slack
// retries (X-Slack-Retry-Num), and a few forged ones (a wrong secret, or a
// body changed after signing). The fake Slack answers a share of calls with
// 429 and Retry-After: 1, as Slack's rate limiter does.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	o := defaultOptions()
	flag.IntVar(&o.Rate, "rate", o.Rate, "requests per second")
	flag.DurationVar(&o.Duration, "duration", o.Duration, "how long to send")
	flag.Float64Var(&o.RetryShare, "retries", o.RetryShare, "share of requests that are Slack retries of an earlier event")
	flag.Float64Var(&o.ForgedShare, "forged", o.ForgedShare, "share of requests that are forged")
	flag.Float64Var(&o.LimitShare, "ratelimit", o.LimitShare, "share of Slack API calls answered 429")
	flag.DurationVar(&o.Settle, "settle", o.Settle, "how long to wait for late posts after the last answer")
	flag.DurationVar(&o.Timeout, "timeout", o.Timeout, "per-request timeout")
	flag.Uint64Var(&o.Seed, "seed", o.Seed, "seed for retry picks and forgery kinds")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Bounded in time whatever the flags: the send, the settle, and room for
	// building the dev server and draining.
	ctx, cancel := context.WithTimeout(ctx, o.Duration+o.Settle+o.Timeout+2*time.Minute)
	defer cancel()

	res, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	res.print(os.Stdout)
	if f := res.failures(); len(f) > 0 {
		fmt.Fprintln(os.Stderr, "load: FAIL:", f)
		os.Exit(1)
	}
}

// print writes the run's table.
func (r result) print(w io.Writer) {
	row := func(name string, v any, goal string) {
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("%-26s %9v  %s", name, v, goal), " "))
	}
	row("requests sent", r.Requests, "")
	row("  new events", r.Requests-r.Retries-r.Forged, "")
	row("  Slack retries", r.Retries, "")
	row("  forged", r.Forged, "")
	for _, c := range slices.Sorted(maps.Keys(r.Codes)) {
		if c == 0 {
			row("no answer", r.Codes[c], "goal 0")
			continue
		}
		row(fmt.Sprintf("status %d", c), r.Codes[c], "")
	}
	row("5xx", r.Status5xx, "goal 0")
	row("retry deferred (409)", r.Deferred, "")
	row("forged accepted", r.ForgedAccepted, "goal 0")
	row("distinct events", r.Events, "")
	row("events without a post", r.Unposted, "goal 0")
	row("duplicate posts", r.Duplicates, "goal 0")
	row("posts for forged/unknown", r.StrayPosts, "goal 0")
	row("posts recorded", r.Posts, "")
	row("Slack 429s served", r.SlackLimited, "")
	if r.SlackBadAuth > 0 {
		row("Slack calls without token", r.SlackBadAuth, "")
	}
	row("latency p50 (ms)", ms(r.P50), "")
	row("latency p99 (ms)", ms(r.P99), "")
	row("latency max (ms)", ms(r.Max), "")
	row("dev server error logs", r.ServerErrors, "")
	for _, s := range r.Sample5xx {
		fmt.Fprintln(w, "5xx answer:", s)
	}
	for _, s := range r.SampleNoReply {
		fmt.Fprintln(w, "no answer:", s)
	}
	for _, s := range r.ErrorSamples {
		fmt.Fprintln(w, "dev server:", s)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }
