package eventsapi_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/eventsapi"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// TestSlowSlackPostsOnce: a mention's reply reaches Slack once however
// Slack misbehaves and however often it redelivers the event. A reply Slack
// took but answered late, or never, is delivered: the event is done and
// its redeliveries post nothing. A reply Slack refused (503) is not: the
// claim is released and the redelivery posts it, once.
func TestSlowSlackPostsOnce(t *testing.T) {
	testenv.SkipShort(t, "moto")
	m := moto.Get(t)
	tests := []struct {
		name       string
		mode       testenv.Mode
		wantFirst  int // the first delivery's status
		wantTriesN int // chat.postMessage attempts in all
	}{
		{name: "answered late", mode: testenv.AnswerLate(time.Minute), wantFirst: http.StatusOK, wantTriesN: 1},
		{name: "swallowed", mode: testenv.SwallowFirst, wantFirst: http.StatusOK, wantTriesN: 1},
		{name: "refused once", mode: testenv.RefuseOnce, wantFirst: http.StatusServiceUnavailable, wantTriesN: 2},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, table := m.DedupeTable(t)
			slackSrv := testenv.NewSlack(t, botToken, nil)
			slackSrv.SetMode(tt.mode, testenv.MethodPostMessage)
			h := &eventsapi.Handler{
				Verifier: verify.Verifier{SigningSecret: secret},
				Dedupe:   &dedupe.Dynamo{Client: db, Table: table},
				Log:      slog.New(slog.NewTextHandler(t.Output(), nil)),
			}
			h.On("app_mention", eventsapi.AppMention(notify.NewClient(botToken, slackSrv.APIURL(), notify.Retry{}), nil, latency.RequestParser(nil), time.Hour))
			body := mentionAt(t, "Ev0SLOW000"+string(rune('A'+i)), "C0123ABCD", "1700000000.000500")

			// Slack delivers, then retries three times, as it does when an
			// answer is late or not a 2xx; each delivery is its own
			// invocation with Lambda's deadline.
			for retry := range 4 {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				resp, err := h.ServeEvent(ctx, delivery(body, secret, retry))
				cancel()
				want := http.StatusOK
				if retry == 0 {
					want = tt.wantFirst
				}
				if err != nil || resp.StatusCode != want {
					t.Errorf("delivery %d = %d, %v; want %d", retry, resp.StatusCode, err, want)
				}
			}
			if n := len(slackSrv.Posts()); n != 1 {
				t.Errorf("Slack got the reply %d times, want once", n)
			}
			if n := slackSrv.Attempts(testenv.MethodPostMessage); n != tt.wantTriesN {
				t.Errorf("chat.postMessage attempts = %d, want %d", n, tt.wantTriesN)
			}
		})
	}
}
