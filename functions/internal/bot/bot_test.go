package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/chat"
	"github.com/lambda-slackbot/slackbot/functions/internal/config"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify/verifytest"
)

func TestPosterFollowsTheCredentials(t *testing.T) {
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	tests := []struct {
		name      string
		secretARN string
		token     string
		want      string
	}{
		{"local, no token: printed", "", "", "*chat.Printer"},
		{"token: Slack", "arn:secret", "xoxb-1", "*chat.Client"},
		{"deployed, no token: refused", "arn:secret", "", "chat.NoToken"},
	}
	for _, tt := range tests {
		cfg := config.Config{SecretARN: tt.secretARN}
		cfg.BotToken = tt.token
		b := newBot(Options{Config: cfg, Log: quiet, Out: io.Discard})
		if got := typeName(b.Post); got != tt.want {
			t.Errorf("%s: poster %s, want %s", tt.name, got, tt.want)
		}
	}
	_, err := chat.NoToken{}.Post(context.Background(), chat.Message{Channel: "C1", Text: "x"})
	var e *chat.Error
	if !errors.As(err, &e) || e.Code != "not_authed" || e.Hint == "" {
		t.Fatalf("NoToken error %v: want not_authed with a hint", err)
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *chat.Printer:
		return "*chat.Printer"
	case *chat.Client:
		return "*chat.Client"
	case chat.NoToken:
		return "chat.NoToken"
	}
	return "other"
}

// TestLegacyTokenWarning: INIT says so when requests are checked with the
// deprecated verification token, and only then.
func TestLegacyTokenWarning(t *testing.T) {
	tests := []struct {
		name, secret, token string
		want                string
	}{
		{"token only: legacy", "", "tok", `"level":"WARN","msg":"requests are checked with the legacy verification token`},
		{"both: token ignored", "sig", "tok", `"msg":"a verification token is configured but ignored`},
		{"signing secret only: quiet", "sig", "", ""},
	}
	for _, tt := range tests {
		var logs strings.Builder
		cfg := config.Config{}
		cfg.SigningSecret, cfg.VerificationToken = tt.secret, tt.token
		newBot(Options{Config: cfg, Log: slog.New(slog.NewJSONHandler(&logs, nil)), Out: io.Discard})
		if tt.want == "" && logs.Len() != 0 || !strings.Contains(logs.String(), tt.want) {
			t.Errorf("%s: logged %q, want %q", tt.name, logs.String(), tt.want)
		}
		if strings.Contains(logs.String(), "tok\"") || strings.Contains(logs.String(), "sig\"") {
			t.Errorf("%s: the log quotes a credential: %s", tt.name, logs.String())
		}
	}
}

// TestHandlersShareOneClaimStore: a deferred command and an event are
// claimed in the same store, with the configured lease, and notify is
// checked against the workspace the bot posts to.
func TestHandlersShareOneClaimStore(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	cfg := config.Config{ClaimLease: 7 * time.Second, NotifyUsers: []string{"U1"}}
	cfg.SigningSecret = "sig"
	b := newBot(Options{Config: cfg, Log: quiet, Out: io.Discard})
	later := b.runner(nil)
	cmds, evs := b.commands(later, nil), b.eventsHandler()
	if later.Claims == nil || later.Claims != evs.Dedupe {
		t.Fatalf("deferred work claims in %v, events in %v: want one store", later.Claims, evs.Dedupe)
	}
	if m, ok := b.Claims.(*dedupe.Memory); !ok || m.Lease != 7*time.Second {
		t.Fatalf("claims %#v: want memory with the configured lease", b.Claims)
	}
	if cmds.Permit == nil || cmds.Permit.Dir == nil || len(cmds.Permit.Users) != 1 {
		t.Fatalf("permit %+v: want the allow-list and a directory", cmds.Permit)
	}
	cfg.DedupeTable = "tbl"
	if d, ok := newBot(Options{Config: cfg, Log: quiet, Out: io.Discard}).Claims.(*dedupe.Dynamo); !ok || d.Table != "tbl" || d.Lease != 7*time.Second {
		t.Fatalf("with a table: claims %#v, want DynamoDB with the lease", d)
	}
}

// TestMentionWithoutReports: with no sketch table the events handler's
// reporter is a nil interface, so a mention asking for latency is told
// reports are not set up rather than calling a nil builder.
func TestMentionWithoutReports(t *testing.T) {
	var out strings.Builder
	cfg := config.Config{ReportWindow: time.Hour}
	cfg.SigningSecret = "sig"
	b := newBot(Options{Config: cfg, Log: slog.New(slog.DiscardHandler), Out: &out})
	body := `{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention","user":"U1","text":"<@U0BOT> latency 1h","channel":"C1","ts":"1.2","event_ts":"1.2"}}`
	resp, err := b.eventsHandler().Serve(context.Background(), signed("sig", body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d, %v: %s", resp.StatusCode, err, resp.Body)
	}
	if !strings.Contains(out.String(), "not set up") {
		t.Fatalf("reply %q, want that reports are not set up", out.String())
	}
}

// TestMentionOfASource: the events function knows the sources, so
// "latency orders" by mention reports orders, not a route named "orders"
// of the bot's own API; and "latency" alone the first source.
func TestMentionOfASource(t *testing.T) {
	sources, err := contract.ParseLatencySources(`[{"name":"orders","kind":"apigateway","logGroup":"/aws/apigateway/orders"}]`)
	if err != nil {
		t.Fatal(err)
	}
	store := sketchstore.NewMemoryStore()
	p := sketchstore.NewSketches()
	_ = p.Response.Add(120)
	p.CountStatus(200)
	minute := sketchstore.MinuteOf(time.Now().Add(-2 * time.Minute))
	if err := store.Merge(context.Background(), "", map[sketchstore.Key]*sketchstore.Sketches{{Source: "orders", Route: "GET /orders", Minute: minute}: p}); err != nil {
		t.Fatal(err)
	}
	for i, text := range []string{"<@U0BOT> latency orders 1h", "<@U0BOT> latency"} {
		var out strings.Builder
		cfg := config.Config{ReportWindow: time.Hour, LatencySources: sources}
		cfg.SigningSecret = "sig"
		b := newBot(Options{Config: cfg, Log: slog.New(slog.DiscardHandler), Out: &out, Sketches: store})
		body := `{"type":"event_callback","event_id":"EvS` + strconv.Itoa(i) + `","event":{"type":"app_mention","user":"U1","text":"` + text + `","channel":"C1","ts":"1.2","event_ts":"1.2"}}`
		resp, err := b.eventsHandler().Serve(context.Background(), signed("sig", body))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%q: status %d, %v: %s", text, resp.StatusCode, err, resp.Body)
		}
		if !strings.Contains(out.String(), "Latency of orders") || !strings.Contains(out.String(), "GET /orders") {
			t.Errorf("%q: reply %q, want the report of orders", text, out.String())
		}
	}
}

// TestEveryBotEventIsHandled: each event the manifest subscribes to
// (contract.BotEvents) reaches a function of the events handler, so an
// event added to the subscription without its function, or the reverse
// rename, fails here rather than being acknowledged and dropped.
func TestEveryBotEventIsHandled(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := config.Config{}
	cfg.SigningSecret = "sig"
	h := New(Options{Config: cfg, Log: log}).Events
	for i, name := range contract.BotEvents {
		logs.Reset()
		body := fmt.Sprintf(`{"type":"event_callback","team_id":"T1","event_id":"EvAll%d","event":{"type":%q,"user":"U1","text":"hi","channel":"C1","ts":"1.2","event_ts":"1.2"}}`, i, name)
		ts, sig := verifytest.Signature("sig", time.Now(), []byte(body))
		h(context.Background(), events.APIGatewayProxyRequest{HTTPMethod: "POST",
			Headers: map[string]string{"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}, Body: body})
		if strings.Contains(logs.String(), "ignored event type") {
			t.Errorf("%s: subscribed to in the manifest, but no function handles it:\n%s", name, logs.String())
		}
	}
}
