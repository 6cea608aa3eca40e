package latency

import (
	"strings"
	"testing"
	"time"
)

func TestParseWindow(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		err  string // a piece of the error, "" for none
	}{
		{"15m", 15 * time.Minute, ""},
		{"1h", time.Hour, ""},
		{"24h", 24 * time.Hour, ""},
		{"7d", 7 * 24 * time.Hour, ""},
		{"1w", 7 * 24 * time.Hour, ""},
		{"1h30m", 90 * time.Minute, ""},
		{" 2H ", 2 * time.Hour, ""},
		{"90min", 90 * time.Minute, ""},
		{"2hours", 2 * time.Hour, ""},
		{"1m", time.Minute, ""},
		{"120s", 2 * time.Minute, ""},
		{"", 0, "say how far back"},
		{"30s", 0, "too short"},
		{"0m", 0, "too short"},
		{"8d", 0, "too long"},
		{"2w", 0, "too long"},
		{"90s", 0, "not whole minutes"},
		{"15", 0, "use a number and a unit"},
		{"m", 0, "use a number and a unit"},
		{"1y", 0, "use a number and a unit"},
		{"-5m", 0, "use a number and a unit"},
		{"1.5h", 0, "use a number and a unit"},
		{"99999999999999999999m", 0, "use a number and a unit"},
		{"events", 0, "use a number and a unit"},
	} {
		got, err := ParseWindow(c.in)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("ParseWindow(%q) = %v, %v; want %v", c.in, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParseWindow(%q) error = %v, want one saying %q", c.in, err, c.err)
		}
	}
}

func TestFormatWindowRoundTrips(t *testing.T) {
	for _, d := range []time.Duration{time.Minute, 15 * time.Minute, time.Hour, 90 * time.Minute, 24 * time.Hour, 26 * time.Hour, MaxWindow} {
		s := FormatWindow(d)
		if got, err := ParseWindow(s); err != nil || got != d {
			t.Errorf("ParseWindow(FormatWindow(%v) = %q) = %v, %v", d, s, got, err)
		}
	}
	if got := FormatWindow(26 * time.Hour); got != "1d2h" {
		t.Errorf("FormatWindow(26h) = %q, want 1d2h", got)
	}
}

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
		{"30d", 0, "", true},
		{"2x events", 0, "", true},
	} {
		w, r, err := ParseRequest(c.in, time.Hour)
		if (err != nil) != c.err || w != c.window || r != c.route {
			t.Errorf("ParseRequest(%q) = %v, %q, %v; want %v, %q, error %v", c.in, w, r, err, c.window, c.route, c.err)
		}
	}
}
