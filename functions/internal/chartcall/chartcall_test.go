package chartcall_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambda-slackbot/slackbot/functions/internal/awsenv"
	"github.com/lambda-slackbot/slackbot/functions/internal/chartcall"
)

// lambdaAPI records requests and answers each with answer, as Lambda's
// synchronous Invoke returns the function's result.
type lambdaAPI struct {
	reqs   []*http.Request
	bodies []string
	answer string
}

func (l *lambdaAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	l.reqs, l.bodies = append(l.reqs, r), append(l.bodies, string(b))
	w.Write([]byte(l.answer))
}

func start(t *testing.T, api *lambdaAPI) aws.Config {
	s := httptest.NewServer(api)
	t.Cleanup(s.Close)
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_LAMBDA": s.URL}
	return awsenv.Load(func(k string) string { return env[k] })
}

// TestInvokeIsTheSDKsRequest: Chart sends what the SDK's Lambda client
// sends for a synchronous Invoke of the drawing function, with the chart's
// request as the payload.
func TestInvokeIsTheSDKsRequest(t *testing.T) {
	api := &lambdaAPI{answer: `{"chart":{"png":"iVBORw0KGgo=","title":"p50/p90/p99"}}`}
	cfg := start(t, api)
	const fn = "slackbot-dev-percentiles"
	png, title, err := chartcall.Lambda{AWS: cfg, Function: fn}.Chart(context.Background(), "orders", time.Hour, "GET /orders")
	if err != nil || string(png) != "\x89PNG\r\n\x1a\n" || title != "p50/p90/p99" {
		t.Fatalf("Chart = %q, %q, %v", png, title, err)
	}
	if _, err := awslambda.NewFromConfig(cfg).Invoke(context.Background(), &awslambda.InvokeInput{
		FunctionName: aws.String(fn), Payload: []byte(api.bodies[0]),
	}); err != nil {
		t.Fatal(err)
	}
	ours, sdk := api.reqs[0], api.reqs[1]
	if ours.Method != sdk.Method || ours.URL.EscapedPath() != sdk.URL.EscapedPath() {
		t.Errorf("%s %s, want the SDK's %s %s", ours.Method, ours.URL.EscapedPath(), sdk.Method, sdk.URL.EscapedPath())
	}
	// The SDK leaves the default (RequestResponse) unsaid; ours says it.
	if got := ours.Header.Get("X-Amz-Invocation-Type"); got != "RequestResponse" || sdk.Header.Get("X-Amz-Invocation-Type") != "" {
		t.Errorf("invocation type %q (the SDK's %q), want a synchronous call", got, sdk.Header.Get("X-Amz-Invocation-Type"))
	}
	if !strings.Contains(ours.Header.Get("Authorization"), "/eu-west-1/lambda/aws4_request") {
		t.Errorf("Authorization %q: not signed for Lambda in eu-west-1", ours.Header.Get("Authorization"))
	}
	var req map[string]chartcall.Request
	if err := json.Unmarshal([]byte(api.bodies[0]), &req); err != nil || req[chartcall.Key] != (chartcall.Request{Source: "orders", WindowSeconds: 3600, Route: "GET /orders"}) {
		t.Errorf("payload %s, %v", api.bodies[0], err)
	}
}

// TestChartFailures: a function error, or an answer without a chart, is an
// error, never an empty chart (which means "no requests to draw").
func TestChartFailures(t *testing.T) {
	for _, answer := range []string{
		`{"errorMessage":"chart: window of 0 seconds","errorType":"errorString"}`,
		`{"ingested":{}}`,
	} {
		api := &lambdaAPI{answer: answer}
		png, _, err := chartcall.Lambda{AWS: start(t, api), Function: "f"}.Chart(context.Background(), "", time.Hour, "")
		if err == nil || png != nil {
			t.Errorf("answer %s: %q, %v; want an error", answer, png, err)
		}
	}
	api := &lambdaAPI{answer: `{"chart":{"png":null,"title":""}}`}
	if png, _, err := (chartcall.Lambda{AWS: start(t, api), Function: "f"}).Chart(context.Background(), "", time.Hour, ""); err != nil || png != nil {
		t.Errorf("a window without requests: %q, %v; want no PNG and no error", png, err)
	}
}
