package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/lambda-slackbot/slackbot/contract"
)

const (
	tBucketNotes = "aws:s3/bucketNotification:BucketNotification"
)

// threeSources is one source of each kind, as the README shows them.
const threeSources = `[
  {"name":"orders","kind":"apigateway","logGroup":"/aws/apigateway/orders-prod"},
  {"name":"workers","kind":"lambda","functions":["billing","orders-worker"]},
  {"name":"web","kind":"alb","bucket":"acme-alb-logs","prefix":"web/AWSLogs/","routes":["/files/{name}"],"maxRoutes":80}
]`

func sourcesConfig() map[string]string {
	cfg := baseConfig()
	cfg["slackbot:"+keyLatencySources] = threeSources
	return cfg
}

// TestLatencySources wants, for a source of each kind, exactly: a
// subscription filter on each log group with a permission for CloudWatch
// Logs naming that group and the account; for the alb source a rule on its
// bucket and prefix, a target with retries and a dead-letter queue of its own
// (policy scoped to the rule, an alarm), a permission scoped to the rule, and
// S3 reads of that prefix only, in the percentiles role only.
func TestLatencySources(t *testing.T) {
	r := mustRun(t, sourcesConfig())
	fn := r.named(t, tFunction, contract.PercentilesFunction+"-function")

	groupArn := func(g string) string {
		return fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:*", testRegion, testAccount, g)
	}
	// By log group: the access log's own filter, and one per source group.
	wantFilters := map[string]struct{ source, pattern, name string }{
		r.named(t, tLogGroup, "slack-access").outStr("name"): {"", "", ""},
		"/aws/apigateway/orders-prod":                        {"orders", "", "slackbot-dev-latency-orders"},
		"/aws/lambda/billing":                                {"workers", `?"REPORT RequestId" ?"platform.report"`, "slackbot-dev-latency-workers"},
		"/aws/lambda/orders-worker":                          {"workers", `?"REPORT RequestId" ?"platform.report"`, "slackbot-dev-latency-workers"},
	}
	// Lambda takes statement ids of these characters only, and resource
	// names stay within them too.
	safe := regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)
	filters := r.ofType(tSubscription)
	if len(filters) != len(wantFilters) {
		t.Errorf("%d subscription filters, want %d", len(filters), len(wantFilters))
	}
	seen := map[string]bool{}
	for _, f := range filters {
		group := f.str("logGroup")
		w, ok := wantFilters[group]
		if !ok || seen[group] {
			t.Errorf("unexpected subscription filter %s on %q: %v", f.Name, group, f.Inputs)
			continue
		}
		seen[group] = true
		if f.str("filterPattern") != w.pattern || f.str("destinationArn") != fn.outStr("arn") || (w.name != "" && f.str("name") != w.name) {
			t.Errorf("%s: %v, want pattern %q, name %q, to the percentiles function", f.Name, f.Inputs, w.pattern, w.name)
		}
		if w.source == "" {
			continue
		}
		if !safe.MatchString(f.Name) || !strings.HasPrefix(f.Name, "source-"+w.source+"-") {
			t.Errorf("filter on %s named %q, want source-%s-… in [A-Za-z0-9_-]", group, f.Name, w.source)
		}
		var perm *registered
		for _, p := range r.ofType(tPermission) {
			if f.dependsOn(p) {
				perm = p
			}
		}
		if perm == nil {
			t.Errorf("%s does not wait for a permission", f.Name)
			continue
		}
		if perm.str("principal") != "logs.amazonaws.com" || perm.str("sourceArn") != groupArn(group) ||
			perm.str("sourceAccount") != testAccount || perm.str("function") != fn.outStr("name") ||
			perm.str("action") != "lambda:InvokeFunction" || !perm.parentIs(tGoFunction, contract.PercentilesFunction) {
			t.Errorf("%s: %v, want CloudWatch Logs of %s in account %s invoking percentiles", perm.Name, perm.Inputs, group, testAccount)
		}
		if id := perm.str("statementId"); !safe.MatchString(id) || !safe.MatchString(perm.Name) {
			t.Errorf("%s: statement id %q: Lambda wants 1 to 100 of [A-Za-z0-9_-]", perm.Name, id)
		}
	}
	ids := map[string]bool{}
	for _, p := range r.ofType(tPermission) {
		if id := p.str("statementId"); id != "" && ids[id] {
			t.Errorf("statement id %q twice: one would replace the other", id)
		} else {
			ids[id] = true
		}
	}

	// The alb source: one rule besides the schedule, matching its bucket
	// and prefix.
	rule := r.named(t, tEventRule, "source-web")
	var pattern any
	if err := json.Unmarshal([]byte(rule.str("eventPattern")), &pattern); err != nil {
		t.Fatalf("event pattern %q: %v", rule.str("eventPattern"), err)
	}
	wantPattern := map[string]any{
		"source":      []any{"aws.s3"},
		"detail-type": []any{"Object Created"},
		"detail": map[string]any{
			"bucket": map[string]any{"name": []any{"acme-alb-logs"}},
			"object": map[string]any{"key": []any{map[string]any{"prefix": "web/AWSLogs/"}}},
		},
	}
	if !reflect.DeepEqual(pattern, wantPattern) || rule.str("scheduleExpression") != "" {
		t.Errorf("rule pattern %v, want %v", pattern, wantPattern)
	}
	if n := len(r.ofType(tEventRule)); n != 2 {
		t.Errorf("%d rules, want the schedule's and the alb source's", n)
	}
	perm := r.named(t, tPermission, "percentiles-source-web")
	if perm.str("principal") != "events.amazonaws.com" || perm.str("sourceArn") != rule.outStr("arn") ||
		perm.str("function") != fn.outStr("name") {
		t.Errorf("rule permission %v", perm.Inputs)
	}
	target := r.named(t, tEventTarget, "source-web")
	dlq := r.named(t, tQueue, "source-web-failures")
	if target.str("rule") != rule.outStr("name") || target.str("arn") != fn.outStr("arn") {
		t.Errorf("target %v", target.Inputs)
	}
	if got, want := target.in("retryPolicy"), map[string]any{
		"maximumRetryAttempts": float64(185), "maximumEventAgeInSeconds": float64(21600)}; !reflect.DeepEqual(got, want) {
		t.Errorf("target retry policy %v, want %v", got, want)
	}
	if got, want := target.in("deadLetterConfig"), map[string]any{"arn": dlq.outStr("arn")}; !reflect.DeepEqual(got, want) {
		t.Errorf("target dead-letter config %v, want %v", got, want)
	}
	qp := r.named(t, tQueuePolicy, "source-web-failures")
	if !target.dependsOn(perm) || !target.dependsOn(qp) {
		t.Error("the target does not wait for its permission and its queue's policy")
	}
	if dlq.str("name") != "slackbot-dev-web-failures" || dlq.in("sqsManagedSseEnabled") != true {
		t.Errorf("dead-letter queue %v", dlq.Inputs)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(qp.str("policy")), &doc); err != nil {
		t.Fatal(err)
	}
	wantDoc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Sid":       "SourceDeadLetters",
			"Effect":    "Allow",
			"Principal": map[string]any{"Service": "events.amazonaws.com"},
			"Action":    []any{"sqs:SendMessage"},
			"Resource":  []any{dlq.outStr("arn")},
			"Condition": map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": rule.outStr("arn")}},
		}},
	}
	if qp.str("queueUrl") != dlq.outStr("url") || !reflect.DeepEqual(doc, wantDoc) {
		t.Errorf("queue policy on %s:\n %v\nwant\n %v", qp.str("queueUrl"), doc, wantDoc)
	}
	alarm := r.named(t, tAlarm, "source-web-failures-queued")
	if alarm.in("dimensions").(map[string]any)["QueueName"] != dlq.outStr("name") {
		t.Errorf("alarm dimensions %v, want the queue %s", alarm.in("dimensions"), dlq.outStr("name"))
	}
	// Bucket notifications are left alone unless asked for.
	if n := len(r.ofType(tBucketNotes)); n != 0 {
		t.Errorf("%d bucket notifications by default, want none", n)
	}

	// Nothing else: the three sources add exactly these resources.
	base := mustRun(t, baseConfig())
	count := func(r *run) map[string]int {
		n := map[string]int{}
		for _, res := range r.resources {
			n[res.Type]++
		}
		return n
	}
	added := map[string]int{}
	have, had := count(r), count(base)
	for typ := range have {
		if d := have[typ] - had[typ]; d != 0 {
			added[typ] = d
		}
	}
	wantAdded := map[string]int{tSubscription: 3, tPermission: 4, tEventRule: 1, tEventTarget: 1, tQueue: 1, tQueuePolicy: 1, tAlarm: 1}
	if !maps.Equal(added, wantAdded) {
		t.Errorf("the sources add %v, want %v", added, wantAdded)
	}

	// S3: the alb source's prefix, in the percentiles role only.
	var s3 []string
	for _, p := range r.ofType(tRolePolicy) {
		for _, g := range checkPolicyDocument(t, p.Name, p.str("policy")) {
			if strings.HasPrefix(g, "s3:") {
				s3 = append(s3, p.Name+" "+g)
			}
		}
	}
	slices.Sort(s3)
	wantS3 := []string{
		"percentiles-policy s3:GetObject arn:aws:s3:::acme-alb-logs/web/AWSLogs/*",
		"percentiles-policy s3:GetObjectVersion arn:aws:s3:::acme-alb-logs/web/AWSLogs/*",
	}
	if !slices.Equal(s3, wantS3) {
		t.Errorf("S3 grants\n %v\nwant\n %v", s3, wantS3)
	}
}

// TestLatencySourcesReachTheFunctions: every function gets the sources (the
// commands and mentions take `latency <source>`), as JSON the functions
// parse to the same list; the percentiles function also learns the bot's
// own access-log group. A stack without sources sets no variable.
func TestLatencySourcesReachTheFunctions(t *testing.T) {
	r := mustRun(t, sourcesConfig())
	want, err := contract.ParseLatencySources(threeSources)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range functionNames {
		env := r.named(t, tFunction, name+"-function").in("environment").(map[string]any)["variables"].(map[string]any)
		raw, _ := env[contract.EnvLatencySources].(string)
		got, err := contract.ParseLatencySources(raw)
		if err != nil || !reflect.DeepEqual(got, want) || strings.ContainsAny(raw, "\n ") {
			t.Errorf("%s: %s = %q (%v), want the sources as compact JSON", name, contract.EnvLatencySources, raw, err)
		}
		if g, ok := env[contract.EnvAccessLogGroup]; (name == contract.PercentilesFunction) != ok ||
			(ok && g != r.named(t, tLogGroup, "slack-access").outStr("name")) {
			t.Errorf("%s: %s = %v (set %v), want the access log's group, on percentiles only", name, contract.EnvAccessLogGroup, g, ok)
		}
	}
	// An alb source's objects are claimed once in the dedupe table.
	p := r.named(t, tFunction, contract.PercentilesFunction+"-function").in("environment").(map[string]any)["variables"].(map[string]any)
	if p[contract.EnvDedupeTable] != r.named(t, tTable, "dedupe").outStr("name") {
		t.Errorf("percentiles: %s = %v, want the dedupe table", contract.EnvDedupeTable, p[contract.EnvDedupeTable])
	}

	d := mustRun(t, baseConfig())
	for _, name := range functionNames {
		env := d.named(t, tFunction, name+"-function").in("environment").(map[string]any)["variables"].(map[string]any)
		if _, ok := env[contract.EnvLatencySources]; ok {
			t.Errorf("%s: %s set without sources", name, contract.EnvLatencySources)
		}
	}
}

// An alert rule may name a source; without one it means the first source.
func TestAlertRulesWithSources(t *testing.T) {
	cfg := sourcesConfig()
	rules := `[{"source":"web","route":"*","quantile":0.99,"threshold_ms":800,"window":"5m"},{"route":"*","error_ratio":0.01,"window":"15m"}]`
	cfg["slackbot:"+keyLatencyAlerts] = rules
	r := mustRun(t, cfg)
	p := r.named(t, tFunction, contract.PercentilesFunction+"-function").in("environment").(map[string]any)["variables"].(map[string]any)
	if p[contract.EnvAlertRules] != rules {
		t.Errorf("%s = %v, want %s", contract.EnvAlertRules, p[contract.EnvAlertRules], rules)
	}
}

func TestManagedBucketNotifications(t *testing.T) {
	cfg := baseConfig()
	cfg["slackbot:"+keyLatencySources] = `[{"name":"web","kind":"alb","bucket":"acme-alb-logs","prefix":"web/"},
		{"name":"api","kind":"alb","bucket":"acme-alb-logs","prefix":"api/"},
		{"name":"admin","kind":"alb","bucket":"admin-logs"}]`
	cfg["slackbot:"+keyManageBucketNotes] = "true"
	r := mustRun(t, cfg)
	var buckets []string
	for _, n := range r.ofType(tBucketNotes) {
		if n.in("eventbridge") != true || n.in("lambdaFunctions") != nil || n.in("queues") != nil || n.in("topics") != nil {
			t.Errorf("%s: %v, want EventBridge on and nothing else", n.Name, n.Inputs)
		}
		buckets = append(buckets, n.str("bucket"))
	}
	// One per bucket: two would each overwrite the other's configuration.
	if slices.Sort(buckets); !slices.Equal(buckets, []string{"acme-alb-logs", "admin-logs"}) {
		t.Errorf("bucket notifications on %v, want one on each bucket", buckets)
	}
	// The source without a prefix: its rule takes the whole bucket, and
	// the grant every object of it.
	var pattern map[string]any
	if err := json.Unmarshal([]byte(r.named(t, tEventRule, "source-admin").str("eventPattern")), &pattern); err != nil {
		t.Fatal(err)
	}
	if _, ok := pattern["detail"].(map[string]any)["object"]; ok {
		t.Errorf("pattern %v filters keys without a prefix", pattern)
	}
	if !strings.Contains(r.named(t, tRolePolicy, "percentiles-policy").str("policy"), `"arn:aws:s3:::admin-logs/*"`) {
		t.Errorf("percentiles policy %s lacks admin-logs/*", r.named(t, tRolePolicy, "percentiles-policy").str("policy"))
	}
}

// TestLatencySourcesAllFunctions wants functions ["*"] to read every log
// group of the account through one account-level subscription filter policy
// that leaves out each of the stack's own groups (the percentiles
// function's own REPORT lines would invoke it without end), with a
// permission for CloudWatch Logs of this account only.
func TestLatencySourcesAllFunctions(t *testing.T) {
	cfg := baseConfig()
	cfg["slackbot:"+keyLatencySources] = `[{"name":"fns","kind":"lambda","functions":["*"]}]`
	r := mustRun(t, cfg)
	fn := r.named(t, tFunction, contract.PercentilesFunction+"-function")

	policy := r.named(t, tAccountPolicy, "source-fns-all-functions")
	if policy.str("policyType") != "SUBSCRIPTION_FILTER_POLICY" || policy.str("scope") != "ALL" || policy.str("policyName") != "slackbot-dev-latency-fns" {
		t.Errorf("account policy %v", policy.Inputs)
	}
	var doc map[string]string
	if err := json.Unmarshal([]byte(policy.str("policyDocument")), &doc); err != nil {
		t.Fatalf("policy document %q: %v", policy.str("policyDocument"), err)
	}
	if want := map[string]string{"DestinationArn": fn.outStr("arn"), "FilterPattern": lambdaReportPattern}; !reflect.DeepEqual(doc, want) {
		t.Errorf("policy document %v, want %v", doc, want)
	}
	criteria, ok := strings.CutPrefix(policy.str("selectionCriteria"), "LogGroupName NOT IN ")
	var excluded []string
	if err := json.Unmarshal([]byte(criteria), &excluded); !ok || err != nil {
		t.Fatalf("selection criteria %q: want LogGroupName NOT IN [...] (%v)", policy.str("selectionCriteria"), err)
	}
	// Every log group the stack creates, read from the resources, not
	// from ownLogGroups: a group it forgot would be read.
	var own []string
	for _, g := range r.ofType(tLogGroup) {
		own = append(own, g.outStr("name"))
	}
	slices.Sort(own)
	slices.Sort(excluded)
	if !slices.Equal(own, excluded) || !slices.Contains(own, "/aws/lambda/slackbot-dev-percentiles") {
		t.Errorf("policy leaves out %q, want the stack's own groups %q", excluded, own)
	}

	perm := r.named(t, tPermission, "percentiles-source-fns-all-functions")
	if perm.str("principal") != "logs.amazonaws.com" || perm.str("sourceAccount") != testAccount ||
		perm.str("sourceArn") != fmt.Sprintf("arn:aws:logs:%s:%s:log-group:*", testRegion, testAccount) ||
		perm.str("function") != fn.outStr("name") || !policy.dependsOn(perm) {
		t.Errorf("permission %v: want CloudWatch Logs of account %s, before the policy", perm.Inputs, testAccount)
	}
	if n := len(r.ofType(tSubscription)); n != 1 {
		t.Errorf("%d subscription filters, want only the access log's own", n)
	}
}

// Each bad list fails the preview naming latencySources, the source's index
// and what is wrong with it.
func TestLatencySourcesConfigErrors(t *testing.T) {
	api := `{"name":"orders","kind":"apigateway","logGroup":"/aws/apigateway/orders-prod"}`
	for _, tc := range []struct{ stack, value, want string }{
		{"", `{"name":"orders"}`, "latencySources: latency sources: want a JSON array"},
		{"", `[{"name":"Orders","kind":"apigateway","logGroup":"/x"}]`, `latencySources: latency source 0: name "Orders"`},
		{"", `[` + api + `,{"name":"orders","kind":"alb","bucket":"b"}]`, `latencySources: latency source 1: name "orders" is taken by source 0`},
		{"", `[{"name":"slackbot","kind":"alb","bucket":"b"}]`, `latencySources: latency source 0: name "slackbot" is the bot's own API`},
		{"", `[{"name":"orders","kind":"apigateway"}]`, "latencySources: latency source 0: logGroup is missing"},
		{"", `[` + api + `,{"name":"workers","kind":"lambda"}]`, "latencySources: latency source 1: functions is missing"},
		{"", `[{"name":"web","kind":"alb"}]`, "latencySources: latency source 0: bucket is missing"},
		{"", `[{"name":"all","kind":"lambda","functions":["*","billing"]}]`, `latencySources: latency source 0: function "*": a wildcard stands alone`},
		{"", `[{"name":"all","kind":"lambda","functions":["*"]},{"name":"more","kind":"lambda","functions":["*"]}]`, `latencySources: latency source 1: source 0 already reads every function`},
		{"", `[{"name":"many","kind":"lambda","functions":["f1","f2","f3","f4","f5","f6","f7","f8","f9","f10","f11","f12","f13","f14","f15","f16","f17","f18","f19","f20"]},` +
			`{"name":"more","kind":"lambda","functions":["g1","g2","g3","g4","g5","g6","g7","g8","g9","g10","g11","g12","g13","g14","g15","g16","g17"]}]`,
			"latencySources: latency source 1: the sources read more than 36 log groups together"},
		{"", `[{"name":"web","kind":"nginx"}]`, `latencySources: latency source 0: kind "nginx"`},
		{"", `[{"name":"web","kind":"alb","bucket":"b","maxRoutes":501}]`, "latencySources: latency source 0: maxRoutes 501: want 1 to 500"},
		{"", `[{"name":"web","kind":"alb","bucket":"b","routes":["files/{name}"]}]`, `latencySources: latency source 0: route pattern "files/{name}" is not a path`},
		{"", `[` + api + `,{"name":"me","kind":"lambda","functions":["slackbot-dev-events"]}]`,
			`latencySources: latency source 1: log group "/aws/lambda/slackbot-dev-events" is the bot's own`},
		{"", `[{"name":"me","kind":"apigateway","logGroup":"/aws/apigateway/slackbot-dev/access"}]`,
			`latencySources: latency source 0: log group "/aws/apigateway/slackbot-dev/access" is the bot's own`},
		{strings.Repeat("s", 40), `[{"name":"` + strings.Repeat("w", 32) + `","kind":"alb","bucket":"b"}]`,
			"latencySources: latency source 0: its dead-letter queue"},
	} {
		t.Run(tc.value, func(t *testing.T) {
			cfg := baseConfig()
			cfg["slackbot:"+keyLatencySources] = tc.value
			_, err := runProgram(t, cmp.Or(tc.stack, "dev"), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// A rule on a source that is not configured fails the preview.
func TestAlertRuleOnAnUnknownSource(t *testing.T) {
	cfg := sourcesConfig()
	cfg["slackbot:"+keyLatencyAlerts] = `[{"source":"billing","route":"*","quantile":0.99,"threshold_ms":800,"window":"5m"}]`
	_, err := runProgram(t, "dev", cfg)
	if want := `latencyAlerts: alert rule 0: source "billing" is not a latency source: want one of orders, workers, web, slackbot`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want one saying %q", err, want)
	}
	// Without sources only the bot's own is known.
	cfg = baseConfig()
	cfg["slackbot:"+keyLatencyAlerts] = `[{"source":"orders","route":"*","quantile":0.99,"threshold_ms":800,"window":"5m"}]`
	if _, err := runProgram(t, "dev", cfg); err == nil || !strings.Contains(err.Error(), `source "orders" is not a latency source`) {
		t.Fatalf("err = %v, want the unknown source named", err)
	}
}
