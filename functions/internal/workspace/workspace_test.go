package workspace

import (
	"context"
	"net/url"
	"strings"
	"testing"
)

func TestFromBody(t *testing.T) {
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	tests := []struct {
		name, body string
		want       Workspace
		key        string
	}{
		{"event", `{"type":"event_callback","team_id":"T1","event":{}}`, Workspace{TeamID: "T1"}, "T:T1"},
		{"event authorizations", `{"team_id":"T1","enterprise_id":"E1","authorizations":[{"team_id":"T2","enterprise_id":"E1","is_enterprise_install":false}]}`,
			Workspace{TeamID: "T2", EnterpriseID: "E1"}, "T:T2"},
		{"org-wide event", `{"team_id":"T1","enterprise_id":"E1","authorizations":[{"team_id":null,"enterprise_id":"E1","is_enterprise_install":true}]}`,
			Workspace{EnterpriseID: "E1", EnterpriseInstall: true}, "E:E1"},
		// An org-wide uninstall names the org and no team: the only
		// installation it can be about is the org's.
		{"org event without a team", `{"type":"event_callback","team_id":"","enterprise_id":"E1","event":{"type":"app_uninstalled"}}`,
			Workspace{EnterpriseID: "E1", EnterpriseInstall: true}, "E:E1"},
		{"url verification", `{"type":"url_verification","challenge":"x"}`, Workspace{}, ""},
		{"command", form("team_id", "T9", "command", "/slackbot"), Workspace{TeamID: "T9"}, "T:T9"},
		{"org-wide command", form("team_id", "T9", "enterprise_id", "E7", "is_enterprise_install", "true"),
			Workspace{TeamID: "T9", EnterpriseID: "E7", EnterpriseInstall: true}, "E:E7"},
		{"interaction", form("payload", `{"type":"block_actions","team":{"id":"T3"},"enterprise":null,"user":{"id":"U1","team_id":"T3"}}`),
			Workspace{TeamID: "T3"}, "T:T3"},
		{"org-wide interaction", form("payload", `{"team":null,"enterprise":{"id":"E2"},"is_enterprise_install":true,"user":{"team_id":"T4"}}`),
			Workspace{TeamID: "T4", EnterpriseID: "E2", EnterpriseInstall: true}, "E:E2"},
		{"invented id", form("team_id", "T1:../x"), Workspace{}, ""},
		{"not json", `{"team_id":`, Workspace{}, ""},
		{"ssl check", "ssl_check=1", Workspace{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FromBody([]byte(tt.body))
			if got != tt.want || got.Key() != tt.key {
				t.Errorf("FromBody = %+v key %q, want %+v key %q", got, got.Key(), tt.want, tt.key)
			}
		})
	}
}

func TestContext(t *testing.T) {
	if _, ok := From(context.Background()); ok {
		t.Error("an empty context carries a workspace")
	}
	w := Workspace{TeamID: "T1"}
	if got, ok := From(With(context.Background(), w)); !ok || got != w {
		t.Errorf("From(With(w)) = %+v, %v", got, ok)
	}
	if _, ok := From(With(context.Background(), Workspace{})); ok {
		t.Error("the zero workspace counts as one")
	}
}

func FuzzFromBody(f *testing.F) {
	f.Add([]byte(`{"team_id":"T1","authorizations":[{"team_id":"T2"}]}`))
	f.Add([]byte("team_id=T1&enterprise_id=E1&is_enterprise_install=true"))
	f.Add([]byte(`payload={"team":{"id":"T1"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		w := FromBody(body)
		k := w.Key()
		if k != "" && strings.ContainsAny(k[2:], ":/ \n") {
			t.Errorf("key %q holds a separator", k)
		}
	})
}
