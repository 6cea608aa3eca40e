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
	"github.com/lambda-slackbot/slackbot/functions/internal/deferred"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/slash"
)

// Reporter builds the latency report req asks for (latency.Builder).
type Reporter interface {
	Report(ctx context.Context, req latency.Request) (notify.Message, error)
}

// Updater replaces a message the bot posted (chat.update).
type Updater interface {
	Update(ctx context.Context, channelID, ts string, m notify.Message) error
}

// ReportKind is the kind of the deferred jobs of report clicks.
const ReportKind = "report-click"

// maxRoute bounds a route from a click: routes are API paths, and anything
// longer was not made by the report.
const maxRoute = 200

// Reports answers clicks on the latency report's window buttons and route
// menu (contract.ActionReportWindow, contract.ActionReportRoute): the
// message is replaced by the report for the choice the element carries.
// Building a report reads up to days of sketches, so it is deferred.
type Reports struct {
	Reports Reporter
	Later   deferred.Later // nil: the report is built before the answer
	// Update replaces channel messages; nil (no bot token) leaves every
	// replacement to the response_url.
	Update Updater
	// APIURL and Respond are as in slash.Handler: response URLs are
	// answered only on Slack's host, or SLACK_API_URL's, or by Respond.
	APIURL  string
	Respond func(responseURL string) notify.Poster
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
	// Channel and TS name a channel message, which chat.update replaces;
	// empty for an ephemeral one, which only its response_url can.
	Channel string `json:"channel,omitempty"`
	TS      string `json:"ts,omitempty"`
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
	c := click{Source: cmp.Or(choice.Source, contract.DefaultSource), Window: window, Route: choice.Route, ResponseURL: cb.ResponseURL}
	if cb.Container.Type == "message" && !cb.Container.IsEphemeral {
		c.Channel, c.TS = cmp.Or(cb.Container.ChannelID, cb.Channel.ID), cmp.Or(cb.Container.MessageTs, cb.Message.Timestamp)
	}
	if cb.TriggerID == "" {
		return nil, apigw.Errorf(http.StatusBadRequest, "block_actions payload without a trigger_id")
	}
	if r.Later != nil {
		err := r.Later.Later(ctx, ReportKind, cb.TriggerID, c)
		if err == nil {
			return nil, nil
		}
		r.Log.Error("defer report click; building the report now", "error", err)
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
	if c.Source != "" && !contract.SourceNamePattern.MatchString(c.Source) {
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

// replace builds the report and puts it in place of the clicked message.
// A report that cannot be built leaves the message as it was and tells the
// user why, ephemerally.
func (r *Reports) replace(ctx context.Context, c click) error {
	log := r.Log.With("source", c.Source, "window", c.Window.String(), "route", c.Route, "channel", c.Channel)
	if r.Reports == nil {
		return r.tell(ctx, c, "Percentile reports are not set up here.")
	}
	m, err := r.Reports.Report(ctx, latency.Request{Source: cmp.Or(c.Source, contract.DefaultSource), Window: c.Window, Route: c.Route})
	if err != nil {
		log.Error("latency report for a click", "error", err)
		return r.tell(ctx, c, "Couldn't build the report: "+slash.UserError(err))
	}
	if c.Channel != "" && c.TS != "" && r.Update != nil {
		err := r.Update.Update(ctx, c.Channel, c.TS, m)
		if err == nil {
			return nil
		}
		// A message an incoming webhook posted is not the bot's to
		// update; its response_url can still replace it.
		log.Warn("chat.update failed; replacing through response_url", "error", err)
	}
	p, err := r.responder(c.ResponseURL, true)
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
func (r *Reports) responder(responseURL string, replace bool) (notify.Poster, error) {
	if r.Respond != nil {
		if p := r.Respond(responseURL); p != nil {
			return p, nil
		}
	}
	if err := notify.CheckResponseURL(responseURL, r.APIURL); err != nil {
		return nil, err
	}
	return &notify.Webhook{URL: responseURL, ResponseType: slack.ResponseTypeEphemeral, ReplaceOriginal: replace}, nil
}
