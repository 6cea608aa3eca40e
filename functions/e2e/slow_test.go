package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// TestEventsLambdaWithSlowSlack: the shipped events bootstrap, with Lambda's
// deadline set short, meets a Slack that answers a reply late, then one
// that refuses a reply once with a 503. Slack delivers each event four
// times (the first and its retries): the late reply is delivered once and
// never repeated; the refused one is posted by the retry, once.
func TestEventsLambdaWithSlowSlack(t *testing.T) {
	env, slack, _ := fixture(t)
	fn := testenv.StartLambda(t, bootstraps(t)[contract.EventsFunction], append(env, "AWS_LAMBDA_FUNCTION_TIMEOUT=3"))
	ctx := context.Background()
	// Warm: the cold start's secret read is not the test.
	var resp events.APIGatewayProxyResponse
	if err := fn.InvokeJSON(ctx, signedRequest(contract.EventsPath, `{"type":"url_verification","challenge":"c"}`), &resp); err != nil || resp.StatusCode != 200 {
		t.Fatalf("challenge: %v %d", err, resp.StatusCode)
	}
	for i, c := range testenv.SlowReplies {
		t.Run(c.Name, func(t *testing.T) {
			before := len(slack.Posts())
			slack.SetMode(c.Mode, testenv.MethodPostMessage)
			mention := fmt.Sprintf(`{"type":"event_callback","event_id":"Ev0SLOW%d","event":{"type":"app_mention","user":"U1","text":"<@U0BOT> hello","ts":"1700000000.00020%d","channel":"C0123ABCD"}}`, i, i)
			for retry := range 4 {
				req := signedRequest(contract.EventsPath, mention)
				if retry > 0 {
					req.Headers["X-Slack-Retry-Num"] = fmt.Sprint(retry)
				}
				resp := events.APIGatewayProxyResponse{}
				if err := fn.InvokeJSON(ctx, req, &resp); err != nil {
					t.Fatalf("delivery %d: %v (the function must answer before its deadline)", retry, err)
				}
				want := 200
				if retry == 0 {
					want = c.WantFirst
				}
				if resp.StatusCode != want {
					t.Errorf("delivery %d: %d %s, want %d", retry, resp.StatusCode, resp.Body, want)
				}
			}
			if n := len(slack.Posts()) - before; n != 1 {
				t.Errorf("Slack got the reply %d times, want once", n)
			}
		})
	}
}

// TestDeferredJobWithSwallowingSlack: the shipped commands bootstrap, with
// Lambda's deadline set short, runs a deferred notify whose answer Slack
// takes on the response_url and never answers. The job ends before the
// deadline, marks itself done, and is not an error; delivered again after
// its claim's lease has run out, it posts nothing.
func TestDeferredJobWithSwallowingSlack(t *testing.T) {
	env, slack, _ := fixture(t)
	slack.SetMembers("C0NEWS0001", "U0ADA")
	slack.SetMode(testenv.Swallow, testenv.MethodResponseURL)
	lambdaAPI := newLambdaAPI(t)
	const lease = 5 * time.Second // longer than the function's timeout, as it must be
	fn := testenv.StartLambda(t, bootstraps(t)[contract.CommandsFunction], append(env,
		"AWS_ENDPOINT_URL_LAMBDA="+lambdaAPI.URL, "AWS_LAMBDA_FUNCTION_NAME=slackbot-e2e-commands",
		"AWS_LAMBDA_FUNCTION_TIMEOUT=4", contract.EnvClaimLease+"="+lease.String()))
	ctx := context.Background()
	form := url.Values{"command": {"/slackbot"}, "text": {"notify #news deploy done"}, "user_id": {"U0ADA"}, "user_name": {"ada"},
		"channel_id": {"C0123ABCD"}, "team_id": {"T1"}, "response_url": {slack.ResponseURL()}, "trigger_id": {"e2e.slow.1"}}.Encode()
	var resp events.APIGatewayProxyResponse
	if err := fn.InvokeJSON(ctx, signedRequest(contract.CommandsPath, form), &resp); err != nil || !strings.Contains(resp.Body, "Posting to #news") {
		t.Fatalf("notify: %v %d %s", err, resp.StatusCode, resp.Body)
	}
	calls := lambdaAPI.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d deferred invocations, want 1", len(calls))
	}
	for i := range 2 {
		out, err := fn.Invoke(ctx, calls[0].Payload)
		if err != nil || strings.Contains(string(out), "errorMessage") {
			t.Fatalf("delivery %d of the job: %s, %v; want it done within the deadline, without an error", i, out, err)
		}
		if i == 0 {
			time.Sleep(lease + time.Second) // the claim's lease is long over
		}
	}
	if n := len(slack.Posts()); n != 1 {
		t.Errorf("%d posts to #news, want 1", n)
	}
	if n := slack.Attempts(testenv.MethodResponseURL); n != 1 {
		t.Errorf("%d answers on the response_url, want 1", n)
	}
	if !strings.Contains(fn.Logs(), "taken as delivered") {
		t.Errorf("the unanswered job is not logged:\n%s", fn.Logs())
	}
}
