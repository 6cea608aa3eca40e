package eventsapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/eventsapi"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// These tests run the events handler against the real parts it meets when
// deployed: the DynamoDB dedupe store (on moto) and Slack's Web API (an
// httptest Slack), so a claim, a redelivery and an outage behave as they
// would in production.

// moto is one moto server for the package's tests; each test makes its own
// table.
var moto testenv.SharedMoto

func TestMain(m *testing.M) { testenv.MotoMain(m, &moto) }

const botToken = "xoxb-e2e"

// mentionAt is an Events API app_mention callback body.
func mentionAt(t *testing.T, eventID, channel, ts string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"token":      "legacy-token-unused",
		"team_id":    "T0000TEAM",
		"api_app_id": "A0000APP",
		"type":       "event_callback",
		"event_id":   eventID,
		"event_time": 1700000000,
		"event": map[string]any{
			"type":     "app_mention",
			"user":     "U0000USER",
			"text":     "<@U0000BOT> hello there",
			"ts":       ts,
			"channel":  channel,
			"event_ts": ts,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// delivery is the API Gateway proxy request of one Slack delivery, signed
// with secret; retry > 0 marks Slack's redelivery.
func delivery(body []byte, secret string, retry int) events.APIGatewayProxyRequest {
	ts, sig := verify.Signature(secret, time.Now(), body)
	h := map[string]string{
		"Content-Type":              "application/json",
		"X-Slack-Request-Timestamp": ts,
		"X-Slack-Signature":         sig,
	}
	if retry > 0 {
		h["X-Slack-Retry-Num"] = strconv.Itoa(retry)
		h["X-Slack-Retry-Reason"] = "http_timeout"
	}
	return events.APIGatewayProxyRequest{
		HTTPMethod: http.MethodPost,
		Resource:   "/slack/events",
		Path:       "/slack/events",
		Headers:    h,
		Body:       string(body),
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID: fmt.Sprintf("req-%d", retry),
		},
	}
}

// TestEventsHandlerDedupesRedeliveries sends one app_mention as 16 deliveries
// at once (the original and Slack's retries), through the events handler
// with the DynamoDB store on moto, and counts the replies Slack receives.
func TestEventsHandlerDedupesRedeliveries(t *testing.T) {
	db, table := moto.Get(t).DedupeTable(t)
	slackSrv := testenv.NewSlack(t, botToken, nil)
	poster := notify.NewClient(botToken, slackSrv.APIURL(), notify.Retry{})
	h := &eventsapi.Handler{
		Verifier: verify.Verifier{SigningSecret: secret},
		Dedupe:   &dedupe.Dynamo{Client: db, Table: table},
		Log:      slog.New(slog.NewTextHandler(t.Output(), nil)),
	}
	h.On("app_mention", eventsapi.AppMention(poster, nil, latency.RequestParser(nil), time.Hour))

	const (
		eventID   = "Ev0E2EDEDUPE1"
		channel   = "C0123ABCD"
		mentionTS = "1700000000.000100"
	)
	body := mentionAt(t, eventID, channel, mentionTS)

	const n = 16
	statuses := make([]int, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		req := delivery(body, secret, i)
		wg.Go(func() {
			<-start
			resp, err := h.ServeEvent(context.Background(), req)
			statuses[i], errs[i] = resp.StatusCode, err
		})
	}
	close(start)
	wg.Wait()

	// One delivery does the work; the rest find it in progress (409, so
	// Slack would come back) or done (200).
	ok := 0
	for i := range n {
		if errs[i] != nil || (statuses[i] != http.StatusOK && statuses[i] != http.StatusConflict) {
			t.Errorf("delivery %d (X-Slack-Retry-Num %d) = %d, %v; want 200 or 409", i, i, statuses[i], errs[i])
		}
		if statuses[i] == http.StatusOK {
			ok++
		}
	}
	if ok == 0 {
		t.Error("no delivery was answered 200")
	}
	posts := slackSrv.Posts()
	if len(posts) != 1 {
		t.Fatalf("chat.postMessage calls = %d, want exactly 1 for %d deliveries of one event", len(posts), n)
	}
	if got := posts[0].Get("thread_ts"); got != mentionTS {
		t.Errorf("reply thread_ts = %q, want the mention's ts %q", got, mentionTS)
	}
	if got := posts[0].Get("channel"); got != channel {
		t.Errorf("reply channel = %q, want %q", got, channel)
	}
	if posts[0].Get("text") == "" {
		t.Error("reply has no text")
	}
	if testenv.DedupeItem(t, db, table, eventID) == nil {
		t.Errorf("no claim for %s in the DynamoDB table", eventID)
	}

	// Another event is not a duplicate of the first.
	resp, err := h.ServeEvent(context.Background(), delivery(mentionAt(t, "Ev0E2EDEDUPE2", channel, "1700000001.000200"), secret, 0))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("second event = %d, %v; want 200", resp.StatusCode, err)
	}
	if posts := slackSrv.Posts(); len(posts) != 2 || posts[1].Get("thread_ts") != "1700000001.000200" {
		t.Errorf("after a second event: %d posts (%v), want 2, the second in thread 1700000001.000200", len(posts), posts)
	}
}

// TestEventsHandlerForgedDeliveryClaimsNothing checks that a request with a
// bad signature is refused before the store is touched: otherwise anyone
// could burn an event id and suppress the real delivery.
func TestEventsHandlerForgedDeliveryClaimsNothing(t *testing.T) {
	db, table := moto.Get(t).DedupeTable(t)
	slackSrv := testenv.NewSlack(t, botToken, nil)
	h := &eventsapi.Handler{
		Verifier: verify.Verifier{SigningSecret: secret},
		Dedupe:   &dedupe.Dynamo{Client: db, Table: table},
		Log:      slog.New(slog.NewTextHandler(t.Output(), nil)),
	}
	h.On("app_mention", eventsapi.AppMention(notify.NewClient(botToken, slackSrv.APIURL(), notify.Retry{}), nil, latency.RequestParser(nil), time.Hour))

	const eventID = "Ev0E2EFORGED1"
	body := mentionAt(t, eventID, "C0123ABCD", "1700000000.000300")

	resp, err := h.ServeEvent(context.Background(), delivery(body, "not-the-signing-secret", 0))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged delivery = %d, %v; want 401", resp.StatusCode, err)
	}
	if it := testenv.DedupeItem(t, db, table, eventID); it != nil {
		t.Fatalf("a forged delivery claimed %s: %v", eventID, it)
	}
	resp, err = h.ServeEvent(context.Background(), delivery(body, secret, 1))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("genuine delivery = %d, %v; want 200", resp.StatusCode, err)
	}
	if n := len(slackSrv.Posts()); n != 1 {
		t.Errorf("chat.postMessage calls = %d, want 1", n)
	}
}

// TestEventsHandlerReleasesOnSlackOutage: when the reply cannot reach Slack
// (a 502, not an answer from Slack), the claim is released and the delivery
// fails, so Slack's retry of the same event_id posts the reply.
func TestEventsHandlerReleasesOnSlackOutage(t *testing.T) {
	db, table := moto.Get(t).DedupeTable(t)
	slackSrv := testenv.NewSlack(t, botToken, nil)
	// The first chat.postMessage meets an outage, not an answer from Slack.
	slackSrv.AnswerPosts(func(n int, w http.ResponseWriter) {
		if n == 0 {
			http.Error(w, "<html>502 Bad Gateway</html>", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true,"channel":"C0123ABCD","ts":"1700000100.000002"}`))
	})
	h := &eventsapi.Handler{
		Verifier: verify.Verifier{SigningSecret: secret},
		Dedupe:   &dedupe.Dynamo{Client: db, Table: table},
		Log:      slog.New(slog.NewTextHandler(t.Output(), nil)),
	}
	h.On("app_mention", eventsapi.AppMention(notify.NewClient(botToken, slackSrv.APIURL(), notify.Retry{}), nil, latency.RequestParser(nil), time.Hour))

	const eventID = "Ev0E2EOUTAGE1"
	body := mentionAt(t, eventID, "C0123ABCD", "1700000000.000400")

	resp, err := h.ServeEvent(context.Background(), delivery(body, secret, 0))
	if err != nil || resp.StatusCode < 500 {
		t.Fatalf("delivery during the outage = %d, %v; want a 5xx so Slack retries", resp.StatusCode, err)
	}
	if it := testenv.DedupeItem(t, db, table, eventID); it != nil {
		t.Fatalf("the failed delivery kept its claim on %s: %v", eventID, it)
	}
	resp, err = h.ServeEvent(context.Background(), delivery(body, secret, 1))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("Slack's retry = %d, %v; want 200", resp.StatusCode, err)
	}
	posts := slackSrv.Posts()
	if len(posts) != 2 || posts[1].Get("thread_ts") != "1700000000.000400" {
		t.Errorf("chat.postMessage calls = %d, want 2 (the failed one and the retry's, in the thread)", len(posts))
	}
	if testenv.DedupeItem(t, db, table, eventID) == nil {
		t.Errorf("the retry did not claim %s", eventID)
	}
}
