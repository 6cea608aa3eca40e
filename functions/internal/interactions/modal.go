package interactions

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/apigw"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/slash"
)

// NotifyCallback is the callback_id of the notify shortcut (declared in the
// app manifest) and of the modal it opens.
const NotifyCallback = contract.NotifyShortcut

// Block and action IDs of the notify modal's inputs.
const (
	notifyChannelBlock = "channel"
	notifyTextBlock    = "text"
)

// maxNotifyText bounds the text input; Slack shows longer messages folded.
const maxNotifyText = 3000

// ViewOpener opens a modal (views.open).
type ViewOpener interface {
	OpenView(ctx context.Context, triggerID string, view slack.ModalViewRequest) error
}

// NotifyModal is `notify` as a modal: the global shortcut opens it, and its
// submission posts exactly as `/slackbot notify` does, through the same
// slash.Notifier, so the same permit policy, escaping and attribution
// apply. A refusal or failure shows inline in the modal.
type NotifyModal struct {
	Views    ViewOpener
	Notifier slash.Notifier
	// Claims keeps a submission of one view from posting twice: Slack sends
	// no retries, but a user whose first submit timed out submits again.
	Claims dedupe.Store
	Log    *slog.Logger
}

// Register adds the shortcut and the submission to h.
func (n *NotifyModal) Register(h *Handler) {
	h.On(slack.InteractionTypeShortcut, NotifyCallback, n.Open)
	h.On(slack.InteractionTypeViewSubmission, NotifyCallback, n.Submit)
}

// Open answers the shortcut with the modal. views.open takes the
// trigger_id for 3 seconds only, so it is called before the answer.
func (n *NotifyModal) Open(ctx context.Context, cb *slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
	if n.Views == nil {
		// A valid request to a feature this deployment lacks: 403, as the
		// other disabled features answer, not a failure of ours.
		return nil, apigw.Errorf(http.StatusForbidden, "modals need the bot token, which is not configured")
	}
	if cb.TriggerID == "" {
		return nil, apigw.Errorf(http.StatusBadRequest, "shortcut without a trigger_id")
	}
	if err := n.Views.OpenView(ctx, cb.TriggerID, notifyView()); err != nil {
		return nil, fmt.Errorf("open the notify modal: %w", err)
	}
	return nil, nil
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func notifyView() slack.ModalViewRequest {
	channel := slack.NewOptionsSelectBlockElement(slack.OptTypeConversations, plain("Pick a channel"), notifyChannelBlock)
	channel.DefaultToCurrentConversation = true
	channel.Filter = &slack.SelectBlockElementFilter{Include: []string{"public", "private"}, ExcludeBotUsers: true}
	text := slack.NewPlainTextInputBlockElement(plain("Deploy done"), notifyTextBlock).
		WithMultiline(true).WithMaxLength(maxNotifyText)
	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		CallbackID: NotifyCallback,
		Title:      plain("Notify a channel"),
		Submit:     plain("Post"),
		Close:      plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock(notifyChannelBlock, plain("Channel"), plain("I post only to channels you're a member of."), channel),
			slack.NewInputBlock(notifyTextBlock, plain("Message"), nil, text),
		}},
	}
}

// Submit posts the modal's message, or shows in the modal why not.
func (n *NotifyModal) Submit(ctx context.Context, cb *slack.InteractionCallback) (*slack.ViewSubmissionResponse, error) {
	var channel, text string
	if cb.View.State != nil {
		channel = cb.View.State.Values[notifyChannelBlock][notifyChannelBlock].SelectedConversation
		text = strings.TrimSpace(cb.View.State.Values[notifyTextBlock][notifyTextBlock].Value)
	}
	switch {
	case channel == "":
		return inline(notifyChannelBlock, "Pick a channel."), nil
	case text == "":
		return inline(notifyTextBlock, "Write a message."), nil
	case len([]rune(text)) > maxNotifyText:
		return inline(notifyTextBlock, fmt.Sprintf("Keep it under %d characters.", maxNotifyText)), nil
	}
	var claim dedupe.Claim
	if n.Claims != nil && cb.View.ID != "" {
		var err error
		claim, err = n.Claims.Claim(ctx, "view/"+cb.View.ID)
		if err != nil {
			return nil, fmt.Errorf("claim notify submission: %w", err)
		}
		switch claim.State {
		case dedupe.Done:
			return posted("Already posted."), nil
		case dedupe.InProgress:
			return inline(notifyTextBlock, "Still posting your last submit; try again in a moment."), nil
		}
	}
	answer, ok := n.Notifier.Notify(ctx, cb.User.ID, channel, text, "the notify shortcut")
	if n.Claims != nil && cb.View.ID != "" {
		// A refusal may be fixed and submitted again from the same view;
		// a post is done, and so is one Slack took and never answered.
		// On a context of its own: a slow Slack may have spent ctx.
		settle, settled := dedupe.Settle(ctx)
		defer settled()
		done := n.Claims.Complete
		if !ok {
			done = n.Claims.Release
		}
		if err := done(settle, claim); err != nil {
			n.Log.Error("settle notify submission claim", "posted", ok, "error", err)
		}
	}
	if !ok {
		return inline(notifyChannelBlock, answer), nil
	}
	return posted(answer), nil
}

// inline is the answer that shows msg under the input block in the modal.
func inline(block, msg string) *slack.ViewSubmissionResponse {
	return slack.NewErrorsViewSubmissionResponse(map[string]string{block: msg})
}

// posted turns the modal into a confirmation.
func posted(msg string) *slack.ViewSubmissionResponse {
	return slack.NewUpdateViewSubmissionResponse(&slack.ModalViewRequest{
		Type:   slack.VTModal,
		Title:  plain("Notify a channel"),
		Close:  plain("Done"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, msg, false, false), nil, nil)}},
	})
}
