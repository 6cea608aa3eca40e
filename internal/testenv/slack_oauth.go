package testenv

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// HomeTeam is the workspace of the token NewSlack was given, as auth.test
// names it: the stack's configured install.
const HomeTeam = "T0HOME0001"

// Call is one Web API call and the token it carried ("" for none).
type Call struct{ Method, Token string }

// Grant is an install Slack would grant: the answer of oauth.v2.access to
// its Code, once.
type Grant struct {
	Code                 string
	Team, TeamName       string
	Enterprise           string
	OrgWide              bool
	BotToken, BotUserID  string
	Installer            string
	RefreshToken         string // set with ExpiresIn for a rotating token
	ExpiresIn            int    // seconds
	RedirectURI          string // the redirect_uri the exchange must name
	exchanged, refreshed int
}

type team struct{ ID, Enterprise string }

type oauth struct {
	clientID, clientSecret string
	grants                 map[string]*Grant // by code
	refresh                map[string]*Grant // live refresh tokens
	exchanges, refreshes   int
	refused                []string // error codes answered
}

// SetClient makes oauth.v2.access accept these app credentials only.
func (s *Slack) SetClient(id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oauth.clientID, s.oauth.clientSecret = id, secret
}

// AddGrant makes oauth.v2.access answer g for g.Code, once, and accept
// its token (and, rotating, its refresh token) afterwards.
func (s *Slack) AddGrant(g Grant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oauth.grants == nil {
		s.oauth.grants, s.oauth.refresh = map[string]*Grant{}, map[string]*Grant{}
	}
	s.oauth.grants[g.Code] = &g
}

// Revoke makes Slack refuse token from now on (token_revoked).
func (s *Slack) Revoke(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, token)
}

// Exchanges counts the codes exchanged, Refreshes the tokens refreshed.
func (s *Slack) Exchanges() int { s.mu.Lock(); defer s.mu.Unlock(); return s.oauth.exchanges }

// Refreshes counts the refresh_token grants answered with a new token.
func (s *Slack) Refreshes() int { s.mu.Lock(); defer s.mu.Unlock(); return s.oauth.refreshes }

// OAuthRefusals returns the error code of every refused oauth.v2.access.
func (s *Slack) OAuthRefusals() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.oauth.refused)
}

// Calls returns every Web API call so far with the token it carried.
func (s *Slack) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// PostTokens returns the token of each chat.postMessage, as Posts orders them.
func (s *Slack) PostTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.postTokens)
}

// accept records the call and checks its token. Caller holds mu.
func (s *Slack) accept(w http.ResponseWriter, r *http.Request, token string) bool {
	s.calls = append(s.calls, Call{Method: strings.TrimPrefix(r.URL.Path, "/api/"), Token: token})
	if _, ok := s.tokens[token]; !ok {
		s.badTokens++
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return false
	}
	return true
}

func (s *Slack) serveOAuth(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/auth.test", s.authTest)
	mux.HandleFunc("POST /api/oauth.v2.access", s.oauthAccess)
}

func (s *Slack) authTest(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorized(w, r) {
		return
	}
	token := s.calls[len(s.calls)-1].Token
	tm := s.tokens[token]
	answer := map[string]any{"ok": true, "team_id": tm.ID, "user_id": "UBOT", "bot_id": "B0BOT"}
	if tm.Enterprise != "" {
		answer["enterprise_id"] = tm.Enterprise
	}
	writeJSON(w, answer)
}

// oauthAccess answers oauth.v2.access: a code exchange or, with
// grant_type=refresh_token, a refresh, each with the app's credentials.
func (s *Slack) oauthAccess(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.calls = append(s.calls, Call{Method: "oauth.v2.access"})
	refuse := func(code string) {
		s.oauth.refused = append(s.oauth.refused, code)
		writeJSON(w, map[string]any{"ok": false, "error": code})
	}
	f := r.PostForm
	if s.oauth.clientID == "" || f.Get("client_id") != s.oauth.clientID || f.Get("client_secret") != s.oauth.clientSecret {
		refuse("invalid_client_id")
		return
	}
	var g *Grant
	switch f.Get("grant_type") {
	case "refresh_token":
		g = s.oauth.refresh[f.Get("refresh_token")]
		if g == nil {
			refuse("invalid_refresh_token")
			return
		}
		// A refresh token is good once; the answer carries the next one.
		delete(s.oauth.refresh, g.RefreshToken)
		g.refreshed++
		s.oauth.refreshes++
		g.BotToken = fmt.Sprintf("%s.r%d", strings.SplitN(g.BotToken, ".r", 2)[0], g.refreshed)
		g.RefreshToken = fmt.Sprintf("%s.r%d", strings.SplitN(g.RefreshToken, ".r", 2)[0], g.refreshed)
	case "", "authorization_code":
		g = s.oauth.grants[f.Get("code")]
		switch {
		case g == nil || g.exchanged > 0:
			refuse("invalid_code")
			return
		case g.RedirectURI != "" && f.Get("redirect_uri") != g.RedirectURI:
			refuse("bad_redirect_uri")
			return
		}
		g.exchanged++
		s.oauth.exchanges++
	default:
		refuse("invalid_grant_type")
		return
	}
	s.tokens[g.BotToken] = team{ID: g.Team, Enterprise: g.Enterprise}
	if g.OrgWide {
		s.tokens[g.BotToken] = team{Enterprise: g.Enterprise}
	}
	answer := map[string]any{
		"ok": true, "access_token": g.BotToken, "token_type": "bot", "scope": "chat:write,commands",
		"bot_user_id": g.BotUserID, "app_id": "A0APP", "is_enterprise_install": g.OrgWide,
		"team":        map[string]any{"id": g.Team, "name": g.TeamName},
		"authed_user": map[string]any{"id": g.Installer},
	}
	if g.Enterprise != "" {
		answer["enterprise"] = map[string]any{"id": g.Enterprise, "name": "Org " + g.Enterprise}
	}
	if g.RefreshToken != "" {
		s.oauth.refresh[g.RefreshToken] = g
		answer["refresh_token"], answer["expires_in"] = g.RefreshToken, g.ExpiresIn
	}
	writeJSON(w, answer)
}

// AddToken makes Slack accept token as the bot token of team, as if it
// had been installed there.
func (s *Slack) AddToken(token, teamID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = team{ID: teamID}
}
