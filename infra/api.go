package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/apigateway"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lambda-slackbot/slackbot/contract"
)

// Route sends POST requests for Path to Function. Every path is one name
// under /slack, like contract.EventsPath: all the API serves.
type Route struct {
	Path     string
	Function *GoFunction
}

// routePrefix is the one API Gateway resource the routes hang under.
const routePrefix = "/slack/"

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

func NewSlackAPI(ctx *pulumi.Context, name string, args *SlackAPIArgs, opts ...pulumi.ResourceOption) (*SlackAPI, error) {
	a := &SlackAPI{}
	if err := ctx.RegisterComponentResource("slackbot:index:SlackAPI", name, a, opts...); err != nil {
		return nil, fmt.Errorf("api %s: %w", name, err)
	}
	parent := pulumi.Parent(a)
	wrap := func(what string, err error) error { return fmt.Errorf("api %s: %s: %w", name, what, err) }

	var err error
	a.RestAPI, err = apigateway.NewRestApi(ctx, name, &apigateway.RestApiArgs{
		Description: pulumi.String("Slack Events API and slash commands"),
		// Slack calls from its own servers, not from browsers near an edge
		// location, so a regional endpoint saves the CloudFront hop.
		EndpointConfiguration: &apigateway.RestApiEndpointConfigurationArgs{
			Types: pulumi.String("REGIONAL"),
		},
	}, parent)
	if err != nil {
		return nil, wrap("rest api", err)
	}

	// The routes' parent resource, /slack.
	slackRes, err := apigateway.NewResource(ctx, name+resourceSuffix(routePrefix), &apigateway.ResourceArgs{
		RestApi:  a.RestAPI.ID(),
		ParentId: a.RestAPI.RootResourceId,
		PathPart: pulumi.String(strings.Trim(routePrefix, "/")),
	}, parent)
	if err != nil {
		return nil, wrap("resource "+routePrefix, err)
	}

	// What a deployment serves: when any of it changes, a new deployment must
	// be made, or the stage keeps serving the old routes.
	var served []any
	var routeResources []pulumi.Resource
	for _, r := range args.Routes {
		part, ok := strings.CutPrefix(r.Path, routePrefix)
		if !ok || part == "" || strings.Contains(part, "/") {
			return nil, wrap("route "+r.Path, fmt.Errorf("want one name under %s", routePrefix))
		}
		suffix := resourceSuffix(r.Path)
		res, err := apigateway.NewResource(ctx, name+suffix, &apigateway.ResourceArgs{
			RestApi:  a.RestAPI.ID(),
			ParentId: slackRes.ID(),
			PathPart: pulumi.String(part),
		}, parent)
		if err != nil {
			return nil, wrap("resource "+r.Path, err)
		}
		resourceID := res.ID().ToStringOutput()
		// Slack authenticates each request with its signing secret, which the
		// function verifies; API Gateway has no authorizer that could.
		method, err := apigateway.NewMethod(ctx, name+suffix+"-post", &apigateway.MethodArgs{
			RestApi:       a.RestAPI.ID(),
			ResourceId:    resourceID,
			HttpMethod:    pulumi.String("POST"),
			Authorization: pulumi.String("NONE"),
		}, parent)
		if err != nil {
			return nil, wrap("method POST "+r.Path, err)
		}
		integration, err := apigateway.NewIntegration(ctx, name+suffix+"-post", &apigateway.IntegrationArgs{
			RestApi:               a.RestAPI.ID(),
			ResourceId:            resourceID,
			HttpMethod:            method.HttpMethod,
			Type:                  pulumi.String("AWS_PROXY"),
			IntegrationHttpMethod: pulumi.String("POST"),
			Uri:                   r.Function.Function.InvokeArn,
		}, parent)
		if err != nil {
			return nil, wrap("integration POST "+r.Path, err)
		}
		// Only this API, only POST, only this path may invoke the function; the
		// stage is left open ("*") so the console's test invocations work too.
		_, err = r.Function.AllowInvoke(ctx, name+suffix+"-invoke", "apigateway.amazonaws.com",
			pulumi.Sprintf("%s/*/POST%s", a.RestAPI.ExecutionArn, r.Path))
		if err != nil {
			return nil, wrap("permission "+r.Path, err)
		}
		served = append(served, pulumi.String(r.Path), resourceID, method.ID(), method.Authorization,
			integration.ID(), integration.Type, integration.Uri)
		routeResources = append(routeResources, method, integration)
	}

	deployment, err := apigateway.NewDeployment(ctx, name, &apigateway.DeploymentArgs{
		RestApi:     a.RestAPI.ID(),
		Description: pulumi.String("Managed by Pulumi; replaced when routes or integrations change"),
		Triggers: pulumi.StringMap{
			"redeployment": pulumi.All(served...).ApplyT(func(vals []any) (string, error) {
				b, err := json.Marshal(vals)
				if err != nil {
					return "", err
				}
				sum := sha256.Sum256(b)
				return hex.EncodeToString(sum[:]), nil
			}).(pulumi.StringOutput),
		},
	}, parent, pulumi.DependsOn(routeResources))
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
		account, err := newAPIGatewayAccount(ctx, name+"-account", parent)
		if err != nil {
			return nil, wrap("account", err)
		}
		stageDeps = append(stageDeps, account)
	}

	a.Stage, err = apigateway.NewStage(ctx, name, &apigateway.StageArgs{
		RestApi:    a.RestAPI.ID(),
		Deployment: deployment.ID(),
		StageName:  pulumi.String(args.StageName),
		AccessLogSettings: &apigateway.StageAccessLogSettingsArgs{
			DestinationArn: a.AccessLogGroup.Arn,
			Format:         pulumi.String(contract.AccessLogFormat),
		},
	}, parent, pulumi.DependsOn(stageDeps))
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

// newAPIGatewayAccount points the region's API Gateway account settings at a role
// that may write CloudWatch Logs. The setting is one per account and region and
// serves every REST API there, so its role carries AWS's managed policy for the
// purpose rather than a policy narrowed to this stack's log group, which would
// break the logs of any other API in the region.
func newAPIGatewayAccount(ctx *pulumi.Context, name string, opts ...pulumi.ResourceOption) (*apigateway.Account, error) {
	partition, err := aws.GetPartition(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("partition: %w", err)
	}
	role, err := iam.NewRole(ctx, name, &iam.RoleArgs{
		Description:      pulumi.String("Lets API Gateway write access and execution logs to CloudWatch Logs"),
		AssumeRolePolicy: pulumi.String(assumeRolePolicy("apigateway.amazonaws.com")),
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

// resourceSuffix turns a path into a logical-name suffix: /slack/events -> -slack-events.
func resourceSuffix(path string) string {
	return "-" + strings.ReplaceAll(strings.Trim(path, "/"), "/", "-")
}
