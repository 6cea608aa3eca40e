package eventsapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/slack-go/slack/slackevents"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/eventsapi"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify/notifytest"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

const secret = "test-signing-secret"

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

// signed is a request as API Gateway would pass it, signed now.
func signed(body string) events.APIGatewayProxyRequest {
	ts, sig := verify.Signature(secret, time.Now(), []byte(body))
	return events.APIGatewayProxyRequest{
		HTTPMethod: http.MethodPost,
		Resource:   "/slack/events",
		Headers:    map[string]string{"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig, "Content-Type": "application/json"},
		Body:       body,
	}
}

// recorder keeps what the handler posts.
type recorder = notifytest.Recorder

func newHandler(post notify.Poster, reports eventsapi.Reporter) *eventsapi.Handler {
	h := &eventsapi.Handler{Verifier: verify.Verifier{SigningSecret: secret}, Dedupe: &dedupe.Memory{}, Log: quiet}
	h.On("app_mention", eventsapi.AppMention(post, reports, latency.RequestParser(testSources), time.Hour))
	return h
}

// testSources are the latency sources a mention may name.
var testSources = []contract.LatencySource{{Name: "orders", Kind: contract.SourceAPIGateway, LogGroup: "/aws/apigateway/orders"}}

func mention(eventID, text string) string {
	b, _ := json.Marshal(map[string]any{
		"type": "event_callback", "token": "x", "team_id": "T1", "api_app_id": "A1",
		"event_id": eventID, "event_time": 1700000000,
		"event": map[string]any{"type": "app_mention", "user": "U1", "text": text, "ts": "1700000000.000100", "channel": "C0123ABCD", "event_ts": "1700000000.000100"},
	})
	return string(b)
}

func TestAnswers(t *testing.T) {
	big := `{"type":"url_verification","challenge":"` + strings.Repeat("a", 1<<20) + `"}`
	tests := []struct {
		name   string
		req    events.APIGatewayProxyRequest
		status int
		body   string // substring of the answer
		posts  int
	}{
		{"challenge", signed(`{"type":"url_verification","challenge":"3eZbrw1aB"}`), 200, `{"challenge":"3eZbrw1aB"}`, 0},
		{"challenge base64", func() events.APIGatewayProxyRequest {
			r := signed(`{"type":"url_verification","challenge":"b64"}`)
			r.Body, r.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte(r.Body)), true
			return r
		}(), 200, `"challenge":"b64"`, 0},
		{"challenge missing", signed(`{"type":"url_verification"}`), 400, `"error"`, 0},
		{"empty body", signed(``), 400, `body is empty`, 0},
		{"not json", signed(`type=url_verification`), 400, `not a JSON object`, 0},
		{"json array", signed(`[1,2]`), 400, `not a JSON object`, 0},
		{"no type", signed(`{"challenge":"x"}`), 400, `no \"type\"`, 0},
		{"invalid base64", func() events.APIGatewayProxyRequest {
			r := signed(`{}`)
			r.Body, r.IsBase64Encoded = "***", true
			return r
		}(), 400, `base64`, 0},
		{"over 1 MiB", signed(big), 413, `larger than`, 0},
		{"unsigned", events.APIGatewayProxyRequest{Body: `{"type":"url_verification","challenge":"x"}`}, 401, `not signed`, 0},
		{"wrong signature", func() events.APIGatewayProxyRequest {
			r := signed(`{"type":"url_verification","challenge":"x"}`)
			r.Headers["X-Slack-Signature"] = "v0=" + strings.Repeat("0", 64)
			return r
		}(), 401, `does not match`, 0},
		{"old timestamp", func() events.APIGatewayProxyRequest {
			body := `{"type":"url_verification","challenge":"x"}`
			ts, sig := verify.Signature(secret, time.Now().Add(-6*time.Minute), []byte(body))
			return events.APIGatewayProxyRequest{Headers: map[string]string{"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}, Body: body}
		}(), 401, `5 minutes`, 0},
		{"future timestamp", func() events.APIGatewayProxyRequest {
			body := `{"type":"url_verification","challenge":"x"}`
			ts, sig := verify.Signature(secret, time.Now().Add(6*time.Minute), []byte(body))
			return events.APIGatewayProxyRequest{Headers: map[string]string{"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}, Body: body}
		}(), 401, `5 minutes`, 0},
		{"unknown version", func() events.APIGatewayProxyRequest {
			r := signed(`{"type":"url_verification","challenge":"x"}`)
			r.Headers["X-Slack-Signature"] = "v1=" + r.Headers["X-Slack-Signature"][3:]
			return r
		}(), 401, `unknown version`, 0},
		{"headers in multiValueHeaders, lower case", func() events.APIGatewayProxyRequest {
			r := signed(`{"type":"url_verification","challenge":"mv"}`)
			r.MultiValueHeaders = map[string][]string{}
			for k, v := range r.Headers {
				r.MultiValueHeaders[strings.ToLower(k)] = []string{v}
			}
			r.Headers = nil
			return r
		}(), 200, `"challenge":"mv"`, 0},
		{"unknown event type ignored", signed(`{"type":"event_callback","event_id":"Ev1","event":{"type":"reaction_added"}}`), 200, ``, 0},
		{"unknown envelope type ignored", signed(`{"type":"something_new"}`), 200, ``, 0},
		{"app_rate_limited", signed(`{"type":"app_rate_limited","team_id":"T1","minute_rate_limited":1518467820}`), 200, ``, 0},
		{"app_mention replies", signed(mention("Ev2", "<@U0BOT> hi")), 200, ``, 1},
		{"app_mention without event_id", signed(`{"type":"event_callback","event":{"type":"app_mention","text":"hi","channel":"C1","ts":"1.2"}}`), 400, `event_id`, 0},
		{"app_mention malformed", signed(`{"type":"event_callback","event_id":"Ev3","event":{"type":"app_mention","text":5}}`), 400, `malformed app_mention`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			post := &recorder{}
			resp, err := newHandler(post, nil).ServeEvent(context.Background(), tt.req)
			if err != nil {
				t.Fatalf("ServeEvent returned an error to Lambda: %v", err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.status, resp.Body)
			}
			if !strings.Contains(resp.Body, tt.body) {
				t.Fatalf("body %q does not contain %q", resp.Body, tt.body)
			}
			// Only what can never succeed tells Slack not to retry.
			wantNoRetry := tt.status == 400 || tt.status == 413
			if got := resp.Headers["X-Slack-No-Retry"]; (got == "1") != wantNoRetry {
				t.Fatalf("X-Slack-No-Retry = %q on a %d", got, tt.status)
			}
			if tt.status >= 400 {
				var e struct{ Error string }
				if json.Unmarshal([]byte(resp.Body), &e) != nil || e.Error == "" {
					t.Fatalf("refusal body %q is not {\"error\": ...}", resp.Body)
				}
				if strings.Contains(resp.Body, secret) {
					t.Fatal("answer reveals the signing secret")
				}
			}
			if len(post.Msgs) != tt.posts {
				t.Fatalf("%d messages posted, want %d", len(post.Msgs), tt.posts)
			}
		})
	}
}

func TestMentionRepliesInThread(t *testing.T) {
	post := &recorder{}
	h := newHandler(post, nil)
	resp, _ := h.ServeEvent(context.Background(), signed(mention("EvT", "<@U0BOT> help")))
	if resp.StatusCode != 200 || len(post.Msgs) != 1 {
		t.Fatalf("status %d, %d posts", resp.StatusCode, len(post.Msgs))
	}
	m := post.Msgs[0]
	if m.Channel != "C0123ABCD" || m.ThreadTS != "1700000000.000100" {
		t.Fatalf("reply to %s thread %s, want C0123ABCD thread 1700000000.000100", m.Channel, m.ThreadTS)
	}
	if !strings.Contains(m.Text, "latency") {
		t.Fatalf("help text %q does not mention latency", m.Text)
	}
	// Slack's retry of the same event does nothing.
	retry := signed(mention("EvT", "<@U0BOT> help"))
	retry.Headers["X-Slack-Retry-Num"] = "1"
	if resp, _ := h.ServeEvent(context.Background(), retry); resp.StatusCode != 200 || len(post.Msgs) != 1 {
		t.Fatalf("retry: status %d, %d posts, want 200 and still 1", resp.StatusCode, len(post.Msgs))
	}
}

// TestMentionRepliesEscapeWhatUsersWrote: a mention's reply repeats the
// user's words only escaped, whether in an error or a real latency report.
func TestMentionRepliesEscapeWhatUsersWrote(t *testing.T) {
	store := sketchstore.NewMemoryStore()
	store.Record("POST /slack/events", time.Now(), 40*time.Millisecond, 30*time.Millisecond)
	for _, text := range []string{
		"<@U0BOT> latency 5" + testenv.HostileText,
		"<@U0BOT> latency 1h " + testenv.HostileText,
		"<@U0BOT> latency " + testenv.HostileText,
		"<@U0BOT> " + testenv.HostileText,
	} {
		post := &recorder{}
		h := newHandler(post, latency.NewBuilder(store, nil, time.Now))
		h.ServeEvent(context.Background(), signed(mention("EvH"+strconv.Itoa(len(text)), text)))
		if len(post.Msgs) != 1 {
			t.Fatalf("%q: %d replies", text, len(post.Msgs))
		}
		testenv.NoRawMarkup(t, "mention reply text", post.Msgs[0].Text)
		testenv.NoRawMarkupIn(t, "mention reply blocks", post.Msgs[0].Blocks)
	}
}

type fakeReports struct {
	req latency.Request
}

func (f *fakeReports) Report(_ context.Context, req latency.Request) (notify.Message, error) {
	f.req = req
	return notify.Message{Text: "report " + strconv.Itoa(int(req.Window.Minutes())) + " " + req.Route}, nil
}

func TestMentionLatency(t *testing.T) {
	tests := []struct {
		text string
		want latency.Request
	}{
		{"<@U0BOT> latency", latency.Request{Window: time.Hour}},
		{"<@U0BOT> latency 15m", latency.Request{Window: 15 * time.Minute}},
		{"<@U0BOT> Latency 24h POST /slack/events", latency.Request{Window: 24 * time.Hour, Route: "POST /slack/events"}},
		{"<@U0BOT> what's the latency events", latency.Request{Window: time.Hour, Route: "events"}},
		// A source by mention, as by command.
		{"<@U0BOT> latency orders 15m GET /orders", latency.Request{Source: "orders", Window: 15 * time.Minute, Route: "GET /orders"}},
		{"<@U0BOT> latency slackbot events", latency.Request{Source: "slackbot", Window: time.Hour, Route: "events"}},
		{"<@U0BOT> latency sources", latency.Request{ListSources: true}},
	}
	for i, tt := range tests {
		post, reports := &recorder{}, &fakeReports{}
		h := newHandler(post, reports)
		resp, _ := h.ServeEvent(context.Background(), signed(mention("EvL"+strconv.Itoa(i), tt.text)))
		if resp.StatusCode != 200 || len(post.Msgs) != 1 {
			t.Fatalf("%q: status %d, %d posts", tt.text, resp.StatusCode, len(post.Msgs))
		}
		if reports.req != tt.want {
			t.Errorf("%q: report(%+v), want %+v", tt.text, reports.req, tt.want)
		}
		if post.Msgs[0].ThreadTS == "" {
			t.Errorf("%q: report not in the thread", tt.text)
		}
	}
	// Without a reporter the answer says so plainly.
	post := &recorder{}
	newHandler(post, nil).ServeEvent(context.Background(), signed(mention("EvN", "<@U0BOT> latency")))
	if len(post.Msgs) != 1 || !strings.Contains(post.Msgs[0].Text, "not set up") {
		t.Fatalf("no reporter: got %+v", post.Msgs)
	}
}

func TestFailedWorkIsRetriable(t *testing.T) {
	post := &recorder{Err: errors.New("connection reset")}
	h := newHandler(post, nil)
	resp, _ := h.ServeEvent(context.Background(), signed(mention("EvF", "<@U0BOT> hi")))
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("transient failure: status %d, want 503 so Slack retries", resp.StatusCode)
	}
	post.Err = nil
	retry := signed(mention("EvF", "<@U0BOT> hi"))
	retry.Headers["X-Slack-Retry-Num"] = "1"
	if resp, _ := h.ServeEvent(context.Background(), retry); resp.StatusCode != 200 || len(post.Msgs) != 1 {
		t.Fatalf("retry after failure: status %d, %d posts; want 200 and 1", resp.StatusCode, len(post.Msgs))
	}
	// A definite answer from Slack is not retried.
	post = &recorder{Err: &notify.Error{Code: "channel_not_found", Hint: "no channel"}}
	h = newHandler(post, nil)
	if resp, _ := h.ServeEvent(context.Background(), signed(mention("EvG", "<@U0BOT> hi"))); resp.StatusCode != 200 {
		t.Fatalf("Slack said channel_not_found: status %d, want 200 (a retry gets the same answer)", resp.StatusCode)
	}
}

// TestRetryWhileInProgress: Slack retries an event whose first delivery is
// still running (it took over 3 seconds). The retry must not be a 2xx, or a
// failure of the first attempt would go nowhere; once the first finishes,
// a later retry is a duplicate.
func TestRetryWhileInProgress(t *testing.T) {
	store := &dedupe.Memory{}
	h := &eventsapi.Handler{Verifier: verify.Verifier{SigningSecret: secret}, Dedupe: store, Log: quiet}
	started, release := make(chan struct{}), make(chan struct{})
	var calls int
	h.On("reaction_added", func(context.Context, slackevents.EventsAPIEvent) error {
		calls++
		close(started)
		<-release
		return nil
	})
	body := `{"type":"event_callback","event_id":"EvSlow","event":{"type":"reaction_added","user":"U1","reaction":"tada","item":{"type":"message","channel":"C1","ts":"1.2"},"event_ts":"1.3"}}`
	first := make(chan events.APIGatewayProxyResponse)
	go func() {
		resp, _ := h.ServeEvent(context.Background(), signed(body))
		first <- resp
	}()
	<-started
	retry := signed(body)
	retry.Headers["X-Slack-Retry-Num"] = "1"
	resp, _ := h.ServeEvent(context.Background(), retry)
	if resp.StatusCode != http.StatusConflict || resp.Headers["X-Slack-No-Retry"] != "" {
		t.Fatalf("retry during the first attempt: %d %v %s; want 409 without X-Slack-No-Retry", resp.StatusCode, resp.Headers, resp.Body)
	}
	close(release)
	if resp := <-first; resp.StatusCode != http.StatusOK {
		t.Fatalf("first attempt: %d %s", resp.StatusCode, resp.Body)
	}
	retry = signed(body)
	retry.Headers["X-Slack-Retry-Num"] = "2"
	if resp, _ := h.ServeEvent(context.Background(), retry); resp.StatusCode != http.StatusOK || calls != 1 {
		t.Fatalf("retry after the first attempt: %d, %d calls; want 200 and the work done once", resp.StatusCode, calls)
	}
}

// TestCrashedAttemptIsTakenOver: the first attempt claimed the event and
// died. Retries inside its lease are told to come back; the first retry
// after it does the work.
func TestCrashedAttemptIsTakenOver(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	store := &dedupe.Memory{Now: clock, Lease: 30 * time.Second}
	post := &recorder{}
	h := &eventsapi.Handler{Verifier: verify.Verifier{SigningSecret: secret}, Dedupe: store, Log: quiet}
	h.On("app_mention", eventsapi.AppMention(post, nil, latency.RequestParser(nil), time.Hour))
	if c, err := store.Claim(context.Background(), "EvCrash"); err != nil || c.State != dedupe.Acquired {
		t.Fatalf("the crashed attempt's claim: %v %v", c.State, err)
	}
	if resp, _ := h.ServeEvent(context.Background(), signed(mention("EvCrash", "<@U0BOT> hi"))); resp.StatusCode != http.StatusConflict || len(post.Msgs) != 0 {
		t.Fatalf("retry inside the lease: %d, %d posts; want 409 and none", resp.StatusCode, len(post.Msgs))
	}
	now = now.Add(time.Minute)
	if resp, _ := h.ServeEvent(context.Background(), signed(mention("EvCrash", "<@U0BOT> hi"))); resp.StatusCode != http.StatusOK || len(post.Msgs) != 1 {
		t.Fatalf("retry after the lease: %d, %d posts; want 200 and the reply", resp.StatusCode, len(post.Msgs))
	}
	if resp, _ := h.ServeEvent(context.Background(), signed(mention("EvCrash", "<@U0BOT> hi"))); resp.StatusCode != http.StatusOK || len(post.Msgs) != 1 {
		t.Fatalf("a later retry: %d, %d posts; want 200 and no second reply", resp.StatusCode, len(post.Msgs))
	}
}

func TestRegistryAddsAnEventWithOneFunction(t *testing.T) {
	h := newHandler(&recorder{}, nil)
	var got string
	h.On("reaction_added", func(_ context.Context, ev slackevents.EventsAPIEvent) error {
		got = ev.InnerEvent.Data.(*slackevents.ReactionAddedEvent).Reaction
		return nil
	})
	resp, _ := h.ServeEvent(context.Background(), signed(`{"type":"event_callback","event_id":"EvR","event":{"type":"reaction_added","user":"U1","reaction":"tada","item":{"type":"message","channel":"C1","ts":"1.2"},"event_ts":"1.3"}}`))
	if resp.StatusCode != 200 || got != "tada" {
		t.Fatalf("status %d, reaction %q", resp.StatusCode, got)
	}
}

func BenchmarkURLVerification(b *testing.B) {
	h := newHandler(&recorder{}, nil)
	req := signed(`{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp, _ := h.ServeEvent(ctx, req)
		if resp.StatusCode != 200 {
			b.Fatal(resp.StatusCode)
		}
	}
}

// FuzzServeEvent sends signed bodies of any shape: bad input gets a 4xx with
// a JSON error or a 200, never a 5xx or a panic.
func FuzzServeEvent(f *testing.F) {
	f.Add(`{"type":"url_verification","challenge":"c"}`, false)
	f.Add(mention("EvZ", "<@U0BOT> latency 15m events"), false)
	f.Add(`{"type":"event_callback","event_id":"E","event":{"type":"app_mention","text":{}}}`, false)
	f.Add(`{"type":"event_callback","event_id":"E","event":null}`, true)
	f.Add(`not json`, true)
	h := newHandler(&recorder{}, &fakeReports{})
	f.Fuzz(func(t *testing.T, body string, encode bool) {
		req := signed(body)
		if encode {
			req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte(body)), true
		}
		resp, err := h.ServeEvent(context.Background(), req)
		if err != nil || resp.StatusCode >= 500 {
			t.Fatalf("body %q: status %d, err %v", body, resp.StatusCode, err)
		}
		if resp.StatusCode >= 400 {
			var e struct{ Error string }
			if json.Unmarshal([]byte(resp.Body), &e) != nil || e.Error == "" {
				t.Fatalf("refusal %q is not {\"error\": ...}", resp.Body)
			}
		}
	})
}
