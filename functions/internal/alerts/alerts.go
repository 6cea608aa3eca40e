// Package alerts checks the latency and error-rate rules of
// SLACKBOT_ALERT_RULES (contract.AlertRule) against the sketch store, and
// posts one message per change of a rule's state.
//
// A rule fires when its window's quantile (or share of 5xx responses) is
// above its threshold, and resolves when the value is back under
// contract.AlertResolveFraction of it; in between nothing changes, so a
// value hovering at the threshold does not post every minute. The state is
// changed with a conditional write (see State) before the message is
// posted, so of the concurrent ingests that see the same change exactly one
// posts it.
package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackutilsx"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
)

// MetadataEventType is the event_type of an alert's message metadata.
const MetadataEventType = "latency_alert"

// Status is a rule's state. A rule never seen firing has none ("").
type Status string

const (
	Firing   Status = "firing"
	Resolved Status = "resolved"
)

// State keeps each rule's status where every invocation sees it.
type State interface {
	// Change sets rule id's status to to, if it is one of from ("" standing
	// for a rule without a status), in one atomic step, and reports whether
	// this call made the change. Of concurrent calls making the same
	// change, exactly one gets true.
	Change(ctx context.Context, id string, from []Status, to Status, at time.Time) (bool, error)
}

// Checker checks rules and posts their changes.
type Checker struct {
	Rules   []contract.AlertRule
	Store   sketchstore.Store
	State   State
	Post    notify.Poster
	Channel string // where alerts go; ignored by a webhook
	Log     *slog.Logger
}

// Change is one rule's change of state: posted, or refused by Slack for
// good (Refused is Slack's error code).
type Change struct {
	Rule    string  `json:"rule"`
	Status  Status  `json:"status"`
	Value   float64 `json:"value"`
	Refused string  `json:"refused,omitempty"`
}

// Check evaluates every rule over its window ending at end (a minute
// start, exclusive) and posts each change of state. A post that fails for
// now, or that Slack took and never answered, puts the state back and
// returns the error, so the invocation's retry, or the next check, posts it.
// A post Slack refused for good is logged and the change stands.
func (c *Checker) Check(ctx context.Context, end time.Time) ([]Change, error) {
	return c.check(ctx, end, func(contract.AlertRule) bool { return true })
}

// CheckSource is Check of source's rules only: after an ingest, the rules
// of the source the batch came from, the only ones it can change.
func (c *Checker) CheckSource(ctx context.Context, end time.Time, source string) ([]Change, error) {
	return c.check(ctx, end, func(r contract.AlertRule) bool { return ruleSource(r) == source })
}

// ruleSource is r's source; the functions resolve every rule's
// (contract.ResolveAlertSources), and "" is read as the bot's own.
func ruleSource(r contract.AlertRule) string {
	if r.Source == "" {
		return contract.DefaultSource
	}
	return r.Source
}

func (c *Checker) check(ctx context.Context, end time.Time, checked func(contract.AlertRule) bool) ([]Change, error) {
	if len(c.Rules) == 0 {
		return nil, nil
	}
	end = time.Unix(sketchstore.MinuteOf(end.Add(time.Minute-time.Nanosecond)), 0).UTC()
	type window struct {
		source string
		d      time.Duration
	}
	windows := map[window]map[string]*sketchstore.Sketches{}
	var changes []Change
	var errs []error
	for _, r := range c.Rules {
		if !checked(r) {
			continue
		}
		w := window{ruleSource(r), r.WindowDuration}
		data, ok := windows[w]
		if !ok {
			var err error
			data, err = sketchstore.Range(ctx, c.Store, w.source, end.Add(-r.WindowDuration), end)
			if err != nil {
				return changes, fmt.Errorf("alert rules: read the last %s of %s: %w", r.Window, w.source, err)
			}
			windows[w] = data
		}
		ch, err := c.checkRule(ctx, r, data, end)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ch != nil {
			changes = append(changes, *ch)
		}
	}
	return changes, errors.Join(errs...)
}

// measure is a rule's value over data: the quantile in milliseconds, or
// the share of 5xx responses; and how many requests it is of.
func measure(r contract.AlertRule, data map[string]*sketchstore.Sketches) (value float64, count int64) {
	sel := sketchstore.NewSketches()
	routes := make([]string, 0, len(data))
	for route := range data {
		routes = append(routes, route)
	}
	if r.Route != "*" {
		routes = latency.MatchRoutes(r.Route, routes)
	}
	for _, route := range routes {
		_ = sel.Merge(data[route]) // one mapping for every sketch: cannot fail
	}
	if r.IsErrorRule() {
		return sel.ErrorRatio(), sel.Requests
	}
	if sel.Response.IsEmpty() {
		return 0, 0
	}
	v, err := sel.Response.GetValueAtQuantile(r.Quantile)
	if err != nil {
		return 0, 0
	}
	return v, int64(math.Round(sel.Response.GetCount()))
}

func (c *Checker) checkRule(ctx context.Context, r contract.AlertRule, data map[string]*sketchstore.Sketches, end time.Time) (*Change, error) {
	value, count := measure(r, data)
	var from []Status
	var to Status
	switch th := r.Threshold(); {
	case value > th:
		from, to = []Status{"", Resolved}, Firing
	case value < contract.AlertResolveFraction*th:
		from, to = []Status{Firing}, Resolved
	default:
		return nil, nil
	}
	changed, err := c.State.Change(ctx, r.ID(), from, to, end)
	if err != nil {
		return nil, fmt.Errorf("alert %s: change state to %s: %w", r.ID(), to, err)
	}
	if !changed {
		return nil, nil
	}
	msg := Message(r, to, value, count)
	msg.Channel = c.Channel
	if _, err := c.Post.Post(ctx, msg); err != nil {
		var slackSaid *notify.Error
		if errors.As(err, &slackSaid) && slackSaid.Code != "ratelimited" {
			// Slack's definite refusal (not_in_channel, invalid_auth, ...):
			// the same post would be refused again, and failing would make
			// every ingest fail and be retried while the rule holds. The
			// change stands, so this is said once, here.
			c.log().Error("alert not posted: Slack refused it; the change stands and is not posted again",
				"rule", r.ID(), "status", to, "code", slackSaid.Code, "error", err)
			return &Change{Rule: r.ID(), Status: to, Value: value, Refused: slackSaid.Code}, nil
		}
		// Slack refused for now (a 5xx, a 429, no connection), or took the
		// post and never answered. Losing an alert is worse than repeating
		// one, so the change goes back to pending: the next check posts it
		// (at least once). On a context of its own: a slow Slack may have
		// spent ctx, and a put-back that fails would lose the alert.
		settle, settled := dedupe.Settle(ctx)
		defer settled()
		back := Resolved
		if to == Resolved {
			back = Firing
		}
		if _, undo := c.State.Change(settle, r.ID(), []Status{to}, back, end); undo != nil {
			err = errors.Join(err, fmt.Errorf("put the state back: %w", undo))
		}
		return nil, fmt.Errorf("alert %s: post %s: %w", r.ID(), to, err)
	}
	c.log().Info("alert", "rule", r.ID(), "status", to, "value", value, "count", count)
	return &Change{Rule: r.ID(), Status: to, Value: value}, nil
}

func (c *Checker) log() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

// Message is the alert's message: a line a person reads, and metadata
// event_type latency_alert with its numbers for programs.
func Message(r contract.AlertRule, s Status, value float64, count int64) notify.Message {
	what, val, th := "", "", ""
	if r.IsErrorRule() {
		what, val, th = "5xx share", percent(value), percent(r.ErrorRatio)
	} else {
		what, val, th = "p"+strconv.FormatFloat(r.Quantile*100, 'g', -1, 64), ms(value), ms(r.ThresholdMs)
	}
	subject := r.Route
	if subject == "*" {
		subject = "all routes"
	}
	if src := ruleSource(r); src != contract.DefaultSource {
		subject += " of " + src
	}
	var text string
	if s == Firing {
		text = fmt.Sprintf(":red_circle: Alert: %s of %s over the last %s is %s, above %s (%s).",
			what, subject, r.Window, val, th, requests(count))
	} else {
		var under string
		if r.IsErrorRule() {
			under = percent(contract.AlertResolveFraction * r.ErrorRatio)
		} else {
			under = ms(contract.AlertResolveFraction * r.ThresholdMs)
		}
		text = fmt.Sprintf(":large_green_circle: Resolved: %s of %s over the last %s is %s, under %s (%s).",
			what, subject, r.Window, val, under, requests(count))
	}
	// The route is the operator's config, but it may name a route from the
	// access log; like every text the bot repeats, it goes out escaped.
	text = slackutilsx.EscapeMessage(text)
	payload := map[string]any{
		"source":         ruleSource(r),
		"route":          r.Route,
		"value":          value,
		"state":          string(s),
		"window_seconds": int64(r.WindowDuration / time.Second),
		"count":          count,
	}
	if r.IsErrorRule() {
		payload["error_ratio"] = value
		payload["threshold_ratio"] = r.ErrorRatio
	} else {
		payload["quantile"] = r.Quantile
		payload["threshold_ms"] = r.ThresholdMs
	}
	return notify.Message{
		Text:     text,
		Blocks:   []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil)},
		Metadata: &slack.SlackMetadata{EventType: MetadataEventType, EventPayload: payload},
	}
}

func ms(v float64) string {
	switch {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64) + " ms"
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64) + " ms"
	}
	return strconv.FormatFloat(math.Round(v), 'f', 0, 64) + " ms"
}

func percent(v float64) string {
	s := strconv.FormatFloat(v*100, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}

func requests(n int64) string {
	if n == 1 {
		return "1 request"
	}
	return strconv.FormatInt(n, 10) + " requests"
}
