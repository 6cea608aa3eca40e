package eventsapi_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestSlackDocumentedPayloads sends the bodies Slack's Events API
// documentation shows (testdata/), signed as Slack signs them, through the
// events handler.
func TestSlackDocumentedPayloads(t *testing.T) {
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	t.Run("url_verification", func(t *testing.T) {
		resp, err := newHandler(&recorder{}, nil).Serve(context.Background(), signed(read("url_verification.json")))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("status %d, %v; want 200", resp.StatusCode, err)
		}
		var got map[string]string
		if err := json.Unmarshal([]byte(resp.Body), &got); err != nil || len(got) != 1 ||
			got["challenge"] != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
			t.Errorf("body %s, want exactly the challenge back", resp.Body)
		}
		if ct := resp.Headers["Content-Type"]; ct != "application/json" {
			t.Errorf("Content-Type %q, want application/json", ct)
		}
	})

	t.Run("app_mention", func(t *testing.T) {
		post := &recorder{}
		h := newHandler(post, nil)
		body := read("app_mention.json")
		for attempt := range 2 { // the delivery, then Slack's retry of it
			resp, err := h.Serve(context.Background(), signed(body))
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("attempt %d: status %d, %v; want 200", attempt, resp.StatusCode, err)
			}
		}
		if len(post.Msgs) != 1 {
			t.Fatalf("%d replies, want 1 for one event delivered twice", len(post.Msgs))
		}
		m := post.Msgs[0]
		if m.Channel != "C0LAN2Q65" || m.ThreadTS != "1515449522.000016" {
			t.Errorf("reply to %s in thread %q, want C0LAN2Q65 in the mention's thread 1515449522.000016", m.Channel, m.ThreadTS)
		}
		if !strings.Contains(m.Text, "latency") {
			t.Errorf("reply %q, want the help that names `latency`", m.Text)
		}
	})
}
