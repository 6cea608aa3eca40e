// Package notify sends messages to Slack: chat.postMessage (channel by name or
// ID), incoming webhooks, and slash-command response URLs. Every call has a
// deadline (CallTimeout, and at most half of what is left), a request Slack
// got and never answered is told apart from a refusal (Unanswered), Slack's
// 429 answers are retried within a bounded wait, and Slack's error codes
// become words a person can act on.
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/contract"
)

// Message is one message to post. Text is the notification fallback and is
// always set; Blocks, when present, is what people see.
type Message struct {
	Channel  string // name ("general", "#general") or ID ("C0123ABCD"); ignored by webhooks
	Text     string
	Blocks   []slack.Block
	ThreadTS string
	Metadata *slack.SlackMetadata
}

// Posted says where a message went.
type Posted struct {
	ChannelID string
	TS        string
}

// Poster sends a message. *Client, *Webhook and *Printer implement it.
type Poster interface {
	Post(ctx context.Context, m Message) (Posted, error)
}

// Printer is the Poster of a local run without a bot token: it writes each
// message as the JSON chat.postMessage would receive, so a person can see it.
type Printer struct {
	mu sync.Mutex
	W  io.Writer
}

// Post writes m to p.W.
func (p *Printer) Post(_ context.Context, m Message) (Posted, error) {
	b, err := json.MarshalIndent(PostMessageBody(m), "", "  ")
	if err != nil {
		return Posted{}, fmt.Errorf("encode message: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := fmt.Fprintf(p.W, "[slack chat.postMessage, not sent: no bot token]\n%s\n", b); err != nil {
		return Posted{}, fmt.Errorf("print message: %w", err)
	}
	return Posted{ChannelID: m.Channel, TS: "printed"}, nil
}

// ResolveChannel is what a local run without a workspace can say of a
// channel: its name as typed, without "#", or its ID.
func (p *Printer) ResolveChannel(_ context.Context, channel string) (string, error) {
	id, name, err := parseChannel(channel)
	return id + name, err
}

// IsMember is always true in a local run: there is no workspace to ask, and
// nothing printed reaches anyone.
func (p *Printer) IsMember(context.Context, string, string) (bool, error) { return true, nil }

// PostMessageBody is m as the JSON body of chat.postMessage, for printing and
// for tests that compare what Slack receives.
func PostMessageBody(m Message) map[string]any {
	body := map[string]any{"channel": m.Channel, "text": m.Text}
	if len(m.Blocks) > 0 {
		body["blocks"] = m.Blocks
	}
	if m.ThreadTS != "" {
		body["thread_ts"] = m.ThreadTS
	}
	if m.Metadata != nil {
		body["metadata"] = m.Metadata
	}
	return body
}

// Error is a Slack failure explained for the person who asked.
type Error struct {
	Code string // Slack's error code, e.g. "channel_not_found"
	Hint string // what it means and what to do
	Err  error
}

func (e *Error) Error() string { return e.Hint }
func (e *Error) Unwrap() error { return e.Err }

// hints are Slack's error codes that a user can act on.
var hints = map[string]string{
	"channel_not_found":                 "I can't find that channel. Check the name, or use the channel ID; private channels need the bot invited first.",
	"not_in_channel":                    "I'm not a member of that channel. Invite me with /invite @slackbot, or grant the chat:write.public scope.",
	"is_archived":                       "That channel is archived.",
	"invalid_auth":                      "Slack rejected the bot token (invalid_auth). Reinstall the app and update the stored bot_token.",
	"not_authed":                        "No bot token was sent to Slack. Set bot_token in the secret (or SLACK_BOT_TOKEN locally).",
	"token_revoked":                     "The bot token was revoked. Reinstall the app and update the stored bot_token.",
	"account_inactive":                  "The bot's account is deactivated. Reinstall the app.",
	"missing_scope":                     "The bot lacks a scope for this. Reinstall the app from its manifest, which asks for " + strings.Join(contract.BotScopes, ", ") + ".",
	"msg_too_long":                      "The message is too long for Slack.",
	"no_text":                           "The message is empty.",
	"restricted_action":                 "The workspace doesn't allow the bot to post there.",
	"ratelimited":                       "Slack is rate limiting the bot. Try again in a minute.",
	"invalid_token":                     "The incoming webhook URL is no longer valid. Create a new webhook and update webhook_url.",
	"no_service":                        "The incoming webhook was disabled or removed. Create a new one and update webhook_url.",
	"channel_is_archived":               "That channel is archived.",
	"action_prohibited":                 "An admin restricted posting to that channel.",
	"posting_to_general_channel_denied": "Only admins may post to that channel.",
}

// explain turns err from slack-go into an *Error when Slack named the problem.
func explain(err error) error {
	if err == nil {
		return nil
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &Error{Code: "ratelimited", Hint: fmt.Sprintf("Slack is rate limiting the bot; try again in %s.", rl.RetryAfter), Err: err}
	}
	var se slack.SlackErrorResponse
	code := ""
	switch {
	case errors.As(err, &se):
		code = se.Err
	default:
		// slack-go returns plain errors whose text is Slack's code for some
		// calls. Anything else (no connection, a 5xx, a canceled context) is
		// not Slack's answer and must not read as one: callers take an *Error
		// as Slack's definite word and would not retry.
		code = err.Error()
		if _, ok := hints[code]; !ok {
			return err
		}
	}
	if code == "missing_scope" && se.Needed != "" {
		// Slack names the scope the call needed; say that one.
		return &Error{Code: code, Hint: fmt.Sprintf("The bot lacks the %s scope for this. Add it under OAuth & Permissions (or in the manifest) and reinstall the app.", se.Needed), Err: err}
	}
	if hint, ok := hints[code]; ok {
		return &Error{Code: code, Hint: hint, Err: err}
	}
	return &Error{Code: code, Hint: "Slack said: " + code, Err: err}
}

// New returns the Poster for a bot token: a *Client, or with no token a
// *Printer on w, so a local run without Slack shows what it would have sent.
func New(botToken, apiURL string, w io.Writer) Poster {
	if botToken == "" {
		return &Printer{W: w}
	}
	return NewClient(botToken, apiURL, Retry{})
}

// NoToken is the Poster of a deployed bot whose secret has no bot_token: it
// refuses, in words, rather than pretend to post.
type NoToken struct{}

// Post implements Poster.
func (NoToken) Post(context.Context, Message) (Posted, error) {
	return Posted{}, &Error{Code: "not_authed", Hint: hints["not_authed"]}
}

// ResolveChannel refuses as Post does: without a token nothing can be looked up.
func (NoToken) ResolveChannel(context.Context, string) (string, error) {
	return "", &Error{Code: "not_authed", Hint: hints["not_authed"]}
}

// IsMember refuses as Post does.
func (NoToken) IsMember(context.Context, string, string) (bool, error) {
	return false, &Error{Code: "not_authed", Hint: hints["not_authed"]}
}
