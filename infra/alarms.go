package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// alarmPeriodSeconds is the window each alarm sums or maximises over. One bad
// datapoint is enough: a Slack bot's traffic is too thin for rates to mean much.
const alarmPeriodSeconds = 300

// watched is what the alarms watch, and who hears about it.
type watched struct {
	// Functions by name: each gets an Errors and a Throttles alarm.
	Functions map[string]*GoFunction
	// API gets a 5XXError alarm on its stage.
	API *SlackAPI
	// Queues of failed events, by logical name: any message in one is an alarm.
	Queues map[string]*sqs.Queue
	// Notify is subscribed to the alarm topic and posts its messages to Slack.
	Notify *GoFunction
}

// newAlarmTopic makes the alarm topic with a policy that lets CloudWatch,
// and nothing else, publish to it, and only for this stack's alarms: the
// percentiles function posts what arrives on it to Slack, so whoever could
// publish could make the bot say anything in the report channel. AWS's
// default topic policy lets every principal of the account publish.
//
// Not encrypted: CloudWatch can publish only to a topic whose KMS key
// policy lets it, which AWS's managed SNS key does not; the messages hold
// alarm states, no data.
func newAlarmTopic(ctx *pulumi.Context, prefix, accountID string) (*sns.Topic, error) {
	topic, err := sns.NewTopic(ctx, "alarms", &sns.TopicArgs{
		Name: pulumi.String(prefix + "-alarms"),
	})
	if err != nil {
		return nil, fmt.Errorf("alarm topic: %w", err)
	}
	_, err = sns.NewTopicPolicy(ctx, "alarms-policy", &sns.TopicPolicyArgs{
		Arn:    topic.Arn,
		Policy: alarmTopicPolicyJSON(topic.Arn, prefix, accountID),
	})
	if err != nil {
		return nil, fmt.Errorf("alarm topic policy: %w", err)
	}
	return topic, nil
}

// alarmTopicPolicyJSON lets cloudwatch.amazonaws.com publish to the topic
// for the alarms of this account named with the stack's prefix, in the
// topic's partition and region (read from its ARN,
// arn:<partition>:sns:<region>:<account>:<name>).
func alarmTopicPolicyJSON(topicARN pulumi.StringOutput, prefix, accountID string) pulumi.StringOutput {
	return topicARN.ApplyT(func(arn string) (string, error) {
		parts := strings.Split(arn, ":")
		if len(parts) != 6 {
			return "", fmt.Errorf("alarm topic policy: %q is not a topic ARN", arn)
		}
		b, err := json.Marshal(policyDocument{
			Version: "2012-10-17",
			Statement: []policyStatement{{
				Sid:       "CloudWatchAlarmsOfThisStack",
				Effect:    "Allow",
				Principal: map[string]string{"Service": "cloudwatch.amazonaws.com"},
				Action:    []string{"sns:Publish"},
				Resource:  []string{arn},
				Condition: map[string]map[string]string{
					"StringEquals": {"aws:SourceAccount": accountID},
					"ArnLike":      {"aws:SourceArn": fmt.Sprintf("arn:%s:cloudwatch:%s:%s:alarm:%s-*", parts[1], parts[3], accountID, prefix)},
				},
			}},
		})
		if err != nil {
			return "", fmt.Errorf("alarm topic policy: %w", err)
		}
		return string(b), nil
	}).(pulumi.StringOutput)
}

// newAlarms subscribes w.Notify to the alarm topic, and raises an alarm,
// and clears it, on the topic whenever a function fails or is throttled,
// the API answers 5XX, or a failed event waits in a queue.
func newAlarms(ctx *pulumi.Context, prefix string, topic *sns.Topic, w watched) error {
	// SNS invokes the function asynchronously, so its event invoke config's
	// retries and failure queue cover the notifications too.
	perm, err := w.Notify.AllowInvoke(ctx, "percentiles-alarms", "sns.amazonaws.com", topic.Arn)
	if err != nil {
		return err
	}
	_, err = sns.NewTopicSubscription(ctx, "alarms-to-slack", &sns.TopicSubscriptionArgs{
		Topic:    topic.Arn,
		Protocol: pulumi.String("lambda"),
		Endpoint: w.Notify.Function.Arn,
	}, pulumi.DependsOn([]pulumi.Resource{perm}))
	if err != nil {
		return fmt.Errorf("alarm topic subscription: %w", err)
	}

	alarm := func(name string, description pulumi.StringInput, namespace, metric, statistic string, dims pulumi.StringMap) error {
		_, err := cloudwatch.NewMetricAlarm(ctx, name, &cloudwatch.MetricAlarmArgs{
			Name:               pulumi.String(prefix + "-" + name),
			AlarmDescription:   description,
			Namespace:          pulumi.String(namespace),
			MetricName:         pulumi.String(metric),
			Dimensions:         dims,
			Statistic:          pulumi.String(statistic),
			Period:             pulumi.Int(alarmPeriodSeconds),
			EvaluationPeriods:  pulumi.Int(1),
			ComparisonOperator: pulumi.String("GreaterThanOrEqualToThreshold"),
			Threshold:          pulumi.Float64(1),
			// No datapoint means no invocations, requests or messages: all is well.
			TreatMissingData: pulumi.String("notBreaching"),
			AlarmActions:     pulumi.Array{topic.Arn},
			OkActions:        pulumi.Array{topic.Arn},
		})
		if err != nil {
			return fmt.Errorf("alarm %s: %w", name, err)
		}
		return nil
	}

	for _, name := range slices.Sorted(maps.Keys(w.Functions)) {
		fn := w.Functions[name].Function
		dims := pulumi.StringMap{"FunctionName": fn.Name}
		if err := alarm(name+"-errors",
			pulumi.Sprintf("The %s function failed; its log group /aws/lambda/%s says why.", name, fn.Name),
			"AWS/Lambda", "Errors", "Sum", dims); err != nil {
			return err
		}
		if err := alarm(name+"-throttles",
			pulumi.Sprintf("Lambda throttled the %s function: the account's concurrency is used up.", name),
			"AWS/Lambda", "Throttles", "Sum", dims); err != nil {
			return err
		}
	}

	// API-level metrics come without detailed (per-method) metrics, which the
	// stage leaves off.
	if err := alarm("api-5xx",
		pulumi.String("The Slack API answered 5XX: Slack saw an error and retries events."),
		"AWS/ApiGateway", "5XXError", "Sum",
		pulumi.StringMap{"ApiName": w.API.RestAPI.Name, "Stage": w.API.Stage.StageName}); err != nil {
		return err
	}

	for _, name := range slices.Sorted(maps.Keys(w.Queues)) {
		q := w.Queues[name]
		if err := alarm(name+"-queued",
			pulumi.Sprintf("Failed events wait in the SQS queue %s: read them, fix the cause, then purge it.", q.Name),
			"AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum",
			pulumi.StringMap{"QueueName": q.Name}); err != nil {
			return err
		}
	}
	return nil
}
