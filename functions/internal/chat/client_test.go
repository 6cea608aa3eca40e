package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/functions/internal/chat"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// threePages is a workspace whose conversations.list spans three pages.
var threePages = [][]testenv.Channel{
	{{ID: "C0000GEN1", Name: "general"}, {ID: "C0000RND1", Name: "random"}},
	{{ID: "C0000ALR2", Name: "alerts"}},
	{{ID: "C0000DEP3", Name: "deploys"}},
}

// allPages is the cursors of one full pass over threePages.
var allPages = []string{"", "cursor-1", "cursor-2"}

func TestPostResolvesChannel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		channel   string
		want      string
		wantLists []string // cursors of the conversations.list calls
	}{
		{name: "public ID used directly", channel: "C0123ABCD", want: "C0123ABCD"},
		{name: "private ID used directly", channel: "G0123ABCD9", want: "G0123ABCD9"},
		{name: "name on page 1", channel: "general", want: "C0000GEN1", wantLists: allPages},
		{name: "#name on page 2", channel: "#alerts", want: "C0000ALR2", wantLists: allPages},
		{name: "#name on page 3", channel: "#deploys", want: "C0000DEP3", wantLists: allPages},
		{name: "name with spaces and capitals", channel: "  #Deploys ", want: "C0000DEP3", wantLists: allPages},
		// Slack's channel link markup carries the ID; the ID wins over the
		// name (which here names a different channel), with no lookup.
		{name: "link markup", channel: "<#C0999ZZZZ|deploys>", want: "C0999ZZZZ"},
		{name: "link markup with empty name", channel: "<#C0999ZZZZ|>", want: "C0999ZZZZ"},
		{name: "link markup without name", channel: "<#C0999ZZZZ>", want: "C0999ZZZZ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := testenv.NewSlack(t, botToken, nil)
			s.SetChannels(threePages...)
			c := chat.NewClient(botToken, s.APIURL(), chat.Retry{})

			got, err := c.Post(context.Background(), chat.Message{Channel: tt.channel, Text: "hi"})
			if err != nil {
				t.Fatalf("Post(%q): %v", tt.channel, err)
			}
			if got.ChannelID != tt.want || got.TS != postTS {
				t.Errorf("Post(%q) = %+v, want channel %s ts %s", tt.channel, got, tt.want, postTS)
			}
			posts := s.Posts()
			if len(posts) != 1 {
				t.Fatalf("chat.postMessage calls = %d, want 1", len(posts))
			}
			if ch := posts[0].Get("channel"); ch != tt.want {
				t.Errorf("chat.postMessage channel = %q, want %q", ch, tt.want)
			}
			if lists := s.ListCalls(); !slices.Equal(lists, tt.wantLists) {
				t.Errorf("conversations.list cursors = %q, want %q", lists, tt.wantLists)
			}
			if n := s.BadTokenCalls(); n != 0 {
				t.Errorf("%d calls did not carry the bot token", n)
			}
		})
	}
}

func TestPostCachesChannelList(t *testing.T) {
	t.Parallel()
	s := testenv.NewSlack(t, botToken, nil)
	pages := [][]testenv.Channel{
		{{ID: "C0000GEN1", Name: "general"}},
		{{ID: "C0000ALR2", Name: "alerts"}},
		{{ID: "C0000DEP3", Name: "deploys"}},
	}
	s.SetChannels(pages...)
	c := chat.NewClient(botToken, s.APIURL(), chat.Retry{})
	now := time.Now()
	c.Now = func() time.Time { return now }
	ctx := context.Background()
	post := func(channel, wantID string) {
		t.Helper()
		p, err := c.Post(ctx, chat.Message{Channel: channel, Text: "hi"})
		if err != nil {
			t.Fatalf("Post(%q): %v", channel, err)
		}
		if p.ChannelID != wantID {
			t.Fatalf("Post(%q) went to %s, want %s", channel, p.ChannelID, wantID)
		}
	}

	post("#general", "C0000GEN1")
	if got := s.ListCalls(); !slices.Equal(got, allPages) {
		t.Fatalf("first lookup: conversations.list cursors = %q, want %q", got, allPages)
	}
	post("general", "C0000GEN1")
	post("#deploys", "C0000DEP3")
	if got := s.ListCalls(); len(got) != len(allPages) {
		t.Fatalf("cached lookups called conversations.list again: cursors = %q", got)
	}

	// A channel created after the cache was filled: a miss soon after the
	// load is a typo and pages through nothing; a minute later it reloads.
	pages[2] = append(pages[2], testenv.Channel{ID: "C0000NEW3", Name: "fresh"})
	s.SetChannels(pages...)
	for range 5 {
		if _, err := c.Post(ctx, chat.Message{Channel: "#fresh", Text: "hi"}); err == nil {
			t.Fatal("a miss right after the load found the new channel: it reloaded the list")
		}
	}
	if got := s.ListCalls(); len(got) != len(allPages) {
		t.Fatalf("misses right after a load called conversations.list: cursors = %q", got)
	}
	now = now.Add(time.Minute)
	post("#fresh", "C0000NEW3")
	if got, want := s.ListCalls(), slices.Concat(allPages, allPages); !slices.Equal(got, want) {
		t.Fatalf("after a miss: conversations.list cursors = %q, want %q", got, want)
	}
	post("#fresh", "C0000NEW3")
	post("#general", "C0000GEN1")
	if got := s.ListCalls(); len(got) != 2*len(allPages) {
		t.Fatalf("reloaded cache not used: conversations.list cursors = %q", got)
	}
	if n := len(s.Posts()); n != 6 {
		t.Errorf("chat.postMessage calls = %d, want 6", n)
	}
}

func TestPostUnknownChannel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		channel   string
		wantHint  []string
		wantLists []string
	}{
		{name: "unknown name", channel: "#nope", wantHint: []string{"#nope", "channel ID"}, wantLists: allPages},
		{name: "unknown bare name", channel: "no-such-room", wantHint: []string{"#no-such-room", "invited"}, wantLists: allPages},
		{name: "empty", channel: "", wantHint: []string{"which channel"}},
		{name: "only #", channel: " # ", wantHint: []string{"which channel"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := testenv.NewSlack(t, botToken, nil)
			s.SetChannels(threePages...)
			c := chat.NewClient(botToken, s.APIURL(), chat.Retry{})

			_, err := c.Post(context.Background(), chat.Message{Channel: tt.channel, Text: "hi"})
			var ne *chat.Error
			if !errors.As(err, &ne) {
				t.Fatalf("Post(%q) error = %v (%T), want *chat.Error", tt.channel, err, err)
			}
			if ne.Code != "channel_not_found" {
				t.Errorf("Code = %q, want channel_not_found", ne.Code)
			}
			for _, w := range tt.wantHint {
				if !strings.Contains(ne.Hint, w) {
					t.Errorf("Hint %q does not contain %q", ne.Hint, w)
				}
			}
			if got := s.ListCalls(); !slices.Equal(got, tt.wantLists) {
				t.Errorf("conversations.list cursors = %q, want %q", got, tt.wantLists)
			}
			if n := len(s.Posts()); n != 0 {
				t.Errorf("chat.postMessage called %d times for an unresolved channel", n)
			}
		})
	}
}

func TestPostSendsMessageFields(t *testing.T) {
	t.Parallel()
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, "Latency", false, false)),
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*p99* 12.3 ms", false, false), nil, nil),
	}
	metadata := &slack.SlackMetadata{
		EventType: "latency_report",
		EventPayload: map[string]any{
			"window_seconds": float64(3600),
			"routes":         []any{map[string]any{"route": "POST /slack/events", "count": float64(12), "p99": 12.3}},
		},
	}
	tests := []struct {
		name string
		msg  chat.Message
	}{
		{name: "text only", msg: chat.Message{Channel: "C0123ABCD", Text: "plain <text> & more"}},
		{name: "all fields", msg: chat.Message{
			Channel: "C0123ABCD", Text: "fallback", Blocks: blocks,
			ThreadTS: "1700000000.000100", Metadata: metadata,
		}},
		{name: "thread only", msg: chat.Message{Channel: "C0123ABCD", Text: "reply", ThreadTS: "1600000000.000001"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := testenv.NewSlack(t, botToken, nil)
			c := chat.NewClient(botToken, s.APIURL(), chat.Retry{})
			if _, err := c.Post(context.Background(), tt.msg); err != nil {
				t.Fatalf("Post: %v", err)
			}
			posts := s.Posts()
			if len(posts) != 1 {
				t.Fatalf("chat.postMessage calls = %d, want 1", len(posts))
			}
			form := posts[0]
			if got := form.Get("text"); got != tt.msg.Text {
				t.Errorf("text = %q, want %q", got, tt.msg.Text)
			}
			if got := form.Get("thread_ts"); got != tt.msg.ThreadTS {
				t.Errorf("thread_ts = %q, want %q", got, tt.msg.ThreadTS)
			}

			if len(tt.msg.Blocks) == 0 {
				if form.Has("blocks") {
					t.Errorf("blocks sent without blocks: %q", form.Get("blocks"))
				}
			} else {
				want, err := json.Marshal(tt.msg.Blocks)
				if err != nil {
					t.Fatal(err)
				}
				assertSameJSON(t, "blocks", []byte(form.Get("blocks")), want)
				var got slack.Blocks
				if err := json.Unmarshal([]byte(form.Get("blocks")), &got); err != nil {
					t.Fatalf("blocks do not decode as Slack blocks: %v", err)
				}
				if len(got.BlockSet) != len(tt.msg.Blocks) {
					t.Errorf("blocks decode to %d blocks, want %d", len(got.BlockSet), len(tt.msg.Blocks))
				}
			}

			if tt.msg.Metadata == nil {
				if form.Has("metadata") {
					t.Errorf("metadata sent without metadata: %q", form.Get("metadata"))
				}
			} else {
				var got slack.SlackMetadata
				if err := json.Unmarshal([]byte(form.Get("metadata")), &got); err != nil {
					t.Fatalf("metadata %q: %v", form.Get("metadata"), err)
				}
				if !reflect.DeepEqual(got, *tt.msg.Metadata) {
					t.Errorf("metadata = %#v, want %#v", got, *tt.msg.Metadata)
				}
			}
		})
	}
}

func assertSameJSON(t *testing.T, what string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %q is not JSON: %v", what, got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: want %q is not JSON: %v", what, want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

const (
	botToken = "xoxb-test-token"
	postTS   = testenv.PostTS
)

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// answers replies to the n-th call with answers[n], repeating the last one.
func answers(answers ...func(w http.ResponseWriter)) func(n int, w http.ResponseWriter) {
	return func(n int, w http.ResponseWriter) {
		answers[min(n, len(answers)-1)](w)
	}
}

func ok(w http.ResponseWriter) {
	writeJSON(w, map[string]any{"ok": true, "channel": "C0123ABCD", "ts": postTS})
}

// limited answers 429 with Slack's Retry-After header.
func limited(retryAfter string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", retryAfter)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"ok":false,"error":"ratelimited"}`))
	}
}

func slackError(code string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) { writeJSON(w, map[string]any{"ok": false, "error": code}) }
}

func TestPostRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		retry     chat.Retry
		answers   []func(http.ResponseWriter)
		wantCalls int
		wantCode  string // "" means success
	}{
		{
			name:    "Retry-After 1 then success",
			retry:   chat.Retry{Attempts: 3, MaxWait: 2 * time.Second},
			answers: []func(http.ResponseWriter){limited("1"), ok}, wantCalls: 2,
		},
		{
			// Retrying would wait 5s and then succeed with a second call.
			name:    "Retry-After above MaxWait is not waited for",
			retry:   chat.Retry{Attempts: 3, MaxWait: time.Second},
			answers: []func(http.ResponseWriter){limited("5"), ok}, wantCalls: 1, wantCode: "ratelimited",
		},
		{
			name:    "Attempts 3 bounds an endless 429",
			retry:   chat.Retry{Attempts: 3, MaxWait: time.Second},
			answers: []func(http.ResponseWriter){limited("0")}, wantCalls: 3, wantCode: "ratelimited",
		},
		{
			name:    "Attempts 1 never retries",
			retry:   chat.Retry{Attempts: 1, MaxWait: time.Second},
			answers: []func(http.ResponseWriter){limited("0"), ok}, wantCalls: 1, wantCode: "ratelimited",
		},
		{
			name:    "zero Retry means 3 attempts",
			retry:   chat.Retry{},
			answers: []func(http.ResponseWriter){limited("0")}, wantCalls: 3, wantCode: "ratelimited",
		},
		{
			name:    "429 twice then success within 3 attempts",
			retry:   chat.Retry{Attempts: 3, MaxWait: time.Second},
			answers: []func(http.ResponseWriter){limited("0"), limited("0"), ok}, wantCalls: 3,
		},
		{
			name:    "a Slack error is not retried",
			retry:   chat.Retry{Attempts: 3, MaxWait: time.Second},
			answers: []func(http.ResponseWriter){slackError("invalid_auth"), ok}, wantCalls: 1, wantCode: "invalid_auth",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := testenv.NewSlack(t, botToken, nil)
			s.AnswerPosts(answers(tt.answers...))
			c := chat.NewClient(botToken, s.APIURL(), tt.retry)

			p, err := c.Post(context.Background(), chat.Message{Channel: "C0123ABCD", Text: "hi"})
			if n := len(s.Posts()); n != tt.wantCalls {
				t.Errorf("chat.postMessage calls = %d, want %d", n, tt.wantCalls)
			}
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Post: %v", err)
				}
				if p.TS != postTS {
					t.Errorf("Posted = %+v, want ts %s", p, postTS)
				}
				return
			}
			var ne *chat.Error
			if !errors.As(err, &ne) {
				t.Fatalf("Post error = %v (%T), want *chat.Error", err, err)
			}
			if ne.Code != tt.wantCode {
				t.Errorf("Code = %q, want %q", ne.Code, tt.wantCode)
			}
			if tt.wantCode == "ratelimited" {
				var rl *slack.RateLimitedError
				if !errors.As(err, &rl) {
					t.Errorf("error %v does not wrap *slack.RateLimitedError", err)
				}
			}
		})
	}
}

// knownDeadline is a context that reports a deadline but never ends by
// itself. A Retry that waits out a Retry-After past that deadline would make
// a second call; one that reads the deadline first makes one.
type knownDeadline struct {
	context.Context
	at time.Time
}

func (c knownDeadline) Deadline() (time.Time, bool) { return c.at, true }

func TestPostRateLimitPastDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{
			name: "deadline shorter than Retry-After",
			ctx: func() (context.Context, context.CancelFunc) {
				return knownDeadline{Context: context.Background(), at: time.Now().Add(time.Second)}, func() {}
			},
		},
		{
			name: "context.WithTimeout shorter than Retry-After",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 2*time.Second)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := testenv.NewSlack(t, botToken, nil)
			s.AnswerPosts(answers(limited("3"), ok))
			c := chat.NewClient(botToken, s.APIURL(), chat.Retry{Attempts: 5, MaxWait: 10 * time.Second})
			ctx, cancel := tt.ctx()
			defer cancel()

			_, err := c.Post(ctx, chat.Message{Channel: "C0123ABCD", Text: "hi"})
			if n := len(s.Posts()); n != 1 {
				t.Errorf("chat.postMessage calls = %d, want 1 (no wait past the deadline)", n)
			}
			var ne *chat.Error
			if !errors.As(err, &ne) || ne.Code != "ratelimited" {
				t.Fatalf("Post error = %v, want *chat.Error with Code ratelimited", err)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v is the context's, want Slack's rate limit", err)
			}
		})
	}
}

func TestPostSlackErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code     string
		channel  string // "" means an ID, so only chat.postMessage answers
		listErr  bool   // conversations.list answers the error instead
		wantHint string
	}{
		{code: "channel_not_found", wantHint: "invited"},
		{code: "not_in_channel", wantHint: "invite"},
		{code: "invalid_auth", wantHint: "token"},
		{code: "token_revoked", wantHint: "token"},
		{code: "not_authed", wantHint: "token"},
		{code: "is_archived", wantHint: "archived"},
		{code: "missing_scope", channel: "#general", listErr: true, wantHint: "groups:read"},
		{code: "invalid_auth", channel: "#general", listErr: true, wantHint: "token"},
		{code: "some_new_error", wantHint: "some_new_error"},
	}
	for _, tt := range tests {
		name := tt.code
		if tt.listErr {
			name += " from conversations.list"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := testenv.NewSlack(t, botToken, nil)
			s.SetChannels(threePages...)
			if tt.listErr {
				s.FailList(tt.code, "")
			} else {
				s.AnswerPosts(answers(slackError(tt.code)))
			}
			channel := tt.channel
			if channel == "" {
				channel = "C0123ABCD"
			}
			c := chat.NewClient(botToken, s.APIURL(), chat.Retry{})

			_, err := c.Post(context.Background(), chat.Message{Channel: channel, Text: "hi"})
			var ne *chat.Error
			if !errors.As(err, &ne) {
				t.Fatalf("Post error = %v (%T), want *chat.Error", err, err)
			}
			if ne.Code != tt.code {
				t.Errorf("Code = %q, want %q", ne.Code, tt.code)
			}
			if !strings.Contains(strings.ToLower(ne.Hint), tt.wantHint) {
				t.Errorf("Hint %q does not contain %q", ne.Hint, tt.wantHint)
			}
			if !strings.Contains(err.Error(), ne.Hint) {
				t.Errorf("error text %q does not carry the hint %q", err, ne.Hint)
			}
			var se slack.SlackErrorResponse
			if !errors.As(err, &se) || se.Err != tt.code {
				t.Errorf("error %v does not wrap slack-go's SlackErrorResponse %q", err, tt.code)
			}
			wantPosts := 1
			if tt.listErr {
				wantPosts = 0
			}
			if n := len(s.Posts()); n != wantPosts {
				t.Errorf("chat.postMessage calls = %d, want %d", n, wantPosts)
			}
		})
	}
}

// TestMissingScopeNamesTheScope: Slack says which scope a call needed, and
// the hint must name that one, not a fixed list.
func TestMissingScopeNamesTheScope(t *testing.T) {
	t.Parallel()
	s := testenv.NewSlack(t, botToken, nil)
	s.FailList("missing_scope", "groups:read")
	c := chat.NewClient(botToken, s.APIURL(), chat.Retry{})
	_, err := c.Post(context.Background(), chat.Message{Channel: "#general", Text: "hi"})
	var ne *chat.Error
	if !errors.As(err, &ne) || ne.Code != "missing_scope" {
		t.Fatalf("error %v, want missing_scope", err)
	}
	if !strings.Contains(ne.Hint, "groups:read") || strings.Contains(ne.Hint, "channels:read") {
		t.Errorf("hint %q should name the needed groups:read and only it", ne.Hint)
	}
}

func TestIsMember(t *testing.T) {
	t.Parallel()
	s := testenv.NewSlack(t, botToken, nil)
	s.SetMembers("C0000GEN1", "U1", "U2", "U3", "U4", "U5")
	c := chat.NewClient(botToken, s.APIURL(), chat.Retry{})
	now := time.Now()
	c.Now = func() time.Time { return now }
	ctx := context.Background()
	for _, tt := range []struct {
		user string
		want bool
	}{{"U1", true}, {"U5", true}, {"U6", false}, {"", false}} {
		got, err := c.IsMember(ctx, "C0000GEN1", tt.user)
		if err != nil || got != tt.want {
			t.Errorf("IsMember(C0000GEN1, %q) = %v, %v; want %v (all pages read)", tt.user, got, err, tt.want)
		}
	}
	if n := s.MemberCalls("C0000GEN1"); n != 3 {
		t.Errorf("conversations.members calls = %d, want 3: one pass of three pages, then the cache", n)
	}
	// A user who leaves stops being a member once the cache ages out.
	s.SetMembers("C0000GEN1", "U2")
	if ok, _ := c.IsMember(ctx, "C0000GEN1", "U1"); !ok {
		t.Error("the cached list was not used")
	}
	now = now.Add(time.Minute)
	if ok, _ := c.IsMember(ctx, "C0000GEN1", "U1"); ok {
		t.Error("a member who left is still a member after a minute")
	}
	_, err := c.IsMember(ctx, "G0SECRET01", "U1")
	var ne *chat.Error
	if !errors.As(err, &ne) || ne.Code != "channel_not_found" {
		t.Errorf("a channel the bot cannot see: %v, want channel_not_found", err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	if _, ok := chat.New("", "http://127.0.0.1:1/", nil).(*chat.Printer); !ok {
		t.Errorf("New without a token is not a *Printer")
	}
	if _, ok := chat.New(botToken, "http://127.0.0.1:1/", nil).(*chat.Client); !ok {
		t.Errorf("New with a token is not a *Client")
	}
}

// TestPostTransportErrorsAreNotSlackAnswers checks that a failure in which
// Slack said nothing (no connection, a 5xx, our own deadline) does not come
// back as a *chat.Error: callers read *chat.Error as Slack's definite
// answer (the events handler then acknowledges instead of letting Slack
// retry, and slash commands show its Hint as "what Slack said").
func TestPostTransportErrorsAreNotSlackAnswers(t *testing.T) {
	t.Parallel()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + closed.Addr().String() + "/"
	closed.Close()

	broken := testenv.NewSlack(t, botToken, nil)
	broken.AnswerPosts(answers(func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>bad gateway</html>"))
	}))

	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); slow.Close() })

	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name   string
		apiURL string
		ctx    context.Context
		is     error // the error must wrap this, when set
	}{
		{name: "connection refused", apiURL: closedURL},
		{name: "502 from Slack", apiURL: broken.APIURL()},
		{name: "canceled context", apiURL: slow.URL + "/", ctx: canceled, is: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			c := chat.NewClient(botToken, tt.apiURL, chat.Retry{Attempts: 1})
			_, err := c.Post(ctx, chat.Message{Channel: "C0123ABCD", Text: "hi"})
			if err == nil {
				t.Fatal("Post succeeded, want an error")
			}
			var ne *chat.Error
			if errors.As(err, &ne) {
				t.Errorf("error %q is a *chat.Error (Code %q), but Slack gave no answer", err, ne.Code)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
		})
	}
}
