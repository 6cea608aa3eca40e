package main

import (
	"slices"
	"testing"
)

// TestGatewayChildrenAreNamedAfterIt: each resource NewGateway makes is
// named "<component>-<part>" and parented to the component, and the three
// that stacks deployed earlier know by the component's bare name (the REST
// API, its deployment and its stage) carry that name as an alias, so
// `pulumi up` updates them in place: without it Pulumi would replace the REST
// API, and with it the URL Slack's app configuration points at.
func TestGatewayChildrenAreNamedAfterIt(t *testing.T) {
	r := mustRun(t, baseConfig())
	const api = "slack"
	children := []struct {
		typ, name string
		aliased   bool // deployed under the bare name before
	}{
		{tRestAPI, api + "-rest-api", true},
		{tDeployment, api + "-deployment", true},
		{tStage, api + "-stage", true},
		{tAPIResource, api + "-slack", false},
		{tAPIResource, api + "-slack-events", false},
		{tAPIResource, api + "-slack-commands", false},
		{tAPIResource, api + "-slack-interactions", false},
		{tMethod, api + "-slack-events-post", false},
		{tIntegration, api + "-slack-commands-post", false},
		{tLogGroup, api + "-access", false},
		{tMethodSet, api + "-all", false},
		{tAccount, api + "-account", false},
	}
	for _, c := range children {
		child := r.named(t, c.typ, c.name)
		if !child.parentIs(tGateway, api) {
			t.Errorf("%s: parent %s, want the Gateway %s", child.Name, child.Parent, api)
		}
		var want []string
		if c.aliased {
			want = []string{api}
		}
		if !slices.Equal(child.Aliases, want) {
			t.Errorf("%s: aliases %q, want %q", child.Name, child.Aliases, want)
		}
	}
	for _, typ := range []string{tRestAPI, tDeployment, tStage} {
		for _, res := range r.ofType(typ) {
			if res.Name == api {
				t.Errorf("%s %s still has its component's bare name", typ, res.Name)
			}
		}
	}
}
