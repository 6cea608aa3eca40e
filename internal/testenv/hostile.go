package testenv

import (
	"encoding/json"
	"strings"
	"testing"
)

// Hostile is text a Slack user (or anything that reaches an access log) might
// hand the bot to repeat: a broadcast, a user-group page, a mention, and a
// link whose words disguise where it goes. Slack reads each as markup unless
// its &, < and > are escaped.
var Hostile = []string{
	"<!channel>",
	"<!here>",
	"<!everyone>",
	"<!subteam^S0123ABCD|@oncall>",
	"<@U0ADMIN01>",
	"<https://evil.example/login|Reset password>",
}

// HostileText is every Hostile string in one line, with an ampersand.
var HostileText = strings.Join(Hostile, " ") + " & more"

// NoRawMarkup fails t if any Hostile string reaches out unescaped. where
// names the place, such as "notify text" or "report fallback".
func NoRawMarkup(t testing.TB, where, out string) {
	t.Helper()
	for _, h := range Hostile {
		if strings.Contains(out, h) {
			t.Errorf("%s repeats %q unescaped: %s", where, h, out)
		}
	}
}

// NoRawMarkupIn is NoRawMarkup over v as JSON (a message, its blocks),
// written without encoding/json's HTML escaping, which would hide a raw "<".
func NoRawMarkupIn(t testing.TB, where string, v any) {
	t.Helper()
	NoRawMarkup(t, where, PlainJSON(t, v))
}

// PlainJSON is v as JSON without HTML escaping: "<" stays "<".
func PlainJSON(t testing.TB, v any) string {
	t.Helper()
	if raw, ok := v.([]byte); ok {
		// Already JSON: decode it so its \u003c escapes turn back into "<".
		var decoded any
		if err := json.Unmarshal(raw, &decoded); err != nil {
			t.Fatalf("PlainJSON: %v", err)
		}
		v = decoded
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("PlainJSON: %v", err)
	}
	return b.String()
}

// NoSecretsIn fails the test when out holds any of the secrets: tokens
// and client secrets are never logged.
func NoSecretsIn(t testing.TB, where, out string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			t.Errorf("%s holds a secret (%.8s…)", where, s)
		}
	}
}
