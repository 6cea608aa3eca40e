package notify_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// TestPostOutcomes holds each way Slack can fail to what the caller must
// make of it: a request Slack got and never answered is Unanswered (the
// outcome is unknown, so it must not be repeated blindly), while a refusal
// or a request that never left is a plain error, safe to retry. Every call
// ends well before the caller's own deadline, leaving time to settle.
func TestPostOutcomes(t *testing.T) {
	t.Parallel()
	// A port nothing listens on: the connection is refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/"
	l.Close()

	tests := []struct {
		name           string
		mode           testenv.Mode
		refused        bool // post to a closed port
		wantErr        bool
		wantUnanswered bool
		wantCode       string // Slack's error code, when Slack named one
		wantTaken      int    // requests Slack kept
	}{
		{name: "answered", wantTaken: 1},
		{name: "answered late", mode: testenv.AnswerLate(time.Minute), wantErr: true, wantUnanswered: true, wantTaken: 1},
		{name: "swallowed", mode: testenv.Swallow, wantErr: true, wantUnanswered: true, wantTaken: 1},
		{name: "503", mode: testenv.RefuseOnce, wantErr: true},
		{name: "not_in_channel", mode: testenv.AnswerError("not_in_channel"), wantErr: true, wantCode: "not_in_channel"},
		{name: "connection refused", refused: true, wantErr: true},
	}
	for _, tt := range tests {
		for _, via := range []string{"chat.postMessage", "webhook"} {
			t.Run(tt.name+" via "+via, func(t *testing.T) {
				t.Parallel()
				s := testenv.NewSlack(t, botToken, nil)
				s.SetMode(tt.mode)
				var p notify.Poster = notify.NewClient(botToken, s.APIURL(), notify.Retry{})
				if via == "webhook" {
					p = &notify.Webhook{URL: s.WebhookURL()}
				}
				if tt.refused {
					p = notify.NewClient(botToken, closed, notify.Retry{})
					if via == "webhook" {
						p = &notify.Webhook{URL: closed + "webhook"}
					}
				}
				// Generous: the call takes at most half of it.
				ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
				defer cancel()
				_, err := p.Post(ctx, notify.Message{Channel: "C0000GEN1", Text: "hi"})
				if (err != nil) != tt.wantErr {
					t.Fatalf("Post: error %v, want error %v", err, tt.wantErr)
				}
				if got := notify.Unanswered(err); got != tt.wantUnanswered {
					t.Errorf("Unanswered(%v) = %v, want %v", err, got, tt.wantUnanswered)
				}
				var slackSaid *notify.Error
				if got := errors.As(err, &slackSaid); got != (tt.wantCode != "") || (got && slackSaid.Code != tt.wantCode) {
					t.Errorf("Post: error %v, want Slack's code %q", err, tt.wantCode)
				}
				if ctx.Err() != nil {
					t.Errorf("the call used up its caller's whole deadline: nothing is left to settle with")
				}
				taken := len(s.Posts()) + len(s.WebhookPosts())
				if taken != tt.wantTaken {
					t.Errorf("Slack kept %d requests, want %d", taken, tt.wantTaken)
				}
			})
		}
	}
}

// TestChannelNamesExpire: a name resolved once does not keep its channel
// for the container's life. After a rename, within a minute, the new list
// is read, so an allow-listed name stops meaning the renamed channel.
func TestChannelNamesExpire(t *testing.T) {
	t.Parallel()
	s := testenv.NewSlack(t, botToken, map[string]string{"ops": "C0000OPS1", "random": "C0000RND1"})
	c := notify.NewClient(botToken, s.APIURL(), notify.Retry{})
	now := time.Now()
	c.Now = func() time.Time { return now }
	ctx := context.Background()
	resolve := func(name string) string {
		t.Helper()
		id, err := c.ResolveChannel(ctx, name)
		if err != nil {
			return "error"
		}
		return id
	}
	if got := resolve("#ops"); got != "C0000OPS1" {
		t.Fatalf("#ops = %s, want C0000OPS1", got)
	}
	// #ops is renamed #old-ops, and another channel takes the name.
	s.SetChannels([]testenv.Channel{{ID: "C0000OLD1", Name: "old-ops"}, {ID: "C0000NEW2", Name: "ops"}})
	now = now.Add(30 * time.Second)
	if got := resolve("#ops"); got != "C0000OPS1" {
		t.Fatalf("#ops half a minute later = %s, want the cached C0000OPS1", got)
	}
	now = now.Add(31 * time.Second)
	if got := resolve("#ops"); got != "C0000NEW2" {
		t.Errorf("#ops after a minute = %s, want C0000NEW2, the channel named so now", got)
	}
	if got := resolve("#old-ops"); got != "C0000OLD1" {
		t.Errorf("#old-ops = %s, want C0000OLD1", got)
	}
}
