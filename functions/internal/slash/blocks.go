package slash

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/functions/internal/chat"
)

// ephemeral is an immediate answer only the user sees.
func ephemeral(m chat.Message) *slack.WebhookMessage {
	return &slack.WebhookMessage{
		ResponseType: slack.ResponseTypeEphemeral,
		Text:         m.Text,
		Blocks:       &slack.Blocks{BlockSet: m.Blocks},
	}
}

// Text is a message of one mrkdwn section, for answers.
func Text(s string) chat.Message {
	return chat.Message{
		Text:   s,
		Blocks: []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, s, false, false), nil, nil)},
	}
}

// echo shows the parsed command, as the original guide's test function did.
// The verification token and response_url are left out: both are credentials.
// Every value came from outside and is escaped; the one mention is ours,
// made from an ID that userRef checked.
func echo(cmd slack.SlashCommand) chat.Message {
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
	return chat.Message{
		Text: "echo\n" + strings.Join(plain, "\n"),
		Blocks: []slack.Block{
			slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, "echo", false, false)),
			slack.NewSectionBlock(nil, objs, nil),
		},
	}
}
