// Command infra is the Pulumi program that deploys the slackbot: three Go Lambda
// functions behind an API Gateway REST API, their secret, tables, access-log
// ingest and report schedule. Pulumi.yaml at the module root points here.
package main

import (
	"context"
	"fmt"
	"os"
	"regexp"

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

	secretGrant := grant{Sid: "ReadSlackCredentials", Actions: secretActions,
		Resources: []pulumi.StringInput{creds.Secret.Arn}}
	readSketches := grant{Sid: "ReadSketches", Actions: sketchReadActions,
		Resources: []pulumi.StringInput{tbl.Sketches.Arn}}
	env := func(extra map[string]pulumi.StringInput) pulumi.StringMap {
		m := pulumi.StringMap{
			contract.EnvSecretARN:     creds.Secret.Arn,
			contract.EnvSecretVersion: creds.Version.VersionId,
			contract.EnvLogLevel:      pulumi.String("info"),
			contract.EnvSketchTable:   tbl.Sketches.Name,
			contract.EnvReportWindow:  pulumi.String(s.ReportWindow),
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	percentilesEnv := map[string]pulumi.StringInput{}
	if s.ReportChannel != "" {
		percentilesEnv[contract.EnvReportChannel] = pulumi.String(s.ReportChannel)
	}

	specs := []struct {
		name       string
		timeout    int
		env        pulumi.StringMap
		grants     []grant
		selfInvoke bool
	}{
		{contract.EventsFunction, httpTimeout,
			env(map[string]pulumi.StringInput{contract.EnvDedupeTable: tbl.Dedupe.Name}),
			[]grant{secretGrant, readSketches, {Sid: "DedupeEvents", Actions: dedupeActions,
				Resources: []pulumi.StringInput{tbl.Dedupe.Arn}}},
			false},
		{contract.CommandsFunction, httpTimeout, env(nil),
			[]grant{secretGrant, readSketches}, true},
		{contract.PercentilesFunction, percentilesTimeout, env(percentilesEnv),
			[]grant{secretGrant, {Sid: "ReadWriteSketches", Actions: sketchWriteActions,
				Resources: []pulumi.StringInput{tbl.Sketches.Arn}}},
			false},
	}
	fns := map[string]*GoFunction{}
	for _, sp := range specs {
		fnName := prefix + "-" + sp.name
		if len(fnName) > 64 {
			return nil, fmt.Errorf("function name %s is longer than Lambda's 64 characters: use a shorter stack name", fnName)
		}
		fns[sp.name], err = NewGoFunction(ctx, sp.name, &GoFunctionArgs{
			FunctionName:     fnName,
			Artifact:         arts[sp.name],
			Architecture:     s.Architecture,
			MemorySize:       s.MemorySize,
			Timeout:          sp.timeout,
			Environment:      sp.env,
			LogRetentionDays: s.LogRetentionDays,
			Grants:           sp.grants,
			SelfInvoke:       sp.selfInvoke,
		})
		if err != nil {
			return nil, err
		}
	}

	api, err := NewSlackAPI(ctx, "slack", &SlackAPIArgs{
		Routes: []Route{
			{Path: contract.EventsPath, Function: fns[contract.EventsFunction]},
			{Path: contract.CommandsPath, Function: fns[contract.CommandsFunction]},
		},
		StageName:            safeName(ctx.Stack()),
		AccessLogGroupName:   "/aws/apigateway/" + prefix + "/access",
		LogRetentionDays:     s.LogRetentionDays,
		ThrottlingRateLimit:  s.ThrottlingRateLimit,
		ThrottlingBurstLimit: s.ThrottlingBurstLimit,
		ManageAccount:        s.ManageAPIGatewayAccount,
	})
	if err != nil {
		return nil, err
	}

	if err := newReports(ctx, s, api, fns[contract.PercentilesFunction]); err != nil {
		return nil, err
	}

	eventsURL := api.RouteURL(contract.EventsPath)
	commandsURL := api.RouteURL(contract.CommandsPath)
	return pulumi.Map{
		"apiUrl":           api.URL,
		"eventsUrl":        eventsURL,
		"commandsUrl":      commandsURL,
		"slackAppManifest": manifestJSON(s, eventsURL, commandsURL),
		"secretArn":        creds.Secret.Arn,
		"dedupeTable":      tbl.Dedupe.Name,
		"sketchTable":      tbl.Sketches.Name,
		"accessLogGroup":   api.AccessLogGroup.Name,
	}, nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// safeName keeps the characters Lambda function and API Gateway stage names
// allow; a stack name may also hold dots and slashes.
func safeName(s string) string { return unsafeChars.ReplaceAllString(s, "-") }
