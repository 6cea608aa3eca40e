package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/accesslog"
	"github.com/lambda-slackbot/slackbot/functions/internal/alerts"
	"github.com/lambda-slackbot/slackbot/functions/internal/chat"
	"github.com/lambda-slackbot/slackbot/functions/internal/cwalarm"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
)

type fakePoster struct {
	mu   sync.Mutex
	sent []chat.Message
	err  error
}

func (p *fakePoster) Post(_ context.Context, m chat.Message) (chat.Posted, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return chat.Posted{}, p.err
	}
	p.sent = append(p.sent, m)
	return chat.Posted{ChannelID: "C0123ABCD", TS: "1700000000.000100"}, nil
}

// scheduledEvent is an EventBridge schedule's event, as a rule with a
// schedule expression delivers it.
func scheduledEvent(at time.Time) json.RawMessage {
	return json.RawMessage(`{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","detail-type":"Scheduled Event","source":"aws.events",` +
		`"account":"123456789012","time":"` + at.Format(time.RFC3339) + `","region":"us-east-1",` +
		`"resources":["arn:aws:events:us-east-1:123456789012:rule/slackbot-latency-report"],"detail":{}}`)
}

// reportEnd is where the tests' report hour ends; batchTime is an hour
// before it.
var (
	reportEnd = time.Date(2025, 11, 25, 14, 0, 0, 0, time.UTC)
	batchTime = reportEnd.Add(-time.Hour)
)

const eventsRoute = "POST /slack/events"

func newTestHandler(channel string) (*Handler, *sketchstore.MemoryStore, *fakePoster, *bytes.Buffer) {
	store := sketchstore.NewMemoryStore()
	store.Now = func() time.Time { return reportEnd }
	poster := &fakePoster{}
	var logs bytes.Buffer
	h := NewHandler(Options{Store: store, Poster: poster, Channel: channel, Window: time.Hour, AlarmTopic: alarmTopic,
		Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	return h, store, poster, &logs
}

func TestHandleIngestsSubscriptionEvents(t *testing.T) {
	const n = 200
	var lines []string
	for i := range n {
		lines = append(lines, accessLine(i, batchTime.Add(time.Duration(i)*time.Second), "POST", contract.EventsPath, 10+i, 8+i))
	}
	event := subscriptionEvent(t, accesslog.DataMessage, lines, batchTime)
	var delivered struct {
		AWSLogs struct {
			Data string `json:"data"`
		} `json:"awslogs"`
	}
	if err := json.Unmarshal(event, &delivered); err != nil {
		t.Fatal(err)
	}
	pretty, _ := json.MarshalIndent(map[string]any{"awslogs": map[string]string{"data": delivered.AWSLogs.Data}}, "", "  ")
	for _, c := range []struct {
		name  string
		event json.RawMessage
	}{
		{"as Lambda delivers it", event},
		{"reformatted", pretty},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, store, _, _ := newTestHandler("#ops")
			out, err := h.Invoke(context.Background(), c.event)
			if err != nil {
				t.Fatal(err)
			}
			if out.Ingested == nil || out.Ingested.Added != n || out.Reported != nil {
				t.Fatalf("outcome %+v, want %d lines ingested", out, n)
			}
			got, _ := sketchstore.Range(context.Background(), store, contract.DefaultSource, batchTime, batchTime.Add(time.Hour))
			total := 0
			for _, s := range got {
				total += int(s.Response.GetCount())
			}
			if total != n {
				t.Errorf("store holds %d requests, want %d", total, n)
			}
		})
	}
}

func TestHandleFailsOnMalformedEnvelopes(t *testing.T) {
	for _, c := range []struct {
		name  string
		event string
		want  error
	}{
		{"data not base64", `{"awslogs":{"data":"%%%"}}`, accesslog.ErrMalformedDelivery},
		{"data not gzip", `{"awslogs":{"data":"aGVsbG8="}}`, accesslog.ErrMalformedDelivery},
		{"data not a string", `{"awslogs":{"data":5}}`, ErrUnknownEvent},
		{"an API Gateway request", `{"httpMethod":"POST","path":"/slack/events","body":"{}"}`, ErrUnknownEvent},
		{"empty object", `{}`, ErrUnknownEvent},
		{"not JSON", `hello`, ErrUnknownEvent},
		{"an SQS event", `{"Records":[{"eventSource":"aws:sqs","body":"{}"}]}`, ErrUnknownEvent},
		{"SNS records of the wrong shape", `{"Records":[{"EventSource":"aws:sns","Sns":"{\"AlarmName\":"}]}`, cwalarm.ErrMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, _, poster, _ := newTestHandler("#ops")
			_, err := h.Invoke(context.Background(), json.RawMessage(c.event))
			if !errors.Is(err, c.want) {
				t.Errorf("error = %v, want %v", err, c.want)
			}
			if len(poster.sent) != 0 {
				t.Errorf("posted %d messages", len(poster.sent))
			}
		})
	}
}

func TestHandlePostsTheScheduledReport(t *testing.T) {
	h, store, poster, _ := newTestHandler("#ops")
	store.Record(eventsRoute, reportEnd.Add(-30*time.Minute), 40*time.Millisecond, 35*time.Millisecond)
	store.Record(eventsRoute, reportEnd.Add(10*time.Second), 900*time.Millisecond, 35*time.Millisecond) // after the hour: next report's
	out, err := h.Invoke(context.Background(), scheduledEvent(reportEnd.Add(4*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	if out.Reported == nil || out.Reported.TS != "1700000000.000100" {
		t.Errorf("outcome %+v, want the posted message's ts", out)
	}
	if len(poster.sent) != 1 {
		t.Fatalf("%d messages posted, want 1", len(poster.sent))
	}
	m := poster.sent[0]
	if m.Channel != "#ops" || m.Metadata == nil || m.Metadata.EventType != latency.MetadataEventType {
		t.Errorf("posted to %q with metadata %+v; want #ops and latency_report", m.Channel, m.Metadata)
	}
	p := m.Metadata.EventPayload
	total := p["total"].(map[string]any)
	if p["end"] != reportEnd.Unix() || p["window_seconds"] != int64(3600) || total["count"] != int64(1) || total["max"] != 40.0 {
		t.Errorf("metadata %v; want the whole hour before the event's time, with its one request", p)
	}
}

func TestHandleScheduledReportWithoutAChannel(t *testing.T) {
	h, _, poster, logs := newTestHandler("")
	out, err := h.Invoke(context.Background(), scheduledEvent(reportEnd))
	if err != nil {
		t.Fatalf("error %v: a missing channel must not make Lambda retry", err)
	}
	if out.Reported == nil || out.Reported.Skipped == "" || len(poster.sent) != 0 {
		t.Errorf("outcome %+v, %d posted; want a skip", out, len(poster.sent))
	}
	if !strings.Contains(logs.String(), `"level":"ERROR"`) || !strings.Contains(logs.String(), "reportChannel") {
		t.Errorf("the log does not say to set reportChannel:\n%s", logs)
	}
}

func TestHandleReportsSlackErrors(t *testing.T) {
	h, _, poster, _ := newTestHandler("#nowhere")
	poster.err = &chat.Error{Code: "channel_not_found", Hint: "I can't find that channel."}
	_, err := h.Invoke(context.Background(), scheduledEvent(reportEnd))
	var ne *chat.Error
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "#nowhere") {
		t.Errorf("error = %v, want the notify error naming the channel", err)
	}
}

// alarmTopic is the stack's alarm topic in the alarm package's testdata.
const alarmTopic = "arn:aws:sns:ap-northeast-2:123456789012:slackbot-dev-alarms"

// snsEvent is an SNS delivery from the alarm package's testdata: what
// CloudWatch alarms send through the alarm topic.
func snsEvent(t *testing.T, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile("../internal/cwalarm/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHandlePostsAlarmNotifications(t *testing.T) {
	for _, c := range []struct {
		name  string
		event json.RawMessage
		want  []string // in the posted text
	}{
		{"alarm", snsEvent(t, "sns-alarm.json"), []string{":rotating_light: ALARM: *slackbot-dev-events-errors*", "alarmsV2:alarm/slackbot-dev-events-errors"}},
		{"resolved", snsEvent(t, "sns-ok.json"), []string{"OK (resolved): *slackbot-dev-events-errors*", "(was ALARM)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, _, poster, _ := newTestHandler("#ops")
			out, err := h.Invoke(context.Background(), c.event)
			if err != nil {
				t.Fatal(err)
			}
			if out.Alarms == nil || out.Alarms.Posted != 1 || out.Alarms.Channel != "C0123ABCD" || out.Ingested != nil || out.Reported != nil {
				t.Errorf("outcome %+v, want one alarm posted", out)
			}
			if len(poster.sent) != 1 {
				t.Fatalf("%d messages posted, want 1", len(poster.sent))
			}
			m := poster.sent[0]
			if m.Channel != "#ops" || len(m.Blocks) == 0 {
				t.Errorf("posted to %q with %d blocks, want #ops with blocks", m.Channel, len(m.Blocks))
			}
			for _, w := range c.want {
				if !strings.Contains(m.Text, w) {
					t.Errorf("text %q does not say %q", m.Text, w)
				}
			}
		})
	}
}

// TestHandleDropsForgedAlarms: records that are not this stack's alarms
// (an alarm of another account, another topic, plain text) post nothing
// and fail nothing; the log says why. The stack's own alarm posts.
func TestHandleDropsForgedAlarms(t *testing.T) {
	own := string(snsEvent(t, "sns-alarm.json"))
	forged := map[string]string{
		"another account": strings.ReplaceAll(own, `alarm:slackbot-dev-events-errors`, `alarm:prod-payments-db-down`),
		"another topic":   strings.Replace(own, `"TopicArn": "`+alarmTopic, `"TopicArn": "arn:aws:sns:ap-northeast-2:123456789012:elsewhere`, 1),
		"plain text": `{"Records":[{"EventSource":"aws:sns","EventVersion":"1.0","Sns":{"Type":"Notification","TopicArn":"` + alarmTopic +
			`","Subject":"ALARM: prod-payments-db-down","Message":"Reply here with your 2FA code"}}]}`,
	}
	forged["another account"] = strings.ReplaceAll(forged["another account"], `123456789012:alarm`, `999999999999:alarm`)
	for name, event := range forged {
		t.Run(name, func(t *testing.T) {
			if event == own {
				t.Fatal("the forgery changed nothing")
			}
			h, _, poster, logs := newTestHandler("#ops")
			out, err := h.Invoke(context.Background(), json.RawMessage(event))
			if err != nil || len(poster.sent) != 0 || out.Alarms == nil || out.Alarms.Dropped != 1 {
				t.Fatalf("outcome %+v, %v, %d posted; want it dropped, no error", out.Alarms, err, len(poster.sent))
			}
			if !strings.Contains(logs.String(), "not one of this stack's alarms") || strings.Contains(logs.String(), "2FA") {
				t.Errorf("the log does not say why, or repeats the text:\n%s", logs)
			}
		})
	}
	h, _, poster, _ := newTestHandler("#ops")
	if _, err := h.Invoke(context.Background(), json.RawMessage(own)); err != nil || len(poster.sent) != 1 {
		t.Fatalf("the stack's own alarm: %v, %d posted; want it posted", err, len(poster.sent))
	}
	h.AlarmTopic = ""
	if _, err := h.Invoke(context.Background(), json.RawMessage(own)); err != nil || len(poster.sent) != 1 {
		t.Fatalf("without SLACKBOT_ALARM_TOPIC_ARN: %v, %d posted; want nothing more posted", err, len(poster.sent))
	}
}

func TestHandleAlarmWithoutAChannel(t *testing.T) {
	h, _, poster, logs := newTestHandler("")
	out, err := h.Invoke(context.Background(), snsEvent(t, "sns-alarm.json"))
	if err != nil {
		t.Fatalf("error %v: a missing channel must not make Lambda retry", err)
	}
	if out.Alarms == nil || out.Alarms.Skipped == "" || out.Alarms.Posted != 0 || len(poster.sent) != 0 {
		t.Errorf("outcome %+v, %d posted; want a skip", out, len(poster.sent))
	}
	l := logs.String()
	if !strings.Contains(l, `"level":"ERROR"`) || !strings.Contains(l, "reportChannel") || !strings.Contains(l, "slackbot-dev-events-errors") {
		t.Errorf("the log does not say to set reportChannel, or loses the alarm:\n%s", l)
	}
}

// A Slack failure fails the invocation, so Lambda retries it and then sends
// it to the on-failure destination.
func TestHandleAlarmSlackErrors(t *testing.T) {
	h, _, poster, _ := newTestHandler("#nowhere")
	poster.err = &chat.Error{Code: "channel_not_found", Hint: "I can't find that channel."}
	out, err := h.Invoke(context.Background(), snsEvent(t, "sns-alarm.json"))
	var ne *chat.Error
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "#nowhere") {
		t.Errorf("error = %v, want the notify error naming the channel", err)
	}
	if out.Alarms == nil || out.Alarms.Posted != 0 {
		t.Errorf("outcome %+v, want nothing posted", out)
	}
}

// seriesCounter counts the store's reads.
type seriesCounter struct {
	sketchstore.Store
	mu    sync.Mutex
	reads []string
}

func (s *seriesCounter) Series(ctx context.Context, source string, from, to time.Time, step time.Duration) (*sketchstore.Series, error) {
	s.mu.Lock()
	s.reads = append(s.reads, from.Format("15:04")+"-"+to.Format("15:04")+"/"+step.String())
	s.mu.Unlock()
	return s.Store.Series(ctx, source, from, to, step)
}

// uploadingPoster is a bot: it posts and uploads.
type uploadingPoster struct {
	fakePoster
	files []chat.File
}

func (p *uploadingPoster) Upload(_ context.Context, f chat.File) error {
	p.files = append(p.files, f)
	return nil
}

// The scheduled report and its chart show the same hour: it is read once,
// in the chart's buckets, and only the hour before is read besides.
func TestScheduledReportReadsItsWindowOnce(t *testing.T) {
	mem := sketchstore.NewMemoryStore()
	mem.Now = func() time.Time { return reportEnd }
	mem.Record(eventsRoute, reportEnd.Add(-30*time.Minute), 40*time.Millisecond, 35*time.Millisecond)
	mem.Record(eventsRoute, reportEnd.Add(-90*time.Minute), 20*time.Millisecond, 15*time.Millisecond)
	store := &seriesCounter{Store: mem}
	poster := &uploadingPoster{}
	h := NewHandler(Options{Store: store, Poster: poster, Channel: "#ops", Window: time.Hour})
	out, err := h.Invoke(context.Background(), scheduledEvent(reportEnd))
	if err != nil {
		t.Fatal(err)
	}
	if out.Reported == nil || out.Reported.Chart != "uploaded" || len(poster.files) != 1 || len(poster.sent) != 1 {
		t.Fatalf("outcome %+v, %d files, %d messages; want the report and its chart", out.Reported, len(poster.files), len(poster.sent))
	}
	if want := []string{"13:00-14:00/1m0s", "12:00-13:00/0s"}; !slices.Equal(store.reads, want) {
		t.Errorf("reads %q, want %q", store.reads, want)
	}
	total := poster.sent[0].Metadata.EventPayload["total"].(map[string]any)
	if total["count"] != int64(1) || total["max"] != 40.0 {
		t.Errorf("total %v, want the hour's one request of 40 ms", total)
	}
	if !strings.Contains(poster.sent[0].Text, "(▲") {
		t.Errorf("text %q, want the change against the hour before", poster.sent[0].Text)
	}
}

// mergeSource adds n requests of ms milliseconds (status 200, or 503 when
// ms is negative: a -1 ALB line, counted without a latency) to route of
// source, half an hour before reportEnd.
func mergeSource(t *testing.T, s sketchstore.Store, source, route string, n int, ms float64) {
	t.Helper()
	p := sketchstore.NewSketches()
	for range n {
		if ms < 0 {
			p.CountStatus(503)
			continue
		}
		_ = p.Response.Add(ms)
		p.CountStatus(200)
	}
	key := sketchstore.Key{Source: source, Route: route, Minute: reportEnd.Add(-30 * time.Minute).Unix()}
	if err := s.Merge(context.Background(), "", map[sketchstore.Key]*sketchstore.Sketches{key: p}); err != nil {
		t.Fatal(err)
	}
}

// TestScheduledReportPerSource: the schedule posts one message per source
// with traffic in the window, the default source first, each with its own
// numbers and latency_report metadata naming it; a source without traffic
// posts nothing; when none had any, the default source says so.
func TestScheduledReportPerSource(t *testing.T) {
	sources, err := contract.ParseLatencySources(`[{"name":"orders","kind":"apigateway","logGroup":"/aws/apigateway/orders"},
		{"name":"workers","kind":"lambda","functions":["billing"]},
		{"name":"web","kind":"alb","bucket":"logs"}]`)
	if err != nil {
		t.Fatal(err)
	}
	h, store, poster, _ := newTestHandler("#ops")
	h.Sources = sources
	mergeSource(t, store, "orders", "GET /orders", 30, 120)
	mergeSource(t, store, "web", "GET /files/{name}", 4, -1) // requests, none with a latency
	store.Record(eventsRoute, reportEnd.Add(-10*time.Minute), 40*time.Millisecond, 35*time.Millisecond)
	// workers had traffic two hours ago only: not in the window.
	p := sketchstore.NewSketches()
	_ = p.Response.Add(5)
	p.CountStatus(200)
	_ = store.Merge(context.Background(), "", map[sketchstore.Key]*sketchstore.Sketches{
		{Source: "workers", Route: "billing", Minute: reportEnd.Add(-2 * time.Hour).Unix()}: p})

	out, err := h.Invoke(context.Background(), scheduledEvent(reportEnd))
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		source        string
		requests, s5x int64
	}
	var posted []got
	for _, m := range poster.sent {
		meta := m.Metadata.EventPayload
		total := meta["total"].(map[string]any)
		posted = append(posted, got{meta["source"].(string), total["count"].(int64), total["status_5xx"].(int64)})
		if m.Channel != "#ops" || m.Metadata.EventType != latency.MetadataEventType {
			t.Errorf("%v: channel %q, type %q", meta["source"], m.Channel, m.Metadata.EventType)
		}
	}
	want := []got{{"orders", 30, 0}, {"web", 0, 4}, {"slackbot", 1, 0}}
	if !slices.Equal(posted, want) {
		t.Errorf("posted (source, latency count, 5xx) %v, want %v", posted, want)
	}
	if len(out.Reports) != 3 || out.Reported == nil || out.Reported.Source != "orders" || out.Reports[2].Source != "slackbot" {
		t.Errorf("outcome %+v", out)
	}

	// An hour later nothing had traffic: one message, the default source's.
	poster.sent = nil
	out, err = h.Invoke(context.Background(), scheduledEvent(reportEnd.Add(2*time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if len(poster.sent) != 1 || poster.sent[0].Metadata.EventPayload["source"] != "orders" ||
		!strings.HasPrefix(poster.sent[0].Text, "No traffic to orders in the last 1h") || len(out.Reports) != 1 {
		t.Fatalf("quiet hour: %d messages, first %+v; want only the default source's no-traffic message", len(poster.sent), poster.sent)
	}
}

// After the first report is out, a failed post of another is logged, not
// retried: a retry would post the first again.
func TestScheduledReportPerSourceFailureAfterTheFirst(t *testing.T) {
	sources, _ := contract.ParseLatencySources(`[{"name":"orders","kind":"apigateway","logGroup":"/aws/apigateway/orders"}]`)
	h, store, _, _ := newTestHandler("#ops")
	h.Sources = sources
	mergeSource(t, store, "orders", "GET /orders", 3, 120)
	store.Record(eventsRoute, reportEnd.Add(-10*time.Minute), 40*time.Millisecond, 35*time.Millisecond)
	poster := &failingAfter{n: 1}
	h.Poster = poster
	out, err := h.Invoke(context.Background(), scheduledEvent(reportEnd))
	if err != nil || len(out.Reports) != 2 || out.Reports[0].TS == "" || !strings.HasPrefix(out.Reports[1].Skipped, "failed") {
		t.Fatalf("outcome %+v, %v; want the first posted, the second's failure recorded and no error", out, err)
	}
	// The first failing is an error: nothing is out, the retry is safe.
	h.Poster = &failingAfter{n: 0}
	if _, err := h.Invoke(context.Background(), scheduledEvent(reportEnd)); err == nil {
		t.Fatal("no error when the first report failed")
	}
}

// failingAfter posts n messages, then fails.
type failingAfter struct {
	n, posts int
}

func (p *failingAfter) Post(_ context.Context, m chat.Message) (chat.Posted, error) {
	if p.posts >= p.n {
		return chat.Posted{}, errors.New("slack is down")
	}
	p.posts++
	return chat.Posted{ChannelID: "C0123ABCD", TS: "1700000000.000200"}, nil
}

// sourceBatch is a subscription event from group holding lines.
func sourceBatch(t *testing.T, group string, lines []string, at time.Time) json.RawMessage {
	t.Helper()
	d := events.CloudwatchLogsData{Owner: "123456789012", LogGroup: group, LogStream: "2026/12/04/[$LATEST]0f1e2d3c",
		SubscriptionFilters: []string{"slackbot-dev-latency-workers"}, MessageType: accesslog.DataMessage}
	for i, l := range lines {
		d.LogEvents = append(d.LogEvents, events.CloudwatchLogsLogEvent{
			ID: fmt.Sprintf("%022d%034d", at.UnixMilli(), i), Timestamp: at.UnixMilli() + int64(i), Message: l})
	}
	plain, _ := json.Marshal(d)
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	_, _ = w.Write(plain)
	_ = w.Close()
	ev, _ := json.Marshal(events.CloudwatchLogsEvent{AWSLogs: events.CloudwatchLogsRawData{Data: base64.StdEncoding.EncodeToString(z.Bytes())}})
	return ev
}

// After a source's batch only that source's rules are checked: the
// bot's own rule, which its own data would fire, waits for the bot's own
// batch or the schedule.
func TestIngestChecksTheBatchSourcesRules(t *testing.T) {
	sources, err := contract.ParseLatencySources(`[{"name":"workers","kind":"lambda","functions":["billing"]}]`)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := contract.ParseAlertRules(`[{"route":"*","quantile":0.5,"threshold_ms":100,"window":"5m"},
		{"source":"slackbot","route":"*","quantile":0.5,"threshold_ms":10,"window":"5m"}]`)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := contract.ResolveAlertSources(parsed, sources)
	if err != nil {
		t.Fatal(err)
	}
	store := sketchstore.NewMemoryStore()
	store.Now = func() time.Time { return reportEnd }
	poster := &fakePoster{}
	h := NewHandler(Options{Store: store, Poster: poster, Channel: "#ops", Window: time.Hour, Rules: rules, State: &alerts.MemoryState{},
		Sources: sources, OwnLogGroup: "/aws/apigateway/slackbot-dev/access"})
	at := reportEnd.Add(-2 * time.Minute)
	store.Record(eventsRoute, at, 40*time.Millisecond, 30*time.Millisecond) // over the bot's own 10 ms

	var lines []string
	for i := range 5 {
		lines = append(lines, fmt.Sprintf("REPORT RequestId: %08x-e9a3-11e6-939a-754dd98c7be3\tDuration: 250.00 ms\tBilled Duration: 250 ms\tMemory Size: 128 MB\tMax Memory Used: 18 MB\t", i))
	}
	out, err := h.Invoke(context.Background(), sourceBatch(t, "/aws/lambda/billing", lines, at))
	if err != nil {
		t.Fatal(err)
	}
	if out.Ingested == nil || out.Ingested.Source != "workers" || out.Ingested.Added != 5 {
		t.Fatalf("ingested %+v, want 5 REPORT lines of workers", out.Ingested)
	}
	if len(out.Alerts) != 1 || !strings.HasPrefix(out.Alerts[0].Rule, "@workers|") || len(poster.sent) != 1 ||
		poster.sent[0].Metadata.EventPayload["source"] != "workers" {
		t.Fatalf("alerts %+v, posts %d; want only the workers rule fired", out.Alerts, len(poster.sent))
	}
	// The schedule checks every rule: now the bot's own fires too.
	out, err = h.Invoke(context.Background(), scheduledEvent(reportEnd))
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Alerts) != 1 || out.Alerts[0].Rule != "*|p50|10|5m" {
		t.Errorf("schedule alerts %+v, want the bot's own rule", out.Alerts)
	}
}

// TestInvokeDrawsAChart: the commands function's chart request
// (chartcall) is answered with the PNG of the window's requests, and a
// window out of range is refused.
func TestInvokeDrawsAChart(t *testing.T) {
	h, store, _, _ := newTestHandler("#ops")
	now := time.Now()
	for i := range 30 {
		store.Record(eventsRoute, now.Add(-time.Duration(i)*time.Minute), time.Duration(10+i)*time.Millisecond, 5*time.Millisecond)
	}
	out, err := h.Invoke(context.Background(), json.RawMessage(`{"slackbot_chart":{"source":"","window_seconds":3600,"route":""}}`))
	if err != nil || out.Chart == nil {
		t.Fatalf("outcome %+v, %v; want a chart", out, err)
	}
	if _, err := png.Decode(bytes.NewReader(out.Chart.PNG)); err != nil || out.Chart.Title == "" {
		t.Fatalf("chart %q titled %q: %v", out.Chart.PNG[:min(8, len(out.Chart.PNG))], out.Chart.Title, err)
	}
	// The function's result is what chartcall reads.
	b, _ := json.Marshal(out)
	if !bytes.Contains(b, []byte(`"chart":{"png":"iVBORw0KGgo`)) {
		t.Errorf("result %.80s does not carry the chart as chartcall reads it", b)
	}
	if _, err := h.Invoke(context.Background(), json.RawMessage(`{"slackbot_chart":{"window_seconds":0}}`)); err == nil {
		t.Error("a chart of no window was drawn")
	}
	// 36028797018967568 s is exactly an hour once its nanoseconds wrap around int64.
	if _, err := h.Invoke(context.Background(), json.RawMessage(`{"slackbot_chart":{"window_seconds":36028797018967568}}`)); err == nil {
		t.Error("a chart of a window past 90 days was drawn")
	}
}

// A source of every function reads any function's REPORT lines, but never
// the percentiles function's own: each batch of them would invoke it again.
func TestIngestNeverReadsItsOwnLogGroup(t *testing.T) {
	sources, err := contract.ParseLatencySources(`[{"name":"fns","kind":"lambda","functions":["*"]}]`)
	if err != nil {
		t.Fatal(err)
	}
	store := sketchstore.NewMemoryStore()
	store.Now = func() time.Time { return reportEnd }
	const self = "/aws/lambda/slackbot-dev-percentiles"
	h := NewHandler(Options{Store: store, Poster: &fakePoster{}, Channel: "#ops", Window: time.Hour,
		Sources: sources, OwnLogGroup: "/aws/apigateway/slackbot-dev/access", SelfLogGroup: self})
	at := reportEnd.Add(-2 * time.Minute)
	lines := []string{"REPORT RequestId: 0000000a-e9a3-11e6-939a-754dd98c7be3\tDuration: 25.00 ms\tBilled Duration: 25 ms\tMemory Size: 128 MB\tMax Memory Used: 18 MB\t"}
	for group, want := range map[string]int{"/aws/lambda/billing": 1, self: 0} {
		out, err := h.Invoke(context.Background(), sourceBatch(t, group, lines, at))
		if err != nil || out.Ingested == nil || out.Ingested.Added != want || out.Ingested.Dropped != (want == 0) {
			t.Errorf("%s: %+v, %v; want %d added", group, out.Ingested, err, want)
		}
	}
}
