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
