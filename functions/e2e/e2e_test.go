package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/slash"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify"
	"github.com/lambda-slackbot/slackbot/infra/lambdabuild"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

const (
	signingSecret = "e2e-signing-secret"
	botToken      = "xoxb-e2e-bot-token"
	dedupeTable   = "slackbot-dedupe"
)

// fixture starts moto with the secret and the dedupe table, and Slack.
func fixture(t testing.TB) (env []string, slack *testenv.Slack) {
	ctx := context.Background()
	moto := testenv.NewMoto(t)
	cfg, err := moto.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := json.Marshal(contract.Secret{SigningSecret: signingSecret, BotToken: botToken})
	out, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("slackbot/e2e"), SecretString: aws.String(string(secret)),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = dynamodb.NewFromConfig(cfg).CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(dedupeTable),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(dedupe.KeyAttr), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(dedupe.KeyAttr), KeyType: types.KeyTypeHash}},
	})
	if err != nil {
		t.Fatal(err)
	}
	slack = testenv.NewSlack(t, botToken, map[string]string{"news": "C0NEWS0001"})
	env = append(moto.Env(),
		contract.EnvSecretARN+"="+*out.ARN,
		contract.EnvSlackAPIURL+"="+slack.APIURL(),
		contract.EnvDedupeTable+"="+dedupeTable,
	)
	return env, slack
}

var (
	buildOnce sync.Once
	built     map[string]string
	buildErr  error
)

// bootstraps builds the functions with infra's builder for this machine.
func bootstraps(t testing.TB) map[string]string {
	buildOnce.Do(func() {
		root, err := lambdabuild.FindModuleRoot(".")
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "slackbot-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		arts, err := lambdabuild.BuildAll(context.Background(),
			lambdabuild.Options{ModuleRoot: root, GOOS: "linux", GOARCH: runtime.GOARCH, OutDir: dir},
			"./functions/"+contract.EventsFunction, "./functions/"+contract.CommandsFunction)
		if err != nil {
			buildErr = err
			return
		}
		built = map[string]string{}
		for _, a := range arts {
			built[a.Name] = a.Bootstrap
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func signedRequest(path, body string) events.APIGatewayProxyRequest {
	ts, sig := verify.Signature(signingSecret, time.Now(), []byte(body))
	h := map[string]string{"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig, "Content-Type": "application/json"}
	mv := map[string][]string{}
	for k, v := range h {
		mv[k] = []string{v}
	}
	return events.APIGatewayProxyRequest{
		Resource: path, Path: path, HTTPMethod: http.MethodPost,
		Headers: h, MultiValueHeaders: mv, Body: body,
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "e2e", ResourcePath: path, HTTPMethod: http.MethodPost, Stage: "e2e"},
	}
}

func TestEventsLambda(t *testing.T) {
	env, slack := fixture(t)
	fn := testenv.StartLambda(t, bootstraps(t)[contract.EventsFunction], env)
	ctx := context.Background()

	var resp events.APIGatewayProxyResponse
	if err := fn.InvokeJSON(ctx, signedRequest(contract.EventsPath, `{"type":"url_verification","challenge":"e2e-challenge"}`), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Body != `{"challenge":"e2e-challenge"}` {
		t.Fatalf("challenge: %d %s", resp.StatusCode, resp.Body)
	}
	if d, ok := fn.InitDuration(); ok {
		t.Logf("events INIT (secret fetched from moto): %v", d)
	} else {
		t.Fatalf("no INIT REPORT line in the emulator's output:\n%s", fn.Logs())
	}

	mention := `{"type":"event_callback","event_id":"Ev0E2E","event":{"type":"app_mention","user":"U1","text":"<@U0BOT> hello","ts":"1700000000.000100","channel":"C0123ABCD"}}`
	for retry := range 3 {
		req := signedRequest(contract.EventsPath, mention)
		if retry > 0 {
			req.Headers["X-Slack-Retry-Num"] = string(rune('0' + retry))
		}
		resp = events.APIGatewayProxyResponse{}
		if err := fn.InvokeJSON(ctx, req, &resp); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("delivery %d: %d %s", retry, resp.StatusCode, resp.Body)
		}
	}
	posts := slack.Posts()
	if len(posts) != 1 {
		t.Fatalf("%d chat.postMessage calls for one event delivered three times, want 1", len(posts))
	}
	if posts[0].Get("channel") != "C0123ABCD" || posts[0].Get("thread_ts") != "1700000000.000100" {
		t.Fatalf("reply %v: want channel C0123ABCD in thread 1700000000.000100", posts[0])
	}

	bad := signedRequest(contract.EventsPath, `{"type":"url_verification","challenge":"x"}`)
	bad.Headers["X-Slack-Signature"] = "v0=" + strings.Repeat("ab", 32)
	bad.MultiValueHeaders["X-Slack-Signature"] = []string{bad.Headers["X-Slack-Signature"]}
	resp = events.APIGatewayProxyResponse{}
	if err := fn.InvokeJSON(ctx, bad, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 401 || !strings.Contains(resp.Body, `"error"`) {
		t.Fatalf("forged request: %d %s", resp.StatusCode, resp.Body)
	}
	if strings.Contains(fn.Logs(), signingSecret) || strings.Contains(fn.Logs(), botToken) {
		t.Fatal("a secret reached the function's logs")
	}
}

func TestCommandsLambda(t *testing.T) {
	env, slack := fixture(t)
	fn := testenv.StartLambda(t, bootstraps(t)[contract.CommandsFunction], env)
	ctx := context.Background()
	form := func(text string) string {
		return url.Values{"command": {"/slackbot"}, "text": {text}, "user_id": {"U0ADA"}, "user_name": {"ada"},
			"channel_id": {"C0123ABCD"}, "team_id": {"T1"}, "response_url": {slack.ResponseURL()}}.Encode()
	}

	var resp events.APIGatewayProxyResponse
	req := signedRequest(contract.CommandsPath, form("echo hi there"))
	req.Body, req.IsBase64Encoded = b64(req.Body), true // as API Gateway sends form bodies with binary media types
	if err := fn.InvokeJSON(ctx, req, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.Contains(resp.Body, "hi there") || !strings.Contains(resp.Body, `"response_type":"ephemeral"`) {
		t.Fatalf("echo: %d %s", resp.StatusCode, resp.Body)
	}
	if d, ok := fn.InitDuration(); ok {
		t.Logf("commands INIT (secret fetched from moto): %v", d)
	}

	// The deferred half of notify, as the function's own asynchronous
	// invocation delivers it.
	cmd, err := slash.Parse([]byte(form("notify #news deploy done")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fn.Invoke(ctx, mustJSON(slash.Deferred{Command: cmd})); err != nil {
		t.Fatal(err)
	}
	posts, responses := slack.Posts(), slack.Responses()
	if len(posts) != 1 || posts[0].Get("channel") != "C0NEWS0001" || !strings.Contains(posts[0].Get("text"), "deploy done") || !strings.Contains(posts[0].Get("text"), "<@U0ADA>") {
		t.Fatalf("chat.postMessage calls: %v", posts)
	}
	if len(responses) != 1 || !strings.Contains(responses[0]["text"].(string), "Posted to <#C0NEWS0001>") {
		t.Fatalf("response_url answers: %v", responses)
	}

	resp = events.APIGatewayProxyResponse{}
	if err := fn.InvokeJSON(ctx, signedRequest(contract.CommandsPath, "%zz"), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 400 {
		t.Fatalf("malformed form: %d %s", resp.StatusCode, resp.Body)
	}
}

// BenchmarkColdInit reports the emulator's INIT duration of each bootstrap,
// the secret fetch from a local moto included (target: ≤ 15 ms).
func BenchmarkColdInit(b *testing.B) {
	env, _ := fixture(b)
	bins := bootstraps(b)
	for _, name := range []string{contract.EventsFunction, contract.CommandsFunction} {
		b.Run(name, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				fn := testenv.StartLambda(b, bins[name], env)
				if _, err := fn.Invoke(context.Background(), mustJSON(signedRequest(contract.EventsPath, `{"type":"url_verification","challenge":"c"}`))); err != nil {
					b.Fatal(err)
				}
				d, ok := fn.InitDuration()
				if !ok {
					b.Fatalf("no INIT REPORT:\n%s", fn.Logs())
				}
				total += d
				fn.Stop()
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "init-ms/op")
		})
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
