package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/dynamo"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

const (
	ownAccessLog = "/aws/apigateway/slackbot-dev/access"
	albBucket    = "acme-alb-logs"
	testSources  = `[{"name":"orders","kind":"apigateway","logGroup":"/aws/apigateway/orders-prod"},` +
		`{"name":"workers","kind":"lambda","functions":["billing","orders-worker"]},` +
		`{"name":"web","kind":"alb","bucket":"acme-alb-logs","prefix":"web/AWSLogs/","routes":["/files/{name}"],"maxRoutes":3}]`
)

// groupEvent is a CloudWatch Logs delivery of messages from group.
func groupEvent(t *testing.T, group string, messages []string, at time.Time) []byte {
	t.Helper()
	d := events.CloudwatchLogsData{
		Owner: "123456789012", LogGroup: group, LogStream: "2026/12/04/[$LATEST]0f1e2d3c4b5a69788796a5b4c3d2e1f0",
		SubscriptionFilters: []string{"percentiles"}, MessageType: "DATA_MESSAGE",
	}
	for i, m := range messages {
		d.LogEvents = append(d.LogEvents, events.CloudwatchLogsLogEvent{
			ID: fmt.Sprintf("%022d%034d", at.UnixMilli(), i), Timestamp: at.UnixMilli() + int64(i), Message: m,
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

func objectCreatedEvent(bucket, key, sequencer string) []byte {
	return fmt.Appendf(nil, `{"version":"0","id":"17793124-05d4-b198-2fde-7ededc63b103","detail-type":"Object Created","source":"aws.s3",`+
		`"account":"123456789012","time":"2026-12-04T15:05:00Z","region":"us-east-1","resources":["arn:aws:s3:::%s"],`+
		`"detail":{"version":"0","bucket":{"name":%q},"object":{"key":%q,"size":1024,"etag":"b1946ac92492d2347c6235b4d2611184","sequencer":%q},`+
		`"request-id":"57H08PA84AB1JZW0","requester":"127311923021","source-ip-address":"127.0.0.1","reason":"PutObject"}}`, bucket, bucket, key, sequencer)
}

// The shipped bootstrap under the emulator, with DynamoDB and S3 on moto:
// one subscription batch of each kind, one from a stranger's group, which
// is dropped, and an ALB object announced twice, which is read once; then
// what the store holds of each source.
func TestPercentilesLambdaSources(t *testing.T) {
	ctx := context.Background()
	moto, cfg, secretARN := botSecret(t, "slackbot/percentiles-sources")
	db := dynamodb.NewFromConfig(cfg)
	testenv.CreateSketchTable(t, db, sketchTable)
	_, dedupeTable := moto.DedupeTable(t)

	// The load balancer's object: ten requests of four paths, one of
	// them with -1 (no answer from the target), so with maxRoutes 3 the
	// fourth route counts under (other).
	now := time.Now().UTC().Truncate(time.Minute).Add(-10 * time.Minute)
	var albLines []string
	for i, p := range []string{"/files/a.pdf", "/files/b.pdf", "/orders/17", "/orders/18", "/health", "/files/c.pdf", "/orders/19", "/health", "/static/app.js", "/static/app.js"} {
		tp, status := fmt.Sprintf("0.%03d", 10+i), 200
		if i == 3 {
			tp, status = "-1", 504
		}
		albLines = append(albLines, fmt.Sprintf(`https %s app/web/50dc6c495c0c9188 198.51.100.7:50312 10.0.0.2:80 0.001 %s 0.000 %d %d 512 2048 "GET https://www.example.com:443%s?x=1 HTTP/1.1" "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/121.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067 "Root=1-6571a4b4-1b2c3d4e5f6a7b8c9d0e1f2a" "www.example.com" "-" 2 %s "forward" "-" "-" "10.0.0.2:80" "%d" "-" "-" TID_a1b2c3d4`,
			now.Add(time.Duration(i)*time.Second).Format("2006-01-02T15:04:05.000000Z"), tp, status, status, p, now.Format("2006-01-02T15:04:05.000000Z"), status))
	}
	var obj bytes.Buffer
	zw := gzip.NewWriter(&obj)
	_, _ = zw.Write([]byte(strings.Join(albLines, "\n") + "\n"))
	_ = zw.Close()
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(albBucket)}); err != nil {
		t.Fatal(err)
	}
	key := "web/AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/12/04/123456789012_elasticloadbalancing_us-east-1_app.web.50dc6c495c0c9188_20261204T1505Z_10.0.0.2_5x9x.log.gz"
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(albBucket), Key: aws.String(key), Body: bytes.NewReader(obj.Bytes())}); err != nil {
		t.Fatal(err)
	}

	slack := testenv.NewSlack(t, botToken, map[string]string{"ops": opsID})
	fn := testenv.StartLambda(t, testenv.BuildBootstrap(t, "./functions/percentiles"), append(moto.Env(),
		contract.EnvSecretARN+"="+secretARN,
		contract.EnvSlackAPIURL+"="+slack.APIURL(),
		contract.EnvSketchTable+"="+sketchTable,
		contract.EnvDedupeTable+"="+dedupeTable,
		contract.EnvReportChannel+"=#ops",
		contract.EnvLatencySources+"="+testSources,
		contract.EnvAccessLogGroup+"="+ownAccessLog,
	))

	epoch := func(d time.Duration) string { return fmt.Sprint(now.Add(d).UnixMilli()) }
	gateway := []string{
		`{"requestId":"a1","requestTimeEpoch":"` + epoch(0) + `","httpMethod":"GET","resourcePath":"/pets/{petId}","status":"200","responseLatency":"35"}`,
		`{"requestId":"a2","requestTimeEpoch":"` + epoch(time.Second) + `","httpMethod":"GET","resourcePath":"/pets/{petId}","status":"200","responseLatency":"45"}`,
		`{"requestId":"a3","requestTimeEpoch":"` + epoch(2*time.Second) + `","httpMethod":"POST","resourcePath":"/pets","status":"502","responseLatency":"29004"}`,
		`{"requestId":"a4","httpMethod":"POST","resourcePath":"/orders","status":"201"}`, // the console's format: no latency
	}
	reports := []string{
		"START RequestId: 3604209a-e9a3-11e6-939a-754dd98c7be3 Version: $LATEST\n",
		"REPORT RequestId: 3604209a-e9a3-11e6-939a-754dd98c7be3\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 18 MB\tInit Duration: 162.21 ms\t\n",
		"END RequestId: 3604209a-e9a3-11e6-939a-754dd98c7be3\n",
		"REPORT RequestId: 8f507cfc-0000-4697-b07a-ac58fc914c95\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 49 MB\tStatus: timeout\n",
		`{"time":"2026-12-04T15:01:06.012Z","type":"platform.report","record":{"requestId":"6d68ca91","metrics":{"durationMs":2.49,"billedDurationMs":3,"memorySizeMB":128,"maxMemoryUsedMB":71},"status":"success"}}`,
	}
	own := []string{strings.NewReplacer(
		"$context.requestId", "r1", "$context.requestTimeEpoch", epoch(0), "$context.httpMethod", "POST",
		"$context.resourcePath", contract.EventsPath, "$context.status", "200", "$context.responseLatency", "40", "$context.integrationLatency", "38",
	).Replace(contract.AccessLogFormat)}

	invoke := func(payload []byte) Outcome {
		t.Helper()
		var out Outcome
		if err := fn.InvokeJSON(ctx, json.RawMessage(payload), &out); err != nil {
			t.Fatalf("%v\n%s", err, fn.Logs())
		}
		return out
	}
	for _, c := range []struct {
		group  string
		msgs   []string
		source string
		added  int
	}{
		{"/aws/apigateway/orders-prod", gateway, "orders", 3},
		{"/aws/lambda/billing", reports, "workers", 4}, // three invocations and a cold start
		{ownAccessLog, own, "", 1},
		{"/aws/lambda/someone-elses", reports, "", 0},
	} {
		out := invoke(groupEvent(t, c.group, c.msgs, now))
		if out.Ingested == nil || out.Ingested.Source != c.source || out.Ingested.Added != c.added || out.Ingested.Dropped != (c.added == 0) {
			t.Errorf("%s: %+v, want %d added for source %q", c.group, out.Ingested, c.added, c.source)
		}
	}
	for i, seq := range []string{"0055AED6DCD90281E5", "0055AED6DCD90281E5"} {
		out := invoke(objectCreatedEvent(albBucket, key, seq))
		switch {
		case out.Object == nil:
			t.Fatalf("object event %d: %+v", i, out)
		case i == 0 && (out.Object.Stats == nil || out.Object.Stats.Added != 10 || out.Object.Source != "web"):
			t.Errorf("first delivery: %+v, want 10 lines of web read", out.Object)
		case i == 1 && (out.Object.Skipped != "already read" || out.Object.Stats != nil):
			t.Errorf("second delivery: %+v, want it skipped as already read", out.Object)
		}
	}
	// An object deleted before it is read is counted as nothing, and not
	// retried: S3 (moto here) says NoSuchKey.
	if out := invoke(objectCreatedEvent(albBucket, "web/AWSLogs/deleted.log.gz", "02")); out.Object == nil || out.Object.Skipped != "the object is gone" {
		t.Errorf("a deleted object: %+v", out.Object)
	}
	// An object outside every source's bucket and prefix is not read.
	if out := invoke(objectCreatedEvent(albBucket, "elsewhere/x.log.gz", "01")); out.Object == nil || out.Object.Skipped == "" {
		t.Errorf("an object of no source: %+v", out.Object)
	}

	store := sketchstore.NewDynamoStore(dynamo.New(cfg), sketchTable)
	count := func(source string) map[string][2]int64 {
		got, err := sketchstore.Range(ctx, store, source, now.Add(-time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][2]int64{}
		for r, s := range got {
			out[r] = [2]int64{s.Requests, s.Status5xx}
		}
		return out
	}
	for source, want := range map[string]map[string][2]int64{
		"orders":   {"GET /pets/{petId}": {2, 0}, "POST /pets": {1, 1}},
		"workers":  {"billing": {3, 1}, "billing init": {1, 0}},
		"slackbot": {"POST " + contract.EventsPath: {1, 0}},
		// Three routes in the order they came, then (other); the
		// object counted once though announced twice.
		"web": {"GET /files/{name}": {3, 0}, "GET /orders/{id}": {3, 1}, "GET /health": {2, 0}, contract.OtherRoute: {2, 0}},
	} {
		if got := count(source); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %v, want %v", source, got, want)
		}
	}
	st, err := store.SourceStats(ctx, "orders")
	if err != nil || st.Routes != 2 || st.LatestNoLatency != now.Unix() {
		t.Errorf("orders: %+v, %v; want 2 routes and the minute of the line without latency", st, err)
	}
}
