package interactions

import (
	"context"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
)

// SlackAPI is the Web API calls of interactions, with the bot token:
// chat.update (Updater) and views.open (ViewOpener).
type SlackAPI struct {
	api *slack.Client
}

// NewSlackAPI returns a SlackAPI for the bot token; apiURL is Slack's Web
// API base URL ending in "/", empty for Slack's own.
func NewSlackAPI(token, apiURL string) *SlackAPI {
	var opts []slack.Option
	if apiURL != "" {
		opts = append(opts, slack.OptionAPIURL(apiURL))
	}
	return &SlackAPI{api: slack.New(token, opts...)}
}

// Update replaces the message at ts in the channel with m.
func (s *SlackAPI) Update(ctx context.Context, channelID, ts string, m notify.Message) error {
	opts := []slack.MsgOption{slack.MsgOptionText(m.Text, false), slack.MsgOptionBlocks(m.Blocks...)}
	if m.Metadata != nil {
		opts = append(opts, slack.MsgOptionMetadata(*m.Metadata))
	}
	if _, _, _, err := s.api.UpdateMessageContext(ctx, channelID, ts, opts...); err != nil {
		return fmt.Errorf("chat.update %s %s: %w", channelID, ts, err)
	}
	return nil
}

// OpenView opens view for the user of triggerID.
func (s *SlackAPI) OpenView(ctx context.Context, triggerID string, view slack.ModalViewRequest) error {
	if _, err := s.api.OpenViewContext(ctx, triggerID, view); err != nil {
		return fmt.Errorf("views.open: %w", err)
	}
	return nil
}
