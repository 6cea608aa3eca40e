package notify_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeSlack is an httptest server that speaks the two Web API methods the
// Client calls, chat.postMessage and conversations.list, with Slack's JSON
// answers, and records what it received.
type fakeSlack struct {
	*httptest.Server
	token string

	mu sync.Mutex
	// pages is what conversations.list returns, one slice per page; page i>0
	// is reached with cursor "cursor-i".
	pages [][]channel
	// listCursors is the cursor of every conversations.list call, in order.
	listCursors []string
	listErr     string // when set, conversations.list answers {"ok":false,"error":listErr}
	listNeeded  string // with listErr, the "needed" scope Slack names
	// members is each channel's member IDs for conversations.members, in
	// pages of two; membersCalls counts the calls per channel.
	members      map[string][]string
	membersCalls map[string]int
	// posts is the form of every chat.postMessage call, in order.
	posts []url.Values
	// postAnswer, when set, answers the n-th (0-based) chat.postMessage call;
	// nil answers ok.
	postAnswer func(n int, w http.ResponseWriter)
	badTokens  int // calls whose token was not the bot token
}

type channel struct{ ID, Name string }

const (
	botToken = "xoxb-test-token"
	postTS   = "1700000000.000200"
)

func newFakeSlack(t *testing.T) *fakeSlack {
	t.Helper()
	f := &fakeSlack{token: botToken}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /conversations.list", f.conversationsList)
	mux.HandleFunc("POST /chat.postMessage", f.chatPostMessage)
	mux.HandleFunc("POST /conversations.members", f.conversationsMembers)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected Slack call %s %s", r.Method, r.URL.Path)
		writeJSON(w, map[string]any{"ok": false, "error": "unknown_method"})
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

// apiURL is the base URL the Client takes, ending in "/".
func (f *fakeSlack) apiURL() string { return f.URL + "/" }

func (f *fakeSlack) form(r *http.Request) url.Values {
	if err := r.ParseForm(); err != nil {
		panic(err)
	}
	if r.PostForm.Get("token") != f.token {
		f.badTokens++
	}
	return r.PostForm
}

func (f *fakeSlack) conversationsList(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	form := f.form(r)
	cursor := form.Get("cursor")
	f.listCursors = append(f.listCursors, cursor)
	if f.listErr != "" {
		answer := map[string]any{"ok": false, "error": f.listErr}
		if f.listNeeded != "" {
			answer["needed"], answer["provided"] = f.listNeeded, "chat:write,channels:read"
		}
		writeJSON(w, answer)
		return
	}
	page := 0
	if cursor != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(cursor, "cursor-"))
		if err != nil || n <= 0 || n >= len(f.pages) {
			writeJSON(w, map[string]any{"ok": false, "error": "invalid_cursor"})
			return
		}
		page = n
	}
	chans := []map[string]any{}
	if page < len(f.pages) {
		for _, c := range f.pages[page] {
			chans = append(chans, map[string]any{"id": c.ID, "name": c.Name, "is_channel": true})
		}
	}
	next := ""
	if page+1 < len(f.pages) {
		next = fmt.Sprintf("cursor-%d", page+1)
	}
	writeJSON(w, map[string]any{"ok": true, "channels": chans, "response_metadata": map[string]any{"next_cursor": next}})
}

func (f *fakeSlack) conversationsMembers(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	form := f.form(r)
	ch := form.Get("channel")
	if f.membersCalls == nil {
		f.membersCalls = map[string]int{}
	}
	f.membersCalls[ch]++
	users, ok := f.members[ch]
	if !ok {
		writeJSON(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	start, _ := strconv.Atoi(strings.TrimPrefix(form.Get("cursor"), "m-"))
	end := min(start+2, len(users))
	next := ""
	if end < len(users) {
		next = fmt.Sprintf("m-%d", end)
	}
	writeJSON(w, map[string]any{"ok": true, "members": users[start:end], "response_metadata": map[string]any{"next_cursor": next}})
}

func (f *fakeSlack) memberCalls(channel string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.membersCalls[channel]
}

func (f *fakeSlack) chatPostMessage(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	form := f.form(r)
	n := len(f.posts)
	f.posts = append(f.posts, form)
	answer := f.postAnswer
	f.mu.Unlock()
	if answer != nil {
		answer(n, w)
		return
	}
	writeJSON(w, map[string]any{"ok": true, "channel": form.Get("channel"), "ts": postTS})
}

func (f *fakeSlack) listCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.listCursors...)
}

func (f *fakeSlack) postForms() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.posts...)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// rateLimited answers 429 with Slack's Retry-After header.
func rateLimited(w http.ResponseWriter, retryAfter string) {
	w.Header().Set("Retry-After", retryAfter)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte(`{"ok":false,"error":"ratelimited"}`))
}

// configure changes the server's behaviour under its lock; the handlers run
// on the server's goroutines.
func (f *fakeSlack) configure(change func(f *fakeSlack)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

func (f *fakeSlack) badTokenCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.badTokens
}
