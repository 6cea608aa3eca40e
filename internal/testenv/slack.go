package testenv

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// PostTS is the ts of every message the fake Slack accepts.
const PostTS = "1700000001.000200"

// Channel is a conversation as conversations.list lists it.
type Channel struct{ ID, Name string }

// Slack plays the Slack Web API methods the bot calls, chat.postMessage,
// conversations.list and conversations.members, with Slack's JSON answers,
// plus a slash command's response_url; it records what arrives. Point
// SLACK_API_URL at APIURL.
//
// Like Slack, it pages: conversations.list by the pages SetChannels gives
// (page i>0 reached with cursor "cursor-i"), conversations.members two
// members at a time. A call without the bot token is answered invalid_auth
// and counted. A call to any other path fails the test.
type Slack struct {
	*httptest.Server

	mu          sync.Mutex
	tokens      map[string]team // accepted bot tokens and their workspace: slack_oauth.go
	calls       []Call
	oauth       oauth
	pages       [][]Channel
	listCursors []string
	listErr     string // conversations.list answers {"ok":false,"error":listErr}
	listNeeded  string // with listErr, the "needed" scope Slack names
	members     map[string][]string
	memberCalls map[string]int
	posts       []url.Values
	postTokens  []string
	answer      func(n int, w http.ResponseWriter)
	badTokens   int
	responses   []map[string]any
	interactive interactive // chat.update and views.open: slack_interactive.go
	files       files       // uploads and the incoming webhook: slack_files.go
	modes       modes       // late, swallowed and refused answers: slack_modes.go
	quit        chan struct{}
}

// NewSlack starts a Slack that accepts token and lists channels (name -> ID)
// on one page, sorted by name, and stops it when the test ends.
func NewSlack(t testing.TB, token string, channels map[string]string) *Slack {
	s := &Slack{tokens: map[string]team{token: {ID: HomeTeam}}, members: map[string][]string{}, memberCalls: map[string]int{}, quit: make(chan struct{})}
	var page []Channel
	for name, id := range channels {
		page = append(page, Channel{ID: id, Name: name})
	}
	slices.SortFunc(page, func(a, b Channel) int { return strings.Compare(a.Name, b.Name) })
	s.SetChannels(page)

	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/chat.postMessage", s.chatPostMessage)
	mux.HandleFunc("POST /api/conversations.list", s.conversationsList)
	mux.HandleFunc("POST /api/conversations.members", s.conversationsMembers)
	mux.HandleFunc("POST /api/chat.update", s.chatUpdate)
	mux.HandleFunc("POST /api/views.open", s.viewsOpen)
	s.serveOAuth(mux)
	s.serveFiles(mux)
	mux.HandleFunc("POST /response_url", func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("response_url body: %v", err)
		}
		s.mu.Lock()
		a := s.answerOf(MethodResponseURL)
		if !a.takes() {
			s.mu.Unlock()
			a.refuse(w, false)
			return
		}
		s.responses = append(s.responses, m)
		s.mu.Unlock()
		if s.wait(a, r) {
			w.Write([]byte("ok"))
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected Slack call %s %s", r.Method, r.URL.Path)
		writeJSON(w, map[string]any{"ok": false, "error": "unknown_method"})
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(func() {
		close(s.quit) // lets go of swallowed requests, so Close returns
		s.Close()
	})
	return s
}

// APIURL is the Web API base URL, ending in "/", for SLACK_API_URL.
func (s *Slack) APIURL() string { return s.URL + "/api/" }

// ResponseURL is a response_url whose posts Responses returns.
func (s *Slack) ResponseURL() string { return s.URL + "/response_url" }

// SetChannels makes conversations.list answer these pages. It keeps a copy,
// so the caller may change its own and set them again.
func (s *Slack) SetChannels(pages ...[]Channel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pages = make([][]Channel, len(pages))
	for i, p := range pages {
		s.pages[i] = slices.Clone(p)
	}
}

// SetMembers makes users the members of the channel with that ID, for
// conversations.members; a channel without members set is one the bot
// cannot see (channel_not_found).
func (s *Slack) SetMembers(channelID string, users ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members[channelID] = users
}

// FailList makes conversations.list answer Slack's error code, naming the
// scope the call needed when needed is set (as Slack does for missing_scope).
func (s *Slack) FailList(code, needed string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listErr, s.listNeeded = code, needed
}

// AnswerPosts makes answer reply to the n-th (0-based) chat.postMessage
// call, which is recorded either way: a 429, an error, an outage.
func (s *Slack) AnswerPosts(answer func(n int, w http.ResponseWriter)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = answer
}

// Posts returns the form of every chat.postMessage call so far.
func (s *Slack) Posts() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.posts)
}

// ListCalls returns the cursor of every conversations.list call so far.
func (s *Slack) ListCalls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.listCursors)
}

// MemberCalls counts the conversations.members calls for a channel.
func (s *Slack) MemberCalls(channelID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.memberCalls[channelID]
}

// BadTokenCalls counts the calls that did not carry the bot token.
func (s *Slack) BadTokenCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.badTokens
}

// Responses returns the JSON of every response_url post so far.
func (s *Slack) Responses() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.responses)
}

// authorized parses the form and checks the token, in the form or as a
// bearer token. Caller holds mu.
func (s *Slack) authorized(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	token := r.PostForm.Get("token")
	if token == "" {
		token = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	return s.accept(w, r, token)
}

func (s *Slack) chatPostMessage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if !s.authorized(w, r) {
		s.mu.Unlock()
		return
	}
	a := s.answerOf(MethodPostMessage)
	if !a.takes() {
		s.mu.Unlock()
		a.refuse(w, true)
		return
	}
	n := len(s.posts)
	s.posts = append(s.posts, r.PostForm)
	s.postTokens = append(s.postTokens, s.calls[len(s.calls)-1].Token)
	answer := s.answer
	s.mu.Unlock()
	if !s.wait(a, r) {
		return
	}
	if answer != nil {
		answer(n, w)
		return
	}
	writeJSON(w, map[string]any{"ok": true, "channel": r.PostForm.Get("channel"), "ts": PostTS})
}

func (s *Slack) conversationsList(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorized(w, r) {
		return
	}
	cursor := r.PostForm.Get("cursor")
	s.listCursors = append(s.listCursors, cursor)
	if s.listErr != "" {
		answer := map[string]any{"ok": false, "error": s.listErr}
		if s.listNeeded != "" {
			answer["needed"], answer["provided"] = s.listNeeded, "chat:write,channels:read"
		}
		writeJSON(w, answer)
		return
	}
	page := 0
	if cursor != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(cursor, "cursor-"))
		if err != nil || n <= 0 || n >= len(s.pages) {
			writeJSON(w, map[string]any{"ok": false, "error": "invalid_cursor"})
			return
		}
		page = n
	}
	list := []map[string]any{}
	if page < len(s.pages) {
		for _, c := range s.pages[page] {
			list = append(list, map[string]any{"id": c.ID, "name": c.Name, "is_channel": true})
		}
	}
	next := ""
	if page+1 < len(s.pages) {
		next = fmt.Sprintf("cursor-%d", page+1)
	}
	writeJSON(w, map[string]any{"ok": true, "channels": list, "response_metadata": map[string]any{"next_cursor": next}})
}

func (s *Slack) conversationsMembers(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorized(w, r) {
		return
	}
	ch := r.PostForm.Get("channel")
	s.memberCalls[ch]++
	users, ok := s.members[ch]
	if !ok {
		writeJSON(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	start, _ := strconv.Atoi(strings.TrimPrefix(r.PostForm.Get("cursor"), "m-"))
	start = min(max(start, 0), len(users))
	end := min(start+2, len(users))
	next := ""
	if end < len(users) {
		next = fmt.Sprintf("m-%d", end)
	}
	writeJSON(w, map[string]any{"ok": true, "members": users[start:end], "response_metadata": map[string]any{"next_cursor": next}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
