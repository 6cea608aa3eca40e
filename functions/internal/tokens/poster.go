package tokens

import (
	"context"
	"sync"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/workspace"
)

// Poster talks to Slack with the token of the context's workspace
// (workspace.With), or of Workspace when the context names none, as a
// scheduled report does. It is a notify.Poster, notify.Uploader,
// permit.Directory and interactions.ViewOpener, so it stands in for the
// single-token client. Each token gets its own client, so channel names
// are cached per workspace.
type Poster struct {
	Resolver  *Resolver
	APIURL    string
	Workspace workspace.Workspace

	mu      sync.Mutex
	clients map[string]*notify.Client // by token
}

func (p *Poster) forContext(ctx context.Context) (*notify.Client, error) {
	w, ok := workspace.From(ctx)
	if !ok {
		w = p.Workspace
	}
	token, err := p.Resolver.Token(ctx, w)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.clients[token]
	if !ok {
		if p.clients == nil || len(p.clients) > 1000 {
			p.clients = make(map[string]*notify.Client)
		}
		c = notify.NewClient(token, p.APIURL, notify.Retry{})
		p.clients[token] = c
	}
	return c, nil
}

// Post implements notify.Poster.
func (p *Poster) Post(ctx context.Context, m notify.Message) (notify.Posted, error) {
	c, err := p.forContext(ctx)
	if err != nil {
		return notify.Posted{}, err
	}
	return c.Post(ctx, m)
}

// Upload implements notify.Uploader.
func (p *Poster) Upload(ctx context.Context, f notify.File) error {
	c, err := p.forContext(ctx)
	if err != nil {
		return err
	}
	return c.Upload(ctx, f)
}

// ResolveChannel implements permit.Directory.
func (p *Poster) ResolveChannel(ctx context.Context, channel string) (string, error) {
	c, err := p.forContext(ctx)
	if err != nil {
		return "", err
	}
	return c.ResolveChannel(ctx, channel)
}

// IsMember implements permit.Directory.
func (p *Poster) IsMember(ctx context.Context, channelID, user string) (bool, error) {
	c, err := p.forContext(ctx)
	if err != nil {
		return false, err
	}
	return c.IsMember(ctx, channelID, user)
}

// OpenView implements interactions.ViewOpener.
func (p *Poster) OpenView(ctx context.Context, triggerID string, view slack.ModalViewRequest) error {
	c, err := p.forContext(ctx)
	if err != nil {
		return err
	}
	return c.OpenView(ctx, triggerID, view)
}
