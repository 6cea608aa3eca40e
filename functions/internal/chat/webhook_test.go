package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/functions/internal/chat"
)

// hookPath is an incoming webhook's path; its last segment is the secret
// that must never appear in an error.
const (
	hookSecret = "SeCrEtHoOkToKeN0123456789"
	hookPath   = "/services/T0000TEAM/B0000HOOK/" + hookSecret
)

// fakeHook is an incoming webhook (or response_url) endpoint.
type fakeHook struct {
	*httptest.Server

	mu     sync.Mutex
	bodies [][]byte
	types  []string // Content-Type of each call
	answer func(n int, w http.ResponseWriter)
}

func newFakeHook(t *testing.T, answer func(n int, w http.ResponseWriter)) *fakeHook {
	t.Helper()
	h := &fakeHook{answer: answer}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != hookPath {
			t.Errorf("webhook got %s %s, want POST %s", r.Method, r.URL.Path, hookPath)
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read webhook body: %v", err)
		}
		h.mu.Lock()
		n := len(h.bodies)
		h.bodies = append(h.bodies, b)
		h.types = append(h.types, r.Header.Get("Content-Type"))
		h.mu.Unlock()
		if h.answer == nil {
			_, _ = io.WriteString(w, "ok")
			return
		}
		h.answer(n, w)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *fakeHook) url() string { return h.URL + hookPath }

func (h *fakeHook) calls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies)
}

// hookAnswer is a webhook's plain-text answer.
func hookAnswer(status int, body string, header ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func TestWebhookPostsJSON(t *testing.T) {
	t.Parallel()
	blocks := []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*deployed* v1.2.3", false, false), nil, nil),
	}
	tests := []struct {
		name string
		hook chat.Webhook
		msg  chat.Message
		want map[string]any // the JSON fields that matter; absent ones must be absent
	}{
		{
			name: "incoming webhook, text",
			msg:  chat.Message{Channel: "#ignored", Text: "hello & <world>"},
			want: map[string]any{"text": "hello & <world>"},
		},
		{
			name: "incoming webhook, blocks and thread",
			msg:  chat.Message{Text: "deployed", Blocks: blocks, ThreadTS: "1700000000.000100"},
			want: map[string]any{"text": "deployed", "blocks": blocks, "thread_ts": "1700000000.000100"},
		},
		{
			name: "response_url, ephemeral",
			hook: chat.Webhook{ResponseType: "ephemeral"},
			msg:  chat.Message{Text: "only you"},
			want: map[string]any{"text": "only you", "response_type": "ephemeral"},
		},
		{
			name: "response_url, in_channel replacing",
			hook: chat.Webhook{ResponseType: "in_channel", ReplaceOriginal: true},
			msg:  chat.Message{Text: "everyone", Blocks: blocks},
			want: map[string]any{"text": "everyone", "blocks": blocks, "response_type": "in_channel", "replace_original": true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newFakeHook(t, nil)
			w := tt.hook
			w.URL = h.url()
			if _, err := w.Post(context.Background(), tt.msg); err != nil {
				t.Fatalf("Post: %v", err)
			}
			h.mu.Lock()
			bodies, types := h.bodies, h.types
			h.mu.Unlock()
			if len(bodies) != 1 {
				t.Fatalf("webhook calls = %d, want 1", len(bodies))
			}
			if !strings.HasPrefix(types[0], "application/json") {
				t.Errorf("Content-Type = %q, want application/json", types[0])
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal(bodies[0], &got); err != nil {
				t.Fatalf("body %s is not a JSON object: %v", bodies[0], err)
			}
			for _, key := range []string{"text", "blocks", "thread_ts", "response_type"} {
				want, wantOK := tt.want[key]
				raw, gotOK := got[key]
				if wantOK != gotOK {
					t.Errorf("%s present = %v, want %v (body %s)", key, gotOK, wantOK, bodies[0])
					continue
				}
				if wantOK {
					wantJSON, err := json.Marshal(want)
					if err != nil {
						t.Fatal(err)
					}
					assertSameJSON(t, key, raw, wantJSON)
				}
			}
			wantReplace, _ := tt.want["replace_original"].(bool)
			var gotReplace bool
			if raw, ok := got["replace_original"]; ok {
				if err := json.Unmarshal(raw, &gotReplace); err != nil {
					t.Errorf("replace_original = %s: %v", raw, err)
				}
			}
			if gotReplace != wantReplace {
				t.Errorf("replace_original = %v, want %v", gotReplace, wantReplace)
			}
			if _, ok := got["channel"]; ok {
				t.Errorf("body carries a channel; a webhook's channel is fixed: %s", bodies[0])
			}
		})
	}
}

func TestWebhookErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		answers   []func(http.ResponseWriter)
		retry     chat.Retry
		wantCalls int
		wantCode  string // "" means success, unless wantPlain is set
		wantHint  string
		wantPlain string // a text of an error that is not a *chat.Error
	}{
		{
			name:    "404 no_service",
			answers: []func(http.ResponseWriter){hookAnswer(http.StatusNotFound, "no_service")}, wantCalls: 1,
			wantCode: "no_service", wantHint: "webhook",
		},
		{
			name:    "403 invalid_token",
			answers: []func(http.ResponseWriter){hookAnswer(http.StatusForbidden, "invalid_token")}, wantCalls: 1,
			wantCode: "invalid_token", wantHint: "webhook_url",
		},
		{
			name:    "410 channel_is_archived",
			answers: []func(http.ResponseWriter){hookAnswer(http.StatusGone, "channel_is_archived\n")}, wantCalls: 1,
			wantCode: "channel_is_archived", wantHint: "archived",
		},
		{
			// Slack's own failure is not an answer: a plain error, never a
			// *chat.Error whose Code is an HTML page.
			name:      "503 with a page",
			answers:   []func(http.ResponseWriter){hookAnswer(http.StatusServiceUnavailable, "<html><body>Service Unavailable</body></html>")},
			wantCalls: 1, wantPlain: "503",
		},
		{
			name:      "400 with no body",
			answers:   []func(http.ResponseWriter){hookAnswer(http.StatusBadRequest, "")},
			wantCalls: 1, wantCode: "400 Bad Request", wantHint: "400",
		},
		{
			name:    "429 then 200 is retried",
			retry:   chat.Retry{Attempts: 3, MaxWait: 2 * time.Second},
			answers: []func(http.ResponseWriter){hookAnswer(http.StatusTooManyRequests, "rate_limited", "Retry-After", "1"), hookAnswer(http.StatusOK, "ok")},
			// Success after exactly one retry.
			wantCalls: 2,
		},
		{
			name:      "429 past MaxWait is not retried",
			retry:     chat.Retry{Attempts: 3, MaxWait: time.Second},
			answers:   []func(http.ResponseWriter){hookAnswer(http.StatusTooManyRequests, "rate_limited", "Retry-After", "30"), hookAnswer(http.StatusOK, "ok")},
			wantCalls: 1, wantCode: "ratelimited", wantHint: "rate limit",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newFakeHook(t, answers(tt.answers...))
			w := &chat.Webhook{URL: h.url(), Retry: tt.retry}

			_, err := w.Post(context.Background(), chat.Message{Text: "hi"})
			if n := h.calls(); n != tt.wantCalls {
				t.Errorf("webhook calls = %d, want %d", n, tt.wantCalls)
			}
			var ne *chat.Error
			if tt.wantPlain != "" {
				if err == nil || errors.As(err, &ne) || !strings.Contains(err.Error(), tt.wantPlain) {
					t.Fatalf("Post error = %v (%T), want a plain error mentioning %q", err, err, tt.wantPlain)
				}
				assertNoSecret(t, err, hookSecret)
				return
			}
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Post: %v", err)
				}
				return
			}
			if !errors.As(err, &ne) {
				t.Fatalf("Post error = %v (%T), want *chat.Error", err, err)
			}
			if ne.Code != tt.wantCode {
				t.Errorf("Code = %q, want %q", ne.Code, tt.wantCode)
			}
			if !strings.Contains(strings.ToLower(ne.Hint), tt.wantHint) {
				t.Errorf("Hint %q does not contain %q", ne.Hint, tt.wantHint)
			}
			assertNoSecret(t, err, hookSecret)
		})
	}
}

// TestWebhookErrorsHideURL fails the post every way it can fail and checks
// that the webhook's secret path is in no error of the chain.
func TestWebhookErrorsHideURL(t *testing.T) {
	t.Parallel()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + closed.Addr().String() + hookPath
	closed.Close()

	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path+"?again=1", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)

	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); slow.Close() })

	failing := newFakeHook(t, answers(hookAnswer(http.StatusBadRequest, "invalid_payload")))
	limitedHook := newFakeHook(t, answers(hookAnswer(http.StatusTooManyRequests, "", "Retry-After", "60")))

	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name      string
		url       string
		ctx       context.Context
		client    *http.Client
		slackSaid bool // Slack answered, so the error is a *chat.Error
	}{
		{name: "connection refused", url: closedURL},
		{name: "control character in URL", url: "http://127.0.0.1:1" + hookPath + "\x7f"},
		{name: "bad scheme", url: "hxxp://hooks.example" + hookPath},
		{name: "redirect loop", url: redirect.URL + hookPath},
		{name: "client timeout", url: slow.URL + hookPath, client: &http.Client{Timeout: 50 * time.Millisecond}},
		{name: "canceled context", url: failing.url(), ctx: canceled},
		{name: "Slack error", url: failing.url(), slackSaid: true},
		{name: "rate limited", url: limitedHook.url(), slackSaid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			w := &chat.Webhook{URL: tt.url, Client: tt.client, Retry: chat.Retry{Attempts: 1}}
			_, err := w.Post(ctx, chat.Message{Text: "hi"})
			if err == nil {
				t.Fatal("Post succeeded, want an error")
			}
			assertNoSecret(t, err, hookSecret)
			var ne *chat.Error
			if got := errors.As(err, &ne); got != tt.slackSaid {
				t.Errorf("error %q is a *chat.Error: %v, want %v", err, got, tt.slackSaid)
			}
		})
	}
}

// assertNoSecret checks err's text and the text of everything it wraps.
func assertNoSecret(t *testing.T, err error, secret string) {
	t.Helper()
	var walk func(e error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if strings.Contains(e.Error(), secret) {
			t.Errorf("error text leaks the webhook secret: %q (%T)", e.Error(), e)
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
}

// TestWebhookDoesNotFollowRedirects: a response URL that answers with a
// redirect must not carry the message on to wherever it points.
func TestWebhookDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	var elsewhere int
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere++ }))
	t.Cleanup(target.Close)
	h := newFakeHook(t, answers(func(w http.ResponseWriter) {
		w.Header().Set("Location", target.URL+"/steal")
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	_, err := (&chat.Webhook{URL: h.url()}).Post(context.Background(), chat.Message{Text: "secret plans"})
	if err == nil || !strings.Contains(err.Error(), "redirect") {
		t.Fatalf("Post to a redirecting URL = %v, want an error about the redirect", err)
	}
	if elsewhere != 0 {
		t.Fatalf("the redirect was followed %d times", elsewhere)
	}
	assertNoSecret(t, err, hookSecret)
}

func TestCheckResponseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url, apiURL string
		ok          bool
	}{
		{"https://hooks.slack.com/commands/T1/2/abc", "", true},
		{"https://hooks.slack.com/actions/T1/2/abc", "http://127.0.0.1:9999/api/", true},
		{"http://127.0.0.1:9999/response_url", "http://127.0.0.1:9999/api/", true},
		{"http://hooks.slack.com/commands/T1/2/abc", "", false},
		{"https://hooks.slack.com.evil.example/commands", "", false},
		{"https://evil.example/hooks.slack.com/", "", false},
		{"https://user@hooks.slack.com/commands/T1", "", false},
		{"http://127.0.0.1:9999/response_url", "", false},
		{"http://127.0.0.1:8888/response_url", "http://127.0.0.1:9999/api/", false},
		{"https://127.0.0.1:9999/response_url", "http://127.0.0.1:9999/api/", false},
		{"http://169.254.169.254/latest/meta-data", "", false},
		{"", "", false},
		{"::not a url", "", false},
	}
	for _, tt := range tests {
		err := chat.CheckResponseURL(tt.url, tt.apiURL)
		if (err == nil) != tt.ok {
			t.Errorf("CheckResponseURL(%q, %q) = %v, want ok=%v", tt.url, tt.apiURL, err, tt.ok)
		}
		if err != nil && strings.Contains(err.Error(), "/commands/") {
			t.Errorf("error %q repeats the URL, a credential", err)
		}
	}
}
