package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
)

// fakeSlack plays the two Web API methods the bot calls, chat.postMessage and
// conversations.list, with Slack's JSON answers. A share of calls is refused
// with 429 and Retry-After, as Slack's rate limiter does, so the bot's retry
// path runs under load. Every successful post is counted by its thread_ts:
// the bot replies in the mention's thread, so one event is one thread.
type fakeSlack struct {
	srv        *httptest.Server
	token      string
	limitShare float64 // share of calls answered 429
	// limitRun caps how many 429s in a row one thread's posts get; 0 means
	// no cap. The bot gives an event back to Slack (503) after three, by
	// design; a test that must not flake caps the run below that.
	limitRun int

	mu      sync.Mutex
	threads map[string]int // thread_ts -> successful posts
	runs    map[string]int // thread_ts -> 429s in a row
	posts   int
	limited int
	badAuth int
}

func newFakeSlack(token string, limitShare float64, limitRun int) *fakeSlack {
	s := &fakeSlack{
		token: token, limitShare: limitShare, limitRun: limitRun,
		threads: make(map[string]int), runs: make(map[string]int),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/chat.postMessage", s.postMessage)
	mux.HandleFunc("/api/conversations.list", s.conversationsList)
	s.srv = httptest.NewServer(mux)
	return s
}

// apiURL is the Web API base for SLACK_API_URL.
func (s *fakeSlack) apiURL() string { return s.srv.URL + "/api/" }

func (s *fakeSlack) close() { s.srv.Close() }

// admit answers a call that is refused (bad token, rate limited) and reports
// whether the call may go on.
func (s *fakeSlack) admit(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_form_data"})
		return false
	}
	// slack-go sends the token as a bearer header; older clients in the form.
	if r.Header.Get("Authorization") != "Bearer "+s.token && r.Form.Get("token") != s.token {
		s.mu.Lock()
		s.badAuth++
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_auth"})
		return false
	}
	thread := r.Form.Get("thread_ts")
	s.mu.Lock()
	limited := rand.Float64() < s.limitShare && (s.limitRun == 0 || s.runs[thread] < s.limitRun)
	if limited {
		s.limited++
		s.runs[thread]++
	} else {
		delete(s.runs, thread)
	}
	s.mu.Unlock()
	if limited {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": "ratelimited"})
		return false
	}
	return true
}

func (s *fakeSlack) postMessage(w http.ResponseWriter, r *http.Request) {
	if !s.admit(w, r) {
		return
	}
	channel := r.Form.Get("channel")
	if channel == "" || r.Form.Get("text") == "" && r.Form.Get("blocks") == "" {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "no_text"})
		return
	}
	s.mu.Lock()
	s.threads[r.Form.Get("thread_ts")]++
	s.posts++
	n := s.posts
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"ok": true, "channel": channel, "ts": fmt.Sprintf("1700000001.%06d", n),
		"message": map[string]any{"type": "message", "text": r.Form.Get("text"), "thread_ts": r.Form.Get("thread_ts")},
	})
}

func (s *fakeSlack) conversationsList(w http.ResponseWriter, r *http.Request) {
	if !s.admit(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ok":                true,
		"channels":          []map[string]any{{"id": loadChannel, "name": "load", "is_channel": true, "is_member": true}},
		"response_metadata": map[string]any{"next_cursor": ""},
	})
}

// slackCounts is what the fake Slack saw, copied out.
type slackCounts struct {
	threads map[string]int
	posts   int
	limited int
	badAuth int
}

func (s *fakeSlack) counts() slackCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	threads := make(map[string]int, len(s.threads))
	for k, v := range s.threads {
		threads[k] = v
	}
	return slackCounts{threads: threads, posts: s.posts, limited: s.limited, badAuth: s.badAuth}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
