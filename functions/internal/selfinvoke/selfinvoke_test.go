package selfinvoke_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambda-slackbot/slackbot/functions/internal/awsenv"
	"github.com/lambda-slackbot/slackbot/functions/internal/chat"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/deferred"
	"github.com/lambda-slackbot/slackbot/functions/internal/selfinvoke"
	"github.com/lambda-slackbot/slackbot/functions/internal/slash"
)

// lambdaAPI records the requests it is sent and answers as Lambda's
// Invoke does for an asynchronous call, or with status and body when set.
type lambdaAPI struct {
	mu     sync.Mutex
	reqs   []*http.Request
	bodies [][]byte
	status int
	answer string
}

func (l *lambdaAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs, l.bodies = append(l.reqs, r), append(l.bodies, b)
	if l.status != 0 {
		w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException")
		w.WriteHeader(l.status)
		w.Write([]byte(l.answer))
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// start serves api and returns the AWS configuration of a function whose
// calls land on it.
func start(t *testing.T, api *lambdaAPI) aws.Config {
	s := httptest.NewServer(api)
	t.Cleanup(s.Close)
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_LAMBDA": s.URL}
	return awsenv.Load(func(k string) string { return env[k] })
}

// responses keeps what is posted to response_url.
type responses struct{ texts []string }

func (r *responses) Post(_ context.Context, m chat.Message) (chat.Posted, error) {
	r.texts = append(r.texts, m.Text)
	return chat.Posted{}, nil
}

// TestDeferrer: the event goes to the named function, asynchronously, in
// the shape the commands function's Invoke reads back and runs.
func TestDeferrer(t *testing.T) {
	api := &lambdaAPI{}
	d := selfinvoke.Deferrer{AWS: start(t, api), Function: "slackbot-dev-commands"}
	resp := &responses{}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h := &slash.Handler{Respond: func(string) chat.Poster { return resp }, Log: log}
	runner := &deferred.Runner{Sealer: deferred.NewSealer("secret"), Send: d, Claims: &dedupe.Memory{}, Log: log}
	runner.On(slash.Kind, h.FinishJob)
	cmd, err := slash.Parse([]byte(url.Values{"command": {"/slackbot"}, "user_id": {"U1"}, "text": {"echo hi"},
		"trigger_id": {"1.2"}, "response_url": {"https://hooks.slack.com/commands/T/1/x"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Later(context.Background(), slash.Kind, cmd.TriggerID, cmd); err != nil {
		t.Fatal(err)
	}
	if len(api.reqs) != 1 || api.reqs[0].URL.Path != "/2015-03-31/functions/slackbot-dev-commands/invocations" ||
		api.reqs[0].Header.Get("X-Amz-Invocation-Type") != "Event" {
		t.Fatalf("Invoke requests %v: want one, of the function, asynchronously", api.reqs)
	}
	payload := api.bodies[0]
	var back map[string]deferred.Sealed
	if err := json.Unmarshal(payload, &back); err != nil || back[deferred.Key].Box == "" {
		t.Fatalf("payload %s does not carry the sealed job: %v", payload, err)
	}
	fn := deferred.Function{Runner: runner}
	if _, err := fn.Invoke(context.Background(), payload); err != nil || len(resp.texts) != 1 {
		t.Fatalf("Invoke of the deferrer's payload: %v, %d answers; want one", err, len(resp.texts))
	}
	api.status, api.answer = http.StatusForbidden, `{"Type":"User","message":"not allowed"}`
	if err := d.Send(context.Background(), back[deferred.Key]); err == nil || !strings.Contains(err.Error(), "slackbot-dev-commands") ||
		errorCode(err) != "AccessDeniedException" {
		t.Fatalf("a failed Invoke = %v, want an error naming the function", err)
	}
}

// TestInvokeIsTheSDKsRequest: Invoke sends what the SDK's Lambda client
// sends for an asynchronous Invoke: the method, the path (an ARN escaped
// as the SDK escapes it), the invocation type, the body, and a signature
// for Lambda in the function's region.
func TestInvokeIsTheSDKsRequest(t *testing.T) {
	for _, function := range []string{"slackbot-dev-commands", "arn:aws:lambda:eu-west-1:123456789012:function:slackbot-dev-commands"} {
		api := &lambdaAPI{}
		cfg := start(t, api)
		payload := []byte(`{"slackbot_deferred":{"box":"abc"}}`)
		_, err := awslambda.NewFromConfig(cfg).Invoke(context.Background(), &awslambda.InvokeInput{
			FunctionName: aws.String(function), InvocationType: types.InvocationTypeEvent, Payload: payload,
		})
		if err != nil {
			t.Fatalf("SDK Invoke: %v", err)
		}
		if err := selfinvoke.Invoke(context.Background(), cfg, function, payload); err != nil {
			t.Fatalf("Invoke: %v", err)
		}
		sdk, ours := api.reqs[0], api.reqs[1]
		if sdk.Method != ours.Method || sdk.URL.EscapedPath() != ours.URL.EscapedPath() || sdk.URL.RawQuery != ours.URL.RawQuery {
			t.Errorf("%s %s?%s, want the SDK's %s %s?%s", ours.Method, ours.URL.EscapedPath(), ours.URL.RawQuery, sdk.Method, sdk.URL.EscapedPath(), sdk.URL.RawQuery)
		}
		for _, h := range []string{"X-Amz-Invocation-Type", "X-Amz-Security-Token"} {
			if sdk.Header.Get(h) != ours.Header.Get(h) {
				t.Errorf("%s %q, want the SDK's %q", h, ours.Header.Get(h), sdk.Header.Get(h))
			}
		}
		if string(api.bodies[0]) != string(api.bodies[1]) {
			t.Errorf("body %s, want the SDK's %s", api.bodies[1], api.bodies[0])
		}
		if got, want := scope(ours), scope(sdk); got != want || !strings.Contains(got, "/eu-west-1/lambda/aws4_request") {
			t.Errorf("credential scope %q, want the SDK's %q", got, want)
		}
	}
}

// scope is the credential scope of a request's SigV4 signature, without
// its date.
func scope(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	_, cred, _ := strings.Cut(auth, "Credential=")
	cred, _, _ = strings.Cut(cred, ",")
	key, rest, _ := strings.Cut(cred, "/")
	_, rest, _ = strings.Cut(rest, "/")
	return key + "/" + rest
}

// errorCode is the Code of the *awsenv.Error in err's chain, or "".
func errorCode(err error) string {
	var e *awsenv.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
