package tokens_test

import (
	"context"
	"testing"
	"time"

	"github.com/lambda-slackbot/slackbot/functions/internal/installstore"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/tokens"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// TestSlackCallsHaveDeadlines: the resolver's own Slack calls (auth.test of
// the configured token, the refresh of a rotating one) give up on a Slack
// that never answers well before the invocation ends, so the request is
// still answered: the configured token serves as when auth.test fails, and
// a token due for a refresh serves until the refresh succeeds.
func TestSlackCallsHaveDeadlines(t *testing.T) {
	api := testenv.Unanswering(t)
	store := &installstore.Memory{}
	store.Save(context.Background(), installstore.Installation{TeamID: alpha.TeamID, BotToken: "xoxe.xoxb-alpha",
		RefreshToken: "xoxe-1-alpha", ExpiresAt: time.Now().Add(30 * time.Minute)})
	for _, tt := range []struct {
		name string
		r    *tokens.Resolver
		want string
	}{
		{"auth.test", &tokens.Resolver{Store: store, Configured: homeToken, APIURL: api}, homeToken},
		{"refresh", &tokens.Resolver{Store: store, ClientID: clientID, ClientSecret: clientSecret, APIURL: api}, "xoxe.xoxb-alpha"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// The invocation's deadline: far beyond any call's own.
			ctx, cancel := context.WithTimeout(context.Background(), 4*notify.CallTimeout)
			defer cancel()
			w := beta
			if tt.want != homeToken {
				w = alpha
			}
			got, err := tt.r.Token(ctx, w)
			if ctx.Err() != nil {
				t.Fatalf("Token ran until the invocation's end (%v)", ctx.Err())
			}
			if err != nil || got != tt.want {
				t.Errorf("Token = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestFailedRefreshDoesNotStallRequests: once a container's refresh has
// failed (Slack refused it), the requests that follow, in any container,
// serve the current token, still valid, at once, rather than each waiting
// for a refresh that is no longer running; the next attempt comes when
// the failed one's lease ends.
func TestFailedRefreshDoesNotStallRequests(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1800000000, 0)
	clock := func() time.Time { return now }
	fake := testenv.NewSlack(t, homeToken, nil)
	fake.SetClient(clientID, clientSecret)
	store := &installstore.Memory{}
	store.Save(ctx, installstore.Installation{TeamID: alpha.TeamID, BotToken: "xoxe.xoxb-alpha",
		RefreshToken: "xoxe-1-unknown-to-slack", ExpiresAt: now.Add(30 * time.Minute)})
	container := func() *tokens.Resolver {
		return &tokens.Resolver{Store: store, ClientID: clientID, ClientSecret: clientSecret, APIURL: fake.APIURL(), Now: clock}
	}
	if got, err := container().Token(ctx, alpha); err != nil || got != "xoxe.xoxb-alpha" {
		t.Fatalf("the container whose refresh Slack refused: %q, %v; want the current token", got, err)
	}
	now = now.Add(5 * time.Second)
	// An event's budget: a second.
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	got, err := container().Token(rctx, alpha)
	if rctx.Err() != nil {
		t.Errorf("the next request waited out its budget for a refresh that had failed")
	}
	if err != nil || got != "xoxe.xoxb-alpha" {
		t.Errorf("the next request: %q, %v; want the current token", got, err)
	}
	if n := len(fake.OAuthRefusals()); n != 1 {
		t.Errorf("Slack refused %d refreshes, want 1: the next is tried when the lease ends", n)
	}
}
