package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// Webhook posts to an incoming webhook or to a slash command's response_url;
// both take the same JSON. slack-go's PostWebhook drops the body of an error
// answer, and that body is the only place Slack says what went wrong
// ("no_service", "channel_not_found"), so this posts the request itself.
type Webhook struct {
	URL    string
	Client *http.Client // nil means a client with a 5s timeout
	Retry  Retry

	// ResponseType is "ephemeral" or "in_channel" for response_url posts;
	// empty for incoming webhooks.
	ResponseType    string
	ReplaceOriginal bool
}

// defaultHTTP does not follow redirects: a webhook or response URL is
// Slack's, and Slack answers it directly; a redirect would send the message,
// and whatever the URL carries, somewhere else.
var defaultHTTP = &http.Client{
	Timeout:       5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// slackHooksHost is the host of Slack's incoming webhooks and response URLs.
const slackHooksHost = "hooks.slack.com"

// CheckResponseURL accepts a response_url only where Slack puts them:
// https://hooks.slack.com/..., or, when apiURL (SLACK_API_URL) is set for a
// local run or a test, a URL on that same host. Anything else would have the
// bot post, on a user's say, to an address of the user's choosing.
func CheckResponseURL(raw, apiURL string) error {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil {
		return errors.New("response_url is not a URL")
	}
	if u.Scheme == "https" && u.Host == slackHooksHost {
		return nil
	}
	if apiURL != "" {
		if api, err := url.Parse(apiURL); err == nil && api.Host != "" && u.Scheme == api.Scheme && u.Host == api.Host {
			return nil
		}
	}
	return fmt.Errorf("response_url is not on https://%s", slackHooksHost)
}

// Post sends m. The channel of an incoming webhook is fixed when it is
// created, so m.Channel is not sent.
func (w *Webhook) Post(ctx context.Context, m Message) (Posted, error) {
	msg := slack.WebhookMessage{
		Text:            m.Text,
		ThreadTimestamp: m.ThreadTS,
		ResponseType:    w.ResponseType,
		ReplaceOriginal: w.ReplaceOriginal,
	}
	if len(m.Blocks) > 0 {
		msg.Blocks = &slack.Blocks{BlockSet: m.Blocks}
	}
	// slack-go's WebhookMessage has no metadata; incoming webhooks take it
	// as chat.postMessage does, and reports and alerts carry theirs.
	body, err := json.Marshal(struct {
		slack.WebhookMessage
		Metadata *slack.SlackMetadata `json:"metadata,omitempty"`
	}{msg, m.Metadata})
	if err != nil {
		return Posted{}, fmt.Errorf("encode webhook message: %w", err)
	}
	client := w.Client
	if client == nil {
		client = defaultHTTP
	}
	err = w.Retry.Do(ctx, func(ctx context.Context) error { return w.post(ctx, client, body) })
	if err != nil {
		return Posted{}, fmt.Errorf("webhook: %w", explain(err))
	}
	return Posted{}, nil
}

func (w *Webhook) post(ctx context.Context, client *http.Client, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		// The URL is a credential: never put it in an error.
		return fmt.Errorf("invalid webhook URL")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("send: %w", redactURL(err))
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode == http.StatusOK:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests:
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return &slack.RateLimitedError{RetryAfter: time.Duration(max(secs, 1)) * time.Second}
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return fmt.Errorf("webhook answered %s, a redirect, which is not followed", resp.Status)
	case resp.StatusCode >= http.StatusInternalServerError:
		// Slack's own failure: the body is a page, not an error code.
		return fmt.Errorf("webhook answered %s", resp.Status)
	default:
		code := strings.TrimSpace(string(text))
		if code == "" {
			code = resp.Status
		}
		return slack.SlackErrorResponse{Err: code}
	}
}

// redactURL drops the URL from a *url.Error: webhook and response URLs carry
// their secret in the path.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
