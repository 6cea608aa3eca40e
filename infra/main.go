// Command infra is the Pulumi program that deploys the slackbot: three Go Lambda
// functions behind an API Gateway REST API, their secret, tables, access-log
// ingest, report schedule, failure queues and alarms. Pulumi.yaml at the
// module root points here.
package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"regexp"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/infra/lambdabuild"
)

func main() { pulumi.Run(deploy) }

// deploy is the whole program; tests run it with pulumi.WithMocks.
func deploy(ctx *pulumi.Context) error {
	outputs, err := newSlackbot(ctx, buildFunctions)
	if err != nil {
		return err
	}
	for name, value := range outputs {
		ctx.Export(name, value)
	}
	return nil
}

// builder compiles the named functions (directories under functions/) for goarch.
type builder func(ctx context.Context, goarch string, names []string) (map[string]*lambdabuild.Artifact, error)

// buildFunctions compiles the functions of the module this program runs in. One go
// command builds all of them: it compiles their shared dependencies once and
// already runs as many compilations at once as there are cores.
func buildFunctions(ctx context.Context, goarch string, names []string) (map[string]*lambdabuild.Artifact, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("build functions: %w", err)
	}
	root, err := lambdabuild.FindModuleRoot(wd)
	if err != nil {
		return nil, fmt.Errorf("build functions: %w", err)
	}
	pkgs := make([]string, len(names))
	for i, n := range names {
		pkgs[i] = "./functions/" + n
	}
	arts, err := lambdabuild.BuildAll(ctx, lambdabuild.Options{ModuleRoot: root, GOARCH: goarch}, pkgs...)
	if err != nil {
		return nil, fmt.Errorf("build functions: %w", err)
	}
	out := make(map[string]*lambdabuild.Artifact, len(arts))
	for i, a := range arts {
		out[names[i]] = a
	}
	return out, nil
}

// Timeouts in seconds: Slack gives an HTTP answer 3 seconds, and the percentiles
// function may read an hour of sketches and post a report.
const (
	httpTimeout        = 10
	percentilesTimeout = 60
)

// Asynchronous invocations. The commands function invokes itself to finish a
// slow command, and a retry could post its answer twice; past 30 minutes the
// command's response_url has expired, so an older event can only fail. The
// percentiles function's ingest is idempotent per batch and a report or an
// alarm post is better twice than never, so it gets Lambda's full 2 retries.
var (
	commandsAsync    = &AsyncInvoke{Retries: 0, MaxEventAgeSeconds: 30 * 60}
	percentilesAsync = &AsyncInvoke{Retries: 2}
)

// newSlackbot declares every resource and returns the stack outputs.
func newSlackbot(ctx *pulumi.Context, build builder) (pulumi.Map, error) {
	s, err := loadSettings(ctx)
	if err != nil {
		return nil, err
	}
	prefix := safeName(ctx.Project() + "-" + ctx.Stack())

	names := []string{contract.EventsFunction, contract.CommandsFunction, contract.PercentilesFunction}
	arts, err := build(ctx.Context(), s.GOARCH, names)
	if err != nil {
		return nil, err
	}

	creds, err := newCredentials(ctx, s)
	if err != nil {
		return nil, err
	}
	tbl, err := newTables(ctx)
	if err != nil {
		return nil, err
	}
	caller, err := aws.GetCallerIdentity(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("account: %w", err)
	}
	// Before the functions: the percentiles function posts only what comes
	// from it, so it is told its ARN.
	alarmTopic, err := newAlarmTopic(ctx, prefix, caller.AccountId)
	if err != nil {
		return nil, err
	}
	inst, err := newInstalls(ctx, prefix)
	if err != nil {
		return nil, err
	}
	albLogs, err := albLogsGrant(ctx, s.Sources)
	if err != nil {
		return nil, err
	}
	drawer, err := chartDrawer(ctx, prefix, caller.AccountId)
	if err != nil {
		return nil, err
	}
	specs := functionSpecs(s, prefix, creds, tbl, alarmTopic, inst, albLogs, drawer)
	fns, err := newFunctions(ctx, s, prefix, caller.AccountId, arts, specs)
	if err != nil {
		return nil, err
	}
	api, err := newSlackGateway(ctx, s, prefix, caller.AccountId, fns)
	if err != nil {
		return nil, err
	}
	if err := watchFailures(ctx, s, prefix, caller.AccountId, alarmTopic, api, fns); err != nil {
		return nil, err
	}
	return stackOutputs(s, api, creds, tbl, inst, alarmTopic), nil
}

// chartFunction is the function that draws the commands function's charts:
// the percentiles function, named before it exists, since the commands
// function, declared first, names it in its environment and its grant.
type chartFunction struct{ name, arn string }

func chartDrawer(ctx *pulumi.Context, prefix, account string) (chartFunction, error) {
	r, err := aws.GetRegion(ctx, nil)
	if err != nil {
		return chartFunction{}, fmt.Errorf("charts: region: %w", err)
	}
	partition, err := aws.GetPartition(ctx, nil)
	if err != nil {
		return chartFunction{}, fmt.Errorf("charts: partition: %w", err)
	}
	name := prefix + "-" + contract.PercentilesFunction
	return chartFunction{name: name, arn: fmt.Sprintf("arn:%s:lambda:%s:%s:function:%s", partition.Partition, r.Name, account, name)}, nil
}

// functionSpec is what differs between the three functions.
type functionSpec struct {
	name       string
	timeout    int
	env        pulumi.StringMap
	grants     []grant
	selfInvoke bool
	async      *AsyncInvoke
}

// functionSpecs are the functions' environments and grants: each gets the
// variables and the rights of what it does, and no more.
func functionSpecs(s *settings, prefix string, creds *credentials, tbl *tables, alarmTopic *sns.Topic, inst *installs, albLogs *grant, drawer chartFunction) []functionSpec {
	secretGrant := grant{Sid: "ReadSlackCredentials", Actions: secretActions,
		Resources: []pulumi.StringInput{creds.Secret.Arn}}
	readSketches := grant{Sid: "ReadSketches", Actions: sketchReadActions,
		Resources: []pulumi.StringInput{tbl.Sketches.Arn}}
	// Events claim event ids and commands claim their deferred work in the
	// same table, through the same store.
	dedupe := grant{Sid: "ClaimDedupe", Actions: dedupeActions,
		Resources: []pulumi.StringInput{tbl.Dedupe.Arn}}
	dedupeEnv := map[string]pulumi.StringInput{contract.EnvDedupeTable: tbl.Dedupe.Name}
	env := func(extra map[string]pulumi.StringInput) pulumi.StringMap {
		m := pulumi.StringMap{
			contract.EnvSecretARN:     creds.Secret.Arn,
			contract.EnvSecretVersion: creds.Version.VersionId,
			contract.EnvLogLevel:      pulumi.String("info"),
			contract.EnvSketchTable:   tbl.Sketches.Name,
			contract.EnvReportWindow:  pulumi.String(s.ReportWindow),
		}
		// Events and commands read the sources too: `latency orders` names
		// a source only where the sources are known.
		if s.LatencySources != "" {
			m[contract.EnvLatencySources] = pulumi.String(s.LatencySources)
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	percentilesEnv := map[string]pulumi.StringInput{
		contract.EnvAccessLogGroup: pulumi.String(accessLogGroupName(prefix)),
		contract.EnvAlarmTopicARN:  alarmTopic.Arn,
	}
	maps.Copy(percentilesEnv, inst.env())
	percentilesGrants := append([]grant{secretGrant, {Sid: "ReadWriteSketches", Actions: sketchWriteActions,
		Resources: []pulumi.StringInput{tbl.Sketches.Arn}}}, inst.grants(refreshActions)...)
	if albLogs != nil {
		// A log object is claimed once by its bucket, key and version, so
		// an event EventBridge delivers twice is counted once.
		percentilesGrants = append(percentilesGrants, *albLogs, dedupe)
		maps.Copy(percentilesEnv, dedupeEnv)
	}
	if s.ReportChannel != "" {
		percentilesEnv[contract.EnvReportChannel] = pulumi.String(s.ReportChannel)
	}
	// Reports and alerts go out from the percentiles function; each is set
	// only when it differs from the default, so existing stacks preview no change.
	if s.ReportVia != contract.ReportViaAuto {
		percentilesEnv[contract.EnvReportVia] = pulumi.String(s.ReportVia)
	}
	if s.AlertRules != "" {
		percentilesEnv[contract.EnvAlertRules] = pulumi.String(s.AlertRules)
	}
	if s.ReportTeam != "" {
		percentilesEnv[contract.EnvReportTeam] = pulumi.String(s.ReportTeam)
	}
	// Set only when configured, so stacks without allow-lists preview no change.
	maps.Copy(dedupeEnv, inst.env())
	commandsEnv := maps.Clone(dedupeEnv)
	if s.NotifyUsers != "" {
		commandsEnv[contract.EnvNotifyUsers] = pulumi.String(s.NotifyUsers)
	}
	if s.NotifyChannels != "" {
		commandsEnv[contract.EnvNotifyChannels] = pulumi.String(s.NotifyChannels)
	}
	// Charts are drawn by the percentiles function (see package chartcall).
	commandsEnv[contract.EnvChartFunction] = pulumi.String(drawer.name)
	drawCharts := grant{Sid: "DrawCharts", Actions: []string{"lambda:InvokeFunction"},
		Resources: []pulumi.StringInput{pulumi.String(drawer.arn)}}

	return []functionSpec{
		{name: contract.EventsFunction, timeout: httpTimeout, env: env(dedupeEnv),
			grants: append([]grant{secretGrant, readSketches, dedupe}, inst.grants(installActions)...)},
		{name: contract.CommandsFunction, timeout: httpTimeout, env: env(commandsEnv),
			grants:     append([]grant{secretGrant, readSketches, dedupe, drawCharts}, inst.grants(refreshActions)...),
			selfInvoke: true, async: commandsAsync},
		{name: contract.PercentilesFunction, timeout: percentilesTimeout, env: env(percentilesEnv),
			grants: percentilesGrants, async: percentilesAsync},
	}
}

// newFunctions declares the functions of specs.
func newFunctions(ctx *pulumi.Context, s *settings, prefix, accountID string, arts map[string]*lambdabuild.Artifact, specs []functionSpec) (map[string]*GoFunction, error) {
	var err error
	fns := map[string]*GoFunction{}
	for _, sp := range specs {
		fnName := prefix + "-" + sp.name
		if len(fnName) > 64 {
			return nil, fmt.Errorf("function name %s is longer than Lambda's 64 characters: use a shorter stack name", fnName)
		}
		fns[sp.name], err = NewGoFunction(ctx, sp.name, &GoFunctionArgs{
			FunctionName:     fnName,
			AccountID:        accountID,
			Artifact:         arts[sp.name],
			Architecture:     s.Architecture,
			MemorySize:       s.MemorySize,
			Timeout:          sp.timeout,
			Environment:      sp.env,
			LogRetentionDays: s.LogRetentionDays,
			Grants:           sp.grants,
			SelfInvoke:       sp.selfInvoke,
			Async:            sp.async,
		})
		if err != nil {
			return nil, err
		}
	}

	return fns, nil
}

// newSlackGateway declares the REST API Slack calls, each route on the
// function that serves it.
func newSlackGateway(ctx *pulumi.Context, s *settings, prefix, accountID string, fns map[string]*GoFunction) (*Gateway, error) {
	return NewGateway(ctx, "slack", &GatewayArgs{
		Routes: []Route{
			{Path: contract.EventsPath, Function: fns[contract.EventsFunction]},
			{Path: contract.CommandsPath, Function: fns[contract.CommandsFunction]},
			// The commands function holds what interactions need: see bot.New.
			{Path: contract.InteractionsPath, Function: fns[contract.CommandsFunction]},
			// A browser's GETs, for the OAuth install: see package install.
			{Path: contract.InstallPath, Method: "GET", Function: fns[contract.CommandsFunction]},
			{Path: contract.OAuthRedirectPath, Method: "GET", Function: fns[contract.CommandsFunction]},
		},
		StageName:            safeName(ctx.Stack()),
		AccessLogGroupName:   accessLogGroupName(prefix),
		LogRetentionDays:     s.LogRetentionDays,
		ThrottlingRateLimit:  s.ThrottlingRateLimit,
		ThrottlingBurstLimit: s.ThrottlingBurstLimit,
		ManageAccount:        s.ManageAPIGatewayAccount,
		AccountID:            accountID,
	})
}

// watchFailures declares where failures go: the report's and the sources'
// dead-letter queues, and the alarms on the functions, the API and every
// queue, which reach Slack through the percentiles function.
func watchFailures(ctx *pulumi.Context, s *settings, prefix, accountID string, alarmTopic *sns.Topic, api *Gateway, fns map[string]*GoFunction) error {
	reportFailures, err := newReports(ctx, s, prefix, api, fns[contract.PercentilesFunction])
	if err != nil {
		return err
	}

	sourceFailures, err := newSources(ctx, s, prefix, accountID, fns[contract.PercentilesFunction])
	if err != nil {
		return err
	}

	queues := map[string]*sqs.Queue{"latency-report-failures": reportFailures}
	maps.Copy(queues, sourceFailures)
	for name, fn := range fns {
		if fn.FailureQueue != nil {
			queues[name+"-failures"] = fn.FailureQueue
		}
	}
	return newAlarms(ctx, prefix, alarmTopic, watched{
		Functions: fns,
		API:       api,
		Queues:    queues,
		Notify:    fns[contract.PercentilesFunction],
	})
}

// stackOutputs are the stack's outputs: the URLs and manifest the Slack app
// needs, and the resources an operator looks for.
func stackOutputs(s *settings, api *Gateway, creds *credentials, tbl *tables, inst *installs, alarmTopic *sns.Topic) pulumi.Map {
	eventsURL := api.RouteURL(contract.EventsPath)
	commandsURL := api.RouteURL(contract.CommandsPath)
	interactionsURL := api.RouteURL(contract.InteractionsPath)
	redirectURL := api.RouteURL(contract.OAuthRedirectPath)
	return pulumi.Map{
		"installUrl":         api.RouteURL(contract.InstallPath),
		"oauthRedirectUrl":   redirectURL,
		"installationsTable": inst.Table.Name,
		"apiUrl":             api.URL,
		"eventsUrl":          eventsURL,
		"commandsUrl":        commandsURL,
		"interactionsUrl":    interactionsURL,
		"slackAppManifest":   manifestJSON(s, eventsURL, commandsURL, interactionsURL, redirectURL),
		"secretArn":          creds.Secret.Arn,
		"dedupeTable":        tbl.Dedupe.Name,
		"sketchTable":        tbl.Sketches.Name,
		"accessLogGroup":     api.AccessLogGroup.Name,
		"alarmTopicArn":      alarmTopic.Arn,
	}
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// safeName keeps the characters Lambda function and API Gateway stage names
// allow; a stack name may also hold dots and slashes.
func safeName(s string) string { return unsafeChars.ReplaceAllString(s, "-") }
