package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/deferred"
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
func fixture(t testing.TB) (env []string, slack *testenv.Slack, cfg aws.Config) {
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
	moto.CreateDedupeTable(t, dedupeTable)
	slack = testenv.NewSlack(t, botToken, map[string]string{"news": "C0NEWS0001"})
	env = append(moto.Env(),
		contract.EnvSecretARN+"="+*out.ARN,
		contract.EnvSlackAPIURL+"="+slack.APIURL(),
		contract.EnvDedupeTable+"="+dedupeTable,
	)
	return env, slack, cfg
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
	env, slack, _ := fixture(t)
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

// lambdaAPI stands in for the Lambda Invoke API that the commands function
// calls to defer its slow work, and keeps what it was sent.
type lambdaAPI struct {
	*httptest.Server
	mu    sync.Mutex
	calls []lambdaCall
}

type lambdaCall struct {
	Function, InvocationType string
	Payload                  []byte
}

func newLambdaAPI(t *testing.T) *lambdaAPI {
	l := &lambdaAPI{}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn, ok := strings.CutPrefix(r.URL.Path, "/2015-03-31/functions/")
		fn, ok2 := strings.CutSuffix(fn, "/invocations")
		if r.Method != http.MethodPost || !ok || !ok2 {
			t.Errorf("Lambda API got %s %s", r.Method, r.URL.Path)
			http.Error(w, `{"message":"unknown operation"}`, http.StatusNotFound)
			return
		}
		body, _ := io.ReadAll(r.Body)
		l.mu.Lock()
		l.calls = append(l.calls, lambdaCall{Function: fn, InvocationType: r.Header.Get("X-Amz-Invocation-Type"), Payload: body})
		l.mu.Unlock()
		w.WriteHeader(http.StatusAccepted) // what Lambda answers an Event invocation
	}))
	t.Cleanup(l.Close)
	return l
}

func (l *lambdaAPI) Calls() []lambdaCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]lambdaCall(nil), l.calls...)
}

// TestEventsLambdaTakesOverACrashedAttempt: an attempt claimed the event
// in DynamoDB and died. Slack's retry during its lease is answered non-2xx,
// so Slack comes back; the retry after the lease does the work, once.
func TestEventsLambdaTakesOverACrashedAttempt(t *testing.T) {
	env, slack, cfg := fixture(t)
	// Long enough that the retry below lands inside it on a slow machine.
	const lease = 4 * time.Second
	fn := testenv.StartLambda(t, bootstraps(t)[contract.EventsFunction], append(env, contract.EnvClaimLease+"="+lease.String()))
	ctx := context.Background()

	crashed := &dedupe.Dynamo{Client: dynamodb.NewFromConfig(cfg), Table: dedupeTable, Lease: lease}
	claim, err := crashed.Claim(ctx, "Ev0CRASH")
	if err != nil || claim.State != dedupe.Acquired {
		t.Fatalf("the crashed attempt's claim: %v, %v", claim.State, err)
	}
	leaseEnds := time.Now().Truncate(time.Second).Add(lease + time.Second)

	mention := `{"type":"event_callback","event_id":"Ev0CRASH","event":{"type":"app_mention","user":"U1","text":"<@U0BOT> hello","ts":"1700000000.000900","channel":"C0123ABCD"}}`
	deliver := func(retry int) events.APIGatewayProxyResponse {
		t.Helper()
		req := signedRequest(contract.EventsPath, mention)
		req.Headers["X-Slack-Retry-Num"] = fmt.Sprint(retry)
		var resp events.APIGatewayProxyResponse
		if err := fn.InvokeJSON(ctx, req, &resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := deliver(1); resp.StatusCode/100 == 2 || resp.StatusCode >= 500 || resp.Headers["X-Slack-No-Retry"] != "" {
		t.Fatalf("retry during the lease: %d %v %s; want a 4xx Slack retries", resp.StatusCode, resp.Headers, resp.Body)
	}
	if len(slack.Posts()) != 0 {
		t.Fatal("the retry during the lease posted")
	}
	time.Sleep(time.Until(leaseEnds))
	if resp := deliver(2); resp.StatusCode != 200 {
		t.Fatalf("retry after the lease: %d %s", resp.StatusCode, resp.Body)
	}
	if resp := deliver(3); resp.StatusCode != 200 {
		t.Fatalf("a later retry: %d %s", resp.StatusCode, resp.Body)
	}
	if posts := slack.Posts(); len(posts) != 1 || posts[0].Get("thread_ts") != "1700000000.000900" {
		t.Fatalf("posts %v: want the one reply, in the thread", posts)
	}
	if !strings.Contains(fn.Logs(), "took over an event") {
		t.Errorf("the take-over is not logged:\n%s", fn.Logs())
	}
}

func TestCommandsLambda(t *testing.T) {
	env, slack, _ := fixture(t)
	slack.SetMembers("C0NEWS0001", "U0ADA")
	lambdaAPI := newLambdaAPI(t)
	const self = "slackbot-e2e-commands"
	env = append(env, "AWS_ENDPOINT_URL_LAMBDA="+lambdaAPI.URL, "AWS_LAMBDA_FUNCTION_NAME="+self)
	fn := testenv.StartLambda(t, bootstraps(t)[contract.CommandsFunction], env)
	ctx := context.Background()
	trigger := 0
	form := func(user, text string) string {
		trigger++
		return url.Values{"command": {"/slackbot"}, "text": {text}, "user_id": {user}, "user_name": {"ada"},
			"channel_id": {"C0123ABCD"}, "team_id": {"T1"}, "response_url": {slack.ResponseURL()},
			"trigger_id": {fmt.Sprintf("e2e.%d", trigger)}}.Encode()
	}
	command := func(user, text string) events.APIGatewayProxyResponse {
		t.Helper()
		var resp events.APIGatewayProxyResponse
		req := signedRequest(contract.CommandsPath, form(user, text))
		req.Body, req.IsBase64Encoded = b64(req.Body), true // as API Gateway sends form bodies with binary media types
		if err := fn.InvokeJSON(ctx, req, &resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}

	resp := command("U0ADA", "echo hi there")
	if resp.StatusCode != 200 || !strings.Contains(resp.Body, "hi there") || !strings.Contains(resp.Body, `"response_type":"ephemeral"`) {
		t.Fatalf("echo: %d %s", resp.StatusCode, resp.Body)
	}
	if d, ok := fn.InitDuration(); ok {
		t.Logf("commands INIT (secret fetched from moto): %v", d)
	}

	// notify is acknowledged at once and deferred to an asynchronous
	// invocation of the function itself.
	resp = command("U0ADA", "notify #news deploy done <!channel>")
	if resp.StatusCode != 200 || !strings.Contains(resp.Body, "Posting to #news") {
		t.Fatalf("notify: %d %s", resp.StatusCode, resp.Body)
	}
	calls := lambdaAPI.Calls()
	if len(calls) != 1 || calls[0].Function != self || calls[0].InvocationType != "Event" {
		t.Fatalf("Lambda Invoke calls %+v: want one asynchronous invocation of %s", calls, self)
	}
	if len(slack.Posts()) != 0 {
		t.Fatal("notify posted before its deferred invocation ran")
	}

	// Lambda delivers the event, and may deliver it again: one post.
	for range 2 {
		if _, err := fn.Invoke(ctx, calls[0].Payload); err != nil {
			t.Fatal(err)
		}
	}
	posts, responses := slack.Posts(), slack.Responses()
	if len(posts) != 1 || posts[0].Get("channel") != "C0NEWS0001" || !strings.Contains(posts[0].Get("text"), "deploy done") || !strings.Contains(posts[0].Get("text"), "<@U0ADA>") {
		t.Fatalf("chat.postMessage calls after two deliveries: %v", posts)
	}
	if strings.Contains(posts[0].Get("text"), "<!channel>") || !strings.Contains(posts[0].Get("text"), "&lt;!channel&gt;") {
		t.Fatalf("notify text %q: want the user's markup escaped", posts[0].Get("text"))
	}
	if len(responses) != 1 || !strings.Contains(responses[0]["text"].(string), "Posted to <#C0NEWS0001>") {
		t.Fatalf("response_url answers: %v", responses)
	}

	// A payload altered on the way (or made by anyone who may invoke the
	// function) is refused: an error for the on-failure queue, and no post.
	// The job is encrypted: neither the text nor the response_url shows.
	if bytes.Contains(calls[0].Payload, []byte("deploy done")) || bytes.Contains(calls[0].Payload, []byte("response_url")) {
		t.Fatalf("the sealed job shows what it carries: %s", calls[0].Payload)
	}
	var sealed map[string]deferred.Sealed
	if err := json.Unmarshal(calls[0].Payload, &sealed); err != nil {
		t.Fatal(err)
	}
	box, _ := base64.StdEncoding.DecodeString(sealed[deferred.Key].Box)
	box[len(box)/2] ^= 1
	forged, _ := json.Marshal(map[string]deferred.Sealed{deferred.Key: {Box: base64.StdEncoding.EncodeToString(box)}})
	out, err := fn.Invoke(ctx, forged)
	if err != nil || !strings.Contains(string(out), "errorMessage") || !strings.Contains(string(out), "not sent by this app") {
		t.Fatalf("forged deferred command: %s, %v; want a function error: not sent by this app", out, err)
	}
	if len(slack.Posts()) != 1 {
		t.Fatal("a forged deferred command posted")
	}

	// Someone who is not in the channel: refused, nothing posted, and the
	// same words as for a channel that does not exist.
	var refusals []string
	for _, channel := range []string{"#news", "#no-such-channel"} {
		command("U0MALLORY", "notify "+channel+" hi")
		calls = lambdaAPI.Calls()
		if _, err := fn.Invoke(ctx, calls[len(calls)-1].Payload); err != nil {
			t.Fatal(err)
		}
		responses = slack.Responses()
		refusals = append(refusals, responses[len(responses)-1]["text"].(string))
	}
	if len(slack.Posts()) != 1 || refusals[0] != refusals[1] || !strings.Contains(refusals[0], "can't post there") {
		t.Fatalf("refusals %q, %d posts: want the same refusal twice and no post", refusals, len(slack.Posts()))
	}

	resp = events.APIGatewayProxyResponse{}
	if err := fn.InvokeJSON(ctx, signedRequest(contract.CommandsPath, "%zz"), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 400 {
		t.Fatalf("malformed form: %d %s", resp.StatusCode, resp.Body)
	}
}

// BenchmarkColdInit sets the emulator's INIT duration of the events and
// commands bootstraps, with the Slack credentials in the environment as a
// local run has them, beside that of the smallest Go Lambda function, started
// in turn in the same run. Target: within 1.5× the minimal function's.
func BenchmarkColdInit(b *testing.B) {
	bins := bootstraps(b)
	bins["minimal"] = testenv.BuildBootstrap(b, "./functions/e2e/testdata/minimal")
	env := []string{contract.EnvSigningSecret + "=" + signingSecret, contract.EnvBotToken + "=" + botToken}
	names := []string{"minimal", contract.EventsFunction, contract.CommandsFunction}
	total := map[string]time.Duration{}
	for b.Loop() {
		for _, name := range names {
			fn := testenv.StartLambda(b, bins[name], env)
			if _, err := fn.Invoke(context.Background(), mustJSON(signedRequest(contract.EventsPath, `{"type":"url_verification","challenge":"c"}`))); err != nil {
				b.Fatal(err)
			}
			d, ok := fn.InitDuration()
			if !ok {
				b.Fatalf("%s: no INIT REPORT:\n%s", name, fn.Logs())
			}
			total[name] += d
			fn.Stop()
		}
	}
	for _, name := range names {
		b.ReportMetric(float64(total[name].Microseconds())/1000/float64(b.N), name+"-init-ms/op")
	}
	for _, name := range names[1:] {
		b.ReportMetric(float64(total[name])/float64(total["minimal"]), name+"-x-minimal")
	}
}

// BenchmarkOneAnswer runs, in turn, a hello-world Go process and one that
// builds the events handler as the events function does and answers one
// signed url_verification, and reports each one's wall time and the ratio.
// Target: at most 2× the hello-world floor.
func BenchmarkOneAnswer(b *testing.B) {
	hello := testenv.BuildBootstrap(b, "./functions/e2e/testdata/hello")
	oneAnswer := testenv.BuildBootstrap(b, "./functions/e2e/testdata/oneanswer")
	env := []string{"PATH=" + os.Getenv("PATH"), contract.EnvSigningSecret + "=" + signingSecret, contract.EnvLogLevel + "=warn"}
	run := func(bin string, stdin []byte) time.Duration {
		cmd := exec.Command(bin)
		cmd.Env, cmd.Stdin = env, bytes.NewReader(stdin)
		start := time.Now()
		out, err := cmd.Output()
		d := time.Since(start)
		if err != nil {
			b.Fatalf("%s: %v\n%s", bin, err, out)
		}
		if bin == oneAnswer && !bytes.Contains(out, []byte(`"statusCode":200`)) {
			b.Fatalf("no answer: %s", out)
		}
		return d
	}
	var floor, answer time.Duration
	for b.Loop() {
		floor += run(hello, nil)
		// Signed inside the loop: the timestamp must be fresh.
		answer += run(oneAnswer, mustJSON(signedRequest(contract.EventsPath, `{"type":"url_verification","challenge":"c"}`)))
	}
	b.ReportMetric(float64(floor.Microseconds())/1000/float64(b.N), "hello-ms/op")
	b.ReportMetric(float64(answer.Microseconds())/1000/float64(b.N), "events-ms/op")
	b.ReportMetric(float64(answer)/float64(floor), "x-hello")
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
