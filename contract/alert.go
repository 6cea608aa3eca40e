package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// AlertRule is one latency or error-rate alert, as the stack config
// latencyAlerts holds it and the percentiles function reads it from
// EnvAlertRules (a JSON array of them):
//
//	[{"route":"*","quantile":0.99,"threshold_ms":800,"window":"5m"},
//	 {"route":"POST /slack/events","error_ratio":0.01,"window":"15m"},
//	 {"source":"orders","route":"GET /orders","quantile":0.9,"threshold_ms":300,"window":"15m"}]
//
// A rule fires when its window's quantile (or share of 5xx responses) is
// above the threshold, and resolves when it is back under
// AlertResolveFraction of it.
type AlertRule struct {
	// Source is the latency source the rule watches; empty means the
	// default one (see DefaultSourceOf). ResolveAlertSources fills it in.
	Source string `json:"source,omitempty"`
	// Route is "*" for every route together, or a route as `latency` takes
	// it: "POST /slack/events", "/slack/events" or "events".
	Route string `json:"route"`
	// Quantile and ThresholdMs make a latency rule: the quantile of
	// responseLatency, in milliseconds.
	Quantile    float64 `json:"quantile,omitempty"`
	ThresholdMs float64 `json:"threshold_ms,omitempty"`
	// ErrorRatio makes an error rule: the threshold of the share of 5xx
	// responses, from 0 to 1.
	ErrorRatio float64 `json:"error_ratio,omitempty"`
	// Window is how far back each check looks, in ParseWindow's syntax.
	Window string `json:"window"`

	// WindowDuration is Window parsed; ParseAlertRules sets it.
	WindowDuration time.Duration `json:"-"`
}

// AlertResolveFraction is the share of its threshold a firing rule's value
// must fall under to resolve. The gap keeps a value hovering at the
// threshold from posting a message every minute.
const AlertResolveFraction = 0.9

// MaxAlertRules bounds the rules: each is checked after every access-log
// batch, and each check reads its window from DynamoDB.
const MaxAlertRules = 20

// IsErrorRule says whether r watches the 5xx share rather than a latency.
func (r AlertRule) IsErrorRule() bool { return r.ErrorRatio > 0 }

// Threshold is the value the rule fires above: milliseconds, or a ratio.
func (r AlertRule) Threshold() float64 {
	if r.IsErrorRule() {
		return r.ErrorRatio
	}
	return r.ThresholdMs
}

// ID names the rule's alert state. It is made of everything that defines
// the rule, so a changed rule starts afresh instead of inheriting the old
// one's state. A rule on the bot's own API has the ID it had before rules
// had sources, so its state carries over.
func (r AlertRule) ID() string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	var parts []string
	if r.Source != "" && r.Source != DefaultSource {
		parts = append(parts, "@"+r.Source)
	}
	if r.IsErrorRule() {
		parts = append(parts, r.Route, "5xx", f(r.ErrorRatio), FormatWindow(r.WindowDuration))
	} else {
		parts = append(parts, r.Route, "p"+f(r.Quantile*100), f(r.ThresholdMs), FormatWindow(r.WindowDuration))
	}
	return strings.Join(parts, "|")
}

// ResolveAlertSources gives each rule without a source the default source
// of sources (DefaultSourceOf) and refuses a rule whose source is neither
// a configured one nor DefaultSource. The stack config and the functions
// both call it, so a rule on a source that is not there fails the preview
// rather than never firing. An error names the rule by its index.
func ResolveAlertSources(rules []AlertRule, sources []LatencySource) ([]AlertRule, error) {
	known := map[string]bool{DefaultSource: true}
	names := []string{}
	for _, s := range sources {
		known[s.Name] = true
		names = append(names, s.Name)
	}
	names = append(names, DefaultSource)
	if len(rules) == 0 {
		return nil, nil
	}
	def := DefaultSourceOf(sources)
	out := make([]AlertRule, len(rules))
	seen := map[string]int{}
	for i, r := range rules {
		if r.Source == "" {
			r.Source = def
		}
		if !known[r.Source] {
			return nil, fmt.Errorf("alert rule %d: source %q is not a latency source: want one of %s",
				i, r.Source, strings.Join(names, ", "))
		}
		// Two rules can differ only in one naming the default source and
		// the other leaving it out.
		if j, dup := seen[r.ID()]; dup {
			return nil, fmt.Errorf("alert rule %d: the same as rule %d", i, j)
		}
		seen[r.ID()] = i
		out[i] = r
	}
	return out, nil
}

// ParseAlertRules reads EnvAlertRules (or the stack's latencyAlerts). Empty
// means no rules. An error names the rule by its index (from 0) and says
// what is wrong with it.
func ParseAlertRules(s string) ([]AlertRule, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	var raw []json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("alert rules: want a JSON array of rules like %s: %w", `[{"route":"*","quantile":0.99,"threshold_ms":800,"window":"5m"}]`, err)
	}
	if dec.More() {
		return nil, errors.New("alert rules: text after the JSON array")
	}
	if len(raw) > MaxAlertRules {
		return nil, fmt.Errorf("alert rules: %d rules, at most %d: each is checked after every access-log batch", len(raw), MaxAlertRules)
	}
	rules := make([]AlertRule, 0, len(raw))
	seen := map[string]int{}
	for i, r := range raw {
		rule, err := parseAlertRule(r)
		if err != nil {
			return nil, fmt.Errorf("alert rule %d: %w", i, err)
		}
		// Keyed by the source as written too: a rule without a source and
		// one on DefaultSource differ until ResolveAlertSources says which
		// source the first means.
		key := rule.Source + "|" + rule.ID()
		if j, dup := seen[key]; dup {
			return nil, fmt.Errorf("alert rule %d: the same as rule %d", i, j)
		}
		seen[key] = i
		rules = append(rules, rule)
	}
	return rules, nil
}

func parseAlertRule(b []byte) (AlertRule, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r AlertRule
	if err := dec.Decode(&r); err != nil {
		return AlertRule{}, fmt.Errorf("want an object with route, window, and quantile with threshold_ms or error_ratio: %w", err)
	}
	if r.Source != "" && !IsSourceName(r.Source) {
		return AlertRule{}, fmt.Errorf("source %q: want a latency source's name, 1 to 32 of a-z, 0-9 and -", r.Source)
	}
	r.Route = strings.TrimSpace(r.Route)
	if r.Route == "" {
		return AlertRule{}, errors.New(`route is missing: "*" for all routes, or one like "POST /slack/events"`)
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	latency := r.Quantile != 0 || r.ThresholdMs != 0
	switch {
	case latency && r.ErrorRatio != 0:
		return AlertRule{}, errors.New("give quantile with threshold_ms, or error_ratio, not both")
	case !latency && r.ErrorRatio == 0:
		return AlertRule{}, errors.New("give quantile with threshold_ms (a latency rule) or error_ratio (a 5xx rule)")
	case latency && !(r.Quantile > 0 && r.Quantile < 1):
		return AlertRule{}, fmt.Errorf("quantile %v: want a number between 0 and 1, like 0.99", r.Quantile)
	case latency && !(r.ThresholdMs > 0 && finite(r.ThresholdMs)):
		return AlertRule{}, fmt.Errorf("threshold_ms %v: want a positive number of milliseconds", r.ThresholdMs)
	case !latency && !(r.ErrorRatio > 0 && r.ErrorRatio <= 1):
		return AlertRule{}, fmt.Errorf("error_ratio %v: want a share of responses above 0 and at most 1, like 0.01", r.ErrorRatio)
	}
	if r.Window == "" {
		return AlertRule{}, errors.New(`window is missing: how far back each check looks, like "5m"`)
	}
	w, err := ParseWindow(r.Window)
	if err != nil {
		return AlertRule{}, fmt.Errorf("window: %w", err)
	}
	r.WindowDuration = w
	return r, nil
}
