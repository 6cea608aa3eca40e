package notify

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

// Client posts with chat.postMessage. Channel names are resolved to IDs with
// conversations.list, and the list is trusted for channelTTL: Lambda reuses
// a container for many requests, but a channel renamed, or a name given to
// another channel, must not keep its old meaning, least of all in the
// notify allow-list. A name missing from a list younger than that is not
// found, so no user can make the bot page through the workspace again and
// again by asking for names that do not exist.
//
// Channel members (conversations.members) are cached for membersTTL: long
// enough that one user's burst of commands costs one lookup, short enough
// that someone who leaves a channel soon stops being able to post there.
type Client struct {
	// Now is the clock of the caches; nil means time.Now.
	Now func() time.Time

	api   *slack.Client
	retry Retry

	mu       sync.Mutex
	channels map[string]string // name -> ID, nil until loaded
	loadedAt time.Time
	members  map[string]memberList // channel ID -> its members
}

const (
	channelTTL = time.Minute // how long the channel list is trusted
	membersTTL = time.Minute // how long a channel's member list is trusted
)

type memberList struct {
	users   map[string]bool
	fetched time.Time
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// NewClient returns a Client for the bot token. apiURL is Slack's Web API base
// URL ending in "/"; empty means Slack's own.
func NewClient(token, apiURL string, retry Retry) *Client {
	opts := []slack.Option{}
	if apiURL != "" {
		opts = append(opts, slack.OptionAPIURL(apiURL))
	}
	return &Client{api: slack.New(token, opts...), retry: retry}
}

// Post sends m with chat.postMessage.
func (c *Client) Post(ctx context.Context, m Message) (Posted, error) {
	channel, err := c.ResolveChannel(ctx, m.Channel)
	if err != nil {
		return Posted{}, err
	}
	opts := []slack.MsgOption{slack.MsgOptionText(m.Text, false)}
	if len(m.Blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(m.Blocks...))
	}
	if m.ThreadTS != "" {
		opts = append(opts, slack.MsgOptionTS(m.ThreadTS))
	}
	if m.Metadata != nil {
		opts = append(opts, slack.MsgOptionMetadata(*m.Metadata))
	}
	var p Posted
	err = c.retry.Do(ctx, func(ctx context.Context) error {
		var err error
		p.ChannelID, p.TS, err = c.api.PostMessageContext(ctx, channel, opts...)
		return err
	})
	if err != nil {
		return Posted{}, fmt.Errorf("chat.postMessage to %s: %w", m.Channel, explain(err))
	}
	return p, nil
}

// channelID matches Slack's conversation IDs: public (C), private (G) and
// direct (D) channels, upper-case letters and digits.
var channelID = regexp.MustCompile(`^[CGD][A-Z0-9]{8,}$`)

// parseChannel reads a channel as a user gives it: an ID, a name, #name, or
// Slack's own link markup, which a slash command's text carries when the
// user picks a channel (<#C0123ABCD|general>). It returns the ID when the
// text holds one, else the lower-case name.
func parseChannel(channel string) (id, name string, err error) {
	channel = strings.TrimSpace(channel)
	if rest, ok := strings.CutPrefix(channel, "<#"); ok {
		id, _, _ := strings.Cut(strings.TrimSuffix(rest, ">"), "|")
		channel = id
	}
	if channelID.MatchString(channel) {
		return channel, "", nil
	}
	name = strings.ToLower(strings.TrimPrefix(channel, "#"))
	if name == "" {
		return "", "", &Error{Code: "channel_not_found", Hint: "Say which channel: a name like #general or an ID like C0123ABCD."}
	}
	return "", name, nil
}

// ResolveChannel returns the ID of a channel given by ID, name or #name.
func (c *Client) ResolveChannel(ctx context.Context, channel string) (string, error) {
	id, name, err := parseChannel(channel)
	if err != nil || id != "" {
		return id, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.channels == nil || c.now().Sub(c.loadedAt) >= channelTTL {
		if err := c.loadChannels(ctx); err != nil {
			return "", err
		}
	}
	if id, ok := c.channels[name]; ok {
		return id, nil
	}
	return "", &Error{Code: "channel_not_found", Hint: fmt.Sprintf("I can't find a channel named #%s. Check the name, or use the channel ID; private channels need the bot invited first.", name)}
}

// loadChannels pages through conversations.list. Caller holds c.mu.
func (c *Client) loadChannels(ctx context.Context) error {
	channels := make(map[string]string)
	params := &slack.GetConversationsParameters{
		ExcludeArchived: true,
		Limit:           1000,
		Types:           []string{"public_channel", "private_channel"},
	}
	for {
		var page []slack.Channel
		var next string
		err := c.retry.Do(ctx, func(ctx context.Context) error {
			var err error
			page, next, err = c.api.GetConversationsContext(ctx, params)
			return err
		})
		if err != nil {
			return fmt.Errorf("conversations.list: %w", explain(err))
		}
		for _, ch := range page {
			channels[strings.ToLower(ch.Name)] = ch.ID
		}
		if next == "" {
			break
		}
		params.Cursor = next
	}
	c.channels, c.loadedAt = channels, c.now()
	return nil
}

// IsMember reports whether user is a member of the channel with the given
// ID, from conversations.members (which needs channels:read for public and
// groups:read for private channels). A channel the bot cannot see answers
// Slack's channel_not_found error.
func (c *Client) IsMember(ctx context.Context, channelID, user string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.members[channelID]; ok && c.now().Sub(m.fetched) < membersTTL {
		return m.users[user], nil
	}
	users := map[string]bool{}
	params := &slack.GetUsersInConversationParameters{ChannelID: channelID, Limit: 1000}
	for {
		var page []string
		var next string
		err := c.retry.Do(ctx, func(ctx context.Context) error {
			var err error
			page, next, err = c.api.GetUsersInConversationContext(ctx, params)
			return err
		})
		if err != nil {
			return false, fmt.Errorf("conversations.members of %s: %w", channelID, explain(err))
		}
		for _, u := range page {
			users[u] = true
		}
		if next == "" {
			break
		}
		params.Cursor = next
	}
	if c.members == nil {
		c.members = make(map[string]memberList)
	}
	c.members[channelID] = memberList{users: users, fetched: c.now()}
	return users[user], nil
}

// Retry bounds how Slack's 429 answers are retried. Slack says how long to wait
// (Retry-After); a wait longer than MaxWait, or more than Attempts tries, gives
// up with Slack's rate-limit error so a Lambda never sleeps past its timeout.
type Retry struct {
	Attempts int           // total tries; 0 means 3
	MaxWait  time.Duration // longest single wait; 0 means 3s
}

// Do calls f until it succeeds, fails with something other than a rate limit,
// or the budget is spent. Each call runs under its own deadline (see
// CallTimeout), and one that Slack got but never answered returns an
// *UnansweredError.
func (r Retry) Do(ctx context.Context, f func(ctx context.Context) error) error {
	attempts, maxWait := r.Attempts, r.MaxWait
	if attempts <= 0 {
		attempts = 3
	}
	if maxWait <= 0 {
		maxWait = 3 * time.Second
	}
	for i := 1; ; i++ {
		err := call(ctx, f)
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) || i >= attempts || rl.RetryAfter > maxWait {
			return err
		}
		wait := max(rl.RetryAfter, 100*time.Millisecond)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// OpenView opens a modal for the user of triggerID (views.open), under the
// same deadline and 429 handling as every call. Slack takes a trigger_id
// for 3 seconds only, so there is no second chance to open it.
func (c *Client) OpenView(ctx context.Context, triggerID string, view slack.ModalViewRequest) error {
	err := c.retry.Do(ctx, func(ctx context.Context) error {
		_, err := c.api.OpenViewContext(ctx, triggerID, view)
		return err
	})
	if err != nil {
		return fmt.Errorf("views.open: %w", explain(err))
	}
	return nil
}
