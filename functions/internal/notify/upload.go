package notify

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/slack-go/slack"
)

// File is a file to share in a channel, such as a latency chart.
type File struct {
	Channel  string // name or ID, as Message.Channel
	Name     string // file name, e.g. "latency.png"
	Title    string
	Comment  string // the message that comes with it; mrkdwn, so escape outside text
	ThreadTS string
	Data     []byte
}

// Uploader shares files. *Client and *Printer implement it; an incoming
// webhook cannot carry a file, so *Webhook does not.
type Uploader interface {
	Upload(ctx context.Context, f File) error
}

// Upload shares f in its channel through Slack's external upload flow
// (files.getUploadURLExternal, the upload, files.completeUploadExternal),
// which slack-go's UploadFileContext runs. It needs the files:write scope.
func (c *Client) Upload(ctx context.Context, f File) error {
	channel, err := c.ResolveChannel(ctx, f.Channel)
	if err != nil {
		return err
	}
	if len(f.Data) == 0 {
		return fmt.Errorf("upload %s: the file is empty", f.Name)
	}
	err = c.retry.Do(ctx, func(ctx context.Context) error {
		_, err := c.api.UploadFileContext(ctx, slack.UploadFileParameters{
			Reader:          bytes.NewReader(f.Data),
			FileSize:        len(f.Data),
			Filename:        f.Name,
			Title:           f.Title,
			InitialComment:  f.Comment,
			Channel:         channel,
			ThreadTimestamp: f.ThreadTS,
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("upload %s to %s: %w", f.Name, f.Channel, explain(err))
	}
	return nil
}

// Upload writes f under a new temporary directory and prints its path, so
// a local run without Slack shows the file it would have shared.
func (p *Printer) Upload(_ context.Context, f File) error {
	dir, err := os.MkdirTemp("", "slackbot-")
	if err != nil {
		return fmt.Errorf("keep %s: %w", f.Name, err)
	}
	// The name is ours, but never let one climb out of the directory.
	path := filepath.Join(dir, filepath.Base(strings.ReplaceAll(f.Name, `\`, "/")))
	if err := os.WriteFile(path, f.Data, 0o644); err != nil {
		return fmt.Errorf("keep %s: %w", f.Name, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := fmt.Fprintf(p.W, "[slack file upload to %s, not sent: no bot token] %q\n%s\n", f.Channel, f.Title, path); err != nil {
		return fmt.Errorf("print upload: %w", err)
	}
	return nil
}
