package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/bot"
	"github.com/lambda-slackbot/slackbot/functions/internal/config"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify/verifytest"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestProxyRequestAsAPIGatewayBuildsIt(t *testing.T) {
	var got events.APIGatewayProxyRequest
	g := NewProxy(Route{Method: "POST", Path: "/slack/events", Handler: func(_ context.Context, r events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		got = r
		return events.APIGatewayProxyResponse{StatusCode: 201, MultiValueHeaders: map[string][]string{"X-A": {"1", "2"}}, Body: "aGk=", IsBase64Encoded: true}, nil
	}})
	srv := httptest.NewServer(g)
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/slack/events?x=1&x=2", strings.NewReader("payload"))
	req.Header.Add("X-Slack-Signature", "v0=1")
	req.Header.Add("Accept", "a")
	req.Header.Add("Accept", "b")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 || string(body) != "hi" || len(resp.Header.Values("X-A")) != 2 {
		t.Fatalf("response %d %q %v", resp.StatusCode, body, resp.Header)
	}
	switch {
	case got.Resource != "/slack/events", got.Path != "/slack/events", got.HTTPMethod != "POST":
		t.Fatalf("resource/path/method %q %q %q", got.Resource, got.Path, got.HTTPMethod)
	case got.Body != "payload" || got.IsBase64Encoded:
		t.Fatalf("body %q base64 %v", got.Body, got.IsBase64Encoded)
	case got.Headers["X-Slack-Signature"] != "v0=1" || got.Headers["Accept"] != "b":
		t.Fatalf("headers %v: want the last value of each", got.Headers)
	case len(got.MultiValueHeaders["Accept"]) != 2 || got.MultiValueHeaders["Host"] == nil:
		t.Fatalf("multiValueHeaders %v", got.MultiValueHeaders)
	case got.QueryStringParameters["x"] != "2" || len(got.MultiValueQueryStringParameters["x"]) != 2:
		t.Fatalf("query %v %v", got.QueryStringParameters, got.MultiValueQueryStringParameters)
	case got.RequestContext.RequestID == "" || got.RequestContext.ResourcePath != "/slack/events" || got.RequestContext.Stage != "dev":
		t.Fatalf("requestContext %+v", got.RequestContext)
	}
	// The Lambda sees exactly what the Lambda runtime would decode.
	raw, _ := json.Marshal(got)
	for _, k := range []string{`"resource"`, `"path"`, `"httpMethod"`, `"headers"`, `"multiValueHeaders"`, `"body"`} {
		if !bytes.Contains(raw, []byte(k)) {
			t.Errorf("event lacks %s", k)
		}
	}
}

func TestBinaryBodyArrivesBase64(t *testing.T) {
	r := httptest.NewRequest("POST", "/slack/commands", nil)
	req := ProxyRequest(r, "/slack/commands", []byte{0xff, 0xfe}, "dev", time.Now())
	if !req.IsBase64Encoded || req.Body != "//4=" {
		t.Fatalf("binary body: %q base64 %v", req.Body, req.IsBase64Encoded)
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	srv := httptest.NewServer(NewProxy(Route{Method: "POST", Path: "/slack/events", Handler: nil}))
	defer srv.Close()
	for _, c := range []struct{ method, path string }{{"POST", "/nope"}, {"GET", "/slack/events"}} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 403 || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d", c.method, c.path, resp.StatusCode)
		}
	}
}

// TestDevServer drives the real handlers as `make dev` serves them: the
// access log in the stage's format, messages printed without a bot token,
// and latency reports over the server's own requests.
func TestDevServer(t *testing.T) {
	out := &syncBuffer{}
	cfg := config.Config{ReportWindow: time.Hour}
	cfg.SigningSecret = "dev-secret"
	o := bot.Options{Config: cfg, AWS: aws.Config{Region: "us-east-1"}, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Out: out}
	srv := httptest.NewServer(newHandler(o, out))
	defer srv.Close()

	post := func(path, body string) (int, string) { return signedPost(t, srv.URL+path, body) }
	for range 3 {
		if code, body := post(contract.EventsPath, `{"type":"url_verification","challenge":"c1"}`); code != 200 || body != `{"challenge":"c1"}` {
			t.Fatalf("challenge: %d %s", code, body)
		}
	}
	if code, body := post(contract.CommandsPath, exampleCommand(srv.URL, "notify #general hello")); code != 200 || !strings.Contains(body, "Posting to #general") {
		t.Fatalf("notify: %d %s", code, body)
	}
	// The deferred part finishes in a goroutine: posts the message (printed,
	// no bot token) and answers on the local response_url.
	waitFor(t, out, `"text": "hello`)
	waitFor(t, out, "[slack response_url, not sent]")

	var lines []map[string]string
	for _, l := range strings.Split(out.String(), "\n") {
		var m map[string]string
		if strings.HasPrefix(l, `{"requestId"`) {
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("access log line is not JSON: %s", l)
			}
			lines = append(lines, m)
		}
	}
	if len(lines) != 4 || lines[0]["resourcePath"] != contract.EventsPath || lines[3]["status"] != "200" || lines[3]["httpMethod"] != "POST" {
		t.Fatalf("access log %v", lines)
	}

	// A forged request is refused, and recorded with its status.
	resp, err := http.Post(srv.URL+contract.EventsPath, "application/json", strings.NewReader(`{"type":"url_verification","challenge":"c2"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned request: %d, want 401", resp.StatusCode)
	}

	// The report counts the requests served so far, and their 4xx: one of
	// the four to the events route.
	post(contract.CommandsPath, exampleCommand(srv.URL, "latency 15m"))
	// The latency command itself may be counted too: it is recorded when its
	// acknowledgement is sent, which races with the deferred report.
	report := waitFor(t, out, "*All routes* · ")
	if !strings.Contains(report, "*POST /slack/events* · 4 requests · 5xx 0% · 4xx 25%") || !strings.Contains(report, "*POST /slack/commands* · ") {
		t.Fatalf("report does not count the requests and their 4xx per route:\n%s", report)
	}

	// `latency … chart` without a bot token writes the PNG it would have
	// shared in the command's channel, and prints where.
	if code, body := post(contract.CommandsPath, exampleCommand(srv.URL, "latency 15m chart")); code != 200 || !strings.Contains(body, "Drawing the latency chart") {
		t.Fatalf("chart: %d %s", code, body)
	}
	const printed = "[slack file upload to C0LOCAL01, not sent: no bot token]"
	upload := waitFor(t, out, printed)
	fields := strings.SplitN(upload, "\n", 3)
	if len(fields) < 3 {
		t.Fatalf("upload printed without a path:\n%s", upload)
	}
	path := fields[1]
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(path)) })
	if !filepath.IsAbs(path) || !strings.HasPrefix(path, os.TempDir()) || filepath.Base(path) != "latency.png" {
		t.Fatalf("chart path %q: want latency.png under %s", path, os.TempDir())
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", path, err)
	}
	if s := img.Bounds().Size(); s.X < 100 || s.Y < 100 {
		t.Fatalf("chart is %v pixels", s)
	}
	waitFor(t, out, "Shared the latency chart of all routes, last 15m")
}

// signedPost sends body to url signed with the tests' "dev-secret", and
// returns the status and the answer.
func signedPost(t *testing.T, url, body string) (int, string) {
	t.Helper()
	ts, sig := verifytest.Signature("dev-secret", time.Now(), []byte(body))
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor polls out until it contains s, and returns out from s on.
func waitFor(t *testing.T, out *syncBuffer, s string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if i := strings.Index(out.String(), s); i >= 0 {
			return out.String()[i:]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("output lacks %q:\n%s", s, out.String())
	return ""
}

// TestDevServerAlerts: with SLACKBOT_ALERT_RULES set, the dev server checks
// them after its requests, as the percentiles function does after an
// ingest, and posts (prints) the change to the report channel. That a
// change posts once is the alerts package's to show.
func TestDevServerAlerts(t *testing.T) {
	rules, err := contract.ParseAlertRules(`[{"route":"*","quantile":0.5,"threshold_ms":0.000001,"window":"5m"}]`)
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	cfg := config.Config{ReportWindow: time.Hour, AlertRules: rules, ReportChannel: "#ops"}
	cfg.SigningSecret = "dev-secret"
	o := bot.Options{Config: cfg, AWS: aws.Config{Region: "us-east-1"}, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Out: out}
	srv := httptest.NewServer(newHandler(o, out))
	defer srv.Close()
	signedPost(t, srv.URL+contract.EventsPath, `{"type":"url_verification","challenge":"c"}`)
	alert := waitFor(t, out, `"channel": "#ops"`)
	if !strings.Contains(alert, `"event_type": "latency_alert"`) || !strings.Contains(alert, `"state": "firing"`) {
		t.Fatalf("the report channel got no firing alert:\n%s", out.String())
	}
}

// TestDevServerAlertsFollowReportVia: alerts go where the percentiles
// function would send them: with SLACKBOT_REPORT_VIA=webhook, to the
// incoming webhook even when a bot token is set.
func TestDevServerAlertsFollowReportVia(t *testing.T) {
	var mu sync.Mutex
	var hooked, api []string
	record := func(to *[]string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			*to = append(*to, r.URL.Path+" "+string(b))
			mu.Unlock()
			w.Write([]byte(`{"ok":true}`))
		}))
		t.Cleanup(s.Close)
		return s
	}
	hook, slackAPI := record(&hooked), record(&api)
	rules, err := contract.ParseAlertRules(`[{"route":"*","quantile":0.5,"threshold_ms":0.000001,"window":"5m"}]`)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{ReportWindow: time.Hour, AlertRules: rules, ReportChannel: "C0OPS0001",
		ReportVia: contract.ReportViaWebhook, SlackAPIURL: slackAPI.URL + "/"}
	cfg.SigningSecret, cfg.BotToken, cfg.WebhookURL = "dev-secret", "xoxb-1", hook.URL
	o := bot.Options{Config: cfg, AWS: aws.Config{Region: "us-east-1"}, Log: slog.New(slog.DiscardHandler), Out: io.Discard}
	srv := httptest.NewServer(newHandler(o, io.Discard))
	defer srv.Close()
	signedPost(t, srv.URL+contract.EventsPath, `{"type":"url_verification","challenge":"c"}`)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(hooked)
		mu.Unlock()
		if n > 0 {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hooked) != 1 || !strings.Contains(hooked[0], "latency_alert") {
		t.Fatalf("webhook got %q, want the firing alert", hooked)
	}
	if len(api) != 0 {
		t.Fatalf("the Web API got %q, want nothing: reportVia is webhook", api)
	}
}
