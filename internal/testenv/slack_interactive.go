package testenv

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// interactive records the modals opened and counts chat.update calls.
type interactive struct {
	views   []OpenedView
	updates int
}

// Updates counts the chat.update calls so far: the bot has no reason to
// make any, since a click changes only what the clicker sees.
func (s *Slack) Updates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.interactive.updates
}

// OpenedView is one views.open call: the trigger_id and the view's JSON.
type OpenedView struct {
	TriggerID string
	View      map[string]any
}

// Views returns every views.open call so far.
func (s *Slack) Views() []OpenedView {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.interactive.views)
}

func (s *Slack) chatUpdate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorized(w, r) {
		return
	}
	s.interactive.updates++
	if r.PostForm.Get("channel") == "" || r.PostForm.Get("ts") == "" {
		writeJSON(w, map[string]any{"ok": false, "error": "message_not_found"})
		return
	}
	writeJSON(w, map[string]any{"ok": true, "channel": r.PostForm.Get("channel"), "ts": r.PostForm.Get("ts"), "text": r.PostForm.Get("text")})
}

// viewsOpen takes slack-go's JSON body, as Slack does.
func (s *Slack) viewsOpen(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if !s.accept(w, r, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")) {
		s.mu.Unlock()
		return
	}
	var req struct {
		TriggerID string         `json:"trigger_id"`
		View      map[string]any `json:"view"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.TriggerID == "" {
		s.mu.Unlock()
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_trigger_id"})
		return
	}
	a := s.answerOf(MethodViewsOpen)
	if !a.takes() {
		s.mu.Unlock()
		a.refuse(w, true)
		return
	}
	s.interactive.views = append(s.interactive.views, OpenedView{TriggerID: req.TriggerID, View: req.View})
	s.mu.Unlock()
	if !s.wait(a, r) {
		return
	}
	writeJSON(w, map[string]any{"ok": true, "view": map[string]any{"id": "V0OPENED01", "type": "modal"}})
}
