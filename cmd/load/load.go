package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/lambda-slackbot/slackbot/contract"
)

const botToken = "xoxb-load"

// options shape one run.
type options struct {
	Rate        int           // requests per second
	Duration    time.Duration // how long to send
	RetryShare  float64       // share of requests that are Slack retries
	ForgedShare float64       // share of requests that are forged
	LimitShare  float64       // share of Slack API calls answered 429
	LimitRun    int           // most 429s in a row for one thread; 0 = no cap
	Settle      time.Duration // how long to wait for posts after the last answer
	Timeout     time.Duration // per request
	Seed        uint64        // for which events are retried, and X-Slack-Retry-Num
}

func defaultOptions() options {
	return options{
		Rate: 300, Duration: 10 * time.Second,
		RetryShare: 0.10, ForgedShare: 0.01, LimitShare: 0.03,
		Settle: 5 * time.Second, Timeout: 30 * time.Second, Seed: 1,
	}
}

// result is what a run measured.
type result struct {
	Requests       int
	Retries        int
	Forged         int
	Codes          map[int]int // status code -> count; 0 is no answer
	Status5xx      int
	Deferred       int // genuine requests answered 409: the retry is put off
	NoAnswer       int // transport errors and timeouts
	ForgedAccepted int // forged requests answered 2xx

	Events       int // distinct genuine events sent
	Unposted     int // genuine events with no post
	Duplicates   int // posts beyond the first in a thread
	StrayPosts   int // posts in a thread no genuine event started
	Posts        int // successful chat.postMessage calls
	SlackLimited int // 429s the fake Slack served
	SlackBadAuth int // calls without the bot token

	P50, P99, Max time.Duration

	ServerErrors  int      // error-level lines the dev server logged
	ErrorSamples  []string // a few of them
	Sample5xx     []string // a few 5xx answers, for the report
	SampleNoReply []string // a few transport errors
}

// failures lists the correctness goals the run missed. Latency is never one:
// this is a benchmark, and a slow machine is not a broken bot.
func (r result) failures() []string {
	var f []string
	if r.NoAnswer > 0 {
		// Unacknowledged, as far as Slack could tell; also what a crashed
		// dev server looks like.
		f = append(f, fmt.Sprintf("%d requests got no answer", r.NoAnswer))
	}
	if r.Status5xx > 0 {
		f = append(f, fmt.Sprintf("%d answers were 5xx", r.Status5xx))
	}
	if r.Duplicates > 0 {
		f = append(f, fmt.Sprintf("%d duplicate posts", r.Duplicates))
	}
	if r.ForgedAccepted > 0 {
		f = append(f, fmt.Sprintf("%d forged requests accepted", r.ForgedAccepted))
	}
	if r.StrayPosts > 0 {
		f = append(f, fmt.Sprintf("%d posts for forged or unknown events", r.StrayPosts))
	}
	if r.Unposted > 0 {
		f = append(f, fmt.Sprintf("%d events never posted", r.Unposted))
	}
	return f
}

// run starts a fake Slack and the dev server, sends the load, waits for the
// last posts, and stops everything. An error means the run itself could not
// be done; what it found is in the result.
func run(ctx context.Context, o options) (result, error) {
	if o.Rate <= 0 || o.Duration <= 0 {
		return result{}, errors.New("rate and duration must be positive")
	}
	dir, err := os.MkdirTemp("", "slackbot-load-")
	if err != nil {
		return result{}, fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	bin, err := buildDevServer(ctx, dir)
	if err != nil {
		return result{}, err
	}

	slack := newFakeSlack(botToken, o.LimitShare, o.LimitRun)
	defer slack.close()
	secret := rand.Text()
	srv, err := startDevServer(ctx, bin, secret, slack.apiURL())
	if err != nil {
		return result{}, err
	}
	defer srv.stop()

	limit := int(float64(o.Rate) * o.Duration.Seconds())
	tr := newTraffic(srv.url+contract.EventsPath, secret, limit, o.RetryShare, o.ForgedShare, o.Seed)
	res, err := attack(ctx, o, tr)
	if err != nil {
		return result{}, err
	}
	events, requests := tr.snapshot()
	res.Requests = len(requests)
	for _, ev := range events {
		if !ev.forged {
			res.Events++
		}
	}
	for _, r := range requests {
		switch r.kind {
		case kindRetry:
			res.Retries++
		case kindForged:
			res.Forged++
		}
	}

	// Each post is made before its event is acknowledged, but a handler may
	// come to hand work off; give stragglers a moment.
	deadline := time.Now().Add(o.Settle)
	var seen slackCounts
	for {
		seen = slack.counts()
		res.Unposted = 0
		for _, ev := range events {
			if !ev.forged && seen.threads[ev.ts] == 0 {
				res.Unposted++
			}
		}
		if res.Unposted == 0 || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return result{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	genuine := make(map[string]bool, len(events))
	for _, ev := range events {
		if !ev.forged {
			genuine[ev.ts] = true
		}
	}
	for ts, n := range seen.threads {
		if !genuine[ts] {
			res.StrayPosts += n
			continue
		}
		res.Duplicates += n - 1
	}
	res.Posts, res.SlackLimited, res.SlackBadAuth = seen.posts, seen.limited, seen.badAuth
	res.ServerErrors, res.ErrorSamples = srv.log.errorLines()
	if err := srv.stop(); err != nil {
		// Shutdown trouble is worth knowing but does not undo the figures.
		res.ErrorSamples = append(res.ErrorSamples, "dev server stop: "+err.Error())
	}
	return res, nil
}

// attack sends tr's requests at o.Rate for o.Duration and tallies the answers
// by the kind of request each was.
func attack(ctx context.Context, o options, tr *traffic) (result, error) {
	atk := vegeta.NewAttacker(vegeta.Timeout(o.Timeout), vegeta.MaxBody(4<<10), vegeta.KeepAlive(true))
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
			atk.Stop()
		case <-stopped:
		}
	}()

	res := result{Codes: make(map[int]int)}
	var m vegeta.Metrics
	var bug error // the first request that could not be made; results are drained regardless
	pace := vegeta.Rate{Freq: o.Rate, Per: time.Second}
	for r := range atk.Attack(tr.target, pace, o.Duration, "") {
		u, err := url.Parse(r.URL)
		if err != nil || u.Fragment == "" {
			// Nothing was sent: the targeter said no. Running out of
			// targets is the count bound at work; anything else is a bug.
			if r.Error != "" && r.Error != vegeta.ErrNoTargets.Error() && bug == nil {
				bug = fmt.Errorf("make a request: %s", r.Error)
			}
			continue
		}
		n, err := strconv.Atoi(u.Fragment)
		if err != nil {
			if bug == nil {
				bug = fmt.Errorf("result for %q: not a request this run made", r.URL)
			}
			continue
		}
		m.Add(r)
		tr.mu.Lock()
		req := tr.requests[n]
		tr.mu.Unlock()
		code := int(r.Code)
		res.Codes[code]++
		switch {
		case code == 0:
			res.NoAnswer++
			if len(res.SampleNoReply) < 3 {
				res.SampleNoReply = append(res.SampleNoReply, r.Error)
			}
		case code >= 500:
			res.Status5xx++
			if len(res.Sample5xx) < 3 {
				res.Sample5xx = append(res.Sample5xx, fmt.Sprintf("%d %s", code, r.Body))
			}
		}
		if req.kind == kindForged && code >= 200 && code < 300 {
			res.ForgedAccepted++
		}
		if req.kind != kindForged && code == 409 {
			res.Deferred++
		}
	}
	if err := ctx.Err(); err != nil {
		return result{}, fmt.Errorf("load run stopped: %w", err)
	}
	if bug != nil {
		return result{}, bug
	}
	m.Close()
	res.P50, res.P99, res.Max = m.Latencies.P50, m.Latencies.P99, m.Latencies.Max
	return res, nil
}
