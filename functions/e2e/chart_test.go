package e2e

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/dynamo"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// TestChartDrawnByThePercentilesFunction: `/slackbot latency 1h chart` in
// the shipped commands bootstrap is acknowledged, deferred, and its
// deferred half asks the shipped percentiles bootstrap (both under the
// Lambda emulator, behind one stand-in Lambda API) to draw the chart, then
// uploads the PNG to the channel it was asked in.
func TestChartDrawnByThePercentilesFunction(t *testing.T) {
	env, slack, cfg := fixture(t)
	slack.SetMembers("C0123ABCD", "U0ADA")
	testenv.CreateSketchTable(t, dynamodb.NewFromConfig(cfg), sketchTable)
	// Twenty minutes of traffic on the bot's own route.
	now := time.Now().Truncate(time.Minute)
	parts := map[sketchstore.Key]*sketchstore.Sketches{}
	for i := range 20 {
		sk := sketchstore.NewSketches()
		for j := range 10 {
			sk.Response.Add(float64(10 + i + j))
			sk.Integration.Add(float64(5 + j))
			sk.Requests++
		}
		parts[sketchstore.Key{Route: "POST " + contract.EventsPath, Minute: now.Add(-time.Duration(i) * time.Minute).Unix()}] = sk
	}
	if err := sketchstore.NewDynamoStore(dynamo.New(cfg), sketchTable).Merge(context.Background(), "e2e-chart", parts); err != nil {
		t.Fatal(err)
	}
	env = append(env, contract.EnvSketchTable+"="+sketchTable)
	const self, drawer = "slackbot-e2e-commands", "slackbot-e2e-percentiles"
	percentiles := testenv.StartLambda(t, testenv.BuildBootstrap(t, "./functions/percentiles"), env)

	// The Lambda API: the commands function's own deferred work is kept,
	// the chart request goes to the percentiles function and its result back.
	var deferredJobs [][]byte
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/2015-03-31/functions/" + self + "/invocations":
			deferredJobs = append(deferredJobs, body)
			w.WriteHeader(http.StatusAccepted)
		case "/2015-03-31/functions/" + drawer + "/invocations":
			out, err := percentiles.Invoke(r.Context(), body)
			if err != nil {
				t.Errorf("percentiles: %v", err)
			}
			w.Write(out)
		default:
			t.Errorf("Lambda API got %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
		}
	}))
	defer api.Close()
	commands := testenv.StartLambda(t, bootstraps(t)[contract.CommandsFunction], append(env,
		"AWS_ENDPOINT_URL_LAMBDA="+api.URL, "AWS_LAMBDA_FUNCTION_NAME="+self, contract.EnvChartFunction+"="+drawer))

	ctx := context.Background()
	form := url.Values{"command": {"/slackbot"}, "text": {"latency 1h chart"}, "user_id": {"U0ADA"}, "user_name": {"ada"},
		"channel_id": {"C0123ABCD"}, "team_id": {"T1"}, "response_url": {slack.ResponseURL()}, "trigger_id": {"e2e.chart"}}.Encode()
	var resp events.APIGatewayProxyResponse
	if err := commands.InvokeJSON(ctx, signedRequest(contract.CommandsPath, form), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || len(deferredJobs) != 1 {
		t.Fatalf("chart command: %d %s, %d jobs deferred; want an acknowledgement and one job", resp.StatusCode, resp.Body, len(deferredJobs))
	}
	if _, err := commands.Invoke(ctx, deferredJobs[0]); err != nil {
		t.Fatal(err)
	}
	uploads := slack.Uploads()
	if len(uploads) != 1 || uploads[0].Channel != "C0123ABCD" {
		t.Fatalf("uploads %+v, want the chart in C0123ABCD\ncommands:\n%s\npercentiles:\n%s", uploads, commands.Logs(), percentiles.Logs())
	}
	if _, err := png.Decode(bytes.NewReader(uploads[0].Data)); err != nil {
		t.Fatalf("the upload is not a PNG: %v (%d bytes)", err, len(uploads[0].Data))
	}
	if uploads[0].Title == "" {
		t.Error("the chart has no title")
	}
}
