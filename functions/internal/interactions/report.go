package interactions

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/apigw"
	"github.com/lambda-slackbot/slackbot/functions/internal/chat"
	"github.com/lambda-slackbot/slackbot/functions/internal/deferred"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/slash"
)

// ReportKind is the kind of the deferred jobs of report clicks.
const ReportKind = "report-click"

// maxRoute bounds a route from a click: routes are API paths, and anything
// longer was not made by the report.
const maxRoute = 200

// Reports answers clicks on the latency report's window buttons and route
// menu (contract.ActionReportWindow, contract.ActionReportRoute) with the
// report for the choice the element carries, and changes only what the
// clicker sees: an ephemeral report (the clicker's own) is replaced through
// its response_url; a report posted in a channel is everyone's, so the
// clicker gets the new report ephemerally and the message, with its
// metadata, stays as it was. Building a report reads up to days of
// sketches, so it is deferred.
type Reports struct {
	Reports latency.Reporter
	Later   deferred.Later // nil: the report is built before the answer
	// APIURL and Respond are as in slash.Handler: response URLs are
	// answered only on Slack's host, or SLACK_API_URL's, or by Respond.
	APIURL  string
	Respond func(responseURL string) chat.Poster
	Log     *slog.Logger
}

// Register adds the report's actions to h.
func (r *Reports) Register(h *Handler) {
	h.On(slack.InteractionTypeBlockActions, contract.ActionReportWindow, r.Click)
	h.On(slack.InteractionTypeBlockActions, contract.ActionReportRoute, r.Click)
}

// click is a report click as it is deferred: all it needs, so no state is
// kept between the click and the replacement.
type click struct {
	// Source "" (a job deferred before sources existed) is the bot's own.
	Source      string        `json:"source,omitempty"`
	Window      time.Duration `json:"window"`
	Route       string        `json:"route"`
	ResponseURL string        `json:"response_url"`
	// Replace says the clicked report is ephemeral, so the new one takes
	// its place; else the new one is a message of its own, to the clicker.
	Replace bool `json:"replace,omitempty"`
}

// Click is the Func of the report's buttons and menu.
func (r *Reports) Click(ctx context.Context, cb *slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
	a := cb.ActionCallback.BlockActions[0]
	value := a.Value
	if a.SelectedOption.Value != "" {
		value = a.SelectedOption.Value
	}
	choice, err := ParseChoice(value)
	if err != nil {
		return nil, apigw.Errorf(http.StatusBadRequest, "%s: %s", a.ActionID, err)
	}
	window, _ := contract.ParseWindow(choice.Window) // ParseChoice checked it
	// A choice without a source is of the bot's own report, whatever the
	// default source is now: buttons made before sources name none.
	c := click{Source: cmp.Or(choice.Source, contract.DefaultSource), Window: window, Route: choice.Route, ResponseURL: cb.ResponseURL,
		Replace: cb.Container.Type == "message" && cb.Container.IsEphemeral}
	if cb.TriggerID == "" {
		return nil, apigw.Errorf(http.StatusBadRequest, "block_actions payload without a trigger_id")
	}
	if r.Later != nil {
		err := r.Later.Later(ctx, ReportKind, cb.TriggerID, c)
		if err == nil {
			return nil, nil
		}
		apigw.Log(r.Log).Error("defer report click; building the report now", "error", err)
	}
	return nil, r.replace(ctx, c)
}

// ParseChoice reads a report element's value: a contract.ReportChoice as
// JSON, whose window ParseWindow accepts and whose source, when there is
// one, is a source's name.
func ParseChoice(value string) (contract.ReportChoice, error) {
	var c contract.ReportChoice
	if err := json.Unmarshal([]byte(value), &c); err != nil {
		return contract.ReportChoice{}, errors.New("value is not a report choice")
	}
	if _, err := contract.ParseWindow(c.Window); err != nil {
		return contract.ReportChoice{}, fmt.Errorf("window: %w", err)
	}
	if !utf8.ValidString(c.Route) || len(c.Route) > maxRoute {
		return contract.ReportChoice{}, errors.New("route is not a route name")
	}
	if c.Source != "" && !contract.IsSourceName(c.Source) {
		return contract.ReportChoice{}, errors.New("source is not a latency source's name")
	}
	return c, nil
}

// FinishJob is the deferred.Func of ReportKind jobs.
func (r *Reports) FinishJob(ctx context.Context, body json.RawMessage) error {
	var c click
	if err := json.Unmarshal(body, &c); err != nil {
		return fmt.Errorf("deferred report click: %w", err)
	}
	return r.replace(ctx, c)
}

// replace builds the report and shows it to the clicker: in place of an
// ephemeral report, or as a message of its own. A report that cannot be
// built leaves the message as it was and tells the user why, ephemerally.
func (r *Reports) replace(ctx context.Context, c click) error {
	log := apigw.Log(r.Log).With("source", c.Source, "window", c.Window.String(), "route", c.Route, "replace", c.Replace)
	if r.Reports == nil {
		return r.tell(ctx, c, "Percentile reports are not set up here.")
	}
	m, err := r.Reports.Report(ctx, latency.Request{Source: cmp.Or(c.Source, contract.DefaultSource), Window: c.Window, Route: c.Route})
	if err != nil {
		log.Error("latency report for a click", "error", err)
		return r.tell(ctx, c, "Couldn't build the report: "+slash.UserError(err))
	}
	p, err := r.responder(c.ResponseURL, c.Replace)
	if err != nil {
		return fmt.Errorf("replace report: %w", err)
	}
	if _, err := p.Post(ctx, m); err != nil {
		return fmt.Errorf("replace report through response_url: %w", err)
	}
	return nil
}

// tell answers the clicking user alone, leaving the message as it was.
func (r *Reports) tell(ctx context.Context, c click, text string) error {
	p, err := r.responder(c.ResponseURL, false)
	if err != nil {
		return fmt.Errorf("answer report click: %w", err)
	}
	if _, err := p.Post(ctx, slash.Text(text)); err != nil {
		return fmt.Errorf("answer report click through response_url: %w", err)
	}
	return nil
}

// responder is the Poster for a response_url: Respond's when it takes the
// URL, else a webhook post, only to Slack's own host, never following a
// redirect.
func (r *Reports) responder(responseURL string, replace bool) (chat.Poster, error) {
	if r.Respond != nil {
		if p := r.Respond(responseURL); p != nil {
			if w, ok := p.(*chat.Webhook); ok {
				w.ReplaceOriginal = replace
			}
			return p, nil
		}
	}
	if err := chat.CheckResponseURL(responseURL, r.APIURL); err != nil {
		return nil, err
	}
	return &chat.Webhook{URL: responseURL, ResponseType: slack.ResponseTypeEphemeral, ReplaceOriginal: replace}, nil
}
