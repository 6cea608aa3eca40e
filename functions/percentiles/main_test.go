package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

const (
	botToken    = "xoxb-percentiles-test"
	sketchTable = "slackbot-sketches"
	opsID       = "C0OPS00001"
)

// subscriptionEvent is a CloudWatch Logs delivery of lines to Lambda.
func subscriptionEvent(t *testing.T, messageType string, lines []string, at time.Time) []byte {
	t.Helper()
	d := events.CloudwatchLogsData{
		Owner: "123456789012", LogGroup: "/aws/apigateway/slackbot-dev/access", LogStream: "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
		SubscriptionFilters: []string{"percentiles"}, MessageType: messageType,
	}
	for i, l := range lines {
		d.LogEvents = append(d.LogEvents, events.CloudwatchLogsLogEvent{
			ID: fmt.Sprintf("%022d%034d", at.UnixMilli(), i), Timestamp: at.UnixMilli() + int64(i), Message: l,
		})
	}
	plain, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	_, _ = w.Write(plain)
	_ = w.Close()
	ev, _ := json.Marshal(events.CloudwatchLogsEvent{AWSLogs: events.CloudwatchLogsRawData{Data: base64.StdEncoding.EncodeToString(z.Bytes())}})
	return ev
}

func accessLine(i int, at time.Time, method, path string, resp, integ int) string {
	return strings.NewReplacer(
		"$context.requestId", fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i),
		"$context.requestTimeEpoch", strconv.FormatInt(at.UnixMilli(), 10),
		"$context.httpMethod", method,
		"$context.resourcePath", path,
		"$context.status", "200",
		"$context.responseLatency", strconv.Itoa(resp),
		"$context.integrationLatency", strconv.Itoa(integ),
	).Replace(contract.AccessLogFormat)
}

// The real bootstrap under the Lambda Runtime Interface Emulator, with
// DynamoDB and Secrets Manager from moto and Slack faked: ingest a delivery
// and its retry, then post the scheduled report.
func TestPercentilesLambda(t *testing.T) {
	ctx := context.Background()
	moto := testenv.NewMoto(t)
	cfg, err := moto.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := json.Marshal(contract.Secret{SigningSecret: "unused-here", BotToken: botToken})
	sec, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("slackbot/percentiles-test"), SecretString: aws.String(string(secret)),
	})
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	_, err = db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(sketchTable),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(contract.SketchRouteKey), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(contract.SketchMinuteKey), AttributeType: types.ScalarAttributeTypeN},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(contract.SketchRouteKey), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(contract.SketchMinuteKey), KeyType: types.KeyTypeRange},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	slack := testenv.NewSlack(t, botToken, map[string]string{"general": "C0GENERAL1", "ops": opsID})
	env := append(moto.Env(),
		contract.EnvSecretARN+"="+*sec.ARN,
		contract.EnvSlackAPIURL+"="+slack.APIURL(),
		contract.EnvSketchTable+"="+sketchTable,
		contract.EnvReportChannel+"=#ops",
		contract.EnvReportWindow+"=1h",
	)
	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "./functions/percentiles"), env)

	// The last full hour: 300 event callbacks at 10..309 ms and 40 slash
	// commands at 100..139 ms.
	hour := time.Now().UTC().Truncate(time.Hour)
	var lines []string
	for i := range 300 {
		lines = append(lines, accessLine(i, hour.Add(-time.Hour).Add(time.Duration(i)*10*time.Second), "POST", contract.EventsPath, 10+i, 8+i))
	}
	for i := range 40 {
		lines = append(lines, accessLine(1000+i, hour.Add(-30*time.Minute).Add(time.Duration(i)*time.Second), "POST", contract.CommandsPath, 100+i, 90+i))
	}
	delivery := subscriptionEvent(t, latency.DataMessage, lines, hour.Add(-time.Hour))

	for i, payload := range [][]byte{
		delivery,
		delivery, // Lambda's retry of the same delivery
		subscriptionEvent(t, latency.ControlMessage, []string{"CWL CONTROL MESSAGE: Checking health of destination Lambda."}, hour),
	} {
		var out latency.Outcome
		if err := fn.InvokeJSON(ctx, json.RawMessage(payload), &out); err != nil {
			t.Fatal(err)
		}
		if out.Ingested == nil {
			t.Fatalf("invocation %d: %+v, want an ingest", i, out)
		}
	}

	// A broken delivery is a function error, so Lambda retries it.
	body, err := fn.Invoke(ctx, []byte(`{"awslogs":{"data":"bm90IGd6aXA="}}`))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(body, []byte("errorMessage")) || !bytes.Contains(body, []byte("not gzip")) {
		t.Errorf("a malformed delivery answered %s, want a function error", body)
	}

	sched := fmt.Sprintf(`{"version":"0","id":"9f1c","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":%q,"region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/slackbot-latency"],"detail":{}}`,
		hour.Add(3*time.Second).Format(time.RFC3339))
	var out latency.Outcome
	if err := fn.InvokeJSON(ctx, json.RawMessage(sched), &out); err != nil {
		t.Fatal(err)
	}
	if out.Reported == nil || out.Reported.TS == "" {
		t.Fatalf("scheduled invocation: %+v, want a posted report", out)
	}
	posts := slack.Posts()
	if len(posts) != 1 {
		t.Fatalf("%d messages posted, want 1", len(posts))
	}
	p := posts[0]
	if p.Get("channel") != opsID {
		t.Errorf("posted to %q, want %s (#ops resolved)", p.Get("channel"), opsID)
	}
	var meta struct {
		EventType    string `json:"event_type"`
		EventPayload struct {
			WindowSeconds int64 `json:"window_seconds"`
			Routes        []struct {
				Route string  `json:"route"`
				Count int64   `json:"count"`
				P50   float64 `json:"p50"`
				Max   float64 `json:"max"`
			} `json:"routes"`
			Total struct {
				Route string `json:"route"`
				Count int64  `json:"count"`
			} `json:"total"`
		} `json:"event_payload"`
	}
	if err := json.Unmarshal([]byte(p.Get("metadata")), &meta); err != nil {
		t.Fatalf("metadata %q: %v", p.Get("metadata"), err)
	}
	mp := meta.EventPayload
	if meta.EventType != latency.MetadataEventType || mp.WindowSeconds != 3600 || mp.Total.Route != "*" || mp.Total.Count != 340 {
		t.Errorf("metadata %+v; want latency_report over 3600 s with 340 requests (the retry not counted)", meta)
	}
	if len(mp.Routes) != 2 || mp.Routes[0].Route != "POST /slack/events" || mp.Routes[0].Count != 300 || mp.Routes[0].Max != 309 ||
		mp.Routes[1].Route != "POST /slack/commands" || mp.Routes[1].Count != 40 || mp.Routes[1].Max != 139 {
		t.Errorf("routes %+v", mp.Routes)
	}
	var blocks []map[string]any
	if err := json.Unmarshal([]byte(p.Get("blocks")), &blocks); err != nil || len(blocks) < 4 || blocks[0]["type"] != "header" {
		t.Errorf("blocks %s: %v", p.Get("blocks"), err)
	}

	// What Slack received, as JSON, for people to read.
	asJSON := map[string]any{"channel": p.Get("channel"), "text": p.Get("text")}
	var metaAny any
	_ = json.Unmarshal([]byte(p.Get("metadata")), &metaAny)
	asJSON["blocks"], asJSON["metadata"] = blocks, metaAny
	shown, _ := json.MarshalIndent(asJSON, "", "  ")
	t.Logf("chat.postMessage received (form fields as JSON):\n%s", shown)
}

// A CloudWatch alarm, as SNS delivers it to the real bootstrap: one message
// in the report channel naming the alarm and its state, with the console
// link.
func TestPercentilesLambdaPostsAlarms(t *testing.T) {
	ctx := context.Background()
	moto := testenv.NewMoto(t)
	cfg, err := moto.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := json.Marshal(contract.Secret{SigningSecret: "unused-here", BotToken: botToken})
	sec, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("slackbot/percentiles-alarm-test"), SecretString: aws.String(string(secret)),
	})
	if err != nil {
		t.Fatal(err)
	}
	slack := testenv.NewSlack(t, botToken, map[string]string{"general": "C0GENERAL1", "ops": opsID})
	env := append(moto.Env(),
		contract.EnvSecretARN+"="+*sec.ARN,
		contract.EnvSlackAPIURL+"="+slack.APIURL(),
		contract.EnvReportChannel+"=#ops",
	)
	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "./functions/percentiles"), env)

	event, err := os.ReadFile("../internal/alarm/testdata/sns-alarm.json")
	if err != nil {
		t.Fatal(err)
	}
	var out latency.Outcome
	if err := fn.InvokeJSON(ctx, json.RawMessage(event), &out); err != nil {
		t.Fatalf("%v\n%s", err, fn.Logs())
	}
	if out.Alarms == nil || out.Alarms.Posted != 1 || out.Alarms.Channel != opsID {
		t.Errorf("outcome %+v, want one alarm posted to %s", out, opsID)
	}
	posts := slack.Posts()
	if len(posts) != 1 {
		t.Fatalf("%d messages posted, want 1", len(posts))
	}
	p := posts[0]
	if p.Get("channel") != opsID {
		t.Errorf("posted to %q, want %s (#ops resolved)", p.Get("channel"), opsID)
	}
	text := p.Get("text")
	for _, want := range []string{
		"ALARM: *slackbot-dev-events-errors*",
		"https://ap-northeast-2.console.aws.amazon.com/cloudwatch/home?region=ap-northeast-2#alarmsV2:alarm/slackbot-dev-events-errors",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text does not say %q:\n%s", want, text)
		}
	}
	var blocks []map[string]any
	if err := json.Unmarshal([]byte(p.Get("blocks")), &blocks); err != nil || len(blocks) == 0 {
		t.Errorf("blocks %s: %v", p.Get("blocks"), err)
	}
	t.Logf("chat.postMessage text:\n%s", text)
}
