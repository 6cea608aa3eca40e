package contract

import (
	"strings"
	"testing"
	"time"
)

func TestParseAlertRules(t *testing.T) {
	rules, err := ParseAlertRules(`[{"route":"*","quantile":0.99,"threshold_ms":800,"window":"5m"},
		{"route":"POST /slack/events","error_ratio":0.01,"window":"15m"}]`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || rules[0].WindowDuration != 5*time.Minute || rules[0].IsErrorRule() || rules[0].Threshold() != 800 ||
		!rules[1].IsErrorRule() || rules[1].Threshold() != 0.01 || rules[1].WindowDuration != 15*time.Minute {
		t.Errorf("rules %+v", rules)
	}
	if rules[0].ID() == rules[1].ID() {
		t.Errorf("two rules share the id %q", rules[0].ID())
	}
	if none, err := ParseAlertRules("  "); err != nil || none != nil {
		t.Errorf("empty: %v, %v", none, err)
	}
}

func TestParseAlertRulesErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{}`, "JSON array"},
		{`[1]`, "alert rule 0"},
		{`[{"route":"*","quantile":0.99,"threshold_ms":800,"window":"5m"},{"route":"*","quantile":1.5,"threshold_ms":800,"window":"5m"}]`, "alert rule 1: quantile 1.5"},
		{`[{"quantile":0.99,"threshold_ms":800,"window":"5m"}]`, "alert rule 0: route is missing"},
		{`[{"route":"*","quantile":0.99,"window":"5m"}]`, "threshold_ms 0"},
		{`[{"route":"*","threshold_ms":800,"window":"5m"}]`, "quantile 0"},
		{`[{"route":"*","error_ratio":2,"window":"5m"}]`, "error_ratio 2"},
		{`[{"route":"*","error_ratio":0.1,"quantile":0.5,"threshold_ms":1,"window":"5m"}]`, "not both"},
		{`[{"route":"*","window":"5m"}]`, "quantile with threshold_ms (a latency rule) or error_ratio"},
		{`[{"route":"*","error_ratio":0.1}]`, "window is missing"},
		{`[{"route":"*","error_ratio":0.1,"window":"100d"}]`, "window: \"100d\" is too long"},
		{`[{"route":"*","error_ratio":0.1,"window":"5m","severity":"high"}]`, "unknown field"},
		{`[{"route":"*","error_ratio":0.1,"window":"5m"},{"route":"*","error_ratio":0.1,"window":"5m"}]`, "alert rule 1: the same as rule 0"},
		{`[] []`, "text after"},
		{"[" + strings.Repeat(`{"route":"*","error_ratio":0.1,"window":"5m"},`, MaxAlertRules) + `{"route":"*","error_ratio":0.2,"window":"5m"}]`, "at most 20"},
	} {
		_, err := ParseAlertRules(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseAlertRules(%s) = %v, want an error saying %q", c.in, err, c.want)
		}
	}
}

func FuzzParseAlertRules(f *testing.F) {
	f.Add(`[{"route":"*","quantile":0.99,"threshold_ms":800,"window":"5m"}]`)
	f.Add(`[{"route":"events","error_ratio":0.01,"window":"15m"}]`)
	f.Add(`[{"route":"*","quantile":1e-300,"threshold_ms":1e308,"window":"90d"}]`)
	f.Fuzz(func(t *testing.T, s string) {
		rules, err := ParseAlertRules(s)
		if err != nil {
			return
		}
		for _, r := range rules {
			if r.Route == "" || r.WindowDuration < MinWindow || r.WindowDuration > MaxWindow || !(r.Threshold() > 0) {
				t.Fatalf("accepted an invalid rule %+v from %q", r, s)
			}
		}
	})
}

func TestResolveAlertSources(t *testing.T) {
	sources, err := ParseLatencySources(`[{"name":"orders","kind":"apigateway","logGroup":"/aws/apigateway/orders"},
		{"name":"web","kind":"alb","bucket":"logs"}]`)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := ParseAlertRules(`[{"route":"*","quantile":0.99,"threshold_ms":800,"window":"5m"},
		{"source":"web","route":"*","quantile":0.99,"threshold_ms":800,"window":"5m"},
		{"source":"slackbot","route":"*","quantile":0.99,"threshold_ms":800,"window":"5m"}]`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ResolveAlertSources(rules, sources)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"orders", "web", "slackbot"} {
		if got[i].Source != want {
			t.Errorf("rule %d: source %q, want %q", i, got[i].Source, want)
		}
	}
	// The bot's own rules keep the IDs their state was stored under.
	if id := got[2].ID(); id != "*|p99|800|5m" {
		t.Errorf("the bot's own rule has ID %q, want the one it had before sources", id)
	}
	if got[0].ID() == got[1].ID() || got[1].ID() == got[2].ID() {
		t.Errorf("rules on different sources share an ID: %q %q %q", got[0].ID(), got[1].ID(), got[2].ID())
	}
	// With no sources configured the default is the bot's own API.
	own, err := ResolveAlertSources(rules[:1], nil)
	if err != nil || own[0].Source != DefaultSource || own[0].ID() != "*|p99|800|5m" {
		t.Errorf("no sources: %+v, %v", own, err)
	}
}

func TestResolveAlertSourcesErrors(t *testing.T) {
	sources, err := ParseLatencySources(`[{"name":"orders","kind":"apigateway","logGroup":"/aws/apigateway/orders"}]`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ in, want string }{
		{`[{"route":"*","error_ratio":0.1,"window":"5m"},{"source":"billing","route":"*","error_ratio":0.1,"window":"5m"}]`,
			`alert rule 1: source "billing" is not a latency source: want one of orders, slackbot`},
		// The first rule means orders, the default source, as the second says.
		{`[{"route":"*","error_ratio":0.1,"window":"5m"},{"source":"orders","route":"*","error_ratio":0.1,"window":"5m"}]`,
			"alert rule 1: the same as rule 0"},
	} {
		rules, err := ParseAlertRules(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ResolveAlertSources(rules, sources); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ResolveAlertSources(%s) = %v, want an error saying %q", c.in, err, c.want)
		}
	}
	if _, err := ParseAlertRules(`[{"source":"Orders!","route":"*","error_ratio":0.1,"window":"5m"}]`); err == nil ||
		!strings.Contains(err.Error(), `alert rule 0: source "Orders!"`) {
		t.Errorf("a malformed source: %v", err)
	}
}
