package tokens_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/config"
	"github.com/lambda-slackbot/slackbot/functions/internal/installstore"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/tokens"
	"github.com/lambda-slackbot/slackbot/functions/internal/workspace"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

var moto testenv.SharedMoto

func TestMain(m *testing.M) { testenv.MotoMain(m, &moto) }

const (
	homeToken    = "xoxb-home-token"
	clientID     = "111.222"
	clientSecret = "client-secret-value"
)

var (
	home  = workspace.Workspace{TeamID: testenv.HomeTeam}
	alpha = workspace.Workspace{TeamID: "T0ALPHA001"}
	beta  = workspace.Workspace{TeamID: "T0BETA0001"}
	org   = workspace.Workspace{TeamID: "T0ORGTEAM1", EnterpriseID: "E0ORG00001", EnterpriseInstall: true}
)

func TestEachWorkspaceItsToken(t *testing.T) {
	ctx := context.Background()
	fake := testenv.NewSlack(t, homeToken, nil)
	store := &installstore.Memory{}
	for _, in := range []installstore.Installation{
		{TeamID: alpha.TeamID, BotToken: "xoxb-alpha"},
		{TeamID: beta.TeamID, BotToken: "xoxb-beta"},
		{EnterpriseID: org.EnterpriseID, EnterpriseInstall: true, BotToken: "xoxb-org"},
	} {
		if _, err := store.Save(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	r := &tokens.Resolver{Store: store, Configured: homeToken, APIURL: fake.APIURL()}
	for _, tt := range []struct {
		w    workspace.Workspace
		want string
	}{
		{home, homeToken}, {alpha, "xoxb-alpha"}, {beta, "xoxb-beta"}, {org, "xoxb-org"},
		{workspace.Workspace{TeamID: "T0OTHER001", EnterpriseID: org.EnterpriseID}, ""}, // not org-wide: its own install
		{workspace.Workspace{}, homeToken},
		{home, homeToken}, {alpha, "xoxb-alpha"},
	} {
		got, err := r.Token(ctx, tt.w)
		if tt.want == "" {
			if !errors.Is(err, tokens.ErrNotInstalled) {
				t.Errorf("Token(%+v) = %q, %v; want ErrNotInstalled", tt.w, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Token(%+v) = %q, %v; want %q", tt.w, got, err, tt.want)
		}
	}
	if n := len(fake.Calls()); n != 1 {
		t.Errorf("%d Slack calls (%v), want one auth.test", n, fake.Calls())
	}
}

func TestUninstallReachesEveryContainer(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1800000000, 0)
	store := &installstore.Memory{}
	store.Save(ctx, installstore.Installation{TeamID: alpha.TeamID, BotToken: "xoxb-alpha"})
	here := &tokens.Resolver{Store: store, Now: func() time.Time { return now }}
	there := &tokens.Resolver{Store: store, Now: func() time.Time { return now }}
	for _, r := range []*tokens.Resolver{here, there} {
		if _, err := r.Token(ctx, alpha); err != nil {
			t.Fatal(err)
		}
	}
	store.Delete(ctx, alpha.Key())
	here.Forget(alpha)
	if _, err := here.Token(ctx, alpha); !errors.Is(err, tokens.ErrNotInstalled) {
		t.Errorf("the container that saw the uninstall: %v, want ErrNotInstalled", err)
	}
	if _, err := there.Token(ctx, alpha); err != nil {
		t.Errorf("another container within the cache's time: %v, want its cached token", err)
	}
	now = now.Add(tokens.CacheTTL)
	if _, err := there.Token(ctx, alpha); !errors.Is(err, tokens.ErrNotInstalled) {
		t.Errorf("another container after %s: %v, want ErrNotInstalled", tokens.CacheTTL, err)
	}
}

func TestPosterNotInstalledPostsNothing(t *testing.T) {
	fake := testenv.NewSlack(t, homeToken, map[string]string{"general": "C0GENERAL1"})
	p := &tokens.Poster{Resolver: &tokens.Resolver{Store: &installstore.Memory{}, APIURL: fake.APIURL()}, APIURL: fake.APIURL()}
	_, err := p.Post(workspace.With(context.Background(), alpha), notify.Message{Channel: "C0GENERAL1", Text: "hi"})
	var nerr *notify.Error
	if !errors.As(err, &nerr) || nerr.Code != "not_installed" {
		t.Fatalf("Post = %v, want not_installed", err)
	}
	if len(fake.Calls()) != 0 {
		t.Errorf("Slack was called: %v", fake.Calls())
	}
}

// TestRefreshOnce: 8 containers (resolvers with caches of their own) ask
// for a token that is due for a refresh at the same moment, over one
// DynamoDB table on moto: Slack is asked once, and every one of them
// serves the new token.
func TestRefreshOnce(t *testing.T) {
	ctx := context.Background()
	db, kc, table, key := moto.Get(t).InstallationsTable(t)
	store := &installstore.Dynamo{Client: db, Table: table, Cipher: installstore.KMS{Client: kc, KeyID: key}}
	fake := testenv.NewSlack(t, homeToken, nil)
	fake.SetClient(clientID, clientSecret)
	fake.AddGrant(testenv.Grant{Code: "c1", Team: alpha.TeamID, BotToken: "xoxe.xoxb-alpha", RefreshToken: "xoxe-1-alpha", ExpiresIn: 43200})
	// The grant's refresh token is live at Slack; store the install as
	// if it had been exchanged 11.5 hours ago.
	if _, err := store.Save(ctx, installstore.Installation{
		TeamID: alpha.TeamID, BotToken: "xoxe.xoxb-alpha", RefreshToken: "xoxe-1-alpha",
		ExpiresAt: time.Now().Add(30 * time.Minute),
	}); err != nil {
		t.Fatal(err)
	}
	if err := exchange(fake, "c1"); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&syncWriter{w: &logs}, nil))
	const containers = 8
	got := make([]string, containers)
	errs := make([]error, containers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range containers {
		r := &tokens.Resolver{Store: store, ClientID: clientID, ClientSecret: clientSecret, APIURL: fake.APIURL(), Log: log}
		wg.Go(func() {
			<-start
			got[i], errs[i] = r.Token(ctx, alpha)
		})
	}
	close(start)
	wg.Wait()
	if n := fake.Refreshes(); n != 1 {
		t.Errorf("%d refreshes, want 1 (refused: %v)", n, fake.OAuthRefusals())
	}
	for i := range containers {
		if errs[i] != nil || got[i] != "xoxe.xoxb-alpha.r1" {
			t.Errorf("container %d: %q, %v; want the refreshed token", i, got[i], errs[i])
		}
	}
	in, err := store.Get(ctx, alpha.Key())
	if err != nil || in.BotToken != "xoxe.xoxb-alpha.r1" || in.RefreshToken != "xoxe-1-alpha.r1" || time.Until(in.ExpiresAt) < 11*time.Hour {
		t.Errorf("stored after the refresh: token %q refresh %q expires in %s, %v", in.BotToken, in.RefreshToken, time.Until(in.ExpiresAt), err)
	}
	testenv.NoSecretsIn(t, "resolver logs", logs.String(), "xoxe.xoxb-alpha", "xoxe-1-alpha", clientSecret)
}

// exchange spends the grant's code as an install would.
func exchange(s *testenv.Slack, code string) error {
	_, err := slack.GetOAuthV2ResponseContext(context.Background(), http.DefaultClient, clientID, clientSecret, code, "",
		slack.OAuthOptionAPIURL(s.APIURL()))
	return err
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func BenchmarkTokenCached(b *testing.B) {
	ctx := context.Background()
	store := &installstore.Memory{}
	store.Save(ctx, installstore.Installation{TeamID: alpha.TeamID, BotToken: "xoxb-alpha"})
	r := &tokens.Resolver{Store: store}
	if _, err := r.Token(ctx, alpha); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Token(ctx, alpha); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReportsGoToTheReportTeam: without a configured token, reports go out
// with the installation of reportTeam; with one, with it, as before.
func TestReportsGoToTheReportTeam(t *testing.T) {
	ctx := context.Background()
	fake := testenv.NewSlack(t, homeToken, map[string]string{"latency": "C0LATENCY1"})
	fake.AddToken("xoxb-alpha", alpha.TeamID)
	store := &installstore.Memory{}
	store.Save(ctx, installstore.Installation{TeamID: alpha.TeamID, BotToken: "xoxb-alpha"})
	cfg := config.Config{SlackAPIURL: fake.APIURL(), ReportTeam: alpha.TeamID, ReportVia: contract.ReportViaAuto, SecretARN: "arn:secret"}
	p, err := tokens.ReportPoster(cfg, store, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Post(ctx, notify.Message{Channel: "latency", Text: "report"}); err != nil {
		t.Fatal(err)
	}
	cfg.BotToken = homeToken
	p, err = tokens.ReportPoster(cfg, store, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Post(ctx, notify.Message{Channel: "latency", Text: "report"}); err != nil {
		t.Fatal(err)
	}
	if got := fake.PostTokens(); len(got) != 2 || got[0] != "xoxb-alpha" || got[1] != homeToken {
		t.Errorf("reports posted with %v, want reportTeam's installation, then the configured token", got)
	}
}

// TestConfiguredTokenSlackRefuses: while auth.test refuses the configured
// token, it still serves workspaces without an installation (Slack refuses
// it there too, so nothing is posted), and auth.test is asked once per
// CacheTTL, not on every request.
func TestConfiguredTokenSlackRefuses(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1800000000, 0)
	fake := testenv.NewSlack(t, "xoxb-some-other-token", nil)
	store := &installstore.Memory{}
	store.Save(ctx, installstore.Installation{TeamID: alpha.TeamID, BotToken: "xoxb-alpha"})
	r := &tokens.Resolver{Store: store, Configured: homeToken, APIURL: fake.APIURL(), Now: func() time.Time { return now }}
	for range 3 {
		if got, err := r.Token(ctx, beta); err != nil || got != homeToken {
			t.Fatalf("Token(beta) = %q, %v; want the configured token", got, err)
		}
		if got, err := r.Token(ctx, alpha); err != nil || got != "xoxb-alpha" {
			t.Fatalf("Token(alpha) = %q, %v; want its installation's", got, err)
		}
	}
	if n := len(fake.Calls()); n != 1 {
		t.Errorf("%d auth.test calls within %s, want 1", n, tokens.CacheTTL)
	}
	now = now.Add(tokens.CacheTTL)
	r.Token(ctx, beta)
	if n := len(fake.Calls()); n != 2 {
		t.Errorf("%d auth.test calls after %s, want 2", n, tokens.CacheTTL)
	}
}
