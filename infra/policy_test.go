package main

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lambda-slackbot/slackbot/contract"
)

// TestPolicies parses every IAM policy the program writes and wants, for each
// function, exactly the permissions it needs: its own logs, the one secret, the
// table it uses with the actions it uses, and nothing on "*".
func TestPolicies(t *testing.T) {
	r := mustRun(t, baseConfig())
	arn := func(typ, name string) string { return r.named(t, typ, name).outStr("arn") }
	logs := func(fn string) []string {
		return []string{
			"logs:CreateLogStream " + arn(tLogGroup, fn) + ":*",
			"logs:PutLogEvents " + arn(tLogGroup, fn) + ":*",
		}
	}
	on := func(resource string, actions ...string) []string {
		var out []string
		for _, a := range actions {
			out = append(out, a+" "+resource)
		}
		return out
	}
	secret := on(arn(tSecret, "slack-credentials"), "secretsmanager:GetSecretValue")
	sketches, dedupe := arn(tTable, "sketches"), arn(tTable, "dedupe")
	read := on(sketches, "dynamodb:GetItem", "dynamodb:Query")
	want := map[string][]string{
		contract.EventsFunction: slices.Concat(logs(contract.EventsFunction), secret, read,
			on(dedupe, "dynamodb:PutItem", "dynamodb:DeleteItem")),
		contract.CommandsFunction: slices.Concat(logs(contract.CommandsFunction), secret, read,
			on(arn(tFunction, contract.CommandsFunction), "lambda:InvokeFunction")),
		contract.PercentilesFunction: slices.Concat(logs(contract.PercentilesFunction), secret,
			on(sketches, "dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem")),
	}

	got := map[string][]string{}
	roles := map[string]string{} // role name -> function
	for _, fn := range functionNames {
		roles[r.named(t, tRole, fn).outStr("name")] = fn
	}
	for _, p := range r.ofType(tRolePolicy) {
		fn, ok := roles[p.str("role")]
		if !ok {
			t.Errorf("policy %s on role %q, which is no function's", p.Name, p.str("role"))
			continue
		}
		got[fn] = append(got[fn], checkPolicyDocument(t, p.Name, p.str("policy"))...)
	}
	for _, fn := range functionNames {
		slices.Sort(got[fn])
		slices.Sort(want[fn])
		if !slices.Equal(got[fn], want[fn]) {
			t.Errorf("%s may:\n  %s\nwant:\n  %s", fn, strings.Join(got[fn], "\n  "), strings.Join(want[fn], "\n  "))
		}
	}
	if len(got) != len(functionNames) {
		t.Errorf("policies for %v, want one set per function", slices.Sorted(maps.Keys(got)))
	}
}

// checkPolicyDocument parses a policy and returns its grants as "action resource"
// strings, failing on anything but plain Allow statements with named actions
// and resources.
func checkPolicyDocument(t *testing.T, name, doc string) []string {
	t.Helper()
	var raw struct {
		Version   string
		Statement []map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		t.Errorf("policy %s is not JSON: %v\n%s", name, err, doc)
		return nil
	}
	if raw.Version != "2012-10-17" {
		t.Errorf("policy %s: version %q", name, raw.Version)
	}
	var grants []string
	for i, st := range raw.Statement {
		for k := range st {
			if !slices.Contains([]string{"Sid", "Effect", "Action", "Resource"}, k) {
				t.Errorf("policy %s statement %d: unexpected %s (NotAction, NotResource and Principal widen a grant)", name, i, k)
			}
		}
		var effect string
		var actions, resources []string
		if json.Unmarshal(st["Effect"], &effect) != nil || effect != "Allow" {
			t.Errorf("policy %s statement %d: effect %s", name, i, st["Effect"])
		}
		if err := json.Unmarshal(st["Action"], &actions); err != nil || len(actions) == 0 {
			t.Errorf("policy %s statement %d: actions %s", name, i, st["Action"])
		}
		if err := json.Unmarshal(st["Resource"], &resources); err != nil || len(resources) == 0 {
			t.Errorf("policy %s statement %d: resources %s", name, i, st["Resource"])
		}
		for _, a := range actions {
			if strings.Contains(a, "*") {
				t.Errorf("policy %s: wildcard action %q", name, a)
			}
			for _, res := range resources {
				// A log stream suffix ":*" is the one wildcard: Lambda names the
				// streams at run time. Anything else must be a whole ARN.
				trimmed := strings.TrimSuffix(res, ":*")
				if strings.Contains(trimmed, "*") || !strings.HasPrefix(res, "arn:aws:") {
					t.Errorf("policy %s: resource %q is not one named resource", name, res)
				}
				if strings.HasSuffix(res, ":*") && !strings.HasPrefix(a, "logs:") {
					t.Errorf("policy %s: %s on %q: only log streams may be matched by suffix", name, a, res)
				}
				grants = append(grants, a+" "+res)
			}
		}
	}
	return grants
}

// TestGrantsMatchTheStores reads the DynamoDB client interfaces the functions'
// stores declare (the calls they can make) and wants the grants to be exactly
// those calls: one fewer and the function fails with AccessDenied in AWS, where
// no mock test would notice; one more and the role is wider than it needs.
func TestGrantsMatchTheStores(t *testing.T) {
	for dir, granted := range map[string][]string{
		"../functions/internal/dedupe":  dedupeActions,
		"../functions/internal/latency": sketchWriteActions,
	} {
		calls := interfaceMethods(t, dir, "DynamoAPI")
		for i, c := range calls {
			calls[i] = "dynamodb:" + c
		}
		got := slices.Sorted(slices.Values(granted))
		if !slices.Equal(got, calls) {
			t.Errorf("%s: DynamoAPI calls %v, granted %v", dir, calls, got)
		}
	}
	for _, a := range sketchReadActions {
		if !slices.Contains(sketchWriteActions, a) {
			t.Errorf("readers may %s, which the sketch store never calls", a)
		}
	}
}

// interfaceMethods returns the sorted method names of the interface type name
// declared in the package in dir.
func interfaceMethods(t *testing.T, dir, name string) []string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var methods []string
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || ts.Name.Name != name {
				return true
			}
			it, ok := ts.Type.(*ast.InterfaceType)
			if !ok {
				t.Fatalf("%s: %s is not an interface", path, name)
			}
			for _, m := range it.Methods.List {
				for _, n := range m.Names {
					methods = append(methods, n.Name)
				}
			}
			return false
		})
	}
	if len(methods) == 0 {
		t.Fatalf("no interface %s with methods in %s", name, dir)
	}
	slices.Sort(methods)
	return methods
}
