package testenv

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
)

// Slack plays the Slack Web API methods the bot calls, chat.postMessage,
// conversations.list and conversations.members, with Slack's JSON answers, plus a slash command's
// response_url; it records what arrives. Point SLACK_API_URL at APIURL.
type Slack struct {
	*httptest.Server

	token    string
	channels map[string]string // name -> ID

	mu        sync.Mutex
	members   map[string][]string // channel ID -> user IDs
	posts     []url.Values
	responses []map[string]any
}

// SetMembers makes users the members of the channel with that ID, for
// conversations.members; a channel without members set is one the bot
// cannot see (channel_not_found).
func (s *Slack) SetMembers(channelID string, users ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.members == nil {
		s.members = map[string][]string{}
	}
	s.members[channelID] = users
}

// NewSlack starts a Slack that accepts token and lists channels (name -> ID),
// and stops it when the test ends.
func NewSlack(t testing.TB, token string, channels map[string]string) *Slack {
	s := &Slack{token: token, channels: channels}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.Form.Get("token") != s.token && r.Header.Get("Authorization") != "Bearer "+s.token {
			json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "invalid_auth"})
			return
		}
		s.mu.Lock()
		s.posts = append(s.posts, r.Form)
		s.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": r.Form.Get("channel"), "ts": "1700000001.000200"})
	})
	mux.HandleFunc("/api/conversations.list", func(w http.ResponseWriter, r *http.Request) {
		list := []map[string]any{}
		for name, id := range s.channels {
			list = append(list, map[string]any{"id": id, "name": name})
		}
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "channels": list, "response_metadata": map[string]any{"next_cursor": ""}})
	})
	mux.HandleFunc("/api/conversations.members", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		s.mu.Lock()
		users, ok := s.members[r.Form.Get("channel")]
		s.mu.Unlock()
		if !ok {
			json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "channel_not_found"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "members": users, "response_metadata": map[string]any{"next_cursor": ""}})
	})
	mux.HandleFunc("/response_url", func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		s.mu.Lock()
		s.responses = append(s.responses, m)
		s.mu.Unlock()
		w.Write([]byte("ok"))
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// APIURL is the Web API base URL, ending in "/", for SLACK_API_URL.
func (s *Slack) APIURL() string { return s.URL + "/api/" }

// ResponseURL is a response_url whose posts Responses returns.
func (s *Slack) ResponseURL() string { return s.URL + "/response_url" }

// Posts returns the form of every chat.postMessage call so far.
func (s *Slack) Posts() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.posts...)
}

// Responses returns the JSON of every response_url post so far.
func (s *Slack) Responses() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.responses...)
}
