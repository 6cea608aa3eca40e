package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/apigateway"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lambda-slackbot/slackbot/contract"
)

// Route sends Method (POST when empty) requests for Path to Function.
// Path is one name under /slack, like contract.EventsPath: all the API
// serves.
type Route struct {
	Path     string
	Method   string
	Function *GoFunction
}

// SlackAPIArgs describes a SlackAPI.
type SlackAPIArgs struct {
	Routes []Route
	// StageName is the stage and the last element of the API's URL.
	StageName string
	// AccessLogGroupName receives the stage's access log.
	AccessLogGroupName   string
	LogRetentionDays     int
	ThrottlingRateLimit  int
	ThrottlingBurstLimit int
	// ManageAccount sets the region's API Gateway CloudWatch role, without which
	// API Gateway writes no access log.
	ManageAccount bool
	// AccountID is the stack's account: only API Gateway acting for it may
	// assume that role.
	AccountID string
}

// SlackAPI is the REST API Slack calls: its routes, their Lambda integrations and
// invoke permissions, the deployment, the stage with its access log and throttling.
type SlackAPI struct {
	pulumi.ResourceState

	RestAPI        *apigateway.RestApi
	Stage          *apigateway.Stage
	AccessLogGroup *cloudwatch.LogGroup
	// URL is the stage's base URL, without a trailing slash.
	URL pulumi.StringOutput
}

// RouteURL is the full URL of path on the stage.
func (a *SlackAPI) RouteURL(path string) pulumi.StringOutput {
	return pulumi.Sprintf("%s%s", a.URL, path)
}

// NewSlackAPI declares the REST API Slack calls: one /slack resource with a
// child per route, each child with a POST method, its AWS_PROXY integration and
// the function's permission to be invoked by it; a deployment of them; and the
// stage, with its access log and throttling. Its children are named after it:
// name+"-rest-api", name+"-deployment", name+"-stage", name+"-access", and so on.
func NewSlackAPI(ctx *pulumi.Context, name string, args *SlackAPIArgs, opts ...pulumi.ResourceOption) (*SlackAPI, error) {
	a := &SlackAPI{}
	if err := ctx.RegisterComponentResource("slackbot:index:SlackAPI", name, a, opts...); err != nil {
		return nil, fmt.Errorf("api %s: %w", name, err)
	}
	parent := pulumi.Parent(a)
	// formerly is the alias of a child that stacks deployed before the
	// children were named apart still know by the component's bare name, so
	// they update it in place rather than replace it: a new REST API would
	// have a new URL, which Slack's app configuration still points at.
	formerly := pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String(name)}})
	wrap := func(what string, err error) error { return fmt.Errorf("api %s: %s: %w", name, what, err) }

	var err error
	a.RestAPI, err = apigateway.NewRestApi(ctx, name+"-rest-api", &apigateway.RestApiArgs{
		Description: pulumi.String("Slack Events API and slash commands"),
		// Slack calls from its own servers, not from browsers near an edge
		// location, so a regional endpoint saves the CloudFront hop.
		EndpointConfiguration: &apigateway.RestApiEndpointConfigurationArgs{
			Types: pulumi.String("REGIONAL"),
		},
	}, parent, formerly)
	if err != nil {
		return nil, wrap("rest api", err)
	}

	slack, err := apigateway.NewResource(ctx, name+"-slack", &apigateway.ResourceArgs{
		RestApi:  a.RestAPI.ID(),
		ParentId: a.RestAPI.RootResourceId,
		PathPart: pulumi.String("slack"),
	}, parent)
	if err != nil {
		return nil, wrap("resource /slack", err)
	}

	// served is what the deployment serves: when any of it changes, a new
	// deployment must be made, or the stage keeps serving the old routes.
	var served []any
	var routeResources []pulumi.Resource
	for _, r := range args.Routes {
		vals, deps, err := a.route(ctx, name, slack, r, parent)
		if err != nil {
			return nil, wrap("route "+r.Path, err)
		}
		served = append(served, vals...)
		routeResources = append(routeResources, deps...)
	}

	deployment, err := apigateway.NewDeployment(ctx, name+"-deployment", &apigateway.DeploymentArgs{
		RestApi:     a.RestAPI.ID(),
		Description: pulumi.String("Managed by Pulumi; replaced when routes or integrations change"),
		Triggers:    pulumi.StringMap{"redeployment": hashJSON(served)},
	}, parent, formerly, pulumi.DependsOn(routeResources))
	if err != nil {
		return nil, wrap("deployment", err)
	}

	a.AccessLogGroup, err = cloudwatch.NewLogGroup(ctx, name+"-access", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(args.AccessLogGroupName),
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
	}, parent)
	if err != nil {
		return nil, wrap("access log group", err)
	}

	var stageDeps []pulumi.Resource
	if args.ManageAccount {
		account, err := newAPIGatewayAccount(ctx, name+"-account", args.AccountID, parent)
		if err != nil {
			return nil, wrap("account", err)
		}
		stageDeps = append(stageDeps, account)
	}

	a.Stage, err = apigateway.NewStage(ctx, name+"-stage", &apigateway.StageArgs{
		RestApi:    a.RestAPI.ID(),
		Deployment: deployment.ID(),
		StageName:  pulumi.String(args.StageName),
		AccessLogSettings: &apigateway.StageAccessLogSettingsArgs{
			DestinationArn: a.AccessLogGroup.Arn,
			Format:         pulumi.String(contract.AccessLogFormat),
		},
	}, parent, formerly, pulumi.DependsOn(stageDeps))
	if err != nil {
		return nil, wrap("stage", err)
	}

	_, err = apigateway.NewMethodSettings(ctx, name+"-all", &apigateway.MethodSettingsArgs{
		RestApi:    a.RestAPI.ID(),
		StageName:  a.Stage.StageName,
		MethodPath: pulumi.String("*/*"),
		Settings: &apigateway.MethodSettingsSettingsArgs{
			ThrottlingRateLimit:  pulumi.Float64(float64(args.ThrottlingRateLimit)),
			ThrottlingBurstLimit: pulumi.Int(args.ThrottlingBurstLimit),
			// The access log is all the percentiles need; execution logs would
			// cost more than they tell.
			LoggingLevel:   pulumi.String("OFF"),
			MetricsEnabled: pulumi.Bool(false),
		},
	}, parent)
	if err != nil {
		return nil, wrap("method settings", err)
	}

	a.URL = a.Stage.InvokeUrl.ApplyT(func(u string) string { return strings.TrimSuffix(u, "/") }).(pulumi.StringOutput)
	if err := ctx.RegisterResourceOutputs(a, pulumi.Map{
		"url":            a.URL,
		"accessLogGroup": a.AccessLogGroup.Name,
	}); err != nil {
		return nil, wrap("outputs", err)
	}
	return a, nil
}

// route declares r's resource under /slack, its POST method and AWS_PROXY
// integration, and the function's permission to be invoked by them. It
// returns what the deployment serves of it and the resources the deployment
// must wait for.
func (a *SlackAPI) route(ctx *pulumi.Context, name string, slack *apigateway.Resource, r Route, parent pulumi.ResourceOption) (served []any, deps []pulumi.Resource, err error) {
	part, ok := strings.CutPrefix(r.Path, "/slack/")
	if !ok || part == "" || strings.Contains(part, "/") {
		return nil, nil, errors.New("want one name under /slack/")
	}
	child := name + "-slack-" + part
	verb := r.Method
	if verb == "" {
		verb = "POST"
	}
	// POST routes keep the names they had before routes had methods.
	methodName := child + "-" + strings.ToLower(verb)
	res, err := apigateway.NewResource(ctx, child, &apigateway.ResourceArgs{
		RestApi:  a.RestAPI.ID(),
		ParentId: slack.ID(),
		PathPart: pulumi.String(part),
	}, parent)
	if err != nil {
		return nil, nil, fmt.Errorf("resource: %w", err)
	}
	// Slack authenticates each request with its signing secret, which the
	// function verifies; API Gateway has no authorizer that could. The
	// install's GETs come from browsers, checked by the OAuth state.
	method, err := apigateway.NewMethod(ctx, methodName, &apigateway.MethodArgs{
		RestApi:       a.RestAPI.ID(),
		ResourceId:    res.ID(),
		HttpMethod:    pulumi.String(verb),
		Authorization: pulumi.String("NONE"),
	}, parent)
	if err != nil {
		return nil, nil, fmt.Errorf("method: %w", err)
	}
	integration, err := apigateway.NewIntegration(ctx, methodName, &apigateway.IntegrationArgs{
		RestApi:               a.RestAPI.ID(),
		ResourceId:            res.ID(),
		HttpMethod:            method.HttpMethod,
		Type:                  pulumi.String("AWS_PROXY"),
		IntegrationHttpMethod: pulumi.String("POST"),
		Uri:                   r.Function.Function.InvokeArn,
	}, parent)
	if err != nil {
		return nil, nil, fmt.Errorf("integration: %w", err)
	}
	// Only this API, only this method, only this path may invoke the
	// function; the stage is left open ("*") so the console's test
	// invocations work too.
	_, err = r.Function.AllowInvoke(ctx, child+"-invoke", "apigateway.amazonaws.com",
		pulumi.Sprintf("%s/*/%s%s", a.RestAPI.ExecutionArn, verb, r.Path))
	if err != nil {
		return nil, nil, fmt.Errorf("permission: %w", err)
	}
	served = []any{pulumi.String(r.Path), res.ID(), method.ID(), method.Authorization,
		integration.ID(), integration.Type, integration.Uri}
	return served, []pulumi.Resource{method, integration}, nil
}

// hashJSON is the SHA-256, in hex, of vals' JSON once all are known.
func hashJSON(vals []any) pulumi.StringOutput {
	return pulumi.All(vals...).ApplyT(func(vals []any) (string, error) {
		b, err := json.Marshal(vals)
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(b)
		return hex.EncodeToString(sum[:]), nil
	}).(pulumi.StringOutput)
}

// newAPIGatewayAccount points the region's API Gateway account settings at a role
// that may write CloudWatch Logs. The setting is one per account and region and
// serves every REST API there, so its role carries AWS's managed policy for the
// purpose rather than a policy narrowed to this stack's log group, which would
// break the logs of any other API in the region.
func newAPIGatewayAccount(ctx *pulumi.Context, name, accountID string, opts ...pulumi.ResourceOption) (*apigateway.Account, error) {
	partition, err := aws.GetPartition(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("partition: %w", err)
	}
	role, err := iam.NewRole(ctx, name, &iam.RoleArgs{
		Description:      pulumi.String("Lets API Gateway write access and execution logs to CloudWatch Logs"),
		AssumeRolePolicy: pulumi.String(assumeRolePolicy("apigateway.amazonaws.com", accountID)),
	}, opts...)
	if err != nil {
		return nil, err
	}
	attach, err := iam.NewRolePolicyAttachment(ctx, name, &iam.RolePolicyAttachmentArgs{
		Role:      role.Name,
		PolicyArn: pulumi.Sprintf("arn:%s:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs", partition.Partition),
	}, opts...)
	if err != nil {
		return nil, err
	}
	return apigateway.NewAccount(ctx, name, &apigateway.AccountArgs{
		CloudwatchRoleArn: role.Arn,
		// On destroy, clear the region's setting rather than leave it naming
		// the role destroyed with it. (Deprecated only because the provider's
		// next major version resets by default.)
		ResetOnDelete: pulumi.Bool(true),
	}, append(opts, pulumi.DependsOn([]pulumi.Resource{attach}))...)
}
