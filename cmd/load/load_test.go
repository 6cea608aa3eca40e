package main

import (
	"context"
	"testing"
	"time"
)

// TestSmallRun sends a small load through the same path as `make load` and
// checks correctness only: timing on a shared test machine proves nothing.
func TestSmallRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the dev server")
	}
	o := defaultOptions()
	o.Rate, o.Duration = 100, 2*time.Second // 200 requests
	// More forgeries than the default 1%, so a short run is sure to carry
	// both kinds.
	o.ForgedShare = 0.05
	// 429s in a row eat the reply's budget (eventsapi.Budget, 2.5 s): after
	// two waits of Retry-After: 1 the third try has a quarter of a second
	// (notify.CallTimeout takes at most half of what is left), which a busy
	// machine can miss, and the bot answers 503 so that Slack retries, by
	// design. One 429 in a row keeps the retry path exercised with time to
	// spare.
	o.LimitRun = 1
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	// The count is not checked exactly: a busy machine may fall behind the
	// rate, and vegeta stops at the duration.
	if res.Requests == 0 || res.Retries == 0 || res.Forged < 2 {
		t.Errorf("sent %d requests (%d retries, %d forged), want some of each", res.Requests, res.Retries, res.Forged)
	}
	if res.NoAnswer > 0 {
		t.Errorf("%d requests got no answer: %v", res.NoAnswer, res.SampleNoReply)
	}
	if res.Status5xx > 0 {
		t.Errorf("%d answers were 5xx: %v; dev server: %v", res.Status5xx, res.Sample5xx, res.ErrorSamples)
	}
	if res.ForgedAccepted > 0 || res.StrayPosts > 0 {
		t.Errorf("%d forged requests accepted, %d posts for forged events", res.ForgedAccepted, res.StrayPosts)
	}
	if res.Duplicates > 0 {
		t.Errorf("%d duplicate posts", res.Duplicates)
	}
	if res.Unposted > 0 || res.Posts != res.Events {
		t.Errorf("%d events, %d posts, %d events without a post: want one post each", res.Events, res.Posts, res.Unposted)
	}
}

// TestSignatureMatchesSlacksExample checks the load's signer against the
// example request in Slack's "Verifying requests from Slack" guide.
func TestSignatureMatchesSlacksExample(t *testing.T) {
	body := "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	ts, sig := signature("8f742231b10e8888abcd99yyyzzz85a5", time.Unix(1531420618, 0), []byte(body))
	if want := "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"; ts != "1531420618" || sig != want {
		t.Fatalf("signature = %s %s, want 1531420618 %s", ts, sig, want)
	}
}
