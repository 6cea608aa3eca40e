package testenv

import (
	"net/http"
	"slices"
	"time"
)

// Methods of the fake whose answers a Mode sets: the calls that post.
const (
	MethodPostMessage = "chat.postMessage"
	MethodResponseURL = "response_url"
	MethodWebhook     = "webhook"
	MethodViewsOpen   = "views.open"
)

var postingMethods = []string{MethodPostMessage, MethodResponseURL, MethodWebhook, MethodViewsOpen}

// Mode is how the fake answers the n-th (0-based) call of a method since
// the mode was set: as Slack does, or late, or never, or with a refusal.
type Mode func(n int) Answer

// Answer is one call's fate. The zero Answer is Slack's usual one.
type Answer struct {
	// Delay takes the request and answers after this long (or when the
	// caller gives up).
	Delay time.Duration
	// Never takes the request and never answers: Slack has it, the caller
	// never learns so.
	Never bool
	// Status refuses the request with this HTTP status, without taking it.
	Status int
	// Code refuses the request with Slack's error code, without taking it.
	Code string
}

// takes reports whether Slack keeps the request: it is recorded.
func (a Answer) takes() bool { return a.Status == 0 && a.Code == "" }

// AnswerLate takes every call and answers each after d.
func AnswerLate(d time.Duration) Mode { return func(int) Answer { return Answer{Delay: d} } }

// RefuseOnce answers the first call 503 Service Unavailable, without
// taking it, and the rest as usual.
func RefuseOnce(n int) Answer {
	if n == 0 {
		return Answer{Status: http.StatusServiceUnavailable}
	}
	return Answer{}
}

// Swallow takes every call and never answers.
func Swallow(int) Answer { return Answer{Never: true} }

// SwallowFirst takes the first call and never answers it; the rest are
// answered as usual.
func SwallowFirst(n int) Answer { return Answer{Never: n == 0} }

// AnswerError refuses every call with Slack's error code, such as
// not_in_channel or invalid_auth.
func AnswerError(code string) Mode { return func(int) Answer { return Answer{Code: code} } }

// modes is the fake's state of modes: one per method, with its count.
type modes struct {
	by       map[string]Mode
	calls    map[string]int // calls since the mode was set
	attempts map[string]int // every call, taken or not
}

// SetMode answers the calls of methods (the Method constants; none means
// all of them) by m from now on; nil is Slack's usual answer.
func (s *Slack) SetMode(m Mode, methods ...string) {
	if len(methods) == 0 {
		methods = postingMethods
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.modes.by == nil {
		s.modes.by, s.modes.calls = map[string]Mode{}, map[string]int{}
	}
	for _, method := range methods {
		if !slices.Contains(postingMethods, method) {
			panic("testenv: no mode for " + method)
		}
		s.modes.by[method], s.modes.calls[method] = m, 0
	}
}

// Attempts counts every call of method, taken or refused.
func (s *Slack) Attempts(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.modes.attempts[method]
}

// answerOf is the fate of a call of method. Caller holds mu.
func (s *Slack) answerOf(method string) Answer {
	if s.modes.attempts == nil {
		s.modes.attempts = map[string]int{}
	}
	s.modes.attempts[method]++
	m := s.modes.by[method]
	if m == nil {
		return Answer{}
	}
	n := s.modes.calls[method]
	s.modes.calls[method]++
	return m(n)
}

// refuse writes a refusal: a status, or Slack's error code as the Web API
// (JSON) or a webhook (text, 404) says it.
func (a Answer) refuse(w http.ResponseWriter, api bool) {
	switch {
	case a.Status != 0:
		http.Error(w, http.StatusText(a.Status), a.Status)
	case api:
		writeJSON(w, map[string]any{"ok": false, "error": a.Code})
	default:
		http.Error(w, a.Code, http.StatusNotFound)
	}
}

// wait holds a taken request for its delay, or for ever; it reports
// whether to answer: not when the caller gave up or the fake stops.
func (s *Slack) wait(a Answer, r *http.Request) bool {
	if !a.Never && a.Delay == 0 {
		return true
	}
	var after <-chan time.Time
	if !a.Never {
		t := time.NewTimer(a.Delay)
		defer t.Stop()
		after = t.C
	}
	select {
	case <-after:
		return true
	case <-r.Context().Done():
	case <-s.quit:
	}
	return false
}
