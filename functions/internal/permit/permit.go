// Package permit decides whether a Slack user may have the bot post for them,
// and where. Posting as the bot is a privilege: the bot can write to any
// public channel (chat:write.public) and to every private channel it was
// invited to, so without a check any member, or a guest, could speak as the
// bot anywhere.
//
// A post is allowed when the user is on the Users allow-list (empty: any
// user), the channel is on the Channels allow-list (empty: any channel), and
// the user is a member of the channel. A refusal says the same thing
// whatever the reason, so no one learns from it which channels exist.
package permit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lambda-slackbot/slackbot/functions/internal/chat"
)

// Directory answers what the policy asks of the workspace. chat.Client
// implements it with conversations.list and conversations.members; its
// errors are *chat.Error when Slack answered.
type Directory interface {
	// ResolveChannel returns the ID of a channel given by ID, name or #name.
	ResolveChannel(ctx context.Context, channel string) (string, error)
	// IsMember reports whether user belongs to the channel with that ID.
	IsMember(ctx context.Context, channelID, user string) (bool, error)
}

// ErrRefused is the answer to a user who may not post there. Its text is
// shown to the user as it is.
var ErrRefused = errors.New("I can't post there for you. You can have me post only to channels you're a member of" +
	", and this workspace may limit who can and where.")

// Policy is who may post as the bot, and where.
type Policy struct {
	// Users are the user IDs allowed to post; empty means any member.
	Users []string
	// Channels are the channels (IDs, names or #names) that may be posted
	// to; empty means any channel.
	Channels []string
	Dir      Directory
}

// Split reads a comma-separated allow-list, as the environment carries it.
func Split(list string) []string {
	var out []string
	for item := range strings.SplitSeq(list, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Check returns the ID of the channel user may post to, or an error wrapping
// ErrRefused. Any other error is a failure to find out (Slack unreachable,
// rate limited), never a yes.
func (p *Policy) Check(ctx context.Context, user, channel string) (string, error) {
	if p == nil || p.Dir == nil {
		return "", fmt.Errorf("no posting policy is configured: %w", ErrRefused)
	}
	if len(p.Users) > 0 && !slices.Contains(p.Users, user) {
		return "", fmt.Errorf("user %s is not on the notify allow-list: %w", user, ErrRefused)
	}
	id, err := p.Dir.ResolveChannel(ctx, channel)
	if err != nil {
		if notFound(err) {
			return "", fmt.Errorf("channel %q: %v: %w", channel, err, ErrRefused)
		}
		return "", fmt.Errorf("resolve channel: %w", err)
	}
	// Direct messages are not channels anyone may be notified in.
	if strings.HasPrefix(id, "D") {
		return "", fmt.Errorf("%s is not a channel: %w", id, ErrRefused)
	}
	if len(p.Channels) > 0 {
		allowed, err := p.allowedChannel(ctx, id)
		if err != nil {
			return "", err
		}
		if !allowed {
			return "", fmt.Errorf("channel %s is not on the notify allow-list: %w", id, ErrRefused)
		}
	}
	member, err := p.Dir.IsMember(ctx, id, user)
	if err != nil {
		if notFound(err) {
			return "", fmt.Errorf("members of %s: %v: %w", id, err, ErrRefused)
		}
		return "", fmt.Errorf("check membership: %w", err)
	}
	if !member {
		return "", fmt.Errorf("user %s is not a member of %s: %w", user, id, ErrRefused)
	}
	return id, nil
}

// allowedChannel resolves each allow-listed entry to an ID and compares
// IDs, so "#ops", "ops" and the channel's ID all name the same channel. A
// listed name means whichever channel has that name now: after a rename the
// list must be updated, and an entry that names no channel allows nothing.
func (p *Policy) allowedChannel(ctx context.Context, id string) (bool, error) {
	for _, c := range p.Channels {
		allowedID, err := p.Dir.ResolveChannel(ctx, c)
		if err != nil {
			if notFound(err) {
				continue // a stale entry allows nothing
			}
			return false, fmt.Errorf("resolve allow-listed channel %q: %w", c, err)
		}
		if allowedID == id {
			return true, nil
		}
	}
	return false, nil
}

// notFound reports Slack's word that a channel does not exist for the bot.
func notFound(err error) bool {
	var slackSaid *chat.Error
	if errors.As(err, &slackSaid) {
		switch slackSaid.Code {
		case "channel_not_found", "not_in_channel", "is_archived", "channel_is_archived":
			return true
		}
	}
	return false
}
