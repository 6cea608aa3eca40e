// Package slash answers the /slackbot slash command: help, echo, notify and
// latency. Quick answers come back at once as ephemeral Block Kit; slow work
// (posting to another channel, building a report) is acknowledged at once
// and finished through the command's response_url, exactly once (see
// Deferred).
//
// Every Slack user is a possible attacker: text a user wrote is escaped
// wherever the bot repeats it, and notify posts only where the permit
// policy allows that user to.
package slash

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-lambda-go/events"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackutilsx"

	"github.com/lambda-slackbot/slackbot/functions/internal/apigw"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/permit"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify"
)

// Reporter builds a latency report. route "" means every route.
type Reporter interface {
	Report(ctx context.Context, window time.Duration, route string) (notify.Message, error)
}

// Deferrer runs a sealed command (RunDeferred) after the acknowledgement has
// been sent. On Lambda that is another invocation (a container is frozen
// once it has answered, so a goroutine would not run); locally, a goroutine.
type Deferrer interface {
	Defer(ctx context.Context, d Deferred) error
}

// Handler serves POST /slack/commands.
type Handler struct {
	Verifier verify.Verifier
	Post     notify.Poster  // chat.postMessage, for notify
	Permit   *permit.Policy // who may notify where; nil refuses every notify
	Reports  Reporter       // nil: latency reports are not set up
	// ParseRequest reads latency's "[window] [route]"; DefaultWindow is
	// used when the user gives none. Nil takes all the text as the route.
	ParseRequest  func(text string, defaultWindow time.Duration) (time.Duration, string, error)
	DefaultWindow time.Duration
	Defer         Deferrer // nil: slow work runs before the answer
	// Sealer seals deferred commands; Claims, when set, makes each run
	// once (the dedupe table on Lambda).
	Sealer Sealer
	Claims dedupe.Store
	// APIURL is SLACK_API_URL when set: response URLs on its host are
	// accepted besides Slack's own (local runs, tests).
	APIURL string
	// Respond, when set, returns the Poster for a response_url it takes
	// (the dev server's local stand-in, tests), or nil to leave it to the
	// default: an ephemeral post to Slack's host only.
	Respond func(responseURL string) notify.Poster
	Now     func() time.Time // nil: time.Now
	Log     *slog.Logger
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

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
	first, _, _ := strings.Cut(strings.TrimSpace(text), " ")
	return strings.ToLower(first)
}

// answer is the immediate, ephemeral reply.
func (h *Handler) answer(ctx context.Context, cmd slack.SlashCommand) *slack.WebhookMessage {
	args := strings.Fields(cmd.Text)
	switch subcommand(cmd.Text) {
	case "", "help":
		return ephemeral(help(cmd.Command, ""))
	case "echo":
		return ephemeral(echo(cmd))
	case "notify":
		if len(args) < 3 {
			return ephemeral(help(cmd.Command, "`notify` needs a channel and a message: `"+cmd.Command+" notify #general Deploy done`"))
		}
		return h.deferOrRun(ctx, cmd, fmt.Sprintf("Posting to %s…", escape(args[1])))
	case "latency":
		if h.Reports == nil {
			return ephemeral(text("Percentile reports are not set up yet: the percentiles function has no sketch store here, so there are no numbers to show."))
		}
		if _, _, err := h.latencyArgs(cmd.Text); err != nil {
			return ephemeral(text(err.Error()))
		}
		return h.deferOrRun(ctx, cmd, "Building the latency report…")
	default:
		return ephemeral(help(cmd.Command, fmt.Sprintf("I don't know `%s`.", escape(args[0]))))
	}
}

// deferOrRun acknowledges now and finishes later; without a Deferrer, or
// when deferring fails, it finishes first and answers with the result, so
// the user is never told of work that will not happen.
func (h *Handler) deferOrRun(ctx context.Context, cmd slack.SlashCommand, ack string) *slack.WebhookMessage {
	if h.Defer != nil {
		sealed, err := h.Sealer.Seal(cmd, h.now())
		if err == nil {
			err = h.Defer.Defer(ctx, sealed)
		}
		if err == nil {
			return ephemeral(text(ack))
		}
		h.Log.Error("defer command; running it now", "error", err)
	}
	return ephemeral(h.result(ctx, cmd))
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

// result does the slow work of notify and latency and says how it went.
func (h *Handler) result(ctx context.Context, cmd slack.SlashCommand) notify.Message {
	args := strings.Fields(cmd.Text)
	switch subcommand(cmd.Text) {
	case "notify":
		if len(args) < 3 {
			return help(cmd.Command, "`notify` needs a channel and a message.")
		}
		channel, err := h.Permit.Check(ctx, cmd.UserID, args[1])
		if err != nil {
			if errors.Is(err, permit.ErrRefused) {
				h.Log.Warn("notify refused", "user", cmd.UserID, "reason", err.Error())
				return text(permit.ErrRefused.Error())
			}
			h.Log.Error("notify: check permission", "user", cmd.UserID, "error", err)
			return text("Couldn't post: " + userError(err))
		}
		_, msg := cutWords(cmd.Text, 2)
		posted, err := h.Post.Post(ctx, notify.Message{
			Channel: channel,
			Text:    fmt.Sprintf("%s\n— sent by %s with `%s notify`", escape(msg), userRef(cmd.UserID), escape(cmd.Command)),
		})
		if err != nil {
			h.Log.Error("notify: post", "user", cmd.UserID, "channel", channel, "error", err)
			return text("Couldn't post: " + userError(err))
		}
		return text(fmt.Sprintf("Posted to <#%s>.", posted.ChannelID))
	case "latency":
		window, route, err := h.latencyArgs(cmd.Text)
		if err != nil {
			return text(err.Error())
		}
		m, err := h.Reports.Report(ctx, window, route)
		if err != nil {
			h.Log.Error("latency report", "error", err)
			return text("Couldn't build the report: " + userError(err))
		}
		return m
	default:
		return help(cmd.Command, "")
	}
}

// latencyArgs reads the "[window] [route]" after "latency".
func (h *Handler) latencyArgs(text string) (time.Duration, string, error) {
	_, rest := cutWords(text, 1)
	if h.ParseRequest == nil {
		return h.DefaultWindow, rest, nil
	}
	return h.ParseRequest(rest, h.DefaultWindow)
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

// userError is err in words for the person who typed the command.
func userError(err error) string {
	var slackSaid *notify.Error
	if errors.As(err, &slackSaid) {
		return slackSaid.Hint
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "it took too long. Try again in a moment."
	}
	return "something went wrong on our side; the details are in the bot's logs."
}
