package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func outputsWith(t testing.TB, manifest string) []byte {
	b, err := json.Marshal(map[string]any{"apiUrl": "https://x/", outputManifest: manifest})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStackManifest(t *testing.T) {
	full := `{"display_information":{"name":"pingbot"},"settings":{"event_subscriptions":{"request_url":"https://x/slack/events","bot_events":["app_mention"]}}}`
	for _, tc := range []struct {
		name    string
		outputs []byte
		ok      bool
		err     string
	}{
		{"before the first up", []byte("{}"), false, ""},
		{"no output at all", nil, false, ""},
		{"null output", []byte(`{"slackAppManifest":null}`), false, ""},
		{"deployed", outputsWith(t, full), true, ""},
		{"not JSON", []byte("error: no stack"), false, "stack outputs"},
		{"an object, not a string", []byte(`{"slackAppManifest":{"display_information":{"name":"x"}}}`), false, "want a string"},
		{"unknown field", outputsWith(t, `{"display_information":{"name":"x"},"setings":{}}`), false, `unknown field "setings"`},
		{"no name", outputsWith(t, `{"settings":{}}`), false, "display_information.name"},
		{"two values", outputsWith(t, `{"display_information":{"name":"x"}} {}`), false, "more than one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, ok, err := stackManifest(tc.outputs)
			if ok != tc.ok || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("ok %v, err %v; want ok %v, err containing %q", ok, err, tc.ok, tc.err)
			}
			if ok && m.Settings.EventSubscriptions.RequestUrl != "https://x/slack/events" {
				t.Errorf("decoded %+v", m)
			}
		})
	}
}

// FuzzStackManifest: whatever `pulumi stack output --json` prints, reading it
// does not panic; a manifest read survives a round trip, and the manifest an
// app is created from has nothing that needs a request URL, while the one
// read is left whole.
func FuzzStackManifest(f *testing.F) {
	f.Add([]byte("{}"))
	f.Add(outputsWith(f, `{"display_information":{"name":"pingbot"},"features":{"slash_commands":[{"command":"/p","description":"d","url":"https://x/c"}],"shortcuts":[{"name":"n","callback_id":"c","description":"d","type":"global"}]},"settings":{"event_subscriptions":{"request_url":"https://x/e"},"interactivity":{"is_enabled":true,"request_url":"https://x/i"}}}`))
	f.Add([]byte(`{"slackAppManifest":"{\"display_information\":{\"name\":\"a\"},\"oauth_config\":{\"scopes\":{\"bot\":[\"commands\"]}}}"}`))
	f.Fuzz(func(t *testing.T, outputs []byte) {
		m, ok, err := stackManifest(outputs)
		if err != nil || !ok {
			return
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("re-encoding: %v", err)
		}
		again, err := parseManifest(b)
		if err != nil {
			t.Fatalf("a manifest read does not read again: %v\n%s", err, b)
		}
		before, _ := json.Marshal(again)

		first := withoutURLs(*again)
		if first.Settings.EventSubscriptions != nil || first.Settings.Interactivity != nil ||
			first.Features.SlashCommands != nil || first.Features.Shortcuts != nil {
			t.Fatalf("created with URL parts: %+v", first)
		}
		if first.Display != again.Display || !reflect.DeepEqual(first.OAuthConfig, again.OAuthConfig) {
			t.Fatal("stripping changed more than the URL parts")
		}
		if after, _ := json.Marshal(again); string(after) != string(before) {
			t.Fatalf("stripping changed the manifest it was given:\n%s\n%s", before, after)
		}
	})
}

func TestBootstrapManifest(t *testing.T) {
	m := bootstrapManifest("pingbot")
	if m.Display.Name != "pingbot" || m.Features.BotUser.DisplayName != "pingbot" || len(m.OAuthConfig.Scopes.Bot) == 0 {
		t.Errorf("bootstrap manifest %+v: want the name, the bot user and the scopes", m)
	}
	if first := withoutURLs(m); !reflect.DeepEqual(first, m) {
		t.Error("the bootstrap manifest has parts that need URLs")
	}
}
