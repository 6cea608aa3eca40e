package main

import (
	"flag"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

var updateURNs = flag.Bool("update-urns", false, "rewrite testdata/urns.txt from the program (only for a change that is meant to replace resources)")

// TestURNsAreUnchanged pins the URN of every resource of a stack with
// every feature on. A URN is a resource's identity in the stack's state:
// renaming a component type or a child changes it, and `pulumi up` then
// deletes and recreates the resource (an API's URL, a table's items) unless
// an alias says where it came from. Code renames must leave this list as
// it is; a change meant to move resources updates it with -update-urns
// and says so.
func TestURNsAreUnchanged(t *testing.T) {
	cfg := baseConfig()
	cfg["slackbot:"+keyLatencySources] = threeSources
	cfg["slackbot:"+keyReportChannel] = "#ops"
	cfg["slackbot:"+keyLatencyAlerts] = `[{"route":"*","quantile":0.99,"threshold_ms":800,"window":"5m"}]`
	cfg["slackbot:"+keyManageBucketNotes] = "true"
	r := mustRun(t, cfg)
	var urns []string
	for _, res := range r.resources {
		urns = append(urns, string(urnOf(res)))
	}
	slices.Sort(urns)
	got := strings.Join(urns, "\n") + "\n"
	const golden = "testdata/urns.txt"
	if *updateURNs {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		gotSet, wantSet := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for _, u := range wantSet {
			if !slices.Contains(gotSet, u) {
				t.Errorf("gone (pulumi up would delete it): %s", u)
			}
		}
		for _, u := range gotSet {
			if !slices.Contains(wantSet, u) {
				t.Errorf("new: %s", u)
			}
		}
	}
}

// urnOf is the URN Pulumi gives a registered resource: its parent's type
// chain, then its own type and name.
func urnOf(r *registered) resource.URN {
	parentType := ""
	if r.Parent != "" && r.Parent.Type() != "pulumi:pulumi:Stack" {
		parentType = string(r.Parent.QualifiedType())
	}
	return resource.NewURN("dev", "slackbot", tokens.Type(parentType), tokens.Type(r.Type), r.Name)
}
