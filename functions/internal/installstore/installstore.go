// Package installstore keeps the installations of the app: one per
// workspace, or one per Enterprise Grid org for an org-wide install, each
// with the bot token Slack gave when it was installed. Memory serves a
// local run; Dynamo a deployment, with every token encrypted by a KMS key
// before it is written.
//
// Every write is versioned. Update writes only over the version it read,
// so when two containers refresh the same rotating token at once, one
// wins and the other learns it lost.
package installstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/lambda-slackbot/slackbot/functions/internal/workspace"
)

// Installation is one workspace's (or org's) install of the app.
type Installation struct {
	TeamID            string
	TeamName          string
	EnterpriseID      string
	EnterpriseName    string
	EnterpriseInstall bool
	AppID             string

	BotToken  string
	BotUserID string
	BotID     string
	Scopes    string // comma-separated, as Slack lists them

	// RefreshToken and ExpiresAt are set when the app rotates its tokens:
	// the bot token stops working at ExpiresAt and the refresh token gets
	// the next one.
	RefreshToken string
	ExpiresAt    time.Time

	InstallerUserID string
	InstalledAt     time.Time

	// Version counts the writes of the item; Update writes only over the
	// version it was given.
	Version int64
	// RefreshingUntil, when in the future, says a container is refreshing
	// the token and others should not.
	RefreshingUntil time.Time
}

// Workspace is the workspace (or org) the installation serves.
func (in Installation) Workspace() workspace.Workspace {
	return workspace.Workspace{TeamID: in.TeamID, EnterpriseID: in.EnterpriseID, EnterpriseInstall: in.EnterpriseInstall}
}

// Key is the installation's key: workspace.Workspace.Key.
func (in Installation) Key() string { return in.Workspace().Key() }

// Errors of a Store.
var (
	ErrNotFound = errors.New("no installation for this workspace")
	ErrConflict = errors.New("the installation changed since it was read")
)

// Store keeps installations by Key.
type Store interface {
	// Get returns the installation of key, or ErrNotFound.
	Get(ctx context.Context, key string) (Installation, error)
	// Save stores a new install, replacing any earlier one of its key,
	// and returns it with its version.
	Save(ctx context.Context, in Installation) (Installation, error)
	// Update writes in if the stored item is still at in.Version, and
	// returns it at its new version; ErrConflict if another write came
	// first, ErrNotFound if it was deleted.
	Update(ctx context.Context, in Installation) (Installation, error)
	// Delete forgets the installation of key (an uninstall); deleting one
	// that is not there is not an error.
	Delete(ctx context.Context, key string) error
}

// Memory is a Store in this process, for the dev server and tests.
type Memory struct {
	mu    sync.Mutex
	items map[string]Installation
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, key string) (Installation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	in, ok := m.items[key]
	if !ok {
		return Installation{}, ErrNotFound
	}
	return in, nil
}

// Save implements Store.
func (m *Memory) Save(_ context.Context, in Installation) (Installation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.items == nil {
		m.items = make(map[string]Installation)
	}
	in.Version = m.items[in.Key()].Version + 1
	in.RefreshingUntil = time.Time{}
	m.items[in.Key()] = in
	return in, nil
}

// Update implements Store.
func (m *Memory) Update(_ context.Context, in Installation) (Installation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.items[in.Key()]
	switch {
	case !ok:
		return Installation{}, ErrNotFound
	case old.Version != in.Version:
		return Installation{}, ErrConflict
	}
	in.Version++
	m.items[in.Key()] = in
	return in, nil
}

// Delete implements Store.
func (m *Memory) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.items, key)
	return nil
}
