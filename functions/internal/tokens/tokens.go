// Package tokens finds the bot token that answers a request: the token of
// the installation of the request's workspace (package workspace), read
// from the installation store and kept for CacheTTL per container, or the
// stack's configured bot token for the workspace it belongs to, which
// auth.test names once per container. A token that rotates is refreshed
// before it expires, by one container at a time.
package tokens

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/installstore"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/workspace"
)

const (
	// CacheTTL is how long a container trusts the token it read: an
	// uninstall or a refresh elsewhere reaches it within this time.
	CacheTTL = 30 * time.Second
	// RefreshBefore is how long before its expiry a rotating token is
	// refreshed. Slack's last 12 hours; an hour leaves room for a refresh
	// that fails to be retried by the next request.
	RefreshBefore = time.Hour
	// refreshLease is how long a container holds a refresh it claimed:
	// past it, another may try.
	refreshLease = 30 * time.Second
	// refreshWait is how long a container waits for another's refresh
	// before it uses the old token, which is still valid for RefreshBefore.
	refreshWait = 3 * time.Second
)

// ErrNotInstalled answers a workspace without an installation. It is a
// *notify.Error, Slack-like and definite: the request is acknowledged and
// nothing is posted, and a redelivery would get the same answer.
var ErrNotInstalled error = &notify.Error{Code: "not_installed",
	Hint: "The app is not installed in this workspace: install it from the stack's installUrl."}

// Resolver finds tokens. Its zero value with Configured set serves one
// workspace, as a stack without installations does.
type Resolver struct {
	// Store holds the installations; nil: only Configured is used, for
	// every request.
	Store installstore.Store
	// Configured is the stack's bot token, "" when there is none.
	Configured string
	// ClientID and ClientSecret refresh rotating tokens.
	ClientID, ClientSecret string
	// APIURL is Slack's Web API base URL ending in "/"; "" for Slack's own.
	APIURL string
	HTTP   *http.Client // nil: http.DefaultClient
	Now    func() time.Time
	Log    *slog.Logger

	mu       sync.Mutex
	cache    map[string]cached
	home     *workspace.Workspace // Configured's workspace, once auth.test named it
	homeMiss time.Time            // when auth.test last failed
}

type cached struct {
	token   string
	expires time.Time // when the cache entry stops being trusted
}

func (r *Resolver) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Resolver) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (r *Resolver) apiURL() string {
	if r.APIURL != "" {
		return r.APIURL
	}
	return slack.APIURL
}

func (r *Resolver) httpClient() *http.Client {
	if r.HTTP != nil {
		return r.HTTP
	}
	return http.DefaultClient
}

// Token returns the bot token for w, or ErrNotInstalled. A request that
// names no workspace (a local test, an old payload) gets the configured
// token.
func (r *Resolver) Token(ctx context.Context, w workspace.Workspace) (string, error) {
	if r.Store == nil || w.IsZero() {
		if r.Configured == "" {
			return "", ErrNotInstalled
		}
		return r.Configured, nil
	}
	home, homeKnown := r.homeWorkspace(ctx)
	if r.Configured != "" && homeKnown && serves(home, w) {
		return r.Configured, nil
	}
	key, now := w.Key(), r.now()
	r.mu.Lock()
	c, ok := r.cache[key]
	r.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.token, nil
	}
	in, err := r.Store.Get(ctx, key)
	switch {
	case errors.Is(err, installstore.ErrNotFound) && r.Configured != "" && !homeKnown:
		// auth.test failed: serve as before installations existed.
		return r.Configured, nil
	case errors.Is(err, installstore.ErrNotFound):
		return "", ErrNotInstalled
	case err != nil:
		return "", fmt.Errorf("token of %s: %w", key, err)
	}
	if due(in, now) {
		if in, err = r.refresh(ctx, in); err != nil {
			return "", err
		}
	}
	until := now.Add(CacheTTL)
	if !in.ExpiresAt.IsZero() {
		// Come back to the store once the refresh is due.
		if due := in.ExpiresAt.Add(-RefreshBefore); due.Before(until) {
			until = due
		}
	}
	r.mu.Lock()
	if r.cache == nil || len(r.cache) > 1000 {
		r.cache = make(map[string]cached)
	}
	r.cache[key] = cached{token: in.BotToken, expires: until}
	r.mu.Unlock()
	return in.BotToken, nil
}

// Forget drops what this container knows of w's token: after an
// uninstall, nothing is posted there with it.
func (r *Resolver) Forget(w workspace.Workspace) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.cache, w.Key())
}

// serves reports whether the installation of home answers requests of w.
func serves(home, w workspace.Workspace) bool {
	if home.EnterpriseInstall {
		return w.EnterpriseID == home.EnterpriseID
	}
	return w.TeamID == home.TeamID
}

// Home is the workspace of the configured token, as auth.test names it;
// false when there is no configured token or auth.test failed (it is
// asked again on the next request).
func (r *Resolver) homeWorkspace(ctx context.Context) (workspace.Workspace, bool) {
	if r.Configured == "" {
		return workspace.Workspace{}, false
	}
	r.mu.Lock()
	home, miss := r.home, r.homeMiss
	r.mu.Unlock()
	if home != nil {
		return *home, true
	}
	// A token Slack refuses is not asked about on every request.
	if !miss.IsZero() && r.now().Sub(miss) < CacheTTL {
		return workspace.Workspace{}, false
	}
	api := slack.New(r.Configured, slack.OptionAPIURL(r.apiURL()), slack.OptionHTTPClient(r.httpClient()))
	// Every request waits on this call: a Slack that never answers must
	// not take the whole invocation.
	cctx, cancel := context.WithTimeout(ctx, notify.CallTimeout)
	resp, err := api.AuthTestContext(cctx)
	cancel()
	if err != nil {
		r.mu.Lock()
		r.homeMiss = r.now()
		r.mu.Unlock()
		r.log().Warn("auth.test of the configured bot token failed; it serves every workspace without an installation for now", "error", err)
		return workspace.Workspace{}, false
	}
	w := workspace.Workspace{TeamID: resp.TeamID, EnterpriseID: resp.EnterpriseID}
	// An org-wide token's auth.test names the org and no team.
	w.EnterpriseInstall = w.TeamID == "" && w.EnterpriseID != ""
	r.mu.Lock()
	r.home = &w
	r.mu.Unlock()
	r.log().Info("configured bot token", "team", w.TeamID, "enterprise", w.EnterpriseID)
	return w, true
}

// HomeKey is the installation key of the configured token's workspace, or
// "" when it is not known.
func (r *Resolver) HomeKey(ctx context.Context) string {
	w, ok := r.homeWorkspace(ctx)
	if !ok {
		return ""
	}
	return w.Key()
}

// due reports whether in's token should be refreshed now.
func due(in installstore.Installation, now time.Time) bool {
	return in.RefreshToken != "" && !in.ExpiresAt.IsZero() && !now.Before(in.ExpiresAt.Add(-RefreshBefore))
}

// refresh gets the next token of a rotating installation. One container
// claims the refresh with a conditional write of its lease; the others
// wait for its result, or use the old token while it is still valid.
func (r *Resolver) refresh(ctx context.Context, in installstore.Installation) (installstore.Installation, error) {
	now := r.now()
	log := r.log().With("installation", in.Key())
	if now.Before(in.RefreshingUntil) {
		// A refresh in flight ends within refreshWait (its Slack call has
		// a deadline); a lease older than that is one that failed, and
		// waiting for it would only spend the request's time.
		if now.Before(in.RefreshingUntil.Add(refreshWait - refreshLease)) {
			return r.awaitRefresh(ctx, in)
		}
		return r.stale(in, fmt.Errorf("a refresh of %s failed lately; the next is tried when its lease ends", in.Key()))
	}
	claim := in
	claim.RefreshingUntil = now.Add(refreshLease)
	claimed, err := r.Store.Update(ctx, claim)
	switch {
	case errors.Is(err, installstore.ErrConflict):
		return r.awaitRefresh(ctx, in)
	case errors.Is(err, installstore.ErrNotFound):
		return installstore.Installation{}, ErrNotInstalled
	case err != nil:
		return r.stale(in, fmt.Errorf("claim the refresh of %s: %w", in.Key(), err))
	}
	cctx, cancel := context.WithTimeout(ctx, notify.CallTimeout)
	resp, err := slack.RefreshOAuthV2TokenContext(cctx, r.httpClient(), r.ClientID, r.ClientSecret, in.RefreshToken,
		slack.OAuthOptionAPIURL(r.apiURL()))
	cancel()
	if err != nil {
		// The lease runs out and the next request tries again.
		return r.stale(in, fmt.Errorf("refresh the token of %s: %w", in.Key(), err))
	}
	next := claimed
	next.BotToken, next.RefreshToken = resp.AccessToken, resp.RefreshToken
	next.ExpiresAt = now.Add(time.Duration(resp.ExpiresIn) * time.Second)
	next.RefreshingUntil = time.Time{}
	// Slack has moved on: keep the new token even if the call spent the
	// request's time.
	settle, settled := dedupe.Settle(ctx)
	defer settled()
	saved, err := r.Store.Update(settle, next)
	if err != nil {
		// Slack has moved on to the new token; keep serving it here, and
		// say loudly that the store could not keep it.
		log.Error("the refreshed token could not be stored; reinstall the app if requests start failing", "error", err)
		return next, nil
	}
	log.Info("bot token refreshed", "expires", next.ExpiresAt.UTC().Format(time.RFC3339))
	return saved, nil
}

// awaitRefresh waits for another container's refresh of in.
func (r *Resolver) awaitRefresh(ctx context.Context, in installstore.Installation) (installstore.Installation, error) {
	deadline := time.Now().Add(refreshWait)
	for time.Now().Before(deadline) {
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return r.stale(in, ctx.Err())
		case <-t.C:
		}
		got, err := r.Store.Get(ctx, in.Key())
		if errors.Is(err, installstore.ErrNotFound) {
			return installstore.Installation{}, ErrNotInstalled
		}
		if err == nil && got.Version > in.Version && got.RefreshingUntil.IsZero() {
			return got, nil
		}
	}
	return r.stale(in, fmt.Errorf("the refresh of %s is taking long", in.Key()))
}

// stale is in's old token while it is still valid, else err.
func (r *Resolver) stale(in installstore.Installation, err error) (installstore.Installation, error) {
	if r.now().Before(in.ExpiresAt) {
		r.log().Warn("using the current token until the refresh succeeds", "installation", in.Key(), "error", err)
		return in, nil
	}
	return installstore.Installation{}, err
}
