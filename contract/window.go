package contract

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Report and alert windows, the one rule that Pulumi config
// (reportWindow, latencyAlerts), the environment (SLACKBOT_REPORT_WINDOW,
// SLACKBOT_ALERT_RULES) and the commands ("latency 7d") all parse with
// ParseWindow. Latencies are kept per minute, so a window is whole minutes;
// the longest is what the hour and day rollups keep with room for the
// window before it, which a report compares with.
const (
	MinWindow = time.Minute
	MaxWindow = 90 * 24 * time.Hour
)

// ParseWindow reads a window as a person types it: "15m", "1h", "24h",
// "7d", "1w", "1h30m", "90m". Errors are written for the person.
func ParseWindow(s string) (time.Duration, error) {
	in := strings.ToLower(strings.TrimSpace(s))
	if in == "" {
		return 0, fmt.Errorf("say how far back to look, like 15m, 1h, 24h or 7d")
	}
	var d time.Duration
	rest := in
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, windowError(s)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil || n > 1_000_000 {
			return 0, windowError(s)
		}
		j := i
		for j < len(rest) && rest[j] >= 'a' && rest[j] <= 'z' {
			j++
		}
		var unit time.Duration
		switch rest[i:j] {
		case "s", "sec", "secs", "second", "seconds":
			unit = time.Second
		case "m", "min", "mins", "minute", "minutes":
			unit = time.Minute
		case "h", "hr", "hrs", "hour", "hours":
			unit = time.Hour
		case "d", "day", "days":
			unit = 24 * time.Hour
		case "w", "wk", "week", "weeks":
			unit = 7 * 24 * time.Hour
		default:
			return 0, windowError(s)
		}
		d += time.Duration(n) * unit
		rest = rest[j:]
	}
	switch {
	case d < MinWindow:
		return 0, fmt.Errorf("%q is too short: the shortest window is 1m, because latencies are kept per minute", s)
	case d > MaxWindow:
		return 0, fmt.Errorf("%q is too long: the longest window is %s", s, FormatWindow(MaxWindow))
	case d%time.Minute != 0:
		return 0, fmt.Errorf("%q is not whole minutes: latencies are kept per minute, so try %s", s, FormatWindow(d.Round(time.Minute)))
	}
	return d, nil
}

func windowError(s string) error {
	return fmt.Errorf("I can't read %q as a window: use a number and a unit, like 15m, 1h, 24h or 7d", s)
}

// FormatWindow writes d the way ParseWindow reads it, in its largest exact
// units: "15m", "1h", "1h30m", "7d".
func FormatWindow(d time.Duration) string {
	if d <= 0 {
		return "0m"
	}
	var b strings.Builder
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.unit; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.unit
		}
	}
	if b.Len() == 0 {
		return d.String()
	}
	return b.String()
}
