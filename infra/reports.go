package main

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// newReports feeds the API's access log to the percentiles function and invokes
// it on the report schedule.
func newReports(ctx *pulumi.Context, s *settings, api *SlackAPI, fn *GoFunction) error {
	logsPerm, err := fn.AllowInvoke(ctx, "percentiles-access-log", "logs.amazonaws.com",
		pulumi.Sprintf("%s:*", api.AccessLogGroup.Arn))
	if err != nil {
		return err
	}
	// CloudWatch Logs checks that it may invoke the function when the filter is
	// created, so the permission comes first.
	_, err = cloudwatch.NewLogSubscriptionFilter(ctx, "access-log-ingest", &cloudwatch.LogSubscriptionFilterArgs{
		LogGroup:       api.AccessLogGroup.Name,
		FilterPattern:  pulumi.String(""), // every line: each is one request
		DestinationArn: fn.Function.Arn,
	}, pulumi.DependsOn([]pulumi.Resource{logsPerm}))
	if err != nil {
		return fmt.Errorf("access log subscription: %w", err)
	}

	rule, err := cloudwatch.NewEventRule(ctx, "latency-report", &cloudwatch.EventRuleArgs{
		Description:        pulumi.String("Posts the latency percentile report to Slack"),
		ScheduleExpression: pulumi.String(s.ReportSchedule),
	})
	if err != nil {
		return fmt.Errorf("report schedule: %w", err)
	}
	schedulePerm, err := fn.AllowInvoke(ctx, "percentiles-schedule", "events.amazonaws.com", rule.Arn)
	if err != nil {
		return err
	}
	_, err = cloudwatch.NewEventTarget(ctx, "latency-report", &cloudwatch.EventTargetArgs{
		Rule: rule.Name,
		Arn:  fn.Function.Arn,
	}, pulumi.DependsOn([]pulumi.Resource{schedulePerm}))
	if err != nil {
		return fmt.Errorf("report schedule target: %w", err)
	}
	return nil
}
