package latency

import (
	"strings"
	"time"

	"github.com/lambda-slackbot/slackbot/contract"
)

// ParseRequest reads the arguments of "/slackbot latency [window] [route]" or
// of a mention such as "latency 1h events": an optional window first
// (contract.ParseWindow, the rule the stack config uses too), then an
// optional route, which may contain a space ("POST /slack/events"). A first
// word that is not a window but looks like one ("2x") is an error; anything
// else is taken as the route.
func ParseRequest(text string, defaultWindow time.Duration) (window time.Duration, route string, err error) {
	text = strings.TrimSpace(text)
	first, rest, _ := strings.Cut(text, " ")
	if first == "" {
		return defaultWindow, "", nil
	}
	if w, err := contract.ParseWindow(first); err == nil {
		return w, strings.TrimSpace(rest), nil
	} else if first[0] >= '0' && first[0] <= '9' {
		return 0, "", err
	}
	return defaultWindow, text, nil
}
