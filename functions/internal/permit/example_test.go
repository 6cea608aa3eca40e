package permit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/lambda-slackbot/slackbot/functions/internal/chat"
	"github.com/lambda-slackbot/slackbot/functions/internal/permit"
)

// directory is a fixed workspace. A deployed bot uses *chat.Client, which
// asks Slack (conversations.list and conversations.members).
type directory struct {
	ids     map[string]string   // name -> ID
	members map[string][]string // ID -> user IDs
}

func (d directory) ResolveChannel(_ context.Context, channel string) (string, error) {
	if _, ok := d.members[channel]; ok {
		return channel, nil // an ID
	}
	if id, ok := d.ids[strings.TrimPrefix(channel, "#")]; ok {
		return id, nil
	}
	return "", &chat.Error{Code: "channel_not_found", Hint: "no such channel"}
}

func (d directory) IsMember(_ context.Context, channelID, user string) (bool, error) {
	for _, m := range d.members[channelID] {
		if m == user {
			return true, nil
		}
	}
	return false, nil
}

// Each post needs all three: the user on Users, the channel on Channels,
// and the user a member of the channel. Every refusal is the same
// ErrRefused, so a user cannot tell a missing channel from a forbidden one.
func ExamplePolicy_Check() {
	p := &permit.Policy{
		Users:    []string{"U0ADA", "U0BOB"}, // the notifyUsers setting
		Channels: []string{"#deploys", "C0OPS0001"},
		Dir: directory{
			ids:     map[string]string{"deploys": "C0DEPLOY1", "ops": "C0OPS0001", "general": "C0GENERAL"},
			members: map[string][]string{"C0DEPLOY1": {"U0ADA", "U0EVE"}, "C0OPS0001": {"U0ADA"}, "C0GENERAL": {"U0ADA"}},
		},
	}
	for _, try := range []struct{ user, channel, why string }{
		{"U0ADA", "#deploys", ""},
		{"U0ADA", "ops", ""},
		{"U0BOB", "#ops", "not a member"},
		{"U0EVE", "#deploys", "not on Users"},
		{"U0ADA", "#general", "not on Channels"},
		{"U0ADA", "#secret", "no such channel"},
	} {
		id, err := p.Check(context.Background(), try.user, try.channel)
		switch {
		case errors.Is(err, permit.ErrRefused):
			fmt.Printf("%s in %s: refused (%s)\n", try.user, try.channel, try.why)
		case err != nil:
			fmt.Printf("%s in %s: could not check: %v\n", try.user, try.channel, err)
		default:
			fmt.Printf("%s in %s: post to %s\n", try.user, try.channel, id)
		}
	}
	// Output:
	// U0ADA in #deploys: post to C0DEPLOY1
	// U0ADA in ops: post to C0OPS0001
	// U0BOB in #ops: refused (not a member)
	// U0EVE in #deploys: refused (not on Users)
	// U0ADA in #general: refused (not on Channels)
	// U0ADA in #secret: refused (no such channel)
}
