package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify/verifytest"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

const sketchTable = "slackbot-sketches"

// payloads of the three kinds of interaction, as Slack posts them.

func reportClick(responseURL, trigger string) string {
	value, _ := json.Marshal(contract.ReportChoice{Window: "24h"})
	return payloadForm(map[string]any{
		"type": "block_actions", "user": map[string]string{"id": "U0ADA"}, "team": map[string]string{"id": "T1"},
		"trigger_id": trigger, "response_url": responseURL,
		"container": map[string]any{"type": "message", "channel_id": "C0123ABCD", "message_ts": "1700000000.000100", "is_ephemeral": true},
		"actions":   []map[string]any{{"type": "button", "action_id": contract.ActionReportWindow + "_24h", "block_id": "report", "value": string(value)}},
	})
}

func notifyShortcut(trigger string) string {
	return payloadForm(map[string]any{"type": "shortcut", "callback_id": contract.NotifyShortcut, "trigger_id": trigger,
		"user": map[string]string{"id": "U0ADA"}, "team": map[string]string{"id": "T1"}})
}

func notifySubmission(viewID, channel, text string) string {
	return payloadForm(map[string]any{
		"type": "view_submission", "user": map[string]string{"id": "U0ADA"}, "team": map[string]string{"id": "T1"},
		"view": map[string]any{"id": viewID, "callback_id": contract.NotifyShortcut, "state": map[string]any{"values": map[string]any{
			"channel": map[string]any{"channel": map[string]any{"type": "conversations_select", "selected_conversation": channel}},
			"text":    map[string]any{"text": map[string]any{"type": "plain_text_input", "value": text}},
		}}},
	})
}

func payloadForm(p map[string]any) string {
	b, _ := json.Marshal(p)
	return url.Values{"payload": {string(b)}}.Encode()
}

// checkInteractions sends the three kinds of interaction, and a forgery,
// through send, and checks what reached Slack. settled waits for deferred
// work that runs beside the answer (the dev server's goroutine); run runs
// the deferred work Lambda would deliver, twice.
func checkInteractions(t *testing.T, slack *testenv.Slack, send func(body string, forge bool) (int, string), settle func(n int)) {
	t.Helper()
	if status, body := send(reportClick(slack.ResponseURL(), "forged.1"), true); status != 401 || !strings.Contains(body, `"error"`) {
		t.Fatalf("forged click: %d %s, want 401 {\"error\"}", status, body)
	}
	if status, body := send(reportClick(slack.ResponseURL(), "click.1"), false); status != 200 || body != "" {
		t.Fatalf("click: %d %q, want an empty 200", status, body)
	}
	settle(1)
	responses := slack.Responses()
	if len(responses) != 1 || responses[0]["replace_original"] != true || !strings.Contains(fmt.Sprint(responses[0]["text"]), "last 1d") {
		t.Fatalf("response_url posts %v: want one report for the last day (24h) replacing the clicked one", responses)
	}

	if status, body := send(notifyShortcut("shortcut.1"), false); status != 200 {
		t.Fatalf("shortcut: %d %s", status, body)
	}
	if views := slack.Views(); len(views) != 1 || views[0].TriggerID != "shortcut.1" || views[0].View["callback_id"] != contract.NotifyShortcut {
		t.Fatalf("views.open calls %+v: want the notify modal for the shortcut's trigger", views)
	}

	// The same view submitted twice (the first answer lost): one post.
	for i := range 2 {
		status, body := send(notifySubmission("V0E2E", "C0NEWS0001", "deploy done <!channel>"), false)
		if status != 200 || !strings.Contains(body, `"response_action":"update"`) {
			t.Fatalf("submission %d: %d %s", i, status, body)
		}
	}
	posts := slack.Posts()
	if len(posts) != 1 || posts[0].Get("channel") != "C0NEWS0001" || !strings.Contains(posts[0].Get("text"), "deploy done &lt;!channel&gt;") ||
		!strings.Contains(posts[0].Get("text"), "<@U0ADA>") {
		t.Fatalf("chat.postMessage calls %v: want one escaped post saying who asked", posts)
	}
	// Not a member: refused in the modal, nothing posted.
	status, body := send(notifySubmission("V0E2E2", "C0123ABCD", "hi"), false)
	if status != 200 || !strings.Contains(body, `"response_action":"errors"`) || !strings.Contains(body, "can't post there") {
		t.Fatalf("refused submission: %d %s", status, body)
	}
	if len(slack.Posts()) != 1 {
		t.Fatal("a refused submission posted")
	}
}

// TestInteractionsLambda sends interactions to the shipped commands
// bootstrap under the Lambda emulator, as API Gateway would.
func TestInteractionsLambda(t *testing.T) {
	env, slack, cfg := fixture(t)
	testenv.CreateSketchTable(t, dynamodb.NewFromConfig(cfg), sketchTable)
	slack.SetMembers("C0NEWS0001", "U0ADA")
	slack.SetMembers("C0123ABCD", "U0OTHER")
	lambdaAPI := newLambdaAPI(t)
	env = append(env, "AWS_ENDPOINT_URL_LAMBDA="+lambdaAPI.URL, "AWS_LAMBDA_FUNCTION_NAME=slackbot-e2e-commands",
		contract.EnvSketchTable+"="+sketchTable)
	fn := testenv.StartLambda(t, bootstraps(t)[contract.CommandsFunction], env)
	ctx := context.Background()

	send := func(body string, forge bool) (int, string) {
		t.Helper()
		req := signedRequest(contract.InteractionsPath, body)
		req.Headers["Content-Type"] = "application/x-www-form-urlencoded"
		if forge {
			req.Headers["X-Slack-Signature"] = "v0=" + strings.Repeat("ab", 32)
		}
		req.MultiValueHeaders = nil
		var resp events.APIGatewayProxyResponse
		if err := fn.InvokeJSON(ctx, req, &resp); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Body
	}
	// Lambda delivers the asynchronous invocation the click sent, and may
	// deliver it twice.
	delivered := 0
	settle := func(n int) {
		t.Helper()
		calls := lambdaAPI.Calls()
		if len(calls) != delivered+n {
			t.Fatalf("%d asynchronous invocations, want %d", len(calls), delivered+n)
		}
		for _, c := range calls[delivered:] {
			for range 2 {
				if out, err := fn.Invoke(ctx, c.Payload); err != nil || strings.Contains(string(out), "errorMessage") {
					t.Fatalf("deferred job: %s, %v\n%s", out, err, fn.Logs())
				}
			}
		}
		delivered = len(calls)
	}
	checkInteractions(t, slack, send, settle)
}

// TestInteractionsDevServer sends interactions to the dev server binary
// `make dev` runs, with a fake Slack behind it.
func TestInteractionsDevServer(t *testing.T) {
	slack := testenv.NewSlack(t, botToken, map[string]string{"news": "C0NEWS0001"})
	slack.SetMembers("C0NEWS0001", "U0ADA")
	slack.SetMembers("C0123ABCD", "U0OTHER")
	bin := testenv.BuildBootstrap(t, "./functions/devserver")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "-addr", addr)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		contract.EnvSigningSecret + "=" + signingSecret, contract.EnvBotToken + "=" + botToken,
		contract.EnvSlackAPIURL + "=" + slack.APIURL(), contract.EnvLogLevel + "=warn"}
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = io.Discard, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dev server did not start:\n%s", logs.String())
		}
	}

	send := func(body string, forge bool) (int, string) {
		t.Helper()
		secret := signingSecret
		if forge {
			secret = "not-the-secret"
		}
		ts, sig := verifytest.Signature(secret, time.Now(), []byte(body))
		req, _ := http.NewRequest(http.MethodPost, base+contract.InteractionsPath, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Slack-Request-Timestamp", ts)
		req.Header.Set("X-Slack-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The dev server finishes deferred work in a goroutine: wait for its
	// post to arrive (the wait bounds a hang; it asserts nothing).
	settle := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); len(slack.Responses()) < n; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no response_url post for the click:\n%s", logs.String())
			}
		}
	}
	checkInteractions(t, slack, send, settle)
}
