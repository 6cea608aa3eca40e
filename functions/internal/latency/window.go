package latency

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Report windows. Sketches are per minute, so a window is whole minutes; the
// longest is what the store keeps with room for the window before it.
const (
	MinWindow = time.Minute
	MaxWindow = 7 * 24 * time.Hour
)

// ParseWindow reads a report window as a person types it: "15m", "1h",
// "24h", "7d", "1w", "1h30m", "90m". Errors are written for the person.
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
		if err != nil || n > 100000 {
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
		return 0, fmt.Errorf("%q is too long: the longest window is 7d, since latencies are kept %d days, enough for 7 days and the 7 before them", s, int(Retention/(24*time.Hour)))
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

// ParseRequest reads the arguments of "/slackbot latency [window] [route]" or
// of a mention such as "latency 1h events": an optional window first, then an
// optional route, which may contain a space ("POST /slack/events"). A first
// word that is not a window but looks like one ("2x") is an error; anything
// else is taken as the route.
func ParseRequest(text string, defaultWindow time.Duration) (window time.Duration, route string, err error) {
	text = strings.TrimSpace(text)
	first, rest, _ := strings.Cut(text, " ")
	if first == "" {
		return defaultWindow, "", nil
	}
	if w, err := ParseWindow(first); err == nil {
		return w, strings.TrimSpace(rest), nil
	} else if first[0] >= '0' && first[0] <= '9' {
		return 0, "", err
	}
	return defaultWindow, text, nil
}
