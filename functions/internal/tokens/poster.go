package tokens

import (
	"context"
	"sync"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/functions/internal/interactions"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/workspace"
)

// Poster talks to Slack with the token of the context's workspace
// (workspace.With), or of Workspace when the context names none, as a
// scheduled report does. It is a notify.Poster, notify.Uploader,
// permit.Directory, interactions.Updater and interactions.ViewOpener, so
// it stands in for the single-token clients. Each token gets its own
// clients, so channel names are cached per workspace.
type Poster struct {
	Resolver  *Resolver
	APIURL    string
	Workspace workspace.Workspace

	mu      sync.Mutex
	clients map[string]*clients // by token
}

type clients struct {
	chat *notify.Client
	api  *interactions.SlackAPI
}

func (p *Poster) forContext(ctx context.Context) (*clients, error) {
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
			p.clients = make(map[string]*clients)
		}
		c = &clients{chat: notify.NewClient(token, p.APIURL, notify.Retry{}), api: interactions.NewSlackAPI(token, p.APIURL)}
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
	return c.chat.Post(ctx, m)
}

// Upload implements notify.Uploader.
func (p *Poster) Upload(ctx context.Context, f notify.File) error {
	c, err := p.forContext(ctx)
	if err != nil {
		return err
	}
	return c.chat.Upload(ctx, f)
}

// ResolveChannel implements permit.Directory.
func (p *Poster) ResolveChannel(ctx context.Context, channel string) (string, error) {
	c, err := p.forContext(ctx)
	if err != nil {
		return "", err
	}
	return c.chat.ResolveChannel(ctx, channel)
}

// IsMember implements permit.Directory.
func (p *Poster) IsMember(ctx context.Context, channelID, user string) (bool, error) {
	c, err := p.forContext(ctx)
	if err != nil {
		return false, err
	}
	return c.chat.IsMember(ctx, channelID, user)
}

// Update implements interactions.Updater.
func (p *Poster) Update(ctx context.Context, channelID, ts string, m notify.Message) error {
	c, err := p.forContext(ctx)
	if err != nil {
		return err
	}
	return c.api.Update(ctx, channelID, ts, m)
}

// OpenView implements interactions.ViewOpener.
func (p *Poster) OpenView(ctx context.Context, triggerID string, view slack.ModalViewRequest) error {
	c, err := p.forContext(ctx)
	if err != nil {
		return err
	}
	return c.api.OpenView(ctx, triggerID, view)
}
