package latency

import (
	"testing"
	"time"
)

func TestParseRequest(t *testing.T) {
	for _, c := range []struct {
		in     string
		window time.Duration
		route  string
		err    bool
	}{
		{"", time.Hour, "", false},
		{"15m", 15 * time.Minute, "", false},
		{"24h events", 24 * time.Hour, "events", false},
		{"1h POST /slack/events", time.Hour, "POST /slack/events", false},
		{"POST /slack/events", time.Hour, "POST /slack/events", false},
		{"/slack/commands", time.Hour, "/slack/commands", false},
		{"  7d   commands ", 7 * 24 * time.Hour, "commands", false},
		{"30d", 30 * 24 * time.Hour, "", false},
		{"91d", 0, "", true},
		{"2x events", 0, "", true},
	} {
		w, r, err := ParseRequest(c.in, time.Hour)
		if (err != nil) != c.err || w != c.window || r != c.route {
			t.Errorf("ParseRequest(%q) = %v, %q, %v; want %v, %q, error %v", c.in, w, r, err, c.window, c.route, c.err)
		}
	}
}
