package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/accesslog"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// TestPercentilesLambdaReportsEachSource runs the shipped bootstrap under
// the Lambda emulator, configured as the program configures it (sources,
// the bot's own access-log group, an alert rule on a source), with
// DynamoDB from moto and Slack faked: batches of an API Gateway source, a
// lambda source and the bot's own access log, then the schedule, which
// posts one report per source with traffic, the default first, each with
// its own numbers and its source in the metadata. The alb source had no
// traffic: no message.
func TestPercentilesLambdaReportsEachSource(t *testing.T) {
	ctx := context.Background()
	moto, cfg, secretARN := botSecret(t, "slackbot/percentiles-each-source")
	testenv.CreateSketchTable(t, dynamodb.NewFromConfig(cfg), sketchTable)
	slack := testenv.NewSlack(t, botToken, map[string]string{"ops": opsID})
	const ownGroup = "/aws/apigateway/slackbot-dev/access"
	sources := `[{"name":"orders","kind":"apigateway","logGroup":"/aws/apigateway/orders-prod"},` +
		`{"name":"workers","kind":"lambda","functions":["billing"]},` +
		`{"name":"web","kind":"alb","bucket":"acme-alb-logs","prefix":"web/"}]`
	env := append(moto.Env(),
		contract.EnvSecretARN+"="+secretARN,
		contract.EnvSlackAPIURL+"="+slack.APIURL(),
		contract.EnvSketchTable+"="+sketchTable,
		contract.EnvReportChannel+"=#ops",
		contract.EnvReportWindow+"=1h",
		contract.EnvLatencySources+"="+sources,
		contract.EnvAccessLogGroup+"="+ownGroup,
		contract.EnvAlertRules+`=[{"source":"workers","route":"billing","quantile":0.5,"threshold_ms":5000,"window":"1h"}]`,
	)
	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "./functions/percentiles"), env)

	hour := time.Now().UTC().Truncate(time.Hour)
	at := hour.Add(-30 * time.Minute)
	epoch := func(i int) string { return fmt.Sprint(at.Add(time.Duration(i) * time.Second).UnixMilli()) }
	var orders, own, workers []string
	for i := range 20 { // 20 requests of 100..119 ms, every fifth a 502
		status := "200"
		if i%5 == 0 {
			status = "502"
		}
		orders = append(orders, `{"requestId":"o`+fmt.Sprint(i)+`","requestTimeEpoch":"`+epoch(i)+`","httpMethod":"GET","resourcePath":"/orders/{id}","status":"`+
			status+`","responseLatency":"`+fmt.Sprint(100+i)+`"}`)
	}
	for i := range 7 { // the bot's own: 7 requests of 30..36 ms
		own = append(own, accessLine(i, at.Add(time.Duration(i)*time.Second), "POST", contract.EventsPath, 30+i, 20+i))
	}
	for i := range 4 { // 4 invocations of 200, 400, 600, 800 ms
		workers = append(workers, fmt.Sprintf("REPORT RequestId: %08x-e9a3-11e6-939a-754dd98c7be3\tDuration: %d.00 ms\tBilled Duration: %d ms\tMemory Size: 128 MB\tMax Memory Used: 18 MB\t",
			i, 200*(i+1), 200*(i+1)))
	}
	for _, b := range []struct {
		group string
		lines []string
	}{{"/aws/apigateway/orders-prod", orders}, {ownGroup, own}, {"/aws/lambda/billing", workers}} {
		var out Outcome
		if err := fn.InvokeJSON(ctx, sourceBatch(t, b.group, b.lines, at), &out); err != nil {
			t.Fatal(err)
		}
		if out.Ingested == nil || out.Ingested.Added != len(b.lines) || out.Ingested.MessageType != accesslog.DataMessage {
			t.Fatalf("%s: %+v, want %d lines added", b.group, out.Ingested, len(b.lines))
		}
	}

	sched := fmt.Sprintf(`{"version":"0","id":"9f1d","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":%q,"region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/slackbot-latency"],"detail":{}}`,
		hour.Add(3*time.Second).Format(time.RFC3339))
	var out Outcome
	if err := fn.InvokeJSON(ctx, json.RawMessage(sched), &out); err != nil {
		t.Fatal(err)
	}
	type report struct {
		Source                  string
		Count, Status5xx, MaxMs int64
	}
	var got []report
	for _, p := range slack.Posts() {
		var meta struct {
			EventType    string `json:"event_type"`
			EventPayload struct {
				Source string `json:"source"`
				Total  struct {
					Count     int64   `json:"count"`
					Status5xx int64   `json:"status_5xx"`
					Max       float64 `json:"max"`
				} `json:"total"`
			} `json:"event_payload"`
		}
		if err := json.Unmarshal([]byte(p.Get("metadata")), &meta); err != nil || meta.EventType != latency.MetadataEventType {
			t.Fatalf("a post without latency_report metadata: %v %v", p, err)
		}
		if p.Get("channel") != opsID {
			t.Errorf("%s posted to %q, want %s", meta.EventPayload.Source, p.Get("channel"), opsID)
		}
		tot := meta.EventPayload.Total
		got = append(got, report{meta.EventPayload.Source, tot.Count, tot.Status5xx, int64(tot.Max)})
	}
	want := []report{{"orders", 20, 4, 119}, {"workers", 4, 0, 800}, {"slackbot", 7, 0, 36}}
	if !slices.Equal(got, want) {
		t.Errorf("posted (source, count, 5xx, max) %v, want %v", got, want)
	}
	if len(out.Reports) != 3 || out.Reported == nil || out.Reported.Source != "orders" {
		t.Errorf("outcome %+v", out)
	}
}
