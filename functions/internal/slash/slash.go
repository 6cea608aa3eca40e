// Package slash answers the /slackbot slash command: help, echo, notify and
// latency. Quick answers come back at once as ephemeral Block Kit; slow work
// (posting to another channel, building a report) is acknowledged at once
// and finished through the command's response_url, exactly once (package
// deferred). Subcommands are registered in one list (Subcommand), from
// which help is made.
//
// Every Slack user is a possible attacker: text a user wrote is escaped
// wherever the bot repeats it, and notify posts only where the permit
// policy allows that user to.
package slash

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/aws/aws-lambda-go/events"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackutilsx"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/apigw"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/deferred"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/permit"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify"
)

// Reporter builds the latency report req asks for (latency.Builder).
type Reporter interface {
	Report(ctx context.Context, req latency.Request) (notify.Message, error)
}

// Charter draws the latency chart of the last window of source ("" for the
// default one) as a PNG, with the title to show beside it; route "" means
// every route. A window without requests to draw is a nil PNG and no
// error. The interface keeps this package, which the events function links
// too, free of the plotting library (chart.Charts implements it).
type Charter interface {
	Chart(ctx context.Context, source string, window time.Duration, route string) (png []byte, title string, err error)
}

// Handler serves POST /slack/commands.
type Handler struct {
	Verifier verify.Verifier
	Post     notify.Poster  // chat.postMessage, for notify
	Permit   *permit.Policy // who may notify where; nil refuses every notify
	Reports  Reporter       // nil: latency reports are not set up
	// Charts and Upload make `latency … chart`: the chart is drawn and
	// shared in the channel the command was typed in. Either nil: charts
	// are not offered here (no bot token, or a function that cannot draw).
	Charts Charter
	Upload notify.Uploader
	// ChartClaims holds the chart limit, ChartsPerMinute per user, across
	// containers: a Store whose claims have a lease of ChartWindow (the
	// dedupe table). Nil holds it in this handler's memory.
	ChartClaims dedupe.Store
	// ParseRequest reads latency's "[source] [window] [route]"
	// (latency.Builder.ParseRequest, which knows the sources);
	// DefaultWindow is used when the user gives none. Nil takes all the
	// text as a route of the default source.
	ParseRequest  func(text string, defaultWindow time.Duration) (latency.Request, error)
	DefaultWindow time.Duration
	// Later runs slow work after the answer (a *deferred.Runner, which
	// must run Kind jobs with FinishJob); nil: slow work runs before it.
	Later deferred.Later
	// APIURL is SLACK_API_URL when set: response URLs on its host are
	// accepted besides Slack's own (local runs, tests).
	APIURL string
	// Respond, when set, returns the Poster for a response_url it takes
	// (the dev server's local stand-in, tests), or nil to leave it to the
	// default: an ephemeral post to Slack's host only.
	Respond func(responseURL string) notify.Poster
	Log     *slog.Logger

	added       []Subcommand
	chartMemory sync.Once
	chartClaims dedupe.Store
}

// Kind is the kind of the deferred jobs of slow subcommands.
const Kind = "command"

// ServeCommand answers one API Gateway proxy request. Refusals are answered
// with their 4xx; the error return is for the Lambda runtime and is always nil.
func (h *Handler) ServeCommand(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	resp, err := h.serve(ctx, req)
	return apigw.Answer(h.Log, resp, err, "requestId", req.RequestContext.RequestID), nil
}

func (h *Handler) serve(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	body, err := apigw.Body(req)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	// Slack checks the URL's certificate now and then with ssl_check=1; it
	// wants a 200 and nothing is done, so there is nothing to verify.
	if form, err := url.ParseQuery(string(body)); err == nil && form.Get("ssl_check") == "1" {
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
	}
	if err := h.Verifier.Verify(apigw.Header(req), body); err != nil {
		return events.APIGatewayProxyResponse{}, apigw.Errorf(http.StatusUnauthorized, "%s", err)
	}
	cmd, err := Parse(body)
	if err != nil {
		return events.APIGatewayProxyResponse{}, apigw.Errorf(http.StatusBadRequest, "%s", err)
	}
	h.Log.Info("command", "command", cmd.Command, "subcommand", subcommand(cmd.Text), "user", cmd.UserID, "team", cmd.TeamID)
	return apigw.JSON(http.StatusOK, h.answer(ctx, cmd)), nil
}

// Parse reads a slash command's form body with slack-go, and checks the
// fields every command has.
func Parse(body []byte) (slack.SlashCommand, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return slack.SlashCommand{}, errors.New("body is empty")
	}
	r, err := http.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	if err != nil {
		return slack.SlashCommand{}, fmt.Errorf("read form: %w", err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	cmd, err := slack.SlashCommandParse(r)
	if err != nil {
		return slack.SlashCommand{}, errors.New("body is not a URL-encoded form")
	}
	if cmd.Command == "" || cmd.UserID == "" {
		return slack.SlashCommand{}, errors.New("form lacks command or user_id: not a slash command")
	}
	return cmd, nil
}

// cutWords splits the first n words off text and returns the rest with the
// user's own spacing and line breaks.
func cutWords(text string, n int) (words []string, rest string) {
	rest = strings.TrimSpace(text)
	for range n {
		if rest == "" {
			break
		}
		i := strings.IndexFunc(rest, unicode.IsSpace)
		if i < 0 {
			return append(words, rest), ""
		}
		words = append(words, rest[:i])
		rest = strings.TrimLeftFunc(rest[i:], unicode.IsSpace)
	}
	return words, rest
}

// subcommand is the first word of the text, lower-cased.
func subcommand(text string) string {
	words, _ := cutWords(text, 1)
	if len(words) == 0 {
		return ""
	}
	return strings.ToLower(words[0])
}

// answer is the immediate, ephemeral reply.
func (h *Handler) answer(ctx context.Context, cmd slack.SlashCommand) *slack.WebhookMessage {
	name := cmp.Or(subcommand(cmd.Text), "help")
	sub, ok := h.lookup(name)
	switch {
	case !ok:
		words, _ := cutWords(cmd.Text, 1)
		return ephemeral(h.help(cmd.Command, fmt.Sprintf("I don't know `%s`.", escape(words[0]))))
	case sub.Slow == nil && sub.Quick == nil:
		return ephemeral(h.help(cmd.Command, ""))
	case sub.Slow == nil:
		return ephemeral(sub.Quick(ctx, cmd))
	}
	ack := "Working on it…"
	if sub.Check != nil {
		var err error
		if ack, err = sub.Check(cmd); err != nil {
			return ephemeral(Text(err.Error()))
		}
	}
	// Acknowledge now and finish later; when the work cannot be deferred,
	// finish first and answer with the result, so the user is never told
	// of work that will not happen.
	if h.Later != nil {
		// The job carries what the work needs and no credential: the
		// legacy verification token stays here.
		job := cmd
		job.Token = ""
		err := h.Later.Later(ctx, Kind, cmp.Or(cmd.TriggerID, cmd.ResponseURL), job)
		if err == nil {
			return ephemeral(Text(ack))
		}
		h.Log.Error("defer command; running it now", "error", err)
	}
	return ephemeral(h.result(ctx, cmd))
}

// FinishJob is the deferred.Func of Kind jobs: a command to Finish.
func (h *Handler) FinishJob(ctx context.Context, body json.RawMessage) error {
	var cmd slack.SlashCommand
	if err := json.Unmarshal(body, &cmd); err != nil {
		return fmt.Errorf("deferred command: %w", err)
	}
	h.Log.Info("deferred command", "command", cmd.Command, "subcommand", subcommand(cmd.Text), "user", cmd.UserID, "triggerId", cmd.TriggerID)
	return h.Finish(ctx, cmd)
}

// Finish does a command's slow part and posts the result to its response_url.
func (h *Handler) Finish(ctx context.Context, cmd slack.SlashCommand) error {
	respond, err := h.responder(cmd.ResponseURL)
	if err != nil {
		return fmt.Errorf("answer %s %s: %w", cmd.Command, subcommand(cmd.Text), err)
	}
	if _, err := respond.Post(ctx, h.result(ctx, cmd)); err != nil {
		return fmt.Errorf("answer %s %s through response_url: %w", cmd.Command, subcommand(cmd.Text), err)
	}
	return nil
}

// responder is the Poster for a response_url: Respond's when it takes the
// URL, else an ephemeral webhook post, only to Slack's own host
// (notify.CheckResponseURL), never following a redirect.
func (h *Handler) responder(responseURL string) (notify.Poster, error) {
	if h.Respond != nil {
		if p := h.Respond(responseURL); p != nil {
			return p, nil
		}
	}
	if err := notify.CheckResponseURL(responseURL, h.APIURL); err != nil {
		return nil, err
	}
	return &notify.Webhook{URL: responseURL, ResponseType: slack.ResponseTypeEphemeral}, nil
}

// result does a subcommand's slow work and says how it went.
func (h *Handler) result(ctx context.Context, cmd slack.SlashCommand) notify.Message {
	sub, ok := h.lookup(subcommand(cmd.Text))
	switch {
	case ok && sub.Slow != nil:
		return sub.Slow(ctx, cmd)
	case ok && sub.Quick != nil:
		return sub.Quick(ctx, cmd)
	}
	return h.help(cmd.Command, "")
}

// chartWord, last after "latency", asks for the chart instead of the report.
const chartWord = "chart"

// latencyArgs reads the "[source] [window] [route] [chart]" after "latency".
func (h *Handler) latencyArgs(cmd slack.SlashCommand) (req latency.Request, chart bool, err error) {
	_, rest := cutWords(cmd.Text, 1)
	words := strings.Fields(rest)
	for i, w := range words {
		if !strings.EqualFold(w, chartWord) {
			continue
		}
		// The chart goes to the channel the command was typed in, which
		// Slack vouches the user is in. A word after it could only be an
		// attempt to send it elsewhere, so it is refused, not ignored.
		if i != len(words)-1 {
			return latency.Request{}, false, fmt.Errorf("`chart` goes last and shares the chart in this channel only, e.g. `%s latency 1h events chart`", escape(cmp.Or(cmd.Command, "/slackbot")))
		}
		chart = true
		rest = strings.TrimSpace(rest[:strings.LastIndex(rest, w)])
	}
	if h.ParseRequest == nil {
		return latency.Request{Window: h.DefaultWindow, Route: rest}, chart, nil
	}
	req, err = h.ParseRequest(rest, h.DefaultWindow)
	if err == nil && req.ListSources && chart {
		err = fmt.Errorf("`latency sources` lists the sources; ask for one source's chart, e.g. `%s latency %s 1h chart`", escape(cmp.Or(cmd.Command, "/slackbot")), contract.DefaultSource)
	}
	return req, chart, err
}

// escape makes outside text literal in Slack's mrkdwn, so no mention,
// broadcast or link can be smuggled in through it.
func escape(s string) string { return slackutilsx.EscapeMessage(s) }

// userID matches Slack's user IDs.
var userID = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)

// userRef mentions a user by ID, or shows the text escaped when it is not one.
func userRef(id string) string {
	if userID.MatchString(id) {
		return "<@" + id + ">"
	}
	return escape(id)
}

// UserError is err in words for the person who asked: what Slack said,
// in words, or where the details are, never the text of an internal error.
func UserError(err error) string {
	var slackSaid *notify.Error
	if errors.As(err, &slackSaid) {
		return slackSaid.Hint
	}
	if notify.Unanswered(err) {
		return "Slack took it but did not confirm in time; it may show up in a moment."
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "it took too long. Try again in a moment."
	}
	return "something went wrong on our side; the details are in the bot's logs."
}
