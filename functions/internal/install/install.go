// Package install serves Slack's OAuth v2 install: GET /slack/install
// sends the browser to Slack's authorize page, and GET
// /slack/oauth_redirect takes the code Slack sends back, exchanges it with
// oauth.v2.access for the workspace's bot token, and stores the
// installation.
//
// The state that ties the two together is 8 bytes of issue time and 32
// random bytes, signed with an HMAC under a key of this stack, and set in
// a cookie (Secure, HttpOnly, SameSite=Lax) of the browser that asked. The
// redirect accepts it only from that browser, within StateTTL, once: it is
// claimed in the dedupe table before the code is exchanged. Anything else
// gets a plain page and a 4xx, and nothing is exchanged.
package install

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/apigw"
	"github.com/lambda-slackbot/slackbot/functions/internal/chat"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/installstore"
)

// AuthorizeURL is Slack's authorize page.
const AuthorizeURL = "https://slack.com/oauth/v2/authorize"

// StateTTL is how long an install may take between the two routes.
const StateTTL = 10 * time.Minute

// CookieName is the cookie that binds the state to the browser.
const CookieName = "slackbot_oauth_state"

// Handler serves the two routes.
type Handler struct {
	ClientID, ClientSecret string
	// Scopes are the bot scopes to ask for (contract.BotScopes). The
	// manifest adds incoming-webhook when a webhook is configured; its URL
	// comes from the config, so an install need not ask for it.
	Scopes []string
	// Key signs states; derive it with StateKey.
	Key    []byte
	Claims dedupe.Store
	Store  installstore.Store
	// Installed, when set, hears of each installation stored (to drop a
	// cached token of the workspace).
	Installed func(installstore.Installation)
	// APIURL is Slack's Web API base URL ending in "/"; "" for Slack's own.
	APIURL string
	// AuthorizeURL replaces Slack's authorize page (tests); "" for Slack's.
	AuthorizeURL string
	// BaseURL is the public URL the request came to, before /slack/...;
	// nil reads API Gateway's request context (https, domain, stage).
	BaseURL func(req events.APIGatewayProxyRequest) string
	HTTP    *http.Client // nil: http.DefaultClient
	Now     func() time.Time
	Log     *slog.Logger // nil: no logs
}

// StateKey derives the key that signs states from the signing secret, so
// a state can never pass for a Slack signature or a sealed job.
func StateKey(signingSecret string) []byte {
	if signingSecret == "" {
		return nil
	}
	mac := hmac.New(sha256.New, []byte(signingSecret))
	mac.Write([]byte("slackbot oauth state v1"))
	return mac.Sum(nil)
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// notSetUp is the answer without a client id: a clear 404, as for a route
// that does not exist.
func (h *Handler) notSetUp() (events.APIGatewayProxyResponse, bool) {
	if h != nil && h.ClientID != "" && h.ClientSecret != "" && len(h.Key) > 0 {
		return events.APIGatewayProxyResponse{}, false
	}
	return apigw.ErrorResponse(apigw.Errorf(http.StatusNotFound,
		"installing by OAuth is not set up here: set the stack's clientId and clientSecret (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET locally)")), true
}

// ServeInstall answers GET /slack/install: a 302 to Slack's authorize page
// with a new state, and the state's cookie.
func (h *Handler) ServeInstall(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	if resp, off := h.notSetUp(); off {
		return resp, nil
	}
	state := h.newState(h.now())
	q := url.Values{
		"client_id":    {h.ClientID},
		"scope":        {strings.Join(h.Scopes, ",")},
		"redirect_uri": {h.redirectURI(req)},
		"state":        {state},
	}
	authorize := h.AuthorizeURL
	if authorize == "" {
		authorize = AuthorizeURL
	}
	apigw.Log(h.Log).Info("install started", "requestId", req.RequestContext.RequestID)
	return events.APIGatewayProxyResponse{
		StatusCode: http.StatusFound,
		Headers: map[string]string{
			"Location":      authorize + "?" + q.Encode(),
			"Set-Cookie":    cookie(state, int(StateTTL/time.Second)),
			"Cache-Control": "no-store",
		},
	}, nil
}

func cookie(value string, maxAge int) string {
	return (&http.Cookie{Name: CookieName, Value: value, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}).String()
}

// redirectURI is where Slack sends the browser back: this API's
// /slack/oauth_redirect.
func (h *Handler) redirectURI(req events.APIGatewayProxyRequest) string {
	if h.BaseURL != nil {
		return h.BaseURL(req) + contract.OAuthRedirectPath
	}
	host := req.RequestContext.DomainName
	if host == "" {
		host = apigw.Header(req).Get("Host")
	}
	// The request context's path holds the stage (or a custom domain's
	// base path) before the resource.
	prefix := strings.TrimSuffix(req.RequestContext.Path, req.Resource)
	return "https://" + host + prefix + contract.OAuthRedirectPath
}

const (
	stateTime  = 8
	stateNonce = 32
	stateMAC   = sha256.Size
	stateLen   = stateTime + stateNonce + stateMAC
)

func (h *Handler) newState(now time.Time) string {
	b := make([]byte, stateTime+stateNonce, stateLen)
	binary.BigEndian.PutUint64(b, uint64(now.Unix()))
	rand.Read(b[stateTime:])
	m := hmac.New(sha256.New, h.Key)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(m.Sum(b))
}

// Refusals of a state, as the page says them.
var (
	errNoState   = errors.New("The install link is missing its state. Start again from the install page.")
	errForged    = errors.New("The install link's state was not made here. Start again from the install page.")
	errExpired   = errors.New("The install link expired. Start again from the install page.")
	errNoCookie  = errors.New("This browser did not start this install (its cookie is missing). Start again from the install page, in this browser.")
	errElsewhere = errors.New("This install was started in another browser. Start again from the install page, in this browser.")
	errReplayed  = errors.New("This install link was already used. Start again from the install page.")
)

// checkState verifies state's MAC and age, and that the browser holds it.
func (h *Handler) checkState(state string, header http.Header, now time.Time) error {
	if state == "" {
		return errNoState
	}
	b, err := base64.RawURLEncoding.DecodeString(state)
	if err != nil || len(b) != stateLen {
		return errForged
	}
	m := hmac.New(sha256.New, h.Key)
	m.Write(b[:stateTime+stateNonce])
	if !hmac.Equal(m.Sum(nil), b[stateTime+stateNonce:]) {
		return errForged
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b)), 0)
	if now.Sub(issued) >= StateTTL || issued.Sub(now) > time.Minute {
		return errExpired
	}
	r := http.Request{Header: http.Header{"Cookie": header.Values("Cookie")}}
	c, err := r.Cookie(CookieName)
	if err != nil {
		return errNoCookie
	}
	if !hmac.Equal([]byte(c.Value), []byte(state)) {
		return errElsewhere
	}
	return nil
}

// slackCode is the shape of Slack's error codes, such as access_denied.
var slackCode = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9_.]{1,64}$`) })

// ServeRedirect answers GET /slack/oauth_redirect.
func (h *Handler) ServeRedirect(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	if resp, off := h.notSetUp(); off {
		return resp, nil
	}
	log := apigw.Log(h.Log).With("requestId", req.RequestContext.RequestID)
	q := url.Values(req.MultiValueQueryStringParameters)
	if len(q) == 0 {
		q = url.Values{}
		for k, v := range req.QueryStringParameters {
			q.Set(k, v)
		}
	}
	if e := q.Get("error"); e != "" {
		// Anyone can put anything here (a link sent to an admin): only an
		// error code of Slack's shape reaches the log and the page.
		if !slackCode().MatchString(e) {
			e = "an unrecognised error"
		}
		log.Info("install not granted", "slackError", e)
		if e == "access_denied" {
			return page(http.StatusForbidden, "Not installed", "The install was cancelled in Slack, so the app was not installed. You can start again from the install page.", nil), nil
		}
		return page(http.StatusBadRequest, "Not installed", "Slack did not grant the install: "+e+".", nil), nil
	}
	state := q.Get("state")
	if err := h.checkState(state, apigw.Header(req), h.now()); err != nil {
		log.Warn("install refused", "reason", err.Error())
		return page(http.StatusBadRequest, "Not installed", err.Error(), nil), nil
	}
	code := q.Get("code")
	if code == "" {
		return page(http.StatusBadRequest, "Not installed", "Slack's answer has no code. Start again from the install page.", nil), nil
	}
	sum := sha256.Sum256([]byte(state))
	claim, err := h.Claims.Claim(ctx, "oauth-state/"+hex.EncodeToString(sum[:]))
	if err != nil {
		log.Error("claim install state", "error", err)
		return page(http.StatusServiceUnavailable, "Not installed", "The install could not be completed now. Start again in a minute.", nil), nil
	}
	if claim.State != dedupe.Acquired {
		log.Warn("install refused", "reason", errReplayed.Error())
		return page(http.StatusBadRequest, "Not installed", errReplayed.Error(), nil), nil
	}
	// Spent whatever happens next: a code is good once at Slack too.
	defer func() {
		settle, settled := dedupe.Settle(ctx)
		defer settled()
		if err := h.Claims.Complete(settle, claim); err != nil {
			log.Error("mark install state used", "error", err)
		}
	}()
	in, err := h.exchange(ctx, code, h.redirectURI(req))
	if err != nil {
		log.Warn("code exchange failed", "error", err)
		return page(http.StatusBadGateway, "Not installed", "Slack refused to complete the install. Start again from the install page.", nil), nil
	}
	if _, err := h.Store.Save(ctx, in); err != nil {
		log.Error("store installation", "installation", in.Key(), "error", err)
		return page(http.StatusInternalServerError, "Not installed", "Slack granted the install but it could not be stored. Start again from the install page.", nil), nil
	}
	if h.Installed != nil {
		h.Installed(in)
	}
	log.Info("installed", "installation", in.Key(), "team", in.TeamID, "enterprise", in.EnterpriseID, "installer", in.InstallerUserID, "rotating", in.RefreshToken != "")
	where := in.TeamName
	if in.EnterpriseInstall {
		where = in.EnterpriseName
	}
	open := fmt.Sprintf("https://slack.com/app_redirect?app=%s&team=%s", url.QueryEscape(in.AppID), url.QueryEscape(in.TeamID))
	if in.TeamID == "" {
		open = "https://slack.com/app_redirect?app=" + url.QueryEscape(in.AppID)
	}
	resp := page(http.StatusOK, "Installed", "", &installed{Where: where, Open: template.URL(open)})
	resp.Headers["Set-Cookie"] = cookie("", -1)
	return resp, nil
}

// exchange trades the code for the installation with oauth.v2.access.
func (h *Handler) exchange(ctx context.Context, code, redirectURI string) (installstore.Installation, error) {
	client := h.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	var opts []slack.OAuthOption
	if h.APIURL != "" {
		opts = append(opts, slack.OAuthOptionAPIURL(h.APIURL))
	}
	// A Slack that never answers must not hold the browser, and the
	// state's claim, until the invocation ends.
	ctx, cancel := context.WithTimeout(ctx, chat.CallTimeout)
	defer cancel()
	r, err := slack.GetOAuthV2ResponseContext(ctx, client, h.ClientID, h.ClientSecret, code, redirectURI, opts...)
	if err != nil {
		return installstore.Installation{}, fmt.Errorf("oauth.v2.access: %w", err)
	}
	if r.TokenType != "" && r.TokenType != "bot" || r.AccessToken == "" {
		return installstore.Installation{}, errors.New("oauth.v2.access: no bot token in the answer")
	}
	now := h.now()
	in := installstore.Installation{
		TeamID: r.Team.ID, TeamName: r.Team.Name,
		EnterpriseID: r.Enterprise.ID, EnterpriseName: r.Enterprise.Name, EnterpriseInstall: r.IsEnterpriseInstall,
		AppID: r.AppID, BotToken: r.AccessToken, BotUserID: r.BotUserID, Scopes: r.Scope,
		InstallerUserID: r.AuthedUser.ID, InstalledAt: now,
	}
	if r.RefreshToken != "" && r.ExpiresIn > 0 {
		in.RefreshToken, in.ExpiresAt = r.RefreshToken, now.Add(time.Duration(r.ExpiresIn)*time.Second)
	}
	if in.Key() == "" {
		return installstore.Installation{}, errors.New("oauth.v2.access: the answer names no team or org")
	}
	return in, nil
}

type installed struct {
	Where string
	Open  template.URL
}

// pageHTML is every page of the two routes. html/template escapes what
// Slack sent (a workspace's name is anyone's to choose).
var pageHTML = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body><h1>{{.Title}}</h1>
{{with .Installed}}<p>The app is installed in <strong>{{.Where}}</strong>.</p>
<p><a href="{{.Open}}">Open Slack</a></p>{{else}}<p>{{.Text}}</p>{{end}}
</body></html>
`))
})

func page(status int, title, text string, in *installed) events.APIGatewayProxyResponse {
	var b bytes.Buffer
	if err := pageHTML().Execute(&b, struct {
		Title, Text string
		Installed   *installed
	}{title, text, in}); err != nil {
		b.Reset()
		b.WriteString("install page failed")
	}
	return events.APIGatewayProxyResponse{
		StatusCode: status,
		Headers: map[string]string{
			"Content-Type":            "text/html; charset=utf-8",
			"Cache-Control":           "no-store",
			"Content-Security-Policy": "default-src 'none'",
			"Referrer-Policy":         "no-referrer",
		},
		Body: b.String(),
	}
}
