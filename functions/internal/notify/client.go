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
// conversations.list once and cached for the life of the container: Lambda
// reuses a container for many requests, and the list rarely changes.
type Client struct {
	api   *slack.Client
	retry Retry

	mu       sync.Mutex
	channels map[string]string // name -> ID, nil until loaded
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

// API is the underlying slack-go client, for calls this package does not wrap.
func (c *Client) API() *slack.Client { return c.api }

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
	err = c.retry.Do(ctx, func() error {
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

// ResolveChannel returns the ID of a channel given by ID, name or #name.
func (c *Client) ResolveChannel(ctx context.Context, channel string) (string, error) {
	channel = strings.TrimSpace(channel)
	// Slack's own channel link markup, as a slash command's text carries it
	// when the user picks a channel: <#C0123ABCD|general>.
	if rest, ok := strings.CutPrefix(channel, "<#"); ok {
		id, _, _ := strings.Cut(strings.TrimSuffix(rest, ">"), "|")
		channel = id
	}
	if channelID.MatchString(channel) {
		return channel, nil
	}
	name := strings.ToLower(strings.TrimPrefix(channel, "#"))
	if name == "" {
		return "", &Error{Code: "channel_not_found", Hint: "Say which channel: a name like #general or an ID like C0123ABCD."}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if id, ok := c.channels[name]; ok {
		return id, nil
	}
	// A miss reloads the list once, so a channel created after the cache was
	// filled is still found; a second miss is the user's typo.
	if err := c.loadChannels(ctx); err != nil {
		return "", err
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
		err := c.retry.Do(ctx, func() error {
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
	c.channels = channels
	return nil
}

// Retry bounds how Slack's 429 answers are retried. Slack says how long to wait
// (Retry-After); a wait longer than MaxWait, or more than Attempts tries, gives
// up with Slack's rate-limit error so a Lambda never sleeps past its timeout.
type Retry struct {
	Attempts int           // total tries; 0 means 3
	MaxWait  time.Duration // longest single wait; 0 means 3s
}

// Do calls f until it succeeds, fails with something other than a rate limit,
// or the budget is spent.
func (r Retry) Do(ctx context.Context, f func() error) error {
	attempts, maxWait := r.Attempts, r.MaxWait
	if attempts <= 0 {
		attempts = 3
	}
	if maxWait <= 0 {
		maxWait = 3 * time.Second
	}
	for i := 1; ; i++ {
		err := f()
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
