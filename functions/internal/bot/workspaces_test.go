package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambda-slackbot/slackbot/functions/internal/config"
	"github.com/lambda-slackbot/slackbot/functions/internal/deferred"
	"github.com/lambda-slackbot/slackbot/functions/internal/installstore"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

const (
	homeToken    = "xoxb-home-configured"
	alphaToken   = "xoxb-alpha-installed"
	betaToken    = "xoxb-beta-installed"
	clientSecret = "the-client-secret"
)

func signed(secret, body string) events.APIGatewayProxyRequest {
	ts, sig := verify.Signature(secret, time.Now(), []byte(body))
	return events.APIGatewayProxyRequest{HTTPMethod: "POST",
		Headers: map[string]string{"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}, Body: body}
}

var eventSeq int

func mention(team string) string {
	eventSeq++
	return fmt.Sprintf(`{"type":"event_callback","team_id":%q,"event_id":"Ev%d","authorizations":[{"team_id":%q,"is_bot":true}],`+
		`"event":{"type":"app_mention","user":"U1","text":"<@U0BOT> latency","channel":"C0GENERAL1","ts":"1.2","event_ts":"1.2"}}`, team, eventSeq, team)
}

func shortcut(team, trigger string) string {
	p, _ := json.Marshal(map[string]any{"type": "shortcut", "callback_id": "notify", "trigger_id": trigger,
		"team": map[string]any{"id": team}, "user": map[string]any{"id": "U1", "team_id": team}})
	return url.Values{"payload": {string(p)}}.Encode()
}

// TestEachWorkspaceItsToken: two installed workspaces and the configured
// one are each answered with their own token; a workspace without an
// installation, or whose app was uninstalled, is acknowledged with nothing
// posted; a forged request is refused.
func TestEachWorkspaceItsToken(t *testing.T) {
	slack := testenv.NewSlack(t, homeToken, map[string]string{"general": "C0GENERAL1"})
	slack.AddToken(alphaToken, "T0ALPHA001")
	slack.AddToken(betaToken, "T0BETA0001")
	var logs bytes.Buffer
	cfg := config.Config{SlackAPIURL: slack.APIURL(), ReportWindow: time.Hour}
	cfg.SigningSecret, cfg.BotToken, cfg.ClientID, cfg.ClientSecret = "sig", homeToken, "1.2", clientSecret
	b := New(cfg, aws.Config{}, slog.New(slog.NewJSONHandler(&logs, nil)), io.Discard)
	ctx := context.Background()
	for team, token := range map[string]string{"T0ALPHA001": alphaToken, "T0BETA0001": betaToken} {
		if _, err := b.Installs.Save(ctx, installstore.Installation{TeamID: team, BotToken: token}); err != nil {
			t.Fatal(err)
		}
	}
	serveEvent := b.PerWorkspace(b.Events().ServeEvent)
	later := b.Deferred()
	serveInteraction := b.PerWorkspace(b.Interactions(later, nil).ServeInteraction)

	send := func(serve deferred.ProxyHandler, req events.APIGatewayProxyRequest) int {
		t.Helper()
		resp, err := serve(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	wantPosts := func(what string, tokens ...string) {
		t.Helper()
		got := slack.PostTokens()
		if fmt.Sprint(got) != fmt.Sprint(tokens) {
			t.Errorf("%s: posts carried %v, want %v", what, got, tokens)
		}
	}

	for _, team := range []string{"T0ALPHA001", "T0BETA0001", testenv.HomeTeam} {
		if s := send(serveEvent, signed("sig", mention(team))); s != http.StatusOK {
			t.Fatalf("mention from %s: %d", team, s)
		}
	}
	wantPosts("a mention from each", alphaToken, betaToken, homeToken)

	if s := send(serveInteraction, signed("sig", shortcut("T0BETA0001", "trig-1"))); s != http.StatusOK {
		t.Fatalf("shortcut: %d", s)
	}
	if calls := slack.Calls(); calls[len(calls)-1] != (testenv.Call{Method: "views.open", Token: betaToken}) {
		t.Errorf("the shortcut opened its modal with %+v, want beta's token", calls[len(calls)-1])
	}

	before := len(slack.Calls())
	if s := send(serveEvent, signed("sig", mention("T0GAMMA001"))); s != http.StatusOK {
		t.Errorf("mention from a workspace without an installation: %d, want 200", s)
	}
	if s := send(serveInteraction, signed("sig", shortcut("T0GAMMA001", "trig-2"))); s != http.StatusOK {
		t.Errorf("shortcut from a workspace without an installation: %d, want 200", s)
	}
	if s := send(serveEvent, signed("forged", mention("T0ALPHA001"))); s != http.StatusUnauthorized {
		t.Errorf("forged mention: %d, want 401", s)
	}

	eventSeq++
	uninstall := fmt.Sprintf(`{"type":"event_callback","team_id":"T0ALPHA001","event_id":"Ev%d","event":{"type":"app_uninstalled","event_ts":"1.3"}}`, eventSeq)
	if s := send(serveEvent, signed("sig", uninstall)); s != http.StatusOK {
		t.Fatalf("app_uninstalled: %d", s)
	}
	if _, err := b.Installs.Get(ctx, "T:T0ALPHA001"); err == nil {
		t.Error("the installation outlived app_uninstalled")
	}
	if s := send(serveEvent, signed("sig", mention("T0ALPHA001"))); s != http.StatusOK {
		t.Errorf("mention after the uninstall: %d, want 200", s)
	}
	if n := len(slack.Calls()); n != before {
		t.Errorf("Slack was called for workspaces without an installation: %v", slack.Calls()[before:])
	}

	eventSeq++
	revoked := fmt.Sprintf(`{"type":"event_callback","team_id":"T0BETA0001","event_id":"Ev%d","event":{"type":"tokens_revoked","tokens":{"bot":["U0BOT"]},"event_ts":"1.4"}}`, eventSeq)
	if s := send(serveEvent, signed("sig", revoked)); s != http.StatusOK {
		t.Fatalf("tokens_revoked: %d", s)
	}
	if _, err := b.Installs.Get(ctx, "T:T0BETA0001"); err == nil {
		t.Error("the installation outlived tokens_revoked")
	}
	wantPosts("in the end", alphaToken, betaToken, homeToken)
	testenv.NoSecretsIn(t, "bot logs", logs.String(), homeToken, alphaToken, betaToken, clientSecret)
}

// TestSingleWorkspaceUnchanged: without installs, PerWorkspace is the
// handler itself and auth.test is never asked.
func TestSingleWorkspaceUnchanged(t *testing.T) {
	slack := testenv.NewSlack(t, homeToken, nil)
	cfg := config.Config{SlackAPIURL: slack.APIURL(), ReportWindow: time.Hour}
	cfg.SigningSecret, cfg.BotToken = "sig", homeToken
	b := New(cfg, aws.Config{}, slog.New(slog.DiscardHandler), io.Discard)
	if b.Tokens != nil || b.Installs != nil {
		t.Fatal("installs without a client id or a table")
	}
	if resp, _ := b.PerWorkspace(b.Events().ServeEvent)(context.Background(), signed("sig", mention("T0ANY00001"))); resp.StatusCode != 200 {
		t.Fatalf("mention: %d", resp.StatusCode)
	}
	if got := slack.PostTokens(); len(got) != 1 || got[0] != homeToken || len(slack.Calls()) != 1 {
		t.Errorf("calls %v, want one post with the configured token", slack.Calls())
	}
}

// sendTo keeps the jobs deferred, to run them as Lambda would.
type sendTo struct{ sealed []deferred.Sealed }

func (s *sendTo) Send(_ context.Context, d deferred.Sealed) error {
	s.sealed = append(s.sealed, d)
	return nil
}

// TestDeferredNotifyKeepsItsWorkspace: `notify` runs in a second invocation,
// and posts there with the token of the workspace the command came from.
func TestDeferredNotifyKeepsItsWorkspace(t *testing.T) {
	slack := testenv.NewSlack(t, homeToken, map[string]string{"general": "C0GENERAL1"})
	slack.AddToken(betaToken, "T0BETA0001")
	slack.SetMembers("C0GENERAL1", "U1")
	cfg := config.Config{SlackAPIURL: slack.APIURL(), ReportWindow: time.Hour}
	cfg.SigningSecret, cfg.BotToken, cfg.ClientID, cfg.ClientSecret = "sig", homeToken, "1.2", clientSecret
	b := New(cfg, aws.Config{}, slog.New(slog.DiscardHandler), io.Discard)
	ctx := context.Background()
	if _, err := b.Installs.Save(ctx, installstore.Installation{TeamID: "T0BETA0001", BotToken: betaToken}); err != nil {
		t.Fatal(err)
	}
	later := b.Deferred()
	sent := &sendTo{}
	later.Send = sent
	commands := b.PerWorkspace(b.Commands(later).ServeCommand)
	form := url.Values{"command": {"/slackbot"}, "text": {"notify #general deploy done"}, "user_id": {"U1"},
		"team_id": {"T0BETA0001"}, "channel_id": {"C0GENERAL1"}, "trigger_id": {"trig.1"},
		"response_url": {slack.ResponseURL()}}.Encode()
	resp, err := commands(ctx, signed("sig", form))
	if err != nil || resp.StatusCode != http.StatusOK || len(sent.sealed) != 1 {
		t.Fatalf("notify: %d %s, %v; %d jobs deferred", resp.StatusCode, resp.Body, err, len(sent.sealed))
	}
	if len(slack.PostTokens()) != 0 {
		t.Fatalf("posted before the deferred half")
	}
	// The second invocation has no request context: only the sealed job.
	if err := later.Run(context.Background(), sent.sealed[0]); err != nil {
		t.Fatal(err)
	}
	if got := slack.PostTokens(); len(got) != 1 || got[0] != betaToken {
		t.Errorf("the deferred notify posted with %v, want beta's token", got)
	}
	for _, c := range slack.Calls() {
		if c.Token != betaToken && c.Method != "auth.test" {
			t.Errorf("%s carried another workspace's token", c.Method)
		}
	}
}

// TestLateUninstallKeepsTheReinstall: Slack redelivers an event minutes
// after it happened when the first delivery failed, so an app_uninstalled
// can arrive after the workspace installed the app again. It removes only
// the installation it was about, not the newer one.
func TestLateUninstallKeepsTheReinstall(t *testing.T) {
	slack := testenv.NewSlack(t, homeToken, nil)
	cfg := config.Config{SlackAPIURL: slack.APIURL(), ReportWindow: time.Hour}
	cfg.SigningSecret, cfg.ClientID, cfg.ClientSecret = "sig", "1.2", clientSecret
	b := New(cfg, aws.Config{}, slog.New(slog.DiscardHandler), io.Discard)
	ctx := context.Background()
	now := time.Now()
	if _, err := b.Installs.Save(ctx, installstore.Installation{TeamID: "T0ALPHA001", BotToken: alphaToken, InstalledAt: now}); err != nil {
		t.Fatal(err)
	}
	serveEvent := b.PerWorkspace(b.Events().ServeEvent)
	for i, typ := range []string{`"app_uninstalled"`, `"tokens_revoked","tokens":{"bot":["U0BOT"]}`} {
		body := fmt.Sprintf(`{"type":"event_callback","team_id":"T0ALPHA001","event_id":"EvLate%d","event_time":%d,"event":{"type":%s}}`,
			i, now.Add(-5*time.Minute).Unix(), typ)
		if resp, err := serveEvent(ctx, signed("sig", body)); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("late %s: %d, %v", typ, resp.StatusCode, err)
		}
		if _, err := b.Installs.Get(ctx, "T:T0ALPHA001"); err != nil {
			t.Errorf("a %s of five minutes ago removed the installation made since: %v", typ, err)
		}
	}
}

// TestOrgWideUninstall: an org-wide install's app_uninstalled names the
// org and no team, and removes the org's installation.
func TestOrgWideUninstall(t *testing.T) {
	cfg := config.Config{ReportWindow: time.Hour}
	cfg.SigningSecret, cfg.ClientID, cfg.ClientSecret = "sig", "1.2", clientSecret
	b := New(cfg, aws.Config{}, slog.New(slog.DiscardHandler), io.Discard)
	ctx := context.Background()
	if _, err := b.Installs.Save(ctx, installstore.Installation{EnterpriseID: "E0ORG00001", EnterpriseInstall: true, BotToken: "xoxb-org"}); err != nil {
		t.Fatal(err)
	}
	body := `{"type":"event_callback","team_id":"","enterprise_id":"E0ORG00001","event_id":"EvOrgGone","event":{"type":"app_uninstalled"}}`
	if resp, err := b.PerWorkspace(b.Events().ServeEvent)(ctx, signed("sig", body)); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("app_uninstalled: %d, %v", resp.StatusCode, err)
	}
	if _, err := b.Installs.Get(ctx, "E:E0ORG00001"); err == nil {
		t.Error("the org's installation outlived its app_uninstalled")
	}
}
