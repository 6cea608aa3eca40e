package main

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/lambda-slackbot/slackbot/contract"
)

// TestPolicies parses every IAM policy the program writes and wants, for each
// role, exactly the permissions it needs: a function's own logs, the one
// secret, the table it uses with the actions it uses, its own failure queue,
// and nothing on "*"; the API Gateway account role only AWS's managed policy.
func TestPolicies(t *testing.T) {
	r := mustRun(t, baseConfig())
	arn := func(typ, name string) string { return r.named(t, typ, name).outStr("arn") }
	logs := func(fn string) []string {
		return []string{
			"logs:CreateLogStream " + arn(tLogGroup, fn+"-logs") + ":*",
			"logs:PutLogEvents " + arn(tLogGroup, fn+"-logs") + ":*",
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
	claim := on(dedupe, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
	installs, key := arn(tTable, "installations"), arn(tKMSKey, "tokens")
	tokens := on(key, "kms:Encrypt", "kms:Decrypt")
	// Events removes installations (uninstalls); commands adds them.
	uninstall := slices.Concat(on(installs, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"), tokens)
	install := slices.Concat(on(installs, "dynamodb:GetItem", "dynamodb:PutItem"), tokens)
	// Lambda sends a failed asynchronous event to the destination with the
	// function's role: each may send to its own queue, and no other.
	failures := func(fn string) []string { return on(arn(tQueue, fn+"-failures"), "sqs:SendMessage") }
	want := map[string][]string{ // role's logical name -> "action resource"
		contract.EventsFunction + "-role": slices.Concat(logs(contract.EventsFunction), secret, read, claim, uninstall),
		contract.CommandsFunction + "-role": slices.Concat(logs(contract.CommandsFunction), secret, read, claim, install,
			on(arn(tFunction, contract.CommandsFunction+"-function"), "lambda:InvokeFunction"),
			// It asks the percentiles function for charts (chartcall).
			on(arn(tFunction, contract.PercentilesFunction+"-function"), "lambda:InvokeFunction"),
			failures(contract.CommandsFunction)),
		contract.PercentilesFunction + "-role": slices.Concat(logs(contract.PercentilesFunction), secret,
			on(sketches, "dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"),
			install,
			failures(contract.PercentilesFunction)),
		"slack-account": nil, // AWS's managed policy, checked below
	}

	roles := map[string]string{} // role's AWS name -> logical name
	for _, role := range r.ofType(tRole) {
		if _, ok := want[role.Name]; !ok {
			t.Errorf("unexpected role %s: every role's permissions must be listed here", role.Name)
		}
		roles[role.outStr("name")] = role.Name
	}
	if len(roles) != len(want) {
		t.Errorf("%d roles, want %d", len(roles), len(want))
	}
	got := map[string][]string{}
	for _, p := range r.ofType(tRolePolicy) {
		role, ok := roles[p.str("role")]
		if !ok {
			t.Errorf("policy %s on role %q, which the program did not make", p.Name, p.str("role"))
			continue
		}
		got[role] = append(got[role], checkPolicyDocument(t, p.Name, p.str("policy"))...)
	}
	for role := range want {
		slices.Sort(got[role])
		slices.Sort(want[role])
		if !slices.Equal(got[role], want[role]) {
			t.Errorf("role %s may:\n  %s\nwant:\n  %s", role, strings.Join(got[role], "\n  "), strings.Join(want[role], "\n  "))
		}
	}

	attached := map[string][]string{}
	for _, a := range r.ofType(tAttachment) {
		attached[roles[a.str("role")]] = append(attached[roles[a.str("role")]], a.str("policyArn"))
	}
	wantAttached := map[string][]string{
		"slack-account": {"arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"},
	}
	if !reflect.DeepEqual(attached, wantAttached) {
		t.Errorf("managed policies %v, want %v", attached, wantAttached)
	}
}

// TestTrustPolicies wants every role assumable by exactly one AWS service and
// nothing else: a Principal widened with "AWS": "*", a second statement or a
// NotPrincipal would let others assume the role with all its permissions.
func TestTrustPolicies(t *testing.T) {
	r := mustRun(t, baseConfig())
	want := map[string]string{"slack-account": "apigateway.amazonaws.com"}
	for _, fn := range functionNames {
		want[fn+"-role"] = "lambda.amazonaws.com"
	}
	roles := r.ofType(tRole)
	if len(roles) != len(want) {
		t.Errorf("%d roles, want %d", len(roles), len(want))
	}
	for _, role := range roles {
		service, ok := want[role.Name]
		if !ok {
			t.Errorf("unexpected role %s", role.Name)
			continue
		}
		checkTrustPolicy(t, role.Name, role.str("assumeRolePolicy"), service)
	}
}

// checkTrustPolicy fails unless doc is exactly one statement letting service,
// and only service, acting for the stack's own account, assume the role.
func checkTrustPolicy(t *testing.T, role, doc, service string) {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		t.Errorf("role %s: trust policy is not JSON: %v\n%s", role, err, doc)
		return
	}
	st, _ := raw["Statement"].([]any)
	if raw["Version"] != "2012-10-17" || len(raw) != 2 || len(st) != 1 {
		t.Errorf("role %s: trust policy %s, want a version and one statement", role, doc)
		return
	}
	want := map[string]any{
		"Effect":    "Allow",
		"Principal": map[string]any{"Service": service},
		"Action":    []any{"sts:AssumeRole"},
		"Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": testAccount}},
	}
	if !reflect.DeepEqual(st[0], want) {
		t.Errorf("role %s: trust statement %v, want exactly %v", role, st[0], want)
	}
}

// TestAlarmTopicPolicy wants the alarm topic's policy to let CloudWatch
// alone publish to it, acting for the stack's account and its alarms only:
// the percentiles function posts what arrives there to Slack.
func TestAlarmTopicPolicy(t *testing.T) {
	r := mustRun(t, baseConfig())
	policies := r.ofType(tTopicPolicy)
	if len(policies) != 1 || policies[0].Name != "alarms-policy" {
		t.Fatalf("topic policies %v, want only alarms-policy", policies)
	}
	topic := r.named(t, tTopic, "alarms")
	p := policies[0]
	if p.str("arn") != topic.outStr("arn") {
		t.Errorf("topic policy on %q, want %q", p.str("arn"), topic.outStr("arn"))
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(p.str("policy")), &doc); err != nil {
		t.Fatalf("topic policy is not JSON: %v\n%s", err, p.str("policy"))
	}
	want := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Sid":       "CloudWatchAlarmsOfThisStack",
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": "cloudwatch.amazonaws.com"},
			"Action":    []any{"sns:Publish"},
			"Resource":  []any{topic.outStr("arn")},
			"Condition": map[string]any{
				"StringEquals": map[string]any{"aws:SourceAccount": testAccount},
				"ArnLike":      map[string]any{"aws:SourceArn": "arn:aws:cloudwatch:" + testRegion + ":" + testAccount + ":alarm:slackbot-dev-*"},
			},
		}},
	}
	if !reflect.DeepEqual(doc, want) {
		t.Errorf("topic policy\n %v\nwant\n %v", doc, want)
	}
	// Every alarm the stack makes is one the policy lets publish.
	for _, a := range r.ofType(tAlarm) {
		if !strings.HasPrefix(a.str("name"), "slackbot-dev-") {
			t.Errorf("alarm %s is named %q, outside the policy's slackbot-dev-*", a.Name, a.str("name"))
		}
	}
	// The function is told the topic, and posts only what comes from it.
	env := r.named(t, tFunction, contract.PercentilesFunction+"-function").in("environment").(map[string]any)["variables"].(map[string]any)
	if env[contract.EnvAlarmTopicARN] != topic.outStr("arn") {
		t.Errorf("percentiles %s = %v, want %s", contract.EnvAlarmTopicARN, env[contract.EnvAlarmTopicARN], topic.outStr("arn"))
	}
}

// TestQueuePolicies wants one queue policy, the schedule's dead-letter queue's,
// letting EventBridge send to it only for the report rule: without the
// condition any rule in any account could fill it.
func TestQueuePolicies(t *testing.T) {
	r := mustRun(t, baseConfig())
	policies := r.ofType(tQueuePolicy)
	if len(policies) != 1 || policies[0].Name != "latency-report-failures" {
		t.Fatalf("queue policies %v, want only latency-report-failures", policies)
	}
	p := policies[0]
	dlq := r.named(t, tQueue, "latency-report-failures")
	if p.str("queueUrl") != dlq.outStr("url") {
		t.Errorf("queue policy on %q, want %q", p.str("queueUrl"), dlq.outStr("url"))
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(p.str("policy")), &doc); err != nil {
		t.Fatalf("queue policy is not JSON: %v\n%s", err, p.str("policy"))
	}
	want := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Sid":       "ScheduleDeadLetters",
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": "events.amazonaws.com"},
			"Action":    []any{"sqs:SendMessage"},
			"Resource":  []any{dlq.outStr("arn")},
			"Condition": map[string]any{"ArnEquals": map[string]any{
				"aws:SourceArn": r.named(t, tEventRule, "latency-report").outStr("arn")}},
		}},
	}
	if !reflect.DeepEqual(doc, want) {
		t.Errorf("queue policy\n %v\nwant\n %v", doc, want)
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
				// The other: S3 object reads of one bucket's key prefix, the
				// files an alb source's load balancer writes.
				if (a == "s3:GetObject" || a == "s3:GetObjectVersion") && strings.HasPrefix(res, "arn:aws:s3:::") &&
					strings.Count(res, "*") == 1 && strings.HasSuffix(res, "*") && strings.Contains(res, "/") {
					trimmed = strings.TrimSuffix(res, "*")
				}
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
	// The percentiles function's grant on the sketch table serves the
	// sketch store and the alert states it keeps there.
	for dirs, granted := range map[string][]string{
		"../functions/internal/dedupe":                                   dedupeActions,
		"../functions/internal/installstore":                             installActions,
		"../functions/internal/sketchstore ../functions/internal/alerts": sketchWriteActions,
	} {
		var calls []string
		for _, dir := range strings.Fields(dirs) {
			for _, c := range interfaceMethods(t, dir, "DynamoAPI") {
				if !slices.Contains(calls, "dynamodb:"+c) {
					calls = append(calls, "dynamodb:"+c)
				}
			}
		}
		slices.Sort(calls)
		dir := dirs
		got := slices.Sorted(slices.Values(granted))
		if !slices.Equal(got, calls) {
			t.Errorf("%s: DynamoAPI calls %v, granted %v", dir, calls, got)
		}
	}
	var kmsCalls []string
	for _, c := range interfaceMethods(t, "../functions/internal/installstore", "KMSAPI") {
		kmsCalls = append(kmsCalls, "kms:"+c)
	}
	if got := slices.Sorted(slices.Values(tokenKeyActions)); !slices.Equal(got, kmsCalls) {
		t.Errorf("installstore: KMSAPI calls %v, granted %v", kmsCalls, got)
	}
	// Refreshing a token reads and writes an installation, never deletes one.
	for _, a := range refreshActions {
		if !slices.Contains(installActions, a) {
			t.Errorf("the refresh may %s, which the installation store never calls", a)
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
