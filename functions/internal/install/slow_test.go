package install_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// TestExchangeHasADeadline: when Slack takes the code and never answers,
// the redirect gives up well before the invocation ends, answers with a
// page, and the state stays spent.
func TestExchangeHasADeadline(t *testing.T) {
	f := newFixture(t)
	f.h.APIURL = testenv.Unanswering(t)
	state, cookie := f.start(t)
	q := url.Values{"code": {"code-1"}, "state": {state}}
	// The invocation's deadline: far beyond one Slack call's.
	ctx, cancel := context.WithTimeout(context.Background(), 4*notify.CallTimeout)
	defer cancel()
	resp, err := f.h.ServeRedirect(ctx, gatewayRequest(contract.OAuthRedirectPath, q, cookie))
	if ctx.Err() != nil {
		t.Fatalf("the redirect ran until the invocation's end: %d, %v", resp.StatusCode, ctx.Err())
	}
	if err != nil || resp.StatusCode != http.StatusBadGateway {
		t.Errorf("= %d %s, %v; want 502", resp.StatusCode, resp.Body, err)
	}
	if again := f.redirect(q, cookie); again.StatusCode != http.StatusBadRequest || !strings.Contains(again.Body, "already used") {
		t.Errorf("the same state again = %d %s; want 400, already used", again.StatusCode, again.Body)
	}
}
