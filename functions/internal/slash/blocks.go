package slash

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
)

// ephemeral is an immediate answer only the user sees.
func ephemeral(m notify.Message) *slack.WebhookMessage {
	return &slack.WebhookMessage{
		ResponseType: slack.ResponseTypeEphemeral,
		Text:         m.Text,
		Blocks:       &slack.Blocks{BlockSet: m.Blocks},
	}
}

func text(s string) notify.Message {
	return notify.Message{
		Text:   s,
		Blocks: []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, s, false, false), nil, nil)},
	}
}

func help(command, note string) notify.Message {
	if command == "" {
		command = "/slackbot"
	}
	command = escape(command)
	lines := []string{
		fmt.Sprintf("`%s help` — this list", command),
		fmt.Sprintf("`%s echo <text>` — show what Slack sent me", command),
		fmt.Sprintf("`%s notify <#channel> <text>` — post to a channel (name or ID), saying you asked", command),
		fmt.Sprintf("`%s latency [window] [route]` — p50/p90/p95/p99 of this bot's API, e.g. `latency 15m events`", command),
	}
	body := strings.Join(lines, "\n")
	blocks := []slack.Block{}
	if note != "" {
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, note, false, false), nil, nil))
	}
	blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*What I can do*\n"+body, false, false), nil, nil))
	fallback := body
	if note != "" {
		fallback = note + "\n" + body
	}
	return notify.Message{Text: fallback, Blocks: blocks}
}

// echo shows the parsed command, as the original guide's test function did.
// The verification token and response_url are left out: both are credentials.
// Every value came from outside and is escaped; the one mention is ours,
// made from an ID that userRef checked.
func echo(cmd slack.SlashCommand) notify.Message {
	_, rest := cutWords(cmd.Text, 1)
	fields := [][2]string{
		{"command", escape(cmd.Command)},
		{"text", escape(rest)},
		{"user", fmt.Sprintf("%s (%s, %s)", userRef(cmd.UserID), escape(cmd.UserName), escape(cmd.UserID))},
		{"channel", escape(fmt.Sprintf("%s (%s)", cmd.ChannelName, cmd.ChannelID))},
		{"team", escape(fmt.Sprintf("%s (%s)", cmd.TeamDomain, cmd.TeamID))},
		{"api_app_id", escape(cmd.APIAppID)},
		{"trigger_id", escape(cmd.TriggerID)},
	}
	var objs []*slack.TextBlockObject
	var plain []string
	for _, f := range fields {
		v := f[1]
		if v == "" {
			v = "—"
		}
		objs = append(objs, slack.NewTextBlockObject(slack.MarkdownType, fmt.Sprintf("*%s*\n%s", f[0], v), false, false))
		plain = append(plain, f[0]+": "+v)
	}
	return notify.Message{
		Text: "echo\n" + strings.Join(plain, "\n"),
		Blocks: []slack.Block{
			slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, "echo", false, false)),
			slack.NewSectionBlock(nil, objs, nil),
		},
	}
}
