package main

import (
	"slices"
	"testing"

	"github.com/lambda-slackbot/slackbot/contract"
)

// TestGoFunctionChildrenAreNamedAfterIt: each resource NewGoFunction makes
// is named "<component>-<part>", as Pulumi's component guide has it, and
// the five that stacks deployed earlier know by the component's bare name
// carry that name as an alias, so `pulumi up` updates them in place: without
// it Pulumi would replace them, and a replaced log group loses its logs.
func TestGoFunctionChildrenAreNamedAfterIt(t *testing.T) {
	r := mustRun(t, baseConfig())
	parts := []struct {
		typ, suffix string
		aliased     bool // deployed under the bare name before
		async       bool // only for asynchronously invoked functions
	}{
		{tFunction, "-function", true, false},
		{tLogGroup, "-logs", true, false},
		{tRole, "-role", true, false},
		{tRolePolicy, "-policy", true, false},
		{tInvokeConfig, "-async", false, true}, // new with its name: nothing to alias
		{tQueue, "-failures", false, true},
	}
	async := map[string]bool{contract.CommandsFunction: true, contract.PercentilesFunction: true}
	for _, name := range functionNames {
		for _, p := range parts {
			if p.async && !async[name] {
				continue
			}
			child := r.named(t, p.typ, name+p.suffix)
			if !child.parentIs(tGoFunction, name) {
				t.Errorf("%s: parent %s, want the GoFunction %s", child.Name, child.Parent, name)
			}
			var want []string
			if p.aliased {
				want = []string{name}
			}
			if !slices.Equal(child.Aliases, want) {
				t.Errorf("%s: aliases %q, want %q", child.Name, child.Aliases, want)
			}
		}
	}
	for _, typ := range []string{tFunction, tLogGroup, tRole, tRolePolicy, tInvokeConfig} {
		for _, res := range r.ofType(typ) {
			if slices.Contains(functionNames, res.Name) {
				t.Errorf("%s %s still has its component's bare name", typ, res.Name)
			}
		}
	}
}
