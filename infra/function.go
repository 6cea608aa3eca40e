package main

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lambda-slackbot/slackbot/infra/lambdabuild"
)

// GoFunction is one Lambda function built from a Go main package, with the role,
// log group and invoke permissions that belong to it alone.
type GoFunction struct {
	pulumi.ResourceState

	Function *lambda.Function
	Role     *iam.Role
	LogGroup *cloudwatch.LogGroup
	// FailureQueue keeps the asynchronous invocations that failed every
	// attempt; nil unless GoFunctionArgs.Async is set.
	FailureQueue *sqs.Queue
}

// AsyncInvoke is how Lambda treats a function's asynchronous invocations.
type AsyncInvoke struct {
	// Retries is how many times Lambda retries an event the function failed
	// (0 to 2) before sending it to the failure queue.
	Retries int
	// MaxEventAgeSeconds drops an event to the failure queue once it is this
	// old (60 to 21600); 0 keeps Lambda's default of 6 hours.
	MaxEventAgeSeconds int
}

// GoFunctionArgs describes a GoFunction.
type GoFunctionArgs struct {
	// FunctionName is the Lambda function's name; its log group is
	// /aws/lambda/<FunctionName>, where Lambda and the console look for it.
	FunctionName string
	// AccountID is the stack's account: only Lambda acting for it may
	// assume the function's role.
	AccountID    string
	Artifact     *lambdabuild.Artifact
	Architecture string
	MemorySize   int
	// Timeout is in seconds.
	Timeout          int
	Environment      pulumi.StringMap
	LogRetentionDays int
	// Grants are the function's permissions beyond writing its own logs.
	Grants []grant
	// SelfInvoke lets the function invoke itself asynchronously, which the
	// commands function does to answer slow commands after Slack's 3 seconds.
	SelfInvoke bool
	// Async, for a function invoked asynchronously, sets its retries and
	// gives it a failure queue, so no failed event is lost without a trace.
	Async *AsyncInvoke
}

// NewGoFunction declares the Lambda function of args.Artifact with its own
// role, policy and log group, and, for a function invoked asynchronously,
// its retries and failure queue. Its children are named after it: name+"-function",
// name+"-role", name+"-logs", and so on.
func NewGoFunction(ctx *pulumi.Context, name string, args *GoFunctionArgs, opts ...pulumi.ResourceOption) (*GoFunction, error) {
	f := &GoFunction{}
	if err := ctx.RegisterComponentResource("slackbot:index:GoFunction", name, f, opts...); err != nil {
		return nil, fmt.Errorf("function %s: %w", name, err)
	}
	parent := pulumi.Parent(f)
	// formerly is the alias of a child that stacks deployed before the
	// children were named apart still know by the component's bare name, so
	// they update it in place rather than replace it.
	formerly := pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String(name)}})

	// The log group exists before the function, so Lambda never creates one
	// without retention and the role needs no logs:CreateLogGroup.
	var err error
	f.LogGroup, err = cloudwatch.NewLogGroup(ctx, name+"-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/aws/lambda/" + args.FunctionName),
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
	}, parent, formerly)
	if err != nil {
		return nil, fmt.Errorf("function %s: log group: %w", name, err)
	}

	f.Role, err = iam.NewRole(ctx, name+"-role", &iam.RoleArgs{
		Description:      pulumi.Sprintf("Runs the %s Lambda function", args.FunctionName),
		AssumeRolePolicy: pulumi.String(assumeRolePolicy("lambda.amazonaws.com", args.AccountID)),
	}, parent, formerly)
	if err != nil {
		return nil, fmt.Errorf("function %s: role: %w", name, err)
	}
	grants := append([]grant{{
		Sid:     "WriteOwnLogs",
		Actions: []string{"logs:CreateLogStream", "logs:PutLogEvents"},
		// Log streams are named by Lambda at run time; ":*" covers the streams
		// of this one group.
		Resources: []pulumi.StringInput{pulumi.Sprintf("%s:*", f.LogGroup.Arn)},
	}}, args.Grants...)
	if args.Async != nil {
		f.FailureQueue, err = newFailureQueue(ctx, name+"-failures", args.FunctionName+"-failures", parent)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", name, err)
		}
		// Lambda sends a failed event to its destination with the function's
		// own role, so the role, not a queue policy, allows it.
		grants = append(grants, grant{
			Sid:       "SendFailedEvents",
			Actions:   []string{"sqs:SendMessage"},
			Resources: []pulumi.StringInput{f.FailureQueue.Arn},
		})
	}
	policy, err := iam.NewRolePolicy(ctx, name+"-policy", &iam.RolePolicyArgs{
		Role:   f.Role.ID(),
		Policy: policyJSON(grants),
	}, parent, formerly)
	if err != nil {
		return nil, fmt.Errorf("function %s: role policy: %w", name, err)
	}

	f.Function, err = lambda.NewFunction(ctx, name+"-function", &lambda.FunctionArgs{
		Name:          pulumi.String(args.FunctionName),
		Runtime:       pulumi.String("provided.al2023"),
		Handler:       pulumi.String(lambdabuild.BootstrapName),
		Architectures: pulumi.StringArray{pulumi.String(args.Architecture)},
		// The zip lambdabuild wrote, not a FileArchive of a directory: that would
		// lose bootstrap's exec bit (pulumi/pulumi#3593). Pulumi hashes the file's
		// bytes, so an unchanged build previews as no change.
		Code:           pulumi.NewFileArchive(args.Artifact.Path),
		SourceCodeHash: pulumi.String(args.Artifact.SHA256),
		MemorySize:     pulumi.Int(args.MemorySize),
		Timeout:        pulumi.Int(args.Timeout),
		Role:           f.Role.Arn,
		Environment:    &lambda.FunctionEnvironmentArgs{Variables: args.Environment},
		LoggingConfig: &lambda.FunctionLoggingConfigArgs{
			LogFormat: pulumi.String("Text"),
			LogGroup:  f.LogGroup.Name,
		},
	}, parent, formerly, pulumi.DependsOn([]pulumi.Resource{policy}))
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", name, err)
	}

	if args.SelfInvoke {
		// A policy of its own: it names the function's ARN, which exists only
		// once the function does.
		_, err = iam.NewRolePolicy(ctx, name+"-self-invoke", &iam.RolePolicyArgs{
			Role: f.Role.ID(),
			Policy: policyJSON([]grant{{
				Sid:       "InvokeSelf",
				Actions:   []string{"lambda:InvokeFunction"},
				Resources: []pulumi.StringInput{f.Function.Arn},
			}}),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("function %s: self-invoke policy: %w", name, err)
		}
	}

	if args.Async != nil {
		invoke := &lambda.FunctionEventInvokeConfigArgs{
			FunctionName:         f.Function.Name,
			MaximumRetryAttempts: pulumi.Int(args.Async.Retries),
			DestinationConfig: &lambda.FunctionEventInvokeConfigDestinationConfigArgs{
				OnFailure: &lambda.FunctionEventInvokeConfigDestinationConfigOnFailureArgs{
					Destination: f.FailureQueue.Arn,
				},
			},
		}
		if args.Async.MaxEventAgeSeconds > 0 {
			invoke.MaximumEventAgeInSeconds = pulumi.Int(args.Async.MaxEventAgeSeconds)
		}
		// Lambda checks that the role may send to the destination when the
		// config is made; the function already waits for the role policy.
		_, err = lambda.NewFunctionEventInvokeConfig(ctx, name+"-async", invoke, parent)
		if err != nil {
			return nil, fmt.Errorf("function %s: event invoke config: %w", name, err)
		}
	}

	if err := ctx.RegisterResourceOutputs(f, pulumi.Map{
		"functionName": f.Function.Name,
		"functionArn":  f.Function.Arn,
		"logGroup":     f.LogGroup.Name,
	}); err != nil {
		return nil, fmt.Errorf("function %s: %w", name, err)
	}
	return f, nil
}

// AllowInvoke lets an AWS service invoke the function, only from sourceArn.
func (f *GoFunction) AllowInvoke(ctx *pulumi.Context, name, principal string, sourceArn pulumi.StringInput) (*lambda.Permission, error) {
	p, err := lambda.NewPermission(ctx, name, &lambda.PermissionArgs{
		Action:    pulumi.String("lambda:InvokeFunction"),
		Function:  f.Function.Name,
		Principal: pulumi.String(principal),
		SourceArn: sourceArn,
	}, pulumi.Parent(f))
	if err != nil {
		return nil, fmt.Errorf("permission %s: %w", name, err)
	}
	return p, nil
}
