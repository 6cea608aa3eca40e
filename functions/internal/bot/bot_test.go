package bot

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/config"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
)

func TestPosterFollowsTheCredentials(t *testing.T) {
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	tests := []struct {
		name      string
		secretARN string
		token     string
		want      string
	}{
		{"local, no token: printed", "", "", "*notify.Printer"},
		{"token: Slack", "arn:secret", "xoxb-1", "*notify.Client"},
		{"deployed, no token: refused", "arn:secret", "", "notify.NoToken"},
	}
	for _, tt := range tests {
		cfg := config.Config{SecretARN: tt.secretARN}
		cfg.BotToken = tt.token
		b := New(cfg, aws.Config{}, quiet, io.Discard)
		if got := typeName(b.Post); got != tt.want {
			t.Errorf("%s: poster %s, want %s", tt.name, got, tt.want)
		}
	}
	_, err := notify.NoToken{}.Post(context.Background(), notify.Message{Channel: "C1", Text: "x"})
	var e *notify.Error
	if !errors.As(err, &e) || e.Code != "not_authed" || e.Hint == "" {
		t.Fatalf("NoToken error %v: want not_authed with a hint", err)
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *notify.Printer:
		return "*notify.Printer"
	case *notify.Client:
		return "*notify.Client"
	case notify.NoToken:
		return "notify.NoToken"
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
		New(cfg, aws.Config{}, slog.New(slog.NewJSONHandler(&logs, nil)), io.Discard)
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
	b := New(cfg, aws.Config{}, quiet, io.Discard)
	later := b.Deferred()
	cmds, evs := b.Commands(later), b.Events()
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
	if d, ok := New(cfg, aws.Config{}, quiet, io.Discard).Claims.(*dedupe.Dynamo); !ok || d.Table != "tbl" || d.Lease != 7*time.Second {
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
	b := New(cfg, aws.Config{}, slog.New(slog.DiscardHandler), &out)
	body := `{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention","user":"U1","text":"<@U0BOT> latency 1h","channel":"C1","ts":"1.2","event_ts":"1.2"}}`
	resp, err := b.Events().ServeEvent(context.Background(), signed("sig", body))
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
		b := New(cfg, aws.Config{}, slog.New(slog.DiscardHandler), &out)
		b.Sketches = store
		body := `{"type":"event_callback","event_id":"EvS` + strconv.Itoa(i) + `","event":{"type":"app_mention","user":"U1","text":"` + text + `","channel":"C1","ts":"1.2","event_ts":"1.2"}}`
		resp, err := b.Events().ServeEvent(context.Background(), signed("sig", body))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%q: status %d, %v: %s", text, resp.StatusCode, err, resp.Body)
		}
		if !strings.Contains(out.String(), "Latency of orders") || !strings.Contains(out.String(), "GET /orders") {
			t.Errorf("%q: reply %q, want the report of orders", text, out.String())
		}
	}
}
