package latency

import (
	"strings"
	"time"

	"github.com/lambda-slackbot/slackbot/contract"
)

// Request is a report someone asked for.
type Request struct {
	// Source is the latency source to report; "" is the default one (see
	// contract.DefaultSourceOf), which the Builder fills in.
	Source string
	Window time.Duration
	// Route "" means every route of the source.
	Route string
	// ListSources asks for the list of sources instead of a report:
	// `latency sources`.
	ListSources bool
}

// SourcesWord, alone after "latency", asks for the list of sources.
const SourcesWord = "sources"

// ParseRequest reads the arguments of "/slackbot latency [source] [window]
// [route]" or of a mention such as "latency orders 1h GET /orders": an
// optional source first, one of sources or contract.DefaultSource by its
// exact name; then an optional window (contract.ParseWindow, the rule the
// stack config uses too); then an optional route, which may contain a space
// ("POST /slack/events"). A word that is not a window but looks like one
// ("2x") is an error; anything else is taken as the route. "sources" alone
// asks for the list of sources.
func ParseRequest(text string, sources []contract.LatencySource, defaultWindow time.Duration) (Request, error) {
	text = strings.TrimSpace(text)
	if strings.EqualFold(text, SourcesWord) {
		return Request{ListSources: true}, nil
	}
	req := Request{Window: defaultWindow}
	first, rest, _ := strings.Cut(text, " ")
	if isSource(first, sources) {
		req.Source, text = first, strings.TrimSpace(rest)
		first, rest, _ = strings.Cut(text, " ")
	}
	if first == "" {
		return req, nil
	}
	if w, err := contract.ParseWindow(first); err == nil {
		req.Window, req.Route = w, strings.TrimSpace(rest)
		return req, nil
	} else if first[0] >= '0' && first[0] <= '9' {
		return Request{}, err
	}
	req.Route = text
	return req, nil
}

// RequestParser is ParseRequest for a fixed list of sources, in the shape
// the slash command and the mention take.
func RequestParser(sources []contract.LatencySource) func(text string, defaultWindow time.Duration) (Request, error) {
	return func(text string, defaultWindow time.Duration) (Request, error) {
		return ParseRequest(text, sources, defaultWindow)
	}
}

func isSource(name string, sources []contract.LatencySource) bool {
	if name == contract.DefaultSource {
		return true
	}
	for _, s := range sources {
		if s.Name == name {
			return true
		}
	}
	return false
}
