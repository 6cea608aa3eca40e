package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/slack-go/slack"
	"gopkg.in/yaml.v3"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

const (
	configToken  = "xoxe.xoxp-1-configtoken"
	refreshToken = "xoxe-1-refreshtoken"
)

// fakePulumi is a stack: its outputs and its config, with every set recorded.
type fakePulumi struct {
	mu      sync.Mutex
	outputs []byte
	config  map[string]string
	secret  map[string]bool
	sets    []string
}

func newFakePulumi() *fakePulumi {
	return &fakePulumi{outputs: []byte("{}\n"), config: map[string]string{}, secret: map[string]bool{}}
}

func (p *fakePulumi) StackOutputs(context.Context) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.outputs, nil
}

func (p *fakePulumi) ConfigGet(_ context.Context, key string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.config[key], nil
}

func (p *fakePulumi) ConfigSet(_ context.Context, key, value string, secret bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.config[key], p.secret[key] = value, secret
	p.sets = append(p.sets, key)
	return nil
}

func (p *fakePulumi) get(key string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.config[key]
}

// deploy stands in for `pulumi up`: the stack now has outputs, among them
// this manifest.
func (p *fakePulumi) deploy(t *testing.T, m slack.Manifest) {
	t.Helper()
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(map[string]any{"apiUrl": "https://api.example/dev/", outputManifest: string(manifest),
		"installUrl": "https://api.example/dev/slack/install"})
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.outputs = out
}

// function stands in for the deployed events function: it answers Slack's
// url_verification only when signed with the secret it was deployed with.
type function struct {
	*httptest.Server
	mu     sync.Mutex
	secret string
}

func newFunction(t *testing.T) *function {
	f := &function{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		secret := f.secret
		f.mu.Unlock()
		mac := hmac.New(sha256.New, []byte(secret))
		fmt.Fprintf(mac, "v0:%s:%s", r.Header.Get("X-Slack-Request-Timestamp"), body)
		if secret == "" || !hmac.Equal([]byte(r.Header.Get("X-Slack-Signature")), []byte("v0="+hex.EncodeToString(mac.Sum(nil)))) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev struct{ Challenge string }
		_ = json.Unmarshal(body, &ev)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"challenge": ev.Challenge})
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *function) deployWith(secret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secret = secret
}

// stackManifestFor is the manifest infra/manifest.go renders, with the
// function's URL as the events URL.
func stackManifestFor(f *function) slack.Manifest {
	return slack.Manifest{
		Metadata: slack.ManifestMetadata{MajorVersion: 1, MinorVersion: 1},
		Display:  slack.Display{Name: "pingbot", Description: "Answers mentions"},
		Features: slack.Features{
			BotUser:       slack.BotUser{DisplayName: "pingbot"},
			SlashCommands: []slack.ManifestSlashCommand{{Command: "/ping", Description: "ping", Url: f.URL + contract.CommandsPath}},
			Shortcuts:     []slack.Shortcut{{Name: "Notify", CallbackID: contract.NotifyShortcut, Description: "notify", Type: slack.GlobalShortcut}},
		},
		OAuthConfig: slack.OAuthConfig{Scopes: slack.OAuthScopes{Bot: contract.BotScopes}},
		Settings: slack.Settings{
			EventSubscriptions: &slack.EventSubscriptions{RequestUrl: f.URL + contract.EventsPath, BotEvents: []string{"app_mention"}},
			Interactivity:      &slack.Interactivity{IsEnabled: true, RequestUrl: f.URL + contract.InteractionsPath},
		},
	}
}

type env struct {
	slack  *testenv.SlackApps
	pulumi *fakePulumi
	out    bytes.Buffer
	deps   deps
}

func newEnv(t *testing.T) *env {
	e := &env{slack: testenv.NewSlackApps(t, configToken, refreshToken), pulumi: newFakePulumi()}
	e.deps = deps{
		Slack:        slack.New("", slack.OptionAPIURL(e.slack.APIURL())),
		Pulumi:       e.pulumi,
		Token:        configToken,
		RefreshToken: refreshToken,
		TokenFile:    filepath.Join(t.TempDir(), "tokens"),
		Out:          &e.out,
	}
	return e
}

func (e *env) run(t *testing.T) error {
	t.Helper()
	e.out.Reset()
	return run(t.Context(), e.deps)
}

// urlFields lists the parts of a manifest sent to Slack that need a
// request URL.
func urlFields(m map[string]any) []string {
	var found []string
	settings, _ := m["settings"].(map[string]any)
	for _, k := range []string{"event_subscriptions", "interactivity"} {
		if _, ok := settings[k]; ok {
			found = append(found, "settings."+k)
		}
	}
	features, _ := m["features"].(map[string]any)
	for _, k := range []string{"slash_commands", "shortcuts"} {
		if _, ok := features[k]; ok {
			found = append(found, "features."+k)
		}
	}
	return found
}

// TestFirstRunThenLaterRun is the new user's path: the first run creates the
// app without URLs and stores its id and secret; `pulumi up` deploys that
// secret; the second run updates the app with the URLs, which Slack checks
// against the function.
func TestFirstRunThenLaterRun(t *testing.T) {
	e := newEnv(t)
	e.pulumi.config[keyAppName] = "pingbot"

	if err := e.run(t); err != nil {
		t.Fatalf("first run: %v", err)
	}
	if got, want := e.slack.Methods(), []string{"apps.manifest.validate", "apps.manifest.create"}; !slices.Equal(got, want) {
		t.Fatalf("first run called %v, want %v", got, want)
	}
	created := e.slack.Calls()[1].Manifest
	if f := urlFields(created); len(f) > 0 {
		t.Errorf("the app was created with %v, which need request URLs the functions cannot answer yet", f)
	}
	if name := created["display_information"].(map[string]any)["name"]; name != "pingbot" {
		t.Errorf("created app named %v, want the stack's appName pingbot", name)
	}

	appID := e.pulumi.get(keyAppID)
	app, ok := e.slack.App(appID)
	if !ok {
		t.Fatalf("slackAppId %q names no created app", appID)
	}
	if e.pulumi.get(keySigningSecret) != app.SigningSecret || !e.pulumi.secret[keySigningSecret] {
		t.Errorf("signingSecret stored %v as secret=%v, want the app's signing secret, as a secret",
			e.pulumi.get(keySigningSecret) != "", e.pulumi.secret[keySigningSecret])
	}
	if e.pulumi.secret[keyAppID] {
		t.Error("slackAppId stored as a secret; it is an id")
	}
	// As the signing secret: the OAuth credentials that let the stack's
	// install URL take installs, the secret one encrypted.
	if e.pulumi.get(keyClientID) != "1234.5678" || e.pulumi.secret[keyClientID] {
		t.Errorf("clientId stored %q (secret=%v), want the app's, in the clear", e.pulumi.get(keyClientID), e.pulumi.secret[keyClientID])
	}
	if e.pulumi.get(keyClientSecret) != "client-secret-"+appID || !e.pulumi.secret[keyClientSecret] {
		t.Errorf("clientSecret stored %v as secret=%v, want the app's, as a secret", e.pulumi.get(keyClientSecret) != "", e.pulumi.secret[keyClientSecret])
	}
	out := e.out.String()
	if strings.Contains(out, app.SigningSecret) || strings.Contains(out, "client-secret-") {
		t.Error("the first run printed a secret")
	}
	for _, want := range []string{"installUrl", "pulumi up", "make slack-app", appID} {
		if !strings.Contains(out, want) {
			t.Errorf("first run's output lacks %q:\n%s", want, out)
		}
	}

	// `pulumi up`: the function now holds the secret the stack config holds.
	f := newFunction(t)
	f.deployWith(e.pulumi.get(keySigningSecret))
	e.pulumi.deploy(t, stackManifestFor(f))

	if err := e.run(t); err != nil {
		t.Fatalf("later run: %v", err)
	}
	calls := e.slack.Calls()[2:]
	if got, want := e.slack.Methods()[2:], []string{"apps.manifest.validate", "apps.manifest.update"}; !slices.Equal(got, want) {
		t.Fatalf("later run called %v, want %v", got, want)
	}
	for _, c := range calls {
		if c.AppID != appID {
			t.Errorf("%s for app %q, want %q", c.Method, c.AppID, appID)
		}
	}
	app, _ = e.slack.App(appID)
	events := app.Manifest["settings"].(map[string]any)["event_subscriptions"].(map[string]any)
	if events["request_url"] != f.URL+contract.EventsPath {
		t.Errorf("the app's events URL is %v, want the stack's %s", events["request_url"], f.URL+contract.EventsPath)
	}
	if got := len(urlFields(app.Manifest)); got != 4 {
		t.Errorf("the updated app has %d of the 4 parts with URLs", got)
	}
	if got := e.pulumi.sets; !slices.Equal(got, []string{keyAppID, keySigningSecret, keyClientID, keyClientSecret}) {
		t.Errorf("config sets %v: the later run must set nothing", got)
	}
	if !strings.Contains(e.out.String(), "by opening https://api.example/dev/slack/install") || strings.Contains(e.out.String(), "botToken") {
		t.Errorf("later run does not send to the install URL:\n%s", e.out.String())
	}
}

// TestFirstRunFromDeployedStack: a stack deployed before the app existed
// (its secret set by hand) gives its own manifest, created without the parts
// that need URLs, and nothing else dropped.
func TestFirstRunFromDeployedStack(t *testing.T) {
	e := newEnv(t)
	f := newFunction(t)
	f.deployWith("the-old-secret")
	e.pulumi.deploy(t, stackManifestFor(f))

	if err := e.run(t); err != nil {
		t.Fatalf("first run: %v", err)
	}
	if got, want := e.slack.Methods(), []string{"apps.manifest.validate", "apps.manifest.create"}; !slices.Equal(got, want) {
		t.Fatalf("called %v, want %v", got, want)
	}
	created := e.slack.Calls()[1].Manifest
	if f := urlFields(created); len(f) > 0 {
		t.Errorf("created with %v", f)
	}
	scopes := created["oauth_config"].(map[string]any)["scopes"].(map[string]any)["bot"].([]any)
	if len(scopes) != len(contract.BotScopes) {
		t.Errorf("created with scopes %v, want the stack manifest's %v", scopes, contract.BotScopes)
	}
	if e.pulumi.get(keySigningSecret) == "" || e.pulumi.get(keyAppID) == "" {
		t.Error("the app's secret and id were not stored")
	}
}

// TestUpdateBeforeUp: updating before `pulumi up` has deployed the new
// secret fails on Slack's URL check, and says what to run.
func TestUpdateBeforeUp(t *testing.T) {
	e := newEnv(t)
	e.slack.AddApp("A0LATER", "the-new-secret")
	e.pulumi.config[keyAppID] = "A0LATER"
	f := newFunction(t)
	f.deployWith("the-old-secret")
	e.pulumi.deploy(t, stackManifestFor(f))

	err := e.run(t)
	if err == nil {
		t.Fatal("the update succeeded although the function holds another secret")
	}
	for _, want := range []string{"/settings/event_subscriptions/request_url", "pulumi up"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if slices.Contains(e.slack.Methods(), "apps.manifest.create") {
		t.Error("an app was created")
	}
}

// TestAppWithoutOutputs: an app id but no deployed manifest means `pulumi up`
// has not run since creation; nothing is sent to Slack.
func TestAppWithoutOutputs(t *testing.T) {
	e := newEnv(t)
	e.pulumi.config[keyAppID] = "A0LATER"
	err := e.run(t)
	if err == nil || !strings.Contains(err.Error(), "pulumi up") {
		t.Fatalf("error %v, want one saying to run pulumi up", err)
	}
	if got := e.slack.Methods(); len(got) > 0 {
		t.Errorf("called Slack: %v", got)
	}
}

// TestExpiredToken: an expired configuration token is rotated with the
// refresh token, once, and the run goes on with the new one, which is kept
// in the token file and never printed.
func TestExpiredToken(t *testing.T) {
	e := newEnv(t)
	e.slack.ExpireToken()
	if err := e.run(t); err != nil {
		t.Fatalf("run: %v", err)
	}
	if n := e.slack.Rotations(); n != 1 {
		t.Errorf("%d rotations, want 1", n)
	}
	if got, want := e.slack.Methods(), []string{"apps.manifest.validate", "apps.manifest.create"}; !slices.Equal(got, want) {
		t.Errorf("called %v, want %v", got, want)
	}
	token, refresh := e.slack.Tokens()
	b, err := os.ReadFile(e.deps.TokenFile)
	if err != nil {
		t.Fatalf("token file: %v", err)
	}
	want := fmt.Sprintf("export SLACK_CONFIG_TOKEN='%s'\nexport SLACK_CONFIG_REFRESH_TOKEN='%s'\n", token, refresh)
	if string(b) != want {
		t.Errorf("token file holds %q, want %q", b, want)
	}
	if fi, err := os.Stat(e.deps.TokenFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	out := e.out.String()
	if strings.Contains(out, token) || strings.Contains(out, refresh) {
		t.Errorf("the output shows a new token:\n%s", out)
	}
	for _, want := range []string{"expires", e.deps.TokenFile} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestExpiredTokenWithoutRefresh: with no refresh token the run stops with
// what to do, having created nothing.
func TestExpiredTokenWithoutRefresh(t *testing.T) {
	e := newEnv(t)
	e.slack.ExpireToken()
	e.deps.RefreshToken = ""
	err := e.run(t)
	if err == nil {
		t.Fatal("run succeeded with an expired token")
	}
	for _, want := range []string{"token_expired", "SLACK_CONFIG_REFRESH_TOKEN", "App Configuration Tokens"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), configToken) {
		t.Error("the error shows the token")
	}
	if e.slack.Rotations() != 0 || len(e.slack.Calls()) != 0 || len(e.pulumi.sets) != 0 {
		t.Errorf("rotations %d, calls %v, config sets %v: want none", e.slack.Rotations(), e.slack.Methods(), e.pulumi.sets)
	}
}

// TestRejectedManifest: validate's errors are shown with their pointers, and
// nothing is created or stored.
func TestRejectedManifest(t *testing.T) {
	e := newEnv(t)
	e.slack.RejectManifests(
		testenv.ManifestError{Message: "Names containing Slack are not allowed", Pointer: "/display_information/name"},
		testenv.ManifestError{Message: "Invalid scope: chat:writ", Pointer: "/oauth_config/scopes/bot/2"},
	)
	err := e.run(t)
	if err == nil {
		t.Fatal("run succeeded with a rejected manifest")
	}
	for _, want := range []string{
		"invalid_manifest",
		"/display_information/name: Names containing Slack are not allowed",
		"/oauth_config/scopes/bot/2: Invalid scope: chat:writ",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if got := e.slack.Methods(); !slices.Equal(got, []string{"apps.manifest.validate"}) {
		t.Errorf("called %v, want only validate", got)
	}
	if len(e.pulumi.sets) != 0 {
		t.Errorf("config set %v", e.pulumi.sets)
	}
}

func TestNoToken(t *testing.T) {
	e := newEnv(t)
	e.deps.Token = ""
	if err := e.run(t); err == nil || !strings.Contains(err.Error(), "SLACK_CONFIG_TOKEN") {
		t.Fatalf("error %v, want one naming SLACK_CONFIG_TOKEN", err)
	}
	if len(e.slack.Calls()) != 0 {
		t.Error("called Slack without a token")
	}
}

// TestManifestFile: -manifest replaces the stack's output.
func TestManifestFile(t *testing.T) {
	e := newEnv(t)
	f := newFunction(t)
	e.slack.AddApp("A0LATER", "s3cret")
	f.deployWith("s3cret")
	e.pulumi.config[keyAppID] = "A0LATER"
	b, _ := json.Marshal(stackManifestFor(f))
	e.deps.ManifestFile = filepath.Join(t.TempDir(), "manifest.json")
	if err := os.WriteFile(e.deps.ManifestFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.run(t); err != nil {
		t.Fatalf("run: %v", err)
	}
	if got := e.slack.Methods(); !slices.Equal(got, []string{"apps.manifest.validate", "apps.manifest.update"}) {
		t.Errorf("called %v", got)
	}
}

// TestDefaultAppName keeps defaultAppName equal to Pulumi.yaml's default.
func TestDefaultAppName(t *testing.T) {
	b, err := os.ReadFile("../../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var proj struct {
		Config map[string]struct {
			Default any `yaml:"default"`
		} `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &proj); err != nil {
		t.Fatal(err)
	}
	if got := proj.Config[keyAppName].Default; got != defaultAppName {
		t.Errorf("Pulumi.yaml's appName default is %v, defaultAppName %q", got, defaultAppName)
	}
	if _, ok := proj.Config[keyAppID]; !ok {
		t.Errorf("Pulumi.yaml does not declare %s", keyAppID)
	}
}
