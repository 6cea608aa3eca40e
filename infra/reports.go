package main

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Schedule delivery retries: EventBridge retries an invocation Lambda refused
// (throttled, or the function being updated). A report more than an hour late
// describes an hour nobody asked about, so it goes to the failure queue instead.
const (
	scheduleRetries        = 2
	scheduleMaxEventAgeSec = 3600
)

// newReports feeds the API's access log to the percentiles function and invokes
// it on the report schedule. It returns the queue of schedule events that could
// not be delivered.
func newReports(ctx *pulumi.Context, s *settings, prefix string, api *Gateway, fn *GoFunction) (*sqs.Queue, error) {
	logsPerm, err := fn.AllowInvoke(ctx, "percentiles-access-log", "logs.amazonaws.com",
		pulumi.Sprintf("%s:*", api.AccessLogGroup.Arn))
	if err != nil {
		return nil, err
	}
	// CloudWatch Logs checks that it may invoke the function when the filter is
	// created, so the permission comes first.
	_, err = cloudwatch.NewLogSubscriptionFilter(ctx, "access-log-ingest", &cloudwatch.LogSubscriptionFilterArgs{
		LogGroup:       api.AccessLogGroup.Name,
		FilterPattern:  pulumi.String(""), // every line: each is one request
		DestinationArn: fn.Function.Arn,
	}, pulumi.DependsOn([]pulumi.Resource{logsPerm}))
	if err != nil {
		return nil, fmt.Errorf("access log subscription: %w", err)
	}

	rule, err := cloudwatch.NewEventRule(ctx, "latency-report", &cloudwatch.EventRuleArgs{
		Description:        pulumi.String("Posts the latency percentile report to Slack"),
		ScheduleExpression: pulumi.String(s.ReportSchedule),
	})
	if err != nil {
		return nil, fmt.Errorf("report schedule: %w", err)
	}
	schedulePerm, err := fn.AllowInvoke(ctx, "percentiles-schedule", "events.amazonaws.com", rule.Arn)
	if err != nil {
		return nil, err
	}

	// EventBridge sends undeliverable events with its own service principal,
	// so the queue's policy, not a role, allows it, and only for this rule.
	dlq, err := newFailureQueue(ctx, "latency-report-failures", prefix+"-latency-report-failures")
	if err != nil {
		return nil, err
	}
	dlqPolicy, err := sqs.NewQueuePolicy(ctx, "latency-report-failures", &sqs.QueuePolicyArgs{
		QueueUrl: dlq.Url,
		Policy: serviceResourcePolicyJSON("ScheduleDeadLetters", "events.amazonaws.com",
			[]string{"sqs:SendMessage"}, dlq.Arn, rule.Arn),
	})
	if err != nil {
		return nil, fmt.Errorf("report schedule dead-letter queue policy: %w", err)
	}

	_, err = cloudwatch.NewEventTarget(ctx, "latency-report", &cloudwatch.EventTargetArgs{
		Rule: rule.Name,
		Arn:  fn.Function.Arn,
		RetryPolicy: &cloudwatch.EventTargetRetryPolicyArgs{
			MaximumRetryAttempts:     pulumi.Int(scheduleRetries),
			MaximumEventAgeInSeconds: pulumi.Int(scheduleMaxEventAgeSec),
		},
		DeadLetterConfig: &cloudwatch.EventTargetDeadLetterConfigArgs{Arn: dlq.Arn},
	}, pulumi.DependsOn([]pulumi.Resource{schedulePerm, dlqPolicy}))
	if err != nil {
		return nil, fmt.Errorf("report schedule target: %w", err)
	}
	return dlq, nil
}
