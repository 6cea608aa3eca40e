package testenv

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Unanswering starts a Slack that takes every request and never answers
// it, whatever the method (auth.test, oauth.v2.access, ...), until the
// caller gives up or the test ends. It returns its Web API base URL.
func Unanswering(t testing.TB) string {
	quit := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-quit:
		}
	}))
	t.Cleanup(func() {
		close(quit) // lets go of the requests held, so Close returns
		s.Close()
	})
	return s.URL + "/api/"
}
