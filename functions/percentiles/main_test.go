package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/accesslog"
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

// botSecret starts moto and stores a secret with the bot token under name:
// what every test of the shipped bootstrap starts from. It returns moto,
// its AWS config and the secret's ARN.
func botSecret(t *testing.T, name string) (*testenv.Moto, aws.Config, string) {
	t.Helper()
	ctx := context.Background()
	moto := testenv.NewMoto(t)
	cfg, err := moto.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := json.Marshal(contract.Secret{SigningSecret: "unused-here", BotToken: botToken})
	sec, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(string(secret)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return moto, cfg, *sec.ARN
}

// The real bootstrap under the Lambda Runtime Interface Emulator, with
// DynamoDB and Secrets Manager from moto and Slack faked: ingest a delivery
// and its retry, then post the scheduled report.
func TestPercentilesLambda(t *testing.T) {
	ctx := context.Background()
	moto, cfg, secretARN := botSecret(t, "slackbot/percentiles-test")
	db := dynamodb.NewFromConfig(cfg)
	testenv.CreateSketchTable(t, db, sketchTable)
	slack := testenv.NewSlack(t, botToken, map[string]string{"general": "C0GENERAL1", "ops": opsID})
	env := append(moto.Env(),
		contract.EnvSecretARN+"="+secretARN,
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
	delivery := subscriptionEvent(t, accesslog.DataMessage, lines, hour.Add(-time.Hour))

	for i, payload := range [][]byte{
		delivery,
		delivery, // Lambda's retry of the same delivery
		subscriptionEvent(t, accesslog.ControlMessage, []string{"CWL CONTROL MESSAGE: Checking health of destination Lambda."}, hour),
	} {
		var out Outcome
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
	var out Outcome
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
// link. Forged records before it (an alarm of another account, a record of
// another topic, plain text) post nothing and fail nothing.
func TestPercentilesLambdaPostsAlarms(t *testing.T) {
	ctx := context.Background()
	moto, _, secretARN := botSecret(t, "slackbot/percentiles-alarm-test")
	slack := testenv.NewSlack(t, botToken, map[string]string{"general": "C0GENERAL1", "ops": opsID})
	env := append(moto.Env(),
		contract.EnvSecretARN+"="+secretARN,
		contract.EnvSlackAPIURL+"="+slack.APIURL(),
		contract.EnvReportChannel+"=#ops",
		contract.EnvAlarmTopicARN+"="+alarmTopic,
	)
	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "./functions/percentiles"), env)

	event, err := os.ReadFile("../internal/cwalarm/testdata/sns-alarm.json")
	if err != nil {
		t.Fatal(err)
	}
	own := string(event)
	for name, forged := range map[string]string{
		"another account": strings.ReplaceAll(own, "123456789012:alarm:slackbot-dev-events-errors", "999999999999:alarm:prod-payments-db-down"),
		"another topic":   strings.Replace(own, `"TopicArn": "`+alarmTopic, `"TopicArn": "arn:aws:sns:ap-northeast-2:123456789012:anyone-can-publish`, 1),
		"plain text": `{"Records":[{"EventSource":"aws:sns","EventVersion":"1.0","Sns":{"Type":"Notification","TopicArn":"` + alarmTopic +
			`","Subject":"ALARM: prod-payments-db-down","Message":"Reply here with your 2FA code"}}]}`,
	} {
		if forged == own {
			t.Fatalf("%s: the forgery changed nothing", name)
		}
		var out Outcome
		if err := fn.InvokeJSON(ctx, json.RawMessage(forged), &out); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, fn.Logs())
		}
		if out.Alarms == nil || out.Alarms.Posted != 0 || out.Alarms.Dropped != 1 || len(slack.Posts()) != 0 {
			t.Fatalf("%s: outcome %+v, %d posts; want it dropped", name, out.Alarms, len(slack.Posts()))
		}
	}
	var out Outcome
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

// TestPercentilesLambdaAlertsWithSlowSlack: the shipped bootstrap, with a
// short function timeout, meets a Slack that takes an alert's post and
// never answers. The invocation ends in time, with an error, and the alert
// is pending: the next batch posts it, once, and a third posts nothing.
func TestPercentilesLambdaAlertsWithSlowSlack(t *testing.T) {
	ctx := context.Background()
	moto, cfg, secretARN := botSecret(t, "slackbot/percentiles-slow-slack")
	testenv.CreateSketchTable(t, dynamodb.NewFromConfig(cfg), sketchTable)
	slack := testenv.NewSlack(t, botToken, map[string]string{"ops": opsID})
	slack.SetMode(testenv.SwallowFirst, testenv.MethodPostMessage)
	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "./functions/percentiles"), append(moto.Env(),
		contract.EnvSecretARN+"="+secretARN,
		contract.EnvSlackAPIURL+"="+slack.APIURL(),
		contract.EnvSketchTable+"="+sketchTable,
		contract.EnvReportChannel+"="+opsID,
		contract.EnvAlertRules+`=[{"route":"*","quantile":0.5,"threshold_ms":500,"window":"5m"}]`,
		"AWS_LAMBDA_FUNCTION_TIMEOUT=4",
	))
	now := time.Now().UTC().Truncate(time.Minute)
	for seq := range 3 {
		var lines []string
		for i := range 20 {
			lines = append(lines, accessLine(seq*100+i, now.Add(-2*time.Minute).Add(time.Duration(i)*time.Second), "POST", contract.EventsPath, 900, 880))
		}
		body, err := fn.Invoke(ctx, subscriptionEvent(t, accesslog.DataMessage, lines, now.Add(time.Duration(seq)*time.Second)))
		if err != nil {
			t.Fatalf("batch %d: %v (the function must end before its timeout)\n%s", seq, err, fn.Logs())
		}
		failed := strings.Contains(string(body), "errorMessage")
		if failed != (seq == 0) {
			t.Errorf("batch %d: %s; want an error only for the batch whose alert went unanswered", seq, body)
		}
	}
	if n := len(slack.Posts()); n != 2 {
		t.Errorf("Slack got the alert %d times, want 2: the unanswered post and the next batch's", n)
	}
	if n := slack.Attempts(testenv.MethodPostMessage); n != 2 {
		t.Errorf("chat.postMessage attempts = %d, want 2", n)
	}
}

// A stack with only a signing secret and an incoming webhook: the shipped
// bootstrap under the emulator posts an alert once across repeated slow
// batches, through the webhook, then the scheduled report through it too.
// With a bot token as well, the scheduled report's chart is uploaded as a
// real PNG through Slack's external upload flow.
func TestPercentilesLambdaWebhookAlertsAndChart(t *testing.T) {
	ctx := context.Background()
	moto := testenv.NewMoto(t)
	cfg, err := moto.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slack := testenv.NewSlack(t, botToken, map[string]string{"ops": opsID})
	bootstrap := testenv.BuildBootstrap(t, "./functions/percentiles")
	rules := `[{"route":"*","quantile":0.99,"threshold_ms":500,"window":"5m"},{"route":"events","error_ratio":0.5,"window":"5m"}]`
	start := func(name string, secret contract.Secret) *testenv.Lambda {
		b, _ := json.Marshal(secret)
		sec, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: aws.String("slackbot/" + name), SecretString: aws.String(string(b)),
		})
		if err != nil {
			t.Fatal(err)
		}
		testenv.CreateSketchTable(t, dynamodb.NewFromConfig(cfg), name)
		return testenv.StartLambda(t, bootstrap, append(moto.Env(),
			contract.EnvSecretARN+"="+*sec.ARN,
			contract.EnvSlackAPIURL+"="+slack.APIURL(),
			contract.EnvSketchTable+"="+name,
			contract.EnvReportChannel+"=#ops",
			contract.EnvReportWindow+"=1h",
			contract.EnvAlertRules+"="+rules,
		))
	}
	now := time.Now().UTC().Truncate(time.Minute)
	slowBatch := func(seq int) []byte {
		var lines []string
		for i := range 50 {
			lines = append(lines, accessLine(seq*100+i, now.Add(-2*time.Minute).Add(time.Duration(i)*time.Second), "POST", contract.EventsPath, 900+i, 880+i))
		}
		return subscriptionEvent(t, accesslog.DataMessage, lines, now.Add(time.Duration(seq)*time.Second))
	}

	hooked := start("webhook-only", contract.Secret{SigningSecret: "unused-here", WebhookURL: slack.WebhookURL()})
	for seq := range 3 { // three different batches, all slow: one alert
		var out Outcome
		if err := hooked.InvokeJSON(ctx, json.RawMessage(slowBatch(seq)), &out); err != nil {
			t.Fatalf("%v\n%s", err, hooked.Logs())
		}
		if out.Ingested == nil || out.Ingested.Added != 50 {
			t.Fatalf("batch %d: %+v", seq, out)
		}
	}
	var out Outcome
	sched := fmt.Sprintf(`{"detail-type":"Scheduled Event","source":"aws.events","time":%q,"detail":{}}`, now.Add(time.Minute).Format(time.RFC3339))
	if err := hooked.InvokeJSON(ctx, json.RawMessage(sched), &out); err != nil {
		t.Fatalf("%v\n%s", err, hooked.Logs())
	}
	if out.Reported == nil || out.Reported.Skipped != "" || !strings.HasPrefix(out.Reported.Chart, "skipped") {
		t.Errorf("schedule: %+v, want the report posted and the chart skipped (a webhook carries no file)", out.Reported)
	}
	hooks := slack.WebhookPosts()
	var alerts, reports int
	for _, h := range hooks {
		meta, _ := h["metadata"].(map[string]any)
		switch meta["event_type"] {
		case "latency_alert":
			alerts++
			p := meta["event_payload"].(map[string]any)
			if p["state"] != "firing" || p["route"] != "*" || p["quantile"] != 0.99 || p["threshold_ms"] != 500.0 || !(p["value"].(float64) > 500) || p["count"] != 50.0 {
				t.Errorf("alert payload %v", p)
			}
		case "latency_report":
			reports++
			total := meta["event_payload"].(map[string]any)["total"].(map[string]any)
			if total["count"] != 150.0 || total["status_5xx"] != 0.0 || total["status_4xx"] != 0.0 {
				t.Errorf("report total %v, want the 150 requests, none failed", total)
			}
		}
	}
	if alerts != 1 || reports != 1 || len(slack.Posts()) != 0 {
		t.Errorf("%d alerts and %d reports through the webhook, %d chat.postMessage; want one of each, all through the webhook:\n%v",
			alerts, reports, len(slack.Posts()), hooks)
	}

	bot := start("with-bot", contract.Secret{SigningSecret: "unused-here", BotToken: botToken, WebhookURL: slack.WebhookURL()})
	if err := bot.InvokeJSON(ctx, json.RawMessage(slowBatch(0)), &out); err != nil {
		t.Fatal(err)
	}
	out = Outcome{}
	if err := bot.InvokeJSON(ctx, json.RawMessage(sched), &out); err != nil {
		t.Fatalf("%v\n%s", err, bot.Logs())
	}
	if out.Reported == nil || out.Reported.Chart != "uploaded" {
		t.Fatalf("schedule: %+v, want the chart uploaded\n%s", out.Reported, bot.Logs())
	}
	ups := slack.Uploads()
	if len(ups) != 1 {
		t.Fatalf("%d uploads, want 1", len(ups))
	}
	img, err := png.Decode(bytes.NewReader(ups[0].Data))
	if err != nil || img.Bounds().Dx() < 600 {
		t.Errorf("upload is not a chart PNG: %v", err)
	}
	if ups[0].Channel != opsID || ups[0].Name != "latency.png" || ups[0].ThreadTS != testenv.PostTS || !strings.Contains(ups[0].Title, "last 1h") {
		t.Errorf("upload %+v, want latency.png in %s, in the report's thread", ups[0], opsID)
	}
}
