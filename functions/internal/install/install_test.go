package install_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/install"
	"github.com/lambda-slackbot/slackbot/functions/internal/installstore"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

const (
	clientID     = "1234.5678"
	clientSecret = "oauth-client-secret"
	botToken     = "xoxb-installed-token"
	redirectURI  = "https://abc123.execute-api.eu-west-1.amazonaws.com/dev/slack/oauth_redirect"
)

type fixture struct {
	h     *install.Handler
	slack *testenv.Slack
	store *installstore.Memory
	logs  *bytes.Buffer
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{slack: testenv.NewSlack(t, "xoxb-home", nil), store: &installstore.Memory{}, logs: &bytes.Buffer{},
		now: time.Unix(1800000000, 0)}
	f.slack.SetClient(clientID, clientSecret)
	f.slack.AddGrant(testenv.Grant{Code: "code-1", Team: "T0ALPHA001", TeamName: `Alpha <script>alert(1)</script> & Co`,
		BotToken: botToken, BotUserID: "U0BOT", Installer: "U0ADMIN", RedirectURI: redirectURI})
	f.h = &install.Handler{
		ClientID: clientID, ClientSecret: clientSecret, Scopes: contract.BotScopes,
		Key: install.StateKey("signing-secret"), Claims: &dedupe.Memory{Now: f.clock}, Store: f.store,
		APIURL: f.slack.APIURL(), Now: f.clock, Log: slog.New(slog.NewJSONHandler(f.logs, nil)),
	}
	t.Cleanup(func() { testenv.NoSecretsIn(t, "install logs", f.logs.String(), clientSecret, botToken, "code-1") })
	return f
}

func (f *fixture) clock() time.Time { return f.now }

// gatewayRequest is what API Gateway sends for a GET on the stage "dev".
func gatewayRequest(path string, query url.Values, cookie string) events.APIGatewayProxyRequest {
	req := events.APIGatewayProxyRequest{
		Resource: path, Path: path, HTTPMethod: http.MethodGet,
		Headers:                         map[string]string{"Host": "abc123.execute-api.eu-west-1.amazonaws.com"},
		MultiValueQueryStringParameters: query,
		RequestContext: events.APIGatewayProxyRequestContext{
			Stage: "dev", Path: "/dev" + path, DomainName: "abc123.execute-api.eu-west-1.amazonaws.com", RequestID: "r1",
		},
	}
	if cookie != "" {
		req.Headers["Cookie"] = cookie
	}
	return req
}

// start runs /slack/install and returns the state and the cookie header
// the browser would send back.
func (f *fixture) start(t *testing.T) (state, cookie string) {
	t.Helper()
	resp, err := f.h.ServeInstall(context.Background(), gatewayRequest(contract.InstallPath, nil, ""))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("install = %d %s, %v; want 302", resp.StatusCode, resp.Body, err)
	}
	loc, err := url.Parse(resp.Headers["Location"])
	if err != nil {
		t.Fatal(err)
	}
	state = loc.Query().Get("state")
	c, err := http.ParseSetCookie(resp.Headers["Set-Cookie"])
	if err != nil {
		t.Fatalf("Set-Cookie %q: %v", resp.Headers["Set-Cookie"], err)
	}
	return state, c.Name + "=" + c.Value
}

func (f *fixture) redirect(q url.Values, cookie string) events.APIGatewayProxyResponse {
	resp, _ := f.h.ServeRedirect(context.Background(), gatewayRequest(contract.OAuthRedirectPath, q, cookie))
	return resp
}

func TestInstallRedirectsToSlack(t *testing.T) {
	f := newFixture(t)
	resp, err := f.h.ServeInstall(context.Background(), gatewayRequest(contract.InstallPath, nil, ""))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("install = %d, %v", resp.StatusCode, err)
	}
	loc, _ := url.Parse(resp.Headers["Location"])
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != install.AuthorizeURL {
		t.Errorf("Location goes to %s, want %s", got, install.AuthorizeURL)
	}
	q := loc.Query()
	if q.Get("client_id") != clientID || q.Get("scope") != strings.Join(contract.BotScopes, ",") || q.Get("redirect_uri") != redirectURI {
		t.Errorf("authorize query = %v", q)
	}
	raw, err := base64.RawURLEncoding.DecodeString(q.Get("state"))
	if err != nil || len(raw) < 8+16 {
		t.Errorf("state %q: %d bytes, %v; want at least 128 random bits besides the time", q.Get("state"), len(raw), err)
	}
	c, err := http.ParseSetCookie(resp.Headers["Set-Cookie"])
	if err != nil {
		t.Fatal(err)
	}
	if c.Value != q.Get("state") || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.MaxAge != 600 {
		t.Errorf("cookie = %+v; want the state, Secure, HttpOnly, SameSite=Lax, Max-Age=600", c)
	}
	state2, _ := f.start(t)
	if state2 == q.Get("state") {
		t.Error("two installs got the same state")
	}
}

func TestRedirectExchangesOnce(t *testing.T) {
	f := newFixture(t)
	state, cookie := f.start(t)
	f.now = f.now.Add(2 * time.Minute)
	q := url.Values{"code": {"code-1"}, "state": {state}}
	resp := f.redirect(q, cookie)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("redirect = %d %s", resp.StatusCode, resp.Body)
	}
	if strings.Contains(resp.Body, "<script>") || !strings.Contains(resp.Body, "Alpha &lt;script&gt;") {
		t.Errorf("the page does not escape the workspace's name:\n%s", resp.Body)
	}
	if !strings.Contains(resp.Body, `href="https://slack.com/app_redirect?app=A0APP&amp;team=T0ALPHA001"`) {
		t.Errorf("no link to open Slack:\n%s", resp.Body)
	}
	in, err := f.store.Get(context.Background(), "T:T0ALPHA001")
	if err != nil || in.BotToken != botToken || in.BotUserID != "U0BOT" || in.InstallerUserID != "U0ADMIN" || !in.InstalledAt.Equal(f.now) {
		t.Errorf("stored %+v, %v", in, err)
	}
	// The same answer again (a reload, or someone who saw the URL).
	if again := f.redirect(q, cookie); again.StatusCode != http.StatusBadRequest || !strings.Contains(again.Body, "already used") {
		t.Errorf("replayed state = %d %s; want 400, already used", again.StatusCode, again.Body)
	}
	if n := f.slack.Exchanges(); n != 1 {
		t.Errorf("%d exchanges, want 1", n)
	}
}

func TestRedirectRefusals(t *testing.T) {
	for _, tt := range []struct {
		name   string
		query  func(state string) url.Values
		cookie func(cookie string) string
		later  time.Duration
		status int
		says   string
	}{
		{name: "missing state", query: func(string) url.Values { return url.Values{"code": {"code-1"}} }, status: 400, says: "missing its state"},
		{name: "forged state", query: func(s string) url.Values {
			b, _ := base64.RawURLEncoding.DecodeString(s)
			b[10] ^= 1
			return url.Values{"code": {"code-1"}, "state": {base64.RawURLEncoding.EncodeToString(b)}}
		}, status: 400, says: "not made here"},
		{name: "unknown state", query: func(string) url.Values {
			return url.Values{"code": {"code-1"}, "state": {base64.RawURLEncoding.EncodeToString(make([]byte, 72))}}
		}, status: 400, says: "not made here"},
		{name: "expired state", later: install.StateTTL, status: 400, says: "expired"},
		{name: "no cookie", cookie: func(string) string { return "" }, status: 400, says: "cookie is missing"},
		{name: "other browser", cookie: func(string) string { return install.CookieName + "=someone-elses-state" }, status: 400, says: "another browser"},
		{name: "access denied", query: func(s string) url.Values { return url.Values{"error": {"access_denied"}, "state": {s}} }, status: 403, says: "cancelled"},
		{name: "no code", query: func(s string) url.Values { return url.Values{"state": {s}} }, status: 400, says: "no code"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			state, cookie := f.start(t)
			f.now = f.now.Add(tt.later)
			q := url.Values{"code": {"code-1"}, "state": {state}}
			if tt.query != nil {
				q = tt.query(state)
			}
			if tt.cookie != nil {
				cookie = tt.cookie(cookie)
			}
			resp := f.redirect(q, cookie)
			if resp.StatusCode != tt.status || !strings.Contains(resp.Body, tt.says) || !strings.HasPrefix(resp.Headers["Content-Type"], "text/html") {
				t.Errorf("= %d %q %s; want %d saying %q", resp.StatusCode, resp.Headers["Content-Type"], resp.Body, tt.status, tt.says)
			}
			if n := f.slack.Exchanges(); n != 0 {
				t.Errorf("%d codes exchanged, want none", n)
			}
			if _, err := f.store.Get(context.Background(), "T:T0ALPHA001"); err == nil {
				t.Error("an installation was stored")
			}
		})
	}
}

func TestNotSetUp(t *testing.T) {
	for _, h := range []*install.Handler{nil, {Key: install.StateKey("s")}} {
		for _, serve := range []func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error){h.ServeInstall, h.ServeRedirect} {
			resp, err := serve(context.Background(), gatewayRequest(contract.InstallPath, nil, ""))
			if err != nil || resp.StatusCode != http.StatusNotFound || !strings.Contains(resp.Body, `"error":"installing by OAuth is not set up here`) {
				t.Errorf("= %d %s, %v; want a 404 JSON error", resp.StatusCode, resp.Body, err)
			}
		}
	}
}

func FuzzRedirect(f *testing.F) {
	f.Add("state", "slackbot_oauth_state=state", "code")
	f.Add("", "", "")
	h := &install.Handler{ClientID: clientID, ClientSecret: clientSecret, Key: install.StateKey("k"),
		Claims: &dedupe.Memory{}, Store: &installstore.Memory{}, APIURL: "http://127.0.0.1:1/api/"} // no Log: no logs, no panic
	f.Fuzz(func(t *testing.T, state, cookie, code string) {
		resp, err := h.ServeRedirect(context.Background(), gatewayRequest(contract.OAuthRedirectPath,
			url.Values{"state": {state}, "code": {code}}, cookie))
		if err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("a state not made here: %d, %v; want 400", resp.StatusCode, err)
		}
		// The same text as Slack's error parameter: a 4xx page either way.
		resp, err = h.ServeRedirect(context.Background(), gatewayRequest(contract.OAuthRedirectPath,
			url.Values{"error": {code}, "state": {state}}, cookie))
		if err != nil || resp.StatusCode/100 != 4 && code != "" {
			t.Errorf("error=%q: %d, %v; want a 4xx", code, resp.StatusCode, err)
		}
	})
}

// TestOrgWideInstall: an Enterprise Grid org's install is kept under the
// org, with its rotating token's refresh token and expiry.
func TestOrgWideInstall(t *testing.T) {
	f := newFixture(t)
	f.slack.AddGrant(testenv.Grant{Code: "org-code", Enterprise: "E0ORG00001", OrgWide: true, BotToken: "xoxe.xoxb-org",
		RefreshToken: "xoxe-1-org", ExpiresIn: 43200, Installer: "U0ADMIN", RedirectURI: redirectURI})
	state, cookie := f.start(t)
	resp := f.redirect(url.Values{"code": {"org-code"}, "state": {state}}, cookie)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, "Org E0ORG00001") {
		t.Fatalf("redirect = %d %s", resp.StatusCode, resp.Body)
	}
	in, err := f.store.Get(context.Background(), "E:E0ORG00001")
	if err != nil || !in.EnterpriseInstall || in.BotToken != "xoxe.xoxb-org" || in.RefreshToken != "xoxe-1-org" ||
		!in.ExpiresAt.Equal(f.now.Add(12*time.Hour)) {
		t.Errorf("stored %+v, %v; want the org's install with its refresh token, expiring in 12 h", in, err)
	}
	testenv.NoSecretsIn(t, "install logs", f.logs.String(), "xoxe.xoxb-org", "xoxe-1-org")
}

// TestRedirectErrorIsNotEchoed: the error parameter is anyone's to write
// (a link sent to an admin), so the page names only an error code of
// Slack's shape and never shows someone else's sentence under this
// stack's address.
func TestRedirectErrorIsNotEchoed(t *testing.T) {
	f := newFixture(t)
	for _, e := range []string{"Your workspace is locked. Call +1 555 0100 to unlock it", strings.Repeat("x", 5000)} {
		resp := f.redirect(url.Values{"error": {e}}, "")
		if resp.StatusCode != http.StatusBadRequest || strings.Contains(resp.Body, "555 0100") || len(resp.Body) > 2000 {
			t.Errorf("error=%.40q: %d, %d bytes:\n%.600s", e, resp.StatusCode, len(resp.Body), resp.Body)
		}
	}
	if resp := f.redirect(url.Values{"error": {"invalid_team_for_non_distributed_app"}}, ""); !strings.Contains(resp.Body, "invalid_team_for_non_distributed_app") {
		t.Errorf("Slack's own error code is not named:\n%s", resp.Body)
	}
}
