package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/bot"
	"github.com/lambda-slackbot/slackbot/functions/internal/config"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// TestDevServerWithSlowSlack: the dev server, against a fake Slack that
// answers a mention's reply late, or refuses it once with a 503, sends the
// reply once however often Slack delivers the event.
func TestDevServerWithSlowSlack(t *testing.T) {
	slackSrv := testenv.NewSlack(t, "xoxb-dev", nil)
	cfg := config.Config{ReportWindow: time.Hour, SlackAPIURL: slackSrv.APIURL()}
	cfg.SigningSecret, cfg.BotToken = "dev-secret", "xoxb-dev"
	b := bot.New(cfg, aws.Config{Region: "us-east-1"}, slog.New(slog.NewTextHandler(t.Output(), nil)), io.Discard)
	srv := httptest.NewServer(newHandler(b, io.Discard))
	defer srv.Close()
	for i, c := range testenv.SlowReplies {
		t.Run(c.Name, func(t *testing.T) {
			before := len(slackSrv.Posts())
			slackSrv.SetMode(c.Mode, testenv.MethodPostMessage)
			mention := fmt.Sprintf(`{"type":"event_callback","event_id":"Ev0DEVSLOW%d","event":{"type":"app_mention","user":"U1","text":"<@U0BOT> hi","ts":"1700000000.00010%d","channel":"C0123ABCD"}}`, i, i)
			// The dev server has no X-Slack-Retry-Num to tell: a retry is
			// the same body again, as Slack sends it.
			for retry := range 4 {
				code, body := signedPost(t, srv.URL+contract.EventsPath, mention)
				want := 200
				if retry == 0 {
					want = c.WantFirst
				}
				if code != want {
					t.Errorf("delivery %d: %d %s, want %d", retry, code, body, want)
				}
			}
			if n := len(slackSrv.Posts()) - before; n != 1 {
				t.Errorf("Slack got the reply %d times, want once", n)
			}
		})
	}
}
