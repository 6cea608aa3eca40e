package testenv

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// ManifestError is one of the errors apps.manifest.validate answers for a
// manifest it refuses: a message and the JSON pointer it is about.
type ManifestError struct {
	Message string `json:"message"`
	Pointer string `json:"pointer"`
}

// AppsCall is one App Manifest API call: its method, the app_id it named and
// the manifest it carried, decoded.
type AppsCall struct {
	Method   string
	AppID    string
	Manifest map[string]any
}

// CreatedApp is an app SlackApps created: its manifest (the latest update's)
// and the signing secret its create answer carried.
type CreatedApp struct {
	Manifest      map[string]any
	SigningSecret string
}

// SlackApps plays Slack's App Manifest API (apps.manifest.validate, create
// and update) and tooling.tokens.rotate with Slack's JSON answers, and
// records every call. Point SLACK_API_URL at APIURL.
//
// As Slack does, it takes one app configuration token and one refresh token
// at a time: ExpireToken makes the token answer token_expired, and a
// rotation with the refresh token issues a new pair and retires the old one.
// When a created or updated manifest sets an events request URL, it posts a
// url_verification signed with the app's signing secret there and refuses
// the manifest unless the challenge comes back, as Slack does on save.
// A call to any other path fails the test.
type SlackApps struct {
	*httptest.Server

	mu        sync.Mutex
	token     string
	refresh   string
	expired   bool
	rotations int
	rejection []ManifestError
	calls     []AppsCall
	apps      map[string]*CreatedApp
}

// NewSlackApps starts a Slack that accepts the configuration token and the
// refresh token, and stops it when the test ends.
func NewSlackApps(t testing.TB, token, refreshToken string) *SlackApps {
	s := &SlackApps{token: token, refresh: refreshToken, apps: map[string]*CreatedApp{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/apps.manifest.validate", s.manifestMethod("apps.manifest.validate"))
	mux.HandleFunc("POST /api/apps.manifest.create", s.manifestMethod("apps.manifest.create"))
	mux.HandleFunc("POST /api/apps.manifest.update", s.manifestMethod("apps.manifest.update"))
	mux.HandleFunc("POST /api/tooling.tokens.rotate", s.rotate)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected Slack call %s %s", r.Method, r.URL.Path)
		writeJSON(w, map[string]any{"ok": false, "error": "unknown_method"})
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// APIURL is the Web API base URL, ending in "/", for SLACK_API_URL.
func (s *SlackApps) APIURL() string { return s.URL + "/api/" }

// ExpireToken makes the current configuration token answer token_expired
// until a rotation replaces it.
func (s *SlackApps) ExpireToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expired = true
}

// Tokens returns the configuration token and refresh token Slack accepts now.
func (s *SlackApps) Tokens() (token, refreshToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token, s.refresh
}

// Rotations counts the successful tooling.tokens.rotate calls.
func (s *SlackApps) Rotations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rotations
}

// RejectManifests makes validate answer invalid_manifest with these errors.
func (s *SlackApps) RejectManifests(errs ...ManifestError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejection = slices.Clone(errs)
}

// AddApp makes an app with this id exist, as if created before.
func (s *SlackApps) AddApp(id, signingSecret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[id] = &CreatedApp{SigningSecret: signingSecret}
}

// App returns the app with this id, if it exists.
func (s *SlackApps) App(id string) (CreatedApp, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[id]
	if !ok {
		return CreatedApp{}, false
	}
	return *a, true
}

// Calls returns every accepted App Manifest API call so far, in order; calls
// refused for their token are not recorded.
func (s *SlackApps) Calls() []AppsCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Methods returns the method of every call Calls returns.
func (s *SlackApps) Methods() []string {
	var m []string
	for _, c := range s.Calls() {
		m = append(m, c.Method)
	}
	return m
}

func (s *SlackApps) manifestMethod(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		if code := s.tokenError(r.PostForm.Get("token")); code != "" {
			s.mu.Unlock()
			writeJSON(w, map[string]any{"ok": false, "error": code})
			return
		}
		var manifest map[string]any
		if err := json.Unmarshal([]byte(r.PostForm.Get("manifest")), &manifest); err != nil {
			s.mu.Unlock()
			writeJSON(w, map[string]any{"ok": false, "error": "invalid_manifest", "errors": []ManifestError{{Message: "invalid JSON: " + err.Error(), Pointer: "/"}}})
			return
		}
		appID := r.PostForm.Get("app_id")
		s.calls = append(s.calls, AppsCall{Method: method, AppID: appID, Manifest: manifest})
		rejection := s.rejection
		app, known := s.apps[appID]
		s.mu.Unlock()

		switch method {
		case "apps.manifest.validate":
			if len(rejection) > 0 {
				writeJSON(w, map[string]any{"ok": false, "error": "invalid_manifest", "errors": rejection})
				return
			}
			writeJSON(w, map[string]any{"ok": true})
		case "apps.manifest.create":
			s.mu.Lock()
			id := fmt.Sprintf("A%09d", len(s.apps)+1)
			app = &CreatedApp{Manifest: manifest, SigningSecret: fmt.Sprintf("%032x", time.Now().UnixNano())}
			s.mu.Unlock()
			if e, ok := verifyEventsURL(manifest, app.SigningSecret); !ok {
				writeJSON(w, map[string]any{"ok": false, "error": "invalid_manifest", "errors": []ManifestError{e}})
				return
			}
			s.mu.Lock()
			s.apps[id] = app
			s.mu.Unlock()
			writeJSON(w, map[string]any{
				"ok":     true,
				"app_id": id,
				"credentials": map[string]any{
					"client_id": "1234.5678", "client_secret": "client-secret-" + id,
					"verification_token": "verification-" + id, "signing_secret": app.SigningSecret,
				},
				"oauth_authorize_url": "https://slack.com/oauth/v2/authorize?client_id=1234.5678&scope=commands,chat:write",
			})
		case "apps.manifest.update":
			if !known {
				writeJSON(w, map[string]any{"ok": false, "error": "invalid_app_id"})
				return
			}
			if e, ok := verifyEventsURL(manifest, app.SigningSecret); !ok {
				writeJSON(w, map[string]any{"ok": false, "error": "invalid_manifest", "errors": []ManifestError{e}})
				return
			}
			s.mu.Lock()
			app.Manifest = manifest
			s.mu.Unlock()
			writeJSON(w, map[string]any{"ok": true, "app_id": appID, "permissions_updated": false})
		}
	}
}

// tokenError is the error Slack answers for a configuration token, or "".
// Caller holds mu.
func (s *SlackApps) tokenError(token string) string {
	switch {
	case token != s.token:
		return "invalid_auth"
	case s.expired:
		return "token_expired"
	}
	return ""
}

// rotate is tooling.tokens.rotate: it needs only the refresh token, which is
// good for one rotation.
func (s *SlackApps) rotate(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.PostForm.Get("refresh_token") != s.refresh {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_refresh_token"})
		return
	}
	s.rotations++
	s.token = fmt.Sprintf("xoxe.xoxp-1-rotated%d", s.rotations)
	s.refresh = fmt.Sprintf("xoxe-1-refresh%d", s.rotations)
	s.expired = false
	now := time.Now().Unix()
	writeJSON(w, map[string]any{
		"ok": true, "token": s.token, "refresh_token": s.refresh,
		"team_id": "T0123", "user_id": "U0123", "iat": now, "exp": now + 12*60*60,
	})
}

// verifyEventsURL does what Slack does when a manifest with an events
// request URL is saved: it posts a signed url_verification there and wants
// the challenge back.
func verifyEventsURL(manifest map[string]any, signingSecret string) (ManifestError, bool) {
	settings, _ := manifest["settings"].(map[string]any)
	events, _ := settings["event_subscriptions"].(map[string]any)
	requestURL, _ := events["request_url"].(string)
	if requestURL == "" {
		return ManifestError{}, true
	}
	refused := ManifestError{
		Message: "Your URL didn't respond with the value of the challenge parameter.",
		Pointer: "/settings/event_subscriptions/request_url",
	}
	if _, err := url.Parse(requestURL); err != nil {
		return refused, false
	}
	challenge := strconv.FormatInt(time.Now().UnixNano(), 36)
	body, _ := json.Marshal(map[string]string{"type": "url_verification", "token": "legacy", "challenge": challenge})
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(signingSecret))
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	req, err := http.NewRequest(http.MethodPost, requestURL, bytes.NewReader(body))
	if err != nil {
		return refused, false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Do(req)
	if err != nil {
		return refused, false
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK || !bytes.Contains(got, []byte(challenge)) {
		return refused, false
	}
	return ManifestError{}, true
}
