package bot

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/slack-go/slack/slackevents"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/apigw"
	"github.com/lambda-slackbot/slackbot/functions/internal/deferred"
	"github.com/lambda-slackbot/slackbot/functions/internal/install"
	"github.com/lambda-slackbot/slackbot/functions/internal/installstore"
	"github.com/lambda-slackbot/slackbot/functions/internal/tokens"
	"github.com/lambda-slackbot/slackbot/functions/internal/workspace"
)

// PerWorkspace serves h with the request's workspace in its context
// (workspace.With), so that everything h posts goes out with that
// workspace's token. A verified request from a workspace without an
// installation is acknowledged with an empty 200 and not handled: nothing
// is posted there. Without installs, h is returned as it is.
//
// The signature is checked here too, before the workspace is trusted;
// a request that fails it goes on to h, which refuses it as before.
func (b *Bot) PerWorkspace(h deferred.ProxyHandler) deferred.ProxyHandler {
	if b.Tokens == nil {
		return h
	}
	verifier := b.Verifier()
	return func(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		body, err := apigw.Body(req)
		if err != nil {
			return h(ctx, req)
		}
		w := workspace.FromBody(body)
		if w.IsZero() || verifier.Verify(apigw.Header(req), body) != nil {
			return h(ctx, req)
		}
		ctx = workspace.With(ctx, w)
		if _, err := b.Tokens.Token(ctx, w); errors.Is(err, tokens.ErrNotInstalled) && !uninstall(body) {
			b.Log.Info("a workspace without an installation: acknowledged, not handled",
				"installation", w.Key(), "requestId", req.RequestContext.RequestID)
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
		}
		return h(ctx, req)
	}
}

// uninstall reports whether body is an event that removes an installation,
// which must be handled even when there is none left.
func uninstall(body []byte) bool {
	var env struct {
		Event struct {
			Type string `json:"type"`
		} `json:"event"`
	}
	if json.Unmarshal(body, &env) != nil {
		return false
	}
	return env.Event.Type == string(slackevents.AppUninstalled) || env.Event.Type == string(slackevents.TokensRevoked)
}

// uninstalled forgets the installation of the workspace that removed the
// app (app_uninstalled).
func (b *Bot) uninstalled(ctx context.Context, ev slackevents.EventsAPIEvent) error {
	return b.forget(ctx, ev, "app uninstalled")
}

// tokensRevoked forgets the installation whose bot token was revoked. Only
// bot tokens are kept, so a revoked user token changes nothing.
func (b *Bot) tokensRevoked(ctx context.Context, ev slackevents.EventsAPIEvent) error {
	if r, ok := ev.InnerEvent.Data.(*slackevents.TokensRevokedEvent); ok && len(r.Tokens.Bot) == 0 {
		return nil
	}
	return b.forget(ctx, ev, "bot token revoked")
}

func (b *Bot) forget(ctx context.Context, ev slackevents.EventsAPIEvent, why string) error {
	w, ok := workspace.From(ctx)
	if !ok || b.Installs == nil {
		b.Log.Info(why+": no installation to remove", "team", ev.TeamID)
		return nil
	}
	// Slack redelivers an event minutes after it happened when a delivery
	// failed, so this one may be older than a reinstall since: it is
	// about the installation it saw, not a newer one.
	if cb, ok := ev.Data.(*slackevents.EventsAPICallbackEvent); ok && cb.EventTime > 0 {
		// Should the installation not be read, the uninstall wins.
		if in, err := b.Installs.Get(ctx, w.Key()); err == nil && in.InstalledAt.After(time.Unix(int64(cb.EventTime), 0)) {
			b.Log.Info(why+" before the installation stored: kept", "installation", w.Key())
			return nil
		}
	}
	b.Tokens.Forget(w)
	if err := b.Installs.Delete(ctx, w.Key()); err != nil {
		return err
	}
	b.Log.Info(why+": installation removed", "installation", w.Key())
	return nil
}

// Install returns the handler of the two install routes. Without a client
// id and secret they answer 404.
func (b *Bot) Install() *install.Handler {
	h := &install.Handler{
		Scopes: contract.BotScopes,
		Claims: b.Claims,
		Store:  b.Installs,
		APIURL: b.Config.SlackAPIURL,
		Log:    b.Log,
	}
	if b.Installs != nil && b.Config.ClientID != "" {
		h.ClientID, h.ClientSecret = b.Config.ClientID, b.Config.ClientSecret
		h.Key = install.StateKey(b.Config.SigningSecret)
		h.Installed = func(in installstore.Installation) { b.Tokens.Forget(in.Workspace()) }
	}
	return h
}
