package contract

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
		{"30d", 30 * 24 * time.Hour, ""},
		{"90d", 90 * 24 * time.Hour, ""},
		{"1h30m", 90 * time.Minute, ""},
		{" 2H ", 2 * time.Hour, ""},
		{"90min", 90 * time.Minute, ""},
		{"2hours", 2 * time.Hour, ""},
		{"1m", time.Minute, ""},
		{"120s", 2 * time.Minute, ""},
		{"", 0, "say how far back"},
		{"30s", 0, "too short"},
		{"0m", 0, "too short"},
		{"91d", 0, "too long"},
		{"13w", 0, "too long"},
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

func FuzzParseWindow(f *testing.F) {
	for _, s := range []string{"15m", "1h30m", "90d", "7 d", "1e9h", "", "-1m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseWindow(s)
		if err != nil {
			return
		}
		if d < MinWindow || d > MaxWindow || d%time.Minute != 0 {
			t.Fatalf("ParseWindow(%q) = %v, outside the rule", s, d)
		}
		if back, err := ParseWindow(FormatWindow(d)); err != nil || back != d {
			t.Fatalf("FormatWindow(%v) = %q does not parse back: %v, %v", d, FormatWindow(d), back, err)
		}
	})
}
