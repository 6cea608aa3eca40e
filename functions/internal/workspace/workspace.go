// Package workspace says which Slack workspace a request comes from: its
// team, its Enterprise Grid org, and whether the app was installed for the
// whole org. Slack puts these in every payload; the token that answers the
// request is the one of that workspace's installation, so a deployment can
// serve many workspaces.
package workspace

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"

	"github.com/slack-go/slack/slackevents"
)

// Workspace is where a request comes from. The zero value is "not said":
// a url_verification, an ssl_check, or a payload without a team.
type Workspace struct {
	TeamID            string `json:"team,omitempty"`
	EnterpriseID      string `json:"enterprise,omitempty"`
	EnterpriseInstall bool   `json:"org,omitempty"`
}

// Key is the installation that serves w: the org's for an org-wide
// install, else the team's; "" when w names neither.
func (w Workspace) Key() string {
	if w.EnterpriseInstall && w.EnterpriseID != "" {
		return "E:" + w.EnterpriseID
	}
	if w.TeamID != "" {
		return "T:" + w.TeamID
	}
	return ""
}

// IsZero reports whether w names no installation.
func (w Workspace) IsZero() bool { return w.Key() == "" }

type ctxKey struct{}

// With returns ctx carrying w.
func With(ctx context.Context, w Workspace) context.Context {
	return context.WithValue(ctx, ctxKey{}, w)
}

// From returns the workspace ctx carries, if any.
func From(ctx context.Context) (Workspace, bool) {
	w, ok := ctx.Value(ctxKey{}).(Workspace)
	return w, ok && !w.IsZero()
}

// FromBody reads the workspace of a request body as Slack sends it: an
// Events API JSON body, a slash command's form, or an interaction's form
// with its JSON payload. Anything else, or IDs that are not Slack's shape,
// is the zero Workspace. It does not verify the request: callers trust it
// only after the signature is checked.
func FromBody(body []byte) Workspace {
	b := bytes.TrimSpace(body)
	if len(b) > 0 && b[0] == '{' {
		return fromEvent(b)
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		return Workspace{}
	}
	if p := form.Get("payload"); p != "" {
		return fromInteraction([]byte(p))
	}
	return clean(Workspace{
		TeamID:            form.Get("team_id"),
		EnterpriseID:      form.Get("enterprise_id"),
		EnterpriseInstall: form.Get("is_enterprise_install") == "true",
	})
}

// fromEvent reads an event callback: its authorizations name the
// installation the event is for, the top level the team it happened in.
func fromEvent(b []byte) Workspace {
	var ev slackevents.EventsAPICallbackEvent
	if json.Unmarshal(b, &ev) != nil {
		return Workspace{}
	}
	if len(ev.Authorizations) > 0 {
		a := ev.Authorizations[0]
		w := Workspace{TeamID: a.TeamID, EnterpriseID: a.EnterpriseID, EnterpriseInstall: a.IsEnterpriseInstall}
		if w.TeamID == "" && !w.EnterpriseInstall {
			w.TeamID = ev.TeamID
		}
		return clean(w)
	}
	// Without authorizations (an uninstall), an event that names an org
	// and no team can only be about the org-wide install.
	return clean(Workspace{TeamID: ev.TeamID, EnterpriseID: ev.EnterpriseID, EnterpriseInstall: ev.TeamID == "" && ev.EnterpriseID != ""})
}

func fromInteraction(p []byte) Workspace {
	var cb struct {
		Team *struct {
			ID string `json:"id"`
		} `json:"team"`
		Enterprise *struct {
			ID string `json:"id"`
		} `json:"enterprise"`
		User struct {
			TeamID string `json:"team_id"`
		} `json:"user"`
		EnterpriseInstall bool `json:"is_enterprise_install"`
	}
	if json.Unmarshal(p, &cb) != nil {
		return Workspace{}
	}
	w := Workspace{TeamID: cb.User.TeamID, EnterpriseInstall: cb.EnterpriseInstall}
	if cb.Team != nil && cb.Team.ID != "" {
		w.TeamID = cb.Team.ID
	}
	if cb.Enterprise != nil {
		w.EnterpriseID = cb.Enterprise.ID
	}
	return clean(w)
}

// clean drops IDs that are not Slack's shape, so that nothing a sender
// invents becomes part of a table key or a log line.
func clean(w Workspace) Workspace {
	if !id(w.TeamID) {
		w.TeamID = ""
	}
	if !id(w.EnterpriseID) {
		w.EnterpriseID, w.EnterpriseInstall = "", false
	}
	return w
}

// id reports whether s looks like a Slack team or enterprise ID.
func id(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
