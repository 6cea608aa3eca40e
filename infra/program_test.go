package main

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/contract"
)

const (
	tFunction      = "aws:lambda/function:Function"
	tPermission    = "aws:lambda/permission:Permission"
	tRole          = "aws:iam/role:Role"
	tRolePolicy    = "aws:iam/rolePolicy:RolePolicy"
	tAttachment    = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
	tLogGroup      = "aws:cloudwatch/logGroup:LogGroup"
	tSubscription  = "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter"
	tAccountPolicy = "aws:cloudwatch/logAccountPolicy:LogAccountPolicy"
	tEventRule     = "aws:cloudwatch/eventRule:EventRule"
	tEventTarget   = "aws:cloudwatch/eventTarget:EventTarget"
	tTable         = "aws:dynamodb/table:Table"
	tKMSKey        = "aws:kms/key:Key"
	tSecret        = "aws:secretsmanager/secret:Secret"
	tSecretVer     = "aws:secretsmanager/secretVersion:SecretVersion"
	tRestAPI       = "aws:apigateway/restApi:RestApi"
	tAPIResource   = "aws:apigateway/resource:Resource"
	tMethod        = "aws:apigateway/method:Method"
	tIntegration   = "aws:apigateway/integration:Integration"
	tDeployment    = "aws:apigateway/deployment:Deployment"
	tStage         = "aws:apigateway/stage:Stage"
	tMethodSet     = "aws:apigateway/methodSettings:MethodSettings"
	tAccount       = "aws:apigateway/account:Account"
	tInvokeConfig  = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
	tQueue         = "aws:sqs/queue:Queue"
	tQueuePolicy   = "aws:sqs/queuePolicy:QueuePolicy"
	tTopic         = "aws:sns/topic:Topic"
	tTopicSub      = "aws:sns/topicSubscription:TopicSubscription"
	tTopicPolicy   = "aws:sns/topicPolicy:TopicPolicy"
	tAlarm         = "aws:cloudwatch/metricAlarm:MetricAlarm"
	tGoFunction    = "slackbot:index:GoFunction"
	tGateway       = "slackbot:index:SlackAPI"
)

var functionNames = []string{contract.EventsFunction, contract.CommandsFunction, contract.PercentilesFunction}

func TestResourceCounts(t *testing.T) {
	r := mustRun(t, baseConfig())
	want := map[string]int{
		tGoFunction: 3, tGateway: 1,
		tFunction: 3, tLogGroup: 4, tRole: 4, tRolePolicy: 4, tAttachment: 1, tPermission: 8,
		tTable: 3, tKMSKey: 1, tSecret: 1, tSecretVer: 1,
		tRestAPI: 1, tAPIResource: 6, tMethod: 5, tIntegration: 5, tDeployment: 1, tStage: 1,
		tMethodSet: 1, tAccount: 1,
		tSubscription: 1, tEventRule: 1, tEventTarget: 1,
		// A failure queue and event invoke config for commands and percentiles,
		// and one for the schedule; 3 functions x 2 + API + 3 queues = 10 alarms.
		tInvokeConfig: 2, tQueue: 3, tQueuePolicy: 1, tTopic: 1, tTopicPolicy: 1, tTopicSub: 1, tAlarm: 10,
	}
	got := map[string]int{}
	custom := 0
	for _, res := range r.resources {
		got[res.Type]++
		if res.Custom {
			custom++
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("resources by type:\n got %v\nwant %v", got, want)
	}
	t.Logf("%d resources: %d AWS resources, %d components", len(r.resources), custom, len(r.resources)-custom)
}

func TestFunctions(t *testing.T) {
	r := mustRun(t, baseConfig())
	secretArn := r.named(t, tSecret, "slack-credentials").outStr("arn")
	dedupe := r.named(t, tTable, "dedupe").outStr("name")
	sketches := r.named(t, tTable, "sketches").outStr("name")
	timeouts := map[string]float64{contract.EventsFunction: 10, contract.CommandsFunction: 10, contract.PercentilesFunction: 60}
	common := map[string]any{
		contract.EnvSecretARN:          secretArn,
		contract.EnvSecretVersion:      "00000000-0000-4000-8000-000000000001",
		contract.EnvLogLevel:           "info",
		contract.EnvSketchTable:        sketches,
		contract.EnvReportWindow:       "1h",
		contract.EnvInstallationsTable: r.named(t, tTable, "installations").outStr("name"),
		contract.EnvTokenKey:           r.named(t, tKMSKey, "tokens").outStr("arn"),
	}
	withEnv := func(extra map[string]any) map[string]any {
		m := maps.Clone(common)
		maps.Copy(m, extra)
		return m
	}
	// This config sets no notify allow-lists and no reportChannel.
	envs := map[string]map[string]any{
		contract.EventsFunction: withEnv(map[string]any{contract.EnvDedupeTable: dedupe}),
		contract.CommandsFunction: withEnv(map[string]any{contract.EnvDedupeTable: dedupe,
			contract.EnvChartFunction: "slackbot-dev-" + contract.PercentilesFunction}),
		// The percentiles function tells the bot's own access log from a
		// stranger's by its name.
		contract.PercentilesFunction: withEnv(map[string]any{
			contract.EnvAccessLogGroup: r.named(t, tLogGroup, "slack-access").outStr("name"),
			contract.EnvAlarmTopicARN:  r.named(t, tTopic, "alarms").outStr("arn")}),
	}

	for _, name := range functionNames {
		fn := r.named(t, tFunction, name+"-function")
		lg := r.named(t, tLogGroup, name+"-logs")
		role := r.named(t, tRole, name+"-role")
		policy := r.named(t, tRolePolicy, name+"-policy")
		fnName := "slackbot-dev-" + name

		checks := map[string][2]any{
			"name":           {fn.str("name"), fnName},
			"runtime":        {fn.str("runtime"), "provided.al2023"},
			"handler":        {fn.str("handler"), "bootstrap"},
			"architectures":  {fn.in("architectures"), []any{"arm64"}},
			"timeout":        {fn.in("timeout"), timeouts[name]},
			"memorySize":     {fn.in("memorySize"), float64(256)},
			"role":           {fn.str("role"), role.outStr("arn")},
			"sourceCodeHash": {fn.str("sourceCodeHash"), r.arts[name].SHA256},
			"env":            {fn.in("environment").(map[string]any)["variables"], envs[name]},
			"loggingConfig":  {fn.in("loggingConfig"), map[string]any{"logFormat": "Text", "logGroup": "/aws/lambda/" + fnName}},
			"log group name": {lg.str("name"), "/aws/lambda/" + fnName},
			"log retention":  {lg.in("retentionInDays"), float64(14)},
		}
		for what, c := range checks {
			if !reflect.DeepEqual(c[0], c[1]) {
				t.Errorf("%s: %s = %#v, want %#v", name, what, c[0], c[1])
			}
		}
		code := fn.Inputs["code"]
		if !code.IsArchive() || code.ArchiveValue().Path != r.arts[name].Path {
			t.Errorf("%s: code = %v, want a FileArchive of %s", name, code, r.arts[name].Path)
		}
		// Created after its log group (so Lambda never makes one without
		// retention) and after its policy (so its first run has permissions).
		if !fn.dependsOn(lg) || !fn.dependsOn(policy) {
			t.Errorf("%s: depends on %v, want its log group and role policy", name, fn.Deps)
		}
		for _, child := range []*registered{fn, lg, role, policy} {
			if !child.parentIs(tGoFunction, name) {
				t.Errorf("%s %s: parent %s, want the GoFunction component %s", child.Type, child.Name, child.Parent, name)
			}
		}
		// The role's trust policy is checked, with every other role's, in TestTrustPolicies.
	}
	if len(r.builds) != 1 || r.builds[0] != "arm64" {
		t.Errorf("builds = %v, want one arm64 build", r.builds)
	}
}

func TestReportChannelReachesOnlyPercentiles(t *testing.T) {
	cfg := baseConfig()
	cfg["slackbot:reportChannel"] = "#latency"
	r := mustRun(t, cfg)
	for _, name := range functionNames {
		env := r.named(t, tFunction, name+"-function").in("environment").(map[string]any)["variables"].(map[string]any)
		got, ok := env[contract.EnvReportChannel]
		if want := name == contract.PercentilesFunction; ok != want || (want && got != "#latency") {
			t.Errorf("%s: %s = %v (set %v), want set only on percentiles", name, contract.EnvReportChannel, got, ok)
		}
	}
}

func TestX86Architecture(t *testing.T) {
	cfg := baseConfig()
	cfg["slackbot:architecture"] = "x86_64"
	r := mustRun(t, cfg)
	if !slices.Equal(r.builds, []string{"amd64"}) {
		t.Errorf("builds = %v, want amd64", r.builds)
	}
	for _, fn := range r.ofType(tFunction) {
		if got := fn.in("architectures"); !reflect.DeepEqual(got, []any{"x86_64"}) {
			t.Errorf("%s: architectures %v", fn.Name, got)
		}
	}
}

func TestTables(t *testing.T) {
	r := mustRun(t, baseConfig())
	want := map[string]struct {
		hash, rng string
		attrs     []any
	}{
		"dedupe": {"event_id", "", []any{map[string]any{"name": "event_id", "type": "S"}}},
		"sketches": {"route", "minute", []any{
			map[string]any{"name": "route", "type": "S"}, map[string]any{"name": "minute", "type": "N"}}},
	}
	for name, w := range want {
		tb := r.named(t, tTable, name)
		if tb.str("billingMode") != "PAY_PER_REQUEST" {
			t.Errorf("%s: billingMode %q, want on demand", name, tb.str("billingMode"))
		}
		if tb.str("hashKey") != w.hash || tb.str("rangeKey") != w.rng {
			t.Errorf("%s: keys %q/%q, want %q/%q", name, tb.str("hashKey"), tb.str("rangeKey"), w.hash, w.rng)
		}
		if !reflect.DeepEqual(tb.in("attributes"), w.attrs) {
			t.Errorf("%s: attributes %v, want %v", name, tb.in("attributes"), w.attrs)
		}
		if !reflect.DeepEqual(tb.in("ttl"), map[string]any{"attributeName": "expires_at", "enabled": true}) {
			t.Errorf("%s: ttl %v", name, tb.in("ttl"))
		}
		if !reflect.DeepEqual(tb.in("pointInTimeRecovery"), map[string]any{"enabled": true}) {
			t.Errorf("%s: pointInTimeRecovery %v", name, tb.in("pointInTimeRecovery"))
		}
	}
}

func TestAPIRoutes(t *testing.T) {
	r := mustRun(t, baseConfig())
	api := r.named(t, tRestAPI, "slack-rest-api")
	if !reflect.DeepEqual(api.in("endpointConfiguration"), map[string]any{"types": "REGIONAL"}) {
		t.Errorf("endpoint %v, want REGIONAL", api.in("endpointConfiguration"))
	}

	// path -> API Gateway resource, checked through the parent chain.
	byPath := map[string]*registered{}
	ids := map[string]string{api.outStr("rootResourceId"): ""}
	for len(byPath) < len(r.ofType(tAPIResource)) {
		progress := false
		for _, res := range r.ofType(tAPIResource) {
			parentPath, ok := ids[res.str("parentId")]
			if _, done := byPath[parentPath+"/"+res.str("pathPart")]; !ok || done {
				continue
			}
			if res.str("restApi") != testAPIID {
				t.Errorf("resource %s on api %q", res.Name, res.str("restApi"))
			}
			p := parentPath + "/" + res.str("pathPart")
			byPath[p] = res
			ids[res.ID] = p
			progress = true
		}
		if !progress {
			t.Fatalf("resources do not form a tree from the root: %v", ids)
		}
	}
	if got := slices.Sorted(maps.Keys(byPath)); !slices.Equal(got, []string{"/slack", contract.CommandsPath, contract.EventsPath,
		contract.InstallPath, contract.InteractionsPath, contract.OAuthRedirectPath}) {
		t.Fatalf("paths %v", got)
	}

	// The commands function serves interactivity too (see bot.Interactions),
	// and the install's two GETs.
	routes := map[string]string{contract.EventsPath: contract.EventsFunction, contract.CommandsPath: contract.CommandsFunction,
		contract.InteractionsPath: contract.CommandsFunction, contract.InstallPath: contract.CommandsFunction,
		contract.OAuthRedirectPath: contract.CommandsFunction}
	verbs := map[string]string{contract.InstallPath: "GET", contract.OAuthRedirectPath: "GET"}
	methods := r.ofType(tMethod)
	integrations := r.ofType(tIntegration)
	for path, fnName := range routes {
		resID := byPath[path].ID
		var m, in *registered
		for _, x := range methods {
			if x.str("resourceId") == resID {
				if m != nil {
					t.Errorf("%s: more than one method", path)
				}
				m = x
			}
		}
		for _, x := range integrations {
			if x.str("resourceId") == resID {
				in = x
			}
		}
		if m == nil || in == nil {
			t.Fatalf("%s: method %v, integration %v", path, m, in)
		}
		verb := cmp.Or(verbs[path], "POST")
		if m.str("httpMethod") != verb || m.str("authorization") != "NONE" || m.str("restApi") != testAPIID {
			t.Errorf("%s: method %v, want %s", path, m.Inputs, verb)
		}
		fn := r.named(t, tFunction, fnName+"-function")
		if in.str("type") != "AWS_PROXY" || in.str("integrationHttpMethod") != "POST" ||
			in.str("httpMethod") != verb || in.str("uri") != fn.outStr("invokeArn") {
			t.Errorf("%s: integration %v, want AWS_PROXY POST to %s", path, in.Inputs, fn.outStr("invokeArn"))
		}
		for _, x := range []*registered{m, in, byPath[path]} {
			if !x.parentIs(tGateway, "slack") {
				t.Errorf("%s %s: parent %s, want the Gateway component", x.Type, x.Name, x.Parent)
			}
		}
	}
}

func TestDeploymentAndStage(t *testing.T) {
	r := mustRun(t, baseConfig())
	dep := r.named(t, tDeployment, "slack-deployment")
	for _, x := range append(r.ofType(tMethod), r.ofType(tIntegration)...) {
		if !dep.dependsOn(x) {
			t.Errorf("deployment does not wait for %s %s", x.Type, x.Name)
		}
	}
	// The trigger is a hash of exactly what the stage serves, so a change to any
	// route or integration replaces the deployment, and nothing else does.
	var served []any
	for _, route := range []string{"POST " + contract.EventsPath, "POST " + contract.CommandsPath, "POST " + contract.InteractionsPath,
		"GET " + contract.InstallPath, "GET " + contract.OAuthRedirectPath} {
		verb, path, _ := strings.Cut(route, " ")
		suffix := strings.ReplaceAll(path, "/", "-") + "-" + strings.ToLower(verb)
		m := r.named(t, tMethod, "slack"+suffix)
		in := r.named(t, tIntegration, "slack"+suffix)
		served = append(served, path, m.str("resourceId"), m.ID, m.str("authorization"),
			in.ID, in.str("type"), in.str("uri"))
	}
	b, _ := json.Marshal(served)
	sum := sha256.Sum256(b)
	if got := dep.in("triggers"); !reflect.DeepEqual(got, map[string]any{"redeployment": hex.EncodeToString(sum[:])}) {
		t.Errorf("deployment triggers %v, want the hash of %s", got, b)
	}

	stage := r.named(t, tStage, "slack-stage")
	access := r.named(t, tLogGroup, "slack-access")
	if stage.str("stageName") != "dev" || stage.str("deployment") != dep.ID || stage.str("restApi") != testAPIID {
		t.Errorf("stage %v", stage.Inputs)
	}
	wantLog := map[string]any{"destinationArn": access.outStr("arn"), "format": contract.AccessLogFormat}
	if !reflect.DeepEqual(stage.in("accessLogSettings"), wantLog) {
		t.Errorf("access log settings %v, want %v", stage.in("accessLogSettings"), wantLog)
	}
	var probe map[string]string
	if err := json.Unmarshal([]byte(contract.AccessLogFormat), &probe); err != nil {
		t.Errorf("access log format is not JSON: %v", err)
	}
	if access.str("name") != "/aws/apigateway/slackbot-dev/access" || access.in("retentionInDays") != float64(14) {
		t.Errorf("access log group %v", access.Inputs)
	}
	account := r.named(t, tAccount, "slack-account")
	if !stage.dependsOn(account) {
		t.Error("stage does not wait for the account's CloudWatch role; its first access log would fail")
	}

	ms := r.named(t, tMethodSet, "slack-all")
	settings := ms.in("settings").(map[string]any)
	if ms.str("methodPath") != "*/*" || ms.str("stageName") != "dev" ||
		settings["throttlingRateLimit"] != float64(25) || settings["throttlingBurstLimit"] != float64(50) {
		t.Errorf("method settings %v", ms.Inputs)
	}

	role := r.named(t, tRole, "slack-account")
	if account.str("cloudwatchRoleArn") != role.outStr("arn") {
		t.Errorf("account role %q, want %q", account.str("cloudwatchRoleArn"), role.outStr("arn"))
	}
	// Otherwise `pulumi destroy` leaves the region's setting naming a deleted role.
	if account.in("resetOnDelete") != true {
		t.Errorf("account resetOnDelete = %v, want true", account.in("resetOnDelete"))
	}
	att := r.named(t, tAttachment, "slack-account")
	if att.str("role") != role.outStr("name") ||
		att.str("policyArn") != "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs" {
		t.Errorf("account role attachment %v", att.Inputs)
	}
}

func TestThrottlingAndAccountFromConfig(t *testing.T) {
	cfg := baseConfig()
	cfg["slackbot:throttlingRateLimit"] = "7"
	cfg["slackbot:throttlingBurstLimit"] = "9"
	cfg["slackbot:manageApiGatewayAccount"] = "false"
	r := mustRun(t, cfg)
	settings := r.named(t, tMethodSet, "slack-all").in("settings").(map[string]any)
	if settings["throttlingRateLimit"] != float64(7) || settings["throttlingBurstLimit"] != float64(9) {
		t.Errorf("throttling %v, want 7/9", settings)
	}
	if n := len(r.ofType(tAccount)) + len(r.ofType(tAttachment)); n != 0 {
		t.Errorf("manageApiGatewayAccount=false still made %d account resources", n)
	}
	if len(r.ofType(tRole)) != 3 {
		t.Errorf("%d roles, want only the functions' 3", len(r.ofType(tRole)))
	}
}

func TestPermissions(t *testing.T) {
	r := mustRun(t, baseConfig())
	execArn := r.named(t, tRestAPI, "slack-rest-api").outStr("executionArn")
	want := map[string]struct{ fn, principal, source string }{
		"slack-slack-events-invoke":   {contract.EventsFunction, "apigateway.amazonaws.com", execArn + "/*/POST" + contract.EventsPath},
		"slack-slack-commands-invoke": {contract.CommandsFunction, "apigateway.amazonaws.com", execArn + "/*/POST" + contract.CommandsPath},
		"slack-slack-interactions-invoke": {contract.CommandsFunction, "apigateway.amazonaws.com",
			execArn + "/*/POST" + contract.InteractionsPath},
		"slack-slack-install-invoke": {contract.CommandsFunction, "apigateway.amazonaws.com",
			execArn + "/*/GET" + contract.InstallPath},
		"slack-slack-oauth_redirect-invoke": {contract.CommandsFunction, "apigateway.amazonaws.com",
			execArn + "/*/GET" + contract.OAuthRedirectPath},
		"percentiles-access-log": {contract.PercentilesFunction, "logs.amazonaws.com",
			r.named(t, tLogGroup, "slack-access").outStr("arn") + ":*"},
		"percentiles-schedule": {contract.PercentilesFunction, "events.amazonaws.com",
			r.named(t, tEventRule, "latency-report").outStr("arn")},
		"percentiles-alarms": {contract.PercentilesFunction, "sns.amazonaws.com",
			r.named(t, tTopic, "alarms").outStr("arn")},
	}
	perms := r.ofType(tPermission)
	if len(perms) != len(want) {
		t.Errorf("%d permissions, want %d", len(perms), len(want))
	}
	for _, p := range perms {
		w, ok := want[p.Name]
		if !ok {
			t.Errorf("unexpected permission %s: %v", p.Name, p.Inputs)
			continue
		}
		if got := p.str("sourceArn"); got != w.source || strings.Contains(got, "/*/*/*") {
			t.Errorf("%s: sourceArn %q, want %q", p.Name, got, w.source)
		}
		if p.str("principal") != w.principal || p.str("action") != "lambda:InvokeFunction" ||
			p.str("function") != r.named(t, tFunction, w.fn+"-function").outStr("name") {
			t.Errorf("%s: %v, want %s invoking %s", p.Name, p.Inputs, w.principal, w.fn)
		}
		if !p.parentIs(tGoFunction, w.fn) {
			t.Errorf("%s: parent %s, want the %s GoFunction", p.Name, p.Parent, w.fn)
		}
	}
}

func TestReports(t *testing.T) {
	cfg := baseConfig()
	cfg["slackbot:reportSchedule"] = "cron(0 9 * * ? *)"
	r := mustRun(t, cfg)
	fn := r.named(t, tFunction, contract.PercentilesFunction+"-function")
	sub := r.named(t, tSubscription, "access-log-ingest")
	if sub.str("logGroup") != r.named(t, tLogGroup, "slack-access").outStr("name") ||
		sub.str("destinationArn") != fn.outStr("arn") || sub.str("filterPattern") != "" {
		t.Errorf("subscription filter %v", sub.Inputs)
	}
	if !sub.dependsOn(r.named(t, tPermission, "percentiles-access-log")) {
		t.Error("subscription filter does not wait for its invoke permission")
	}
	rule := r.named(t, tEventRule, "latency-report")
	if rule.str("scheduleExpression") != "cron(0 9 * * ? *)" {
		t.Errorf("schedule %q", rule.str("scheduleExpression"))
	}
	target := r.named(t, tEventTarget, "latency-report")
	if target.str("rule") != rule.outStr("name") || target.str("arn") != fn.outStr("arn") {
		t.Errorf("target %v", target.Inputs)
	}
	if !target.dependsOn(r.named(t, tPermission, "percentiles-schedule")) {
		t.Error("schedule target does not wait for its invoke permission")
	}

	// A delivery Lambda refuses is retried for up to an hour, then kept in the
	// schedule's own queue (whose policy TestQueuePolicies checks).
	dlq := r.named(t, tQueue, "latency-report-failures")
	if got, want := target.in("retryPolicy"), map[string]any{
		"maximumRetryAttempts": float64(2), "maximumEventAgeInSeconds": float64(3600)}; !reflect.DeepEqual(got, want) {
		t.Errorf("target retry policy %v, want %v", got, want)
	}
	if got, want := target.in("deadLetterConfig"), map[string]any{"arn": dlq.outStr("arn")}; !reflect.DeepEqual(got, want) {
		t.Errorf("target dead-letter config %v, want %v", got, want)
	}
	if !target.dependsOn(r.named(t, tQueuePolicy, "latency-report-failures")) {
		t.Error("schedule target does not wait for its dead-letter queue's policy")
	}
}

// TestFailureQueues wants every queue encrypted and keeping messages 14 days,
// named after what fails into it, and the functions' queues inside their
// GoFunction components.
func TestFailureQueues(t *testing.T) {
	r := mustRun(t, baseConfig())
	want := map[string]struct{ name, component string }{
		"commands-failures":       {"slackbot-dev-commands-failures", contract.CommandsFunction},
		"percentiles-failures":    {"slackbot-dev-percentiles-failures", contract.PercentilesFunction},
		"latency-report-failures": {"slackbot-dev-latency-report-failures", ""},
	}
	queues := r.ofType(tQueue)
	if len(queues) != len(want) {
		t.Errorf("%d queues, want %d", len(queues), len(want))
	}
	for _, q := range queues {
		w, ok := want[q.Name]
		if !ok {
			t.Errorf("unexpected queue %s", q.Name)
			continue
		}
		if q.str("name") != w.name {
			t.Errorf("%s: name %q, want %q", q.Name, q.str("name"), w.name)
		}
		if q.in("sqsManagedSseEnabled") != true || q.in("kmsMasterKeyId") != nil {
			t.Errorf("%s: sqsManagedSseEnabled %v, kmsMasterKeyId %v; want SQS-managed encryption",
				q.Name, q.in("sqsManagedSseEnabled"), q.in("kmsMasterKeyId"))
		}
		if q.in("messageRetentionSeconds") != float64(1209600) {
			t.Errorf("%s: messageRetentionSeconds %v, want 14 days", q.Name, q.in("messageRetentionSeconds"))
		}
		if w.component != "" && !q.parentIs(tGoFunction, w.component) {
			t.Errorf("%s: parent %s, want the %s GoFunction", q.Name, q.Parent, w.component)
		}
	}
}

// TestAsyncInvokeConfigs wants each function invoked asynchronously to have
// its retries and its own failure queue as the on-failure destination, and
// the events function, only ever invoked synchronously, to have neither.
func TestAsyncInvokeConfigs(t *testing.T) {
	r := mustRun(t, baseConfig())
	want := map[string]struct {
		retries float64
		maxAge  any // nil: Lambda's default
	}{
		contract.CommandsFunction:    {0, float64(1800)},
		contract.PercentilesFunction: {2, nil},
	}
	configs := r.ofType(tInvokeConfig)
	if len(configs) != len(want) {
		t.Errorf("%d event invoke configs, want %d", len(configs), len(want))
	}
	for _, c := range configs {
		name := strings.TrimSuffix(c.Name, "-async")
		w, ok := want[name]
		if !ok {
			t.Errorf("unexpected event invoke config %s", c.Name)
			continue
		}
		fn := r.named(t, tFunction, name+"-function")
		queue := r.named(t, tQueue, name+"-failures")
		if c.str("functionName") != fn.outStr("name") {
			t.Errorf("%s: functionName %q, want %q", c.Name, c.str("functionName"), fn.outStr("name"))
		}
		if c.in("maximumRetryAttempts") != w.retries || c.in("maximumEventAgeInSeconds") != w.maxAge {
			t.Errorf("%s: retries %v, max age %v; want %v, %v", c.Name,
				c.in("maximumRetryAttempts"), c.in("maximumEventAgeInSeconds"), w.retries, w.maxAge)
		}
		wantDest := map[string]any{"onFailure": map[string]any{"destination": queue.outStr("arn")}}
		if got := c.in("destinationConfig"); !reflect.DeepEqual(got, wantDest) {
			t.Errorf("%s: destinationConfig %v, want %v", c.Name, got, wantDest)
		}
		if !c.parentIs(tGoFunction, name) {
			t.Errorf("%s: parent %s, want its GoFunction", c.Name, c.Parent)
		}
	}
}

// TestAlarms wants exactly one alarm per function metric, for the API and per
// queue, each watching the right metric of the right resource and notifying
// the one topic both when it fires and when it clears.
func TestAlarms(t *testing.T) {
	r := mustRun(t, baseConfig())
	topic := r.named(t, tTopic, "alarms")
	if topic.str("name") != "slackbot-dev-alarms" {
		t.Errorf("topic name %q", topic.str("name"))
	}
	type metric struct {
		namespace, name, statistic string
		dims                       map[string]any
	}
	want := map[string]metric{}
	for _, fn := range functionNames {
		dims := map[string]any{"FunctionName": r.named(t, tFunction, fn+"-function").outStr("name")}
		want[fn+"-errors"] = metric{"AWS/Lambda", "Errors", "Sum", dims}
		want[fn+"-throttles"] = metric{"AWS/Lambda", "Throttles", "Sum", dims}
	}
	want["api-5xx"] = metric{"AWS/ApiGateway", "5XXError", "Sum", map[string]any{
		"ApiName": r.named(t, tRestAPI, "slack-rest-api").outStr("name"), "Stage": "dev"}}
	for _, q := range r.ofType(tQueue) {
		want[q.Name+"-queued"] = metric{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum",
			map[string]any{"QueueName": q.outStr("name")}}
	}
	if len(want) != 10 {
		t.Fatalf("expected %d alarms; the test's own list is wrong", len(want))
	}

	alarms := r.ofType(tAlarm)
	if len(alarms) != len(want) {
		t.Errorf("%d alarms, want %d", len(alarms), len(want))
	}
	actions := []any{topic.outStr("arn")}
	for _, a := range alarms {
		w, ok := want[a.Name]
		if !ok {
			t.Errorf("unexpected alarm %s", a.Name)
			continue
		}
		got := metric{a.str("namespace"), a.str("metricName"), a.str("statistic"), nil}
		got.dims, _ = a.in("dimensions").(map[string]any)
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s: watches %+v, want %+v", a.Name, got, w)
		}
		checks := map[string][2]any{
			"name":               {a.str("name"), "slackbot-dev-" + a.Name},
			"period":             {a.in("period"), float64(300)},
			"evaluationPeriods":  {a.in("evaluationPeriods"), float64(1)},
			"comparisonOperator": {a.str("comparisonOperator"), "GreaterThanOrEqualToThreshold"},
			"threshold":          {a.in("threshold"), float64(1)},
			"treatMissingData":   {a.str("treatMissingData"), "notBreaching"},
			"alarmActions":       {a.in("alarmActions"), actions},
			"okActions":          {a.in("okActions"), actions},
		}
		for what, c := range checks {
			if !reflect.DeepEqual(c[0], c[1]) {
				t.Errorf("%s: %s = %#v, want %#v", a.Name, what, c[0], c[1])
			}
		}
		if a.str("alarmDescription") == "" {
			t.Errorf("%s: no description; it is what Slack shows", a.Name)
		}
	}
}

// TestAlarmsReachSlack wants the percentiles function subscribed to the alarm
// topic, and subscribed only once SNS may invoke it.
func TestAlarmsReachSlack(t *testing.T) {
	r := mustRun(t, baseConfig())
	topic := r.named(t, tTopic, "alarms")
	sub := r.named(t, tTopicSub, "alarms-to-slack")
	fn := r.named(t, tFunction, contract.PercentilesFunction+"-function")
	if sub.str("topic") != topic.outStr("arn") || sub.str("protocol") != "lambda" || sub.str("endpoint") != fn.outStr("arn") {
		t.Errorf("subscription %v, want %s -> lambda %s", sub.Inputs, topic.outStr("arn"), fn.outStr("arn"))
	}
	if !sub.dependsOn(r.named(t, tPermission, "percentiles-alarms")) {
		t.Error("subscription does not wait for the permission letting SNS invoke the function")
	}
	if r.output(t, "alarmTopicArn") != topic.outStr("arn") {
		t.Errorf("alarmTopicArn output %q, want %q", r.output(t, "alarmTopicArn"), topic.outStr("arn"))
	}
}

// TestNotifyAllowLists wants the allow-lists trimmed and passed to the
// commands function alone.
func TestNotifyAllowLists(t *testing.T) {
	cfg := baseConfig()
	cfg["slackbot:"+keyNotifyUsers] = " U0123ABCD , W0456EFGH"
	cfg["slackbot:"+keyNotifyChannels] = "C0123ABCDE, #ops-alerts,general , G0123456789"
	r := mustRun(t, cfg)
	want := map[string]any{
		contract.EnvNotifyUsers:    "U0123ABCD,W0456EFGH",
		contract.EnvNotifyChannels: "C0123ABCDE,#ops-alerts,general,G0123456789",
	}
	for _, name := range functionNames {
		env := r.named(t, tFunction, name+"-function").in("environment").(map[string]any)["variables"].(map[string]any)
		for k, v := range want {
			got, ok := env[k]
			if name == contract.CommandsFunction && got != v {
				t.Errorf("commands: %s = %v, want %q", k, got, v)
			}
			if name != contract.CommandsFunction && ok {
				t.Errorf("%s: %s is set; only commands posts with notify", name, k)
			}
		}
	}
}

func TestSecret(t *testing.T) {
	r := mustRun(t, baseConfig())
	secret := r.named(t, tSecret, "slack-credentials")
	ver := r.named(t, tSecretVer, "slack-credentials")
	if ver.str("secretId") != secret.ID {
		t.Errorf("version of secret %q, want %q", ver.str("secretId"), secret.ID)
	}
	v := ver.Inputs["secretString"]
	if !v.IsSecret() && !(v.IsOutput() && v.OutputValue().Secret) {
		t.Fatalf("secretString is not marked secret: %v", v)
	}
	var doc contract.Secret
	if err := json.Unmarshal([]byte(ver.str("secretString")), &doc); err != nil {
		t.Fatalf("secretString is not JSON: %v", err)
	}
	want := contract.Secret{
		SigningSecret: testSecrets[keySigningSecret], BotToken: testSecrets[keyBotToken],
		WebhookURL: testSecrets[keyWebhookURL], VerificationToken: testSecrets[keyVerificationToken],
		ClientID: testClientID, ClientSecret: testSecrets[keyClientSecret],
	}
	if doc != want {
		t.Errorf("secret document %+v, want %+v", doc, want)
	}
	if r.output(t, "secretArn") != secret.outStr("arn") {
		t.Errorf("secretArn output %q", r.output(t, "secretArn"))
	}
}

func TestOnlySigningSecretIsRequired(t *testing.T) {
	r := mustRun(t, map[string]string{"slackbot:" + keySigningSecret: testSecrets[keySigningSecret]})
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.named(t, tSecretVer, "slack-credentials").str("secretString")), &doc); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(doc, map[string]any{contract.SecretKeySigningSecret: testSecrets[keySigningSecret]}) {
		t.Errorf("secret document %v, want only the signing secret", doc)
	}
}

// TestNoPlaintextSecrets searches every input and state property of every
// resource, and every stack output, for the configured credentials. The one
// place they may appear is the secret version's secretString, marked secret.
func TestNoPlaintextSecrets(t *testing.T) {
	r := mustRun(t, baseConfig())
	inSecretString := 0
	for _, res := range r.resources {
		for key, v := range res.Inputs {
			walkStrings(v, false, func(s string, secret bool) {
				k, found := containsAny(s, testSecrets)
				if !found {
					return
				}
				if res.Type == tSecretVer && key == "secretString" && secret {
					inSecretString++
					return
				}
				t.Errorf("%s %s input %s holds the %s (secret=%v)", res.Type, res.Name, key, k, secret)
			})
		}
		for key, v := range res.State {
			walkStrings(v, false, func(s string, secret bool) {
				k, found := containsAny(s, testSecrets)
				if found && !(res.Type == tSecretVer && key == "secretString" && secret) {
					t.Errorf("%s %s state %s holds the %s (secret=%v)", res.Type, res.Name, key, k, secret)
				}
			})
		}
	}
	if inSecretString == 0 {
		t.Error("the credentials never reached the secret version: the search found nothing to allow")
	}
	for name, o := range r.outputs {
		b, _ := json.Marshal(o.Value)
		if k, found := containsAny(string(b), testSecrets); found {
			t.Errorf("stack output %s holds the %s", name, k)
		}
		if o.Secret {
			t.Errorf("stack output %s is secret; none of them should need to be", name)
		}
	}
	for _, fn := range r.ofType(tFunction) {
		env := fn.in("environment").(map[string]any)["variables"].(map[string]any)
		for _, k := range []string{contract.EnvSigningSecret, contract.EnvBotToken, contract.EnvWebhookURL, contract.EnvVerificationToken} {
			if _, ok := env[k]; ok {
				t.Errorf("%s: environment sets %s; functions get only the secret's ARN", fn.Name, k)
			}
		}
	}
}

func TestOutputs(t *testing.T) {
	r := mustRun(t, baseConfig())
	want := []string{"accessLogGroup", "alarmTopicArn", "apiUrl", "commandsUrl", "dedupeTable", "eventsUrl", "installUrl",
		"installationsTable", "interactionsUrl", "oauthRedirectUrl", "secretArn", "sketchTable", "slackAppManifest"}
	if got := slices.Sorted(maps.Keys(r.outputs)); !slices.Equal(got, want) {
		t.Fatalf("outputs %v, want %v", got, want)
	}
	apiURL := fmt.Sprintf("https://%s.execute-api.%s.amazonaws.com/dev", testAPIID, testRegion)
	for name, w := range map[string]string{
		"apiUrl":             apiURL,
		"eventsUrl":          apiURL + contract.EventsPath,
		"commandsUrl":        apiURL + contract.CommandsPath,
		"interactionsUrl":    apiURL + contract.InteractionsPath,
		"installUrl":         apiURL + contract.InstallPath,
		"oauthRedirectUrl":   apiURL + contract.OAuthRedirectPath,
		"installationsTable": r.named(t, tTable, "installations").outStr("name"),
		"dedupeTable":        r.named(t, tTable, "dedupe").outStr("name"),
		"sketchTable":        r.named(t, tTable, "sketches").outStr("name"),
		"accessLogGroup":     "/aws/apigateway/slackbot-dev/access",
		"alarmTopicArn":      r.named(t, tTopic, "alarms").outStr("arn"),
	} {
		if got := r.output(t, name); got != w {
			t.Errorf("output %s = %q, want %q", name, got, w)
		}
	}
}

func TestManifest(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      func(map[string]string)
		webhook  bool
		app      string
		command  string
		rotation bool
	}{
		{"defaults, with webhook", func(map[string]string) {}, true, "latencybot", contract.SlashCommand, false},
		{"no webhook, renamed, rotating", func(c map[string]string) {
			delete(c, "slackbot:"+keyWebhookURL)
			c["slackbot:appName"] = "Latency Bot"
			c["slackbot:commandName"] = "/latency-bot"
			c["slackbot:"+keyTokenRotation] = "true"
		}, false, "Latency Bot", "/latency-bot", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			tc.cfg(cfg)
			r := mustRun(t, cfg)
			var m slack.Manifest
			if err := json.Unmarshal([]byte(r.output(t, "slackAppManifest")), &m); err != nil {
				t.Fatalf("manifest is not JSON: %v", err)
			}
			if m.Settings.EventSubscriptions == nil || m.Settings.EventSubscriptions.RequestUrl != r.output(t, "eventsUrl") {
				t.Errorf("event request_url %+v, want the eventsUrl output %q", m.Settings.EventSubscriptions, r.output(t, "eventsUrl"))
			} else if !slices.Equal(m.Settings.EventSubscriptions.BotEvents, []string{"app_mention", "app_uninstalled", "tokens_revoked"}) {
				t.Errorf("bot events %v, want app_mention and the two that end an installation", m.Settings.EventSubscriptions.BotEvents)
			}
			if !slices.Equal(m.OAuthConfig.RedirectUrls, []string{r.output(t, "oauthRedirectUrl")}) {
				t.Errorf("redirect URLs %v, want the oauthRedirectUrl output", m.OAuthConfig.RedirectUrls)
			}
			if m.Settings.TokenRotationEnabled != tc.rotation {
				t.Errorf("token_rotation_enabled %v, want %v", m.Settings.TokenRotationEnabled, tc.rotation)
			}
			if len(m.Features.SlashCommands) != 1 {
				t.Fatalf("slash commands %+v, want one", m.Features.SlashCommands)
			}
			sc := m.Features.SlashCommands[0]
			if sc.Url != r.output(t, "commandsUrl") || sc.Command != tc.command || sc.UsageHint == "" || sc.Description == "" {
				t.Errorf("slash command %+v, want %s at the commandsUrl output %q with a usage hint", sc, tc.command, r.output(t, "commandsUrl"))
			}
			// Interactivity and the notify shortcut reach the commands function.
			if m.Settings.Interactivity == nil || !m.Settings.Interactivity.IsEnabled ||
				m.Settings.Interactivity.RequestUrl != r.output(t, "interactionsUrl") {
				t.Errorf("interactivity %+v, want enabled at the interactionsUrl output %q", m.Settings.Interactivity, r.output(t, "interactionsUrl"))
			}
			if len(m.Features.Shortcuts) != 1 || m.Features.Shortcuts[0].Type != slack.GlobalShortcut ||
				m.Features.Shortcuts[0].CallbackID != contract.NotifyShortcut || m.Features.Shortcuts[0].Name == "" ||
				m.Features.Shortcuts[0].Description == "" {
				t.Errorf("shortcuts %+v, want the global notify shortcut", m.Features.Shortcuts)
			}
			if m.Display.Name != tc.app || m.Features.BotUser.DisplayName != tc.app {
				t.Errorf("names %q / %q, want %q", m.Display.Name, m.Features.BotUser.DisplayName, tc.app)
			}
			scopes := slices.Clone(contract.BotScopes)
			if tc.webhook {
				scopes = append(scopes, "incoming-webhook")
			}
			sort.Strings(scopes)
			got := slices.Sorted(slices.Values(m.OAuthConfig.Scopes.Bot))
			if !slices.Equal(got, scopes) {
				t.Errorf("bot scopes %v, want %v", got, scopes)
			}
			// groups:read finds private channels for `notify` and its membership check.
			for _, s := range []string{"channels:read", "groups:read", "chat:write", "chat:write.public", "commands", "app_mentions:read"} {
				if !slices.Contains(got, s) {
					t.Errorf("bot scopes lack %s", s)
				}
			}
			if (m.Settings.IncomingWebhooks != nil) != tc.webhook {
				t.Errorf("incoming webhooks %+v, want enabled=%v", m.Settings.IncomingWebhooks, tc.webhook)
			}
			if m.Metadata.MajorVersion != 1 {
				t.Errorf("_metadata %+v", m.Metadata)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		key, value, want string
	}{
		{keySigningSecret, "", "signingSecret: required"},
		{keyArchitecture, "amd64", "architecture"},
		{keyMemorySize, "64", "memorySize"},
		{keyMemorySize, "lots", "memorySize"},
		{keyLogRetentionDays, "13", "logRetentionDays"},
		{keyReportWindow, "30s", "reportWindow"},
		{keyReportSchedule, "hourly", "reportSchedule"},
		{keyManageAPIGatewayAccount, "yes please", "manageApiGatewayAccount"},
		{keyThrottlingRateLimit, "0", "throttlingRateLimit"},
		{keyCommandName, "slackbot", "commandName"},
		{keyAppName, strings.Repeat("x", 36), "appName"},
		// Slack refuses names holding "Slack"; the error says why.
		{keyAppName, "slackbot", `appName: "slackbot": Slack refuses app names containing "Slack"`},
		{keyAppName, "My SLACK helper", `appName: "My SLACK helper": Slack refuses`},
		{keyWebhookURL, "http://hooks.example/insecure-webhook-value", "webhookUrl"},
		// Allow-list errors name the key and the offending item, after trimming.
		{keyNotifyUsers, "U0123ABCD, alice", `notifyUsers: "alice"`},
		{keyNotifyUsers, "u0123abcd", `notifyUsers: "u0123abcd"`},
		{keyNotifyUsers, "U0123ABCD,", `notifyUsers: ""`},
		{keyNotifyChannels, "C0123ABCDE, #General", `notifyChannels: "#General"`},
		{keyNotifyChannels, "C0123", `notifyChannels: "C0123"`},
		{keyNotifyChannels, "#" + strings.Repeat("a", 81), `notifyChannels: "#aaaa`},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			cfg := baseConfig()
			if tc.value == "" {
				delete(cfg, "slackbot:"+tc.key)
			} else {
				cfg["slackbot:"+tc.key] = tc.value
			}
			_, err := runProgram(t, "dev", cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
			if slices.Contains(secretKeys, tc.key) && tc.value != "" && strings.Contains(err.Error(), tc.value) {
				t.Errorf("the error repeats the secret value: %v", err)
			}
		})
	}
}

func TestStackNameIsSanitised(t *testing.T) {
	r, err := runProgram(t, "team.dev", baseConfig())
	if err != nil {
		t.Fatal(err)
	}
	if got := r.named(t, tStage, "slack-stage").str("stageName"); got != "team-dev" {
		t.Errorf("stage name %q", got)
	}
	if got := r.named(t, tFunction, contract.EventsFunction+"-function").str("name"); got != "slackbot-team-dev-events" {
		t.Errorf("function name %q", got)
	}
}
