package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/bot"
	"github.com/lambda-slackbot/slackbot/functions/internal/config"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// noFollow answers a redirect as a browser's address bar would show it.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, u, cookie string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func body(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestDevServerInstall: with SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, the
// dev server takes an install through Slack's OAuth flow, keeps it in
// memory, and answers that workspace with its token.
func TestDevServerInstall(t *testing.T) {
	slack := testenv.NewSlack(t, "xoxb-unused", map[string]string{"general": "C0GENERAL1"})
	slack.SetClient("111.222", "dev-client-secret")
	logs, out := &syncBuffer{}, &syncBuffer{}
	cfg := config.Config{ReportWindow: time.Hour, SlackAPIURL: slack.APIURL()}
	cfg.SigningSecret, cfg.ClientID, cfg.ClientSecret = "dev-secret", "111.222", "dev-client-secret"
	b := bot.New(cfg, aws.Config{Region: "us-east-1"}, slog.New(slog.NewJSONHandler(logs, nil)), out)
	srv := httptest.NewServer(newHandler(b, out))
	defer srv.Close()
	slack.AddGrant(testenv.Grant{Code: "dev-code", Team: "T0DEV00001", TeamName: "Dev & <Co>", BotToken: "xoxb-dev-installed",
		BotUserID: "U0BOT", Installer: "U0ME", RedirectURI: srv.URL + contract.OAuthRedirectPath})

	resp := get(t, srv.URL+contract.InstallPath, "")
	body(resp)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), "https://slack.com/oauth/v2/authorize?") {
		t.Fatalf("install: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := loc.Query().Get("redirect_uri"); got != srv.URL+contract.OAuthRedirectPath {
		t.Errorf("redirect_uri %q, want the dev server's own", got)
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 || !cookies[0].Secure || !cookies[0].HttpOnly || cookies[0].Value != loc.Query().Get("state") {
		t.Fatalf("cookies %+v", cookies)
	}
	back := srv.URL + contract.OAuthRedirectPath + "?" + url.Values{"code": {"dev-code"}, "state": {loc.Query().Get("state")}}.Encode()
	cookie := cookies[0].Name + "=" + cookies[0].Value

	if resp := get(t, back, ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("without the cookie: %d, want 400", resp.StatusCode)
	}
	page := get(t, back, cookie)
	if text := body(page); page.StatusCode != http.StatusOK || !strings.Contains(text, "Dev &amp; &lt;Co&gt;") {
		t.Fatalf("redirect: %d\n%s", page.StatusCode, text)
	}
	if resp := get(t, back, cookie); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body(resp), "already used") {
		t.Errorf("replay: %d, want 400", resp.StatusCode)
	}
	if n := slack.Exchanges(); n != 1 {
		t.Errorf("%d exchanges, want 1", n)
	}

	for _, team := range []string{"T0DEV00001", "T0ELSEWHER"} {
		ev := fmt.Sprintf(`{"type":"event_callback","team_id":%q,"event_id":"Ev-%s","event":{"type":"app_mention","user":"U1","text":"<@U0BOT> hi","channel":"C0GENERAL1","ts":"1.2","event_ts":"1.2"}}`, team, team)
		if code, text := signedPost(t, srv.URL+contract.EventsPath, ev); code != http.StatusOK {
			t.Fatalf("mention from %s: %d %s", team, code, text)
		}
	}
	if got := slack.PostTokens(); len(got) != 1 || got[0] != "xoxb-dev-installed" {
		t.Errorf("posts carried %v, want one, with the installed workspace's token", got)
	}
	testenv.NoSecretsIn(t, "dev server logs", logs.String()+out.String(), "xoxb-dev-installed", "dev-client-secret")
}

// TestDevServerWithoutClientID: the install routes say they are not set up.
func TestDevServerWithoutClientID(t *testing.T) {
	cfg := config.Config{ReportWindow: time.Hour}
	cfg.SigningSecret = "dev-secret"
	b := bot.New(cfg, aws.Config{Region: "us-east-1"}, slog.New(slog.DiscardHandler), io.Discard)
	srv := httptest.NewServer(newHandler(b, io.Discard))
	defer srv.Close()
	for _, path := range []string{contract.InstallPath, contract.OAuthRedirectPath} {
		resp := get(t, srv.URL+path, "")
		if text := body(resp); resp.StatusCode != http.StatusNotFound || !strings.Contains(text, `"error":"installing by OAuth is not set up here`) ||
			resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s", path, resp.StatusCode, text)
		}
	}
}
