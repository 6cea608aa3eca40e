package slash

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/permit"
)

// Notifier posts as the bot on a user's behalf, the one way every entry
// point (`/slackbot notify`, the notify modal) does it: only where Permit
// allows that user, with the user's text escaped and who asked said.
type Notifier struct {
	Post   notify.Poster
	Permit *permit.Policy // nil refuses every post
	Log    *slog.Logger
}

// Notify posts text to channel (an ID, a name or #name) for user. via says
// how it was asked for, as mrkdwn of ours, like "`/slackbot notify`". It
// returns what to tell the user and whether anything was posted; a refusal
// says the same whatever its reason, so no one learns which channels exist.
func (n Notifier) Notify(ctx context.Context, user, channel, text, via string) (answer string, posted bool) {
	id, err := n.Permit.Check(ctx, user, channel)
	if err != nil {
		if errors.Is(err, permit.ErrRefused) {
			n.Log.Warn("notify refused", "user", user, "reason", err.Error())
			return permit.ErrRefused.Error(), false
		}
		n.Log.Error("notify: check permission", "user", user, "error", err)
		return "Couldn't post: " + UserError(err), false
	}
	p, err := n.Post.Post(ctx, notify.Message{
		Channel: id,
		Text:    fmt.Sprintf("%s\n— sent by %s with %s", escape(text), userRef(user), via),
	})
	if notify.Unanswered(err) {
		// Slack has the message and may have posted it: it counts as
		// posted, so neither a retry nor a second submit repeats it.
		n.Log.Warn("notify: Slack took the post but did not answer; taken as posted", "user", user, "channel", id, "error", err)
		return fmt.Sprintf("Sent to <#%s>; Slack did not confirm it in time, so it may take a moment to show up.", id), true
	}
	if err != nil {
		n.Log.Error("notify: post", "user", user, "channel", id, "error", err)
		return "Couldn't post: " + UserError(err), false
	}
	return fmt.Sprintf("Posted to <#%s>.", p.ChannelID), true
}
