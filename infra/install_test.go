package main

import (
	"encoding/json"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/lambda-slackbot/slackbot/contract"
)

// TestInstallations: the table keeps one item per installation for good
// (no TTL), and the key that encrypts its tokens rotates.
func TestInstallations(t *testing.T) {
	r := mustRun(t, baseConfig())
	tb := r.named(t, tTable, "installations")
	if tb.str("hashKey") != contract.InstallationKey || tb.str("rangeKey") != "" || tb.str("billingMode") != "PAY_PER_REQUEST" ||
		!reflect.DeepEqual(tb.in("attributes"), []any{map[string]any{"name": contract.InstallationKey, "type": "S"}}) {
		t.Errorf("installations table %v", tb.Inputs)
	}
	if tb.in("ttl") != nil {
		t.Errorf("installations expire (ttl %v): they must last until the app is removed", tb.in("ttl"))
	}
	if !reflect.DeepEqual(tb.in("pointInTimeRecovery"), map[string]any{"enabled": true}) {
		t.Errorf("pointInTimeRecovery %v", tb.in("pointInTimeRecovery"))
	}
	key := r.named(t, tKMSKey, "tokens")
	if key.in("enableKeyRotation") != true || key.in("deletionWindowInDays") != float64(30) {
		t.Errorf("token key %v, want rotation on and a 30-day deletion window", key.Inputs)
	}
	if got := r.output(t, "installationsTable"); got != tb.outStr("name") {
		t.Errorf("installationsTable output %q", got)
	}
	for name, o := range r.outputs {
		if b, _ := json.Marshal(o.Value); strings.Contains(string(b), key.outStr("arn")) || strings.Contains(string(b), key.ID) {
			t.Errorf("output %s names the token key", name)
		}
	}
}

// TestClientCredentials: the client id and secret reach the functions only
// through the secret's JSON, the secret one never in the clear (as every
// credential: TestNoPlaintextSecrets); reportTeam reaches the percentiles
// function alone.
func TestClientCredentials(t *testing.T) {
	cfg := baseConfig()
	cfg["slackbot:"+keyReportTeam] = "T0REPORTS1"
	r := mustRun(t, cfg)
	var doc contract.Secret
	if err := json.Unmarshal([]byte(r.named(t, tSecretVer, "slack-credentials").str("secretString")), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.ClientID != testClientID || doc.ClientSecret != testSecrets[keyClientSecret] {
		t.Errorf("secret document's client credentials %q/%v, want the configured ones", doc.ClientID, doc.ClientSecret != "")
	}
	for _, name := range functionNames {
		env := r.named(t, tFunction, name+"-function").in("environment").(map[string]any)["variables"].(map[string]any)
		for _, k := range []string{contract.EnvClientID, contract.EnvClientSecret} {
			if _, ok := env[k]; ok {
				t.Errorf("%s: environment sets %s; functions read it from the secret", name, k)
			}
		}
		got, ok := env[contract.EnvReportTeam]
		if want := name == contract.PercentilesFunction; ok != want || (want && got != "T0REPORTS1") {
			t.Errorf("%s: %s = %v (set %v), want it on percentiles only", name, contract.EnvReportTeam, got, ok)
		}
		if env[contract.EnvInstallationsTable] != r.named(t, tTable, "installations").outStr("name") {
			t.Errorf("%s: no installations table", name)
		}
	}
}

func TestInstallConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  map[string]string
		drop []string
		want string
	}{
		{"client id without its secret", nil, []string{keyClientSecret}, "clientSecret: required with clientId"},
		{"client secret without its id", nil, []string{keyClientID}, "clientId: required with clientSecret"},
		{"client id not Slack's", map[string]string{keyClientID: "my-app"}, nil, "clientId: \"my-app\""},
		{"rotation without client", map[string]string{keyTokenRotation: "true"}, []string{keyClientID, keyClientSecret}, "tokenRotation: rotating tokens"},
		{"rotation not a bool", map[string]string{keyTokenRotation: "yes"}, nil, "tokenRotation: \"yes\""},
		{"report team not a team", map[string]string{keyReportTeam: "#general"}, nil, "reportTeam: \"#general\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := maps.Clone(baseConfig())
			for k, v := range tc.set {
				cfg["slackbot:"+k] = v
			}
			for _, k := range tc.drop {
				delete(cfg, "slackbot:"+k)
			}
			_, err := runProgram(t, "dev", cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), testSecrets[keyClientSecret]) {
				t.Error("the error quotes the client secret")
			}
		})
	}
}
