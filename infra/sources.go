package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lambda"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lambda-slackbot/slackbot/contract"
)

// The latency sources: the team's own services whose latency the
// percentiles function keeps beside the bot's. Log-group sources (apigateway,
// lambda) reach it through a subscription filter on each group; an alb
// source through an EventBridge rule on the bucket the load balancer writes
// its access logs to.

// lambdaReportPattern keeps only the lines a lambda source reads out of a
// function's log: REPORT in the text format, platform.report in JSON. The
// function's own lines, START and END never reach the percentiles function.
const lambdaReportPattern = `?"REPORT RequestId" ?"platform.report"`

// An alb source's object events are retried for up to 6 hours when the
// percentiles function cannot be invoked (throttled, being updated): a log
// file read late still lands in the minutes it describes.
const (
	sourceEventRetries   = 185 // EventBridge's maximum
	sourceEventMaxAgeSec = 6 * 60 * 60
)

// maxQueueName is SQS's limit on a queue's name.
const maxQueueName = 80

// maxSubscribedGroups bounds the log groups all sources read together.
// Each needs a statement in the percentiles function's resource policy, of
// about 450 bytes with its ARNs and condition, and Lambda refuses a policy
// over 20 KB (PolicyLengthExceededException) only at deployment: 36 leave
// room for the stack's own five statements.
const maxSubscribedGroups = 36

// accessLogGroupName is the bot's own access-log group.
func accessLogGroupName(prefix string) string { return "/aws/apigateway/" + prefix + "/access" }

// ownLogGroups are the log groups of the stack itself. A source must not
// name one: the percentiles function would read its own REPORT lines, or
// the access log twice, and the group's own subscription already feeds it.
func ownLogGroups(prefix string) []string {
	groups := []string{accessLogGroupName(prefix)}
	for _, fn := range []string{contract.EventsFunction, contract.CommandsFunction, contract.PercentilesFunction} {
		groups = append(groups, contract.FunctionLogPrefix+prefix+"-"+fn)
	}
	return groups
}

// latencySourcesEnv checks the latencySources config with the rule the
// functions read it by (contract.ParseLatencySources) and returns it as
// compact JSON for SLACKBOT_LATENCY_SOURCES, with the sources parsed. An
// error names the source's index and its fault.
func latencySourcesEnv(raw, prefix string) (string, []contract.LatencySource, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil, nil
	}
	sources, err := contract.ParseLatencySources(raw)
	if err != nil {
		return "", nil, err
	}
	own := ownLogGroups(prefix)
	groups := 0
	for i, src := range sources {
		groups += len(src.SubscribedLogGroups())
		if src.ReadsAllFunctions() {
			groups++ // its permission is one statement too
		}
		if groups > maxSubscribedGroups {
			return "", nil, fmt.Errorf("latency source %d: the sources read more than %d log groups together, and each needs a statement in the percentiles function's policy, which Lambda caps at 20 KB: split them over another stack",
				i, maxSubscribedGroups)
		}
		for _, g := range src.SubscribedLogGroups() {
			if slices.Contains(own, g) {
				return "", nil, fmt.Errorf("latency source %d: log group %q is the bot's own: the bot always watches its own API as source %q",
					i, g, contract.DefaultSource)
			}
		}
		if src.Kind == contract.SourceALB {
			if q := sourceQueueName(prefix, src.Name); len(q) > maxQueueName {
				return "", nil, fmt.Errorf("latency source %d: its dead-letter queue %s is longer than SQS's %d characters: use a shorter source or stack name",
					i, q, maxQueueName)
			}
		}
	}
	if len(sources) == 0 { // "[]"
		return "", nil, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(raw)); err != nil {
		return "", nil, err
	}
	return b.String(), sources, nil
}

func sourceQueueName(prefix, source string) string { return prefix + "-" + source + "-failures" }

// hasALB says whether any source is a load balancer's: only those need S3
// and the dedupe table.
func hasALB(sources []contract.LatencySource) bool {
	return slices.ContainsFunc(sources, func(s contract.LatencySource) bool { return s.Kind == contract.SourceALB })
}

// albLogsGrant lets the percentiles function read the alb sources' log
// objects, and nothing else of their buckets: each source's prefix only.
// Nil when there is no alb source.
func albLogsGrant(ctx *pulumi.Context, sources []contract.LatencySource) (*grant, error) {
	if !hasALB(sources) {
		return nil, nil
	}
	partition, err := aws.GetPartition(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("partition: %w", err)
	}
	g := &grant{Sid: "ReadLoadBalancerLogs", Actions: []string{"s3:GetObject", "s3:GetObjectVersion"}}
	for _, s := range sources {
		if s.Kind == contract.SourceALB {
			g.Resources = append(g.Resources, pulumi.Sprintf("arn:%s:s3:::%s/%s*", partition.Partition, s.Bucket, s.Prefix))
		}
	}
	return g, nil
}

// newSources connects every latency source of account to fn, the
// percentiles function, and returns the dead-letter queues of the alb
// sources' rules, by logical name, for the alarms.
func newSources(ctx *pulumi.Context, s *settings, prefix, account string, fn *GoFunction) (map[string]*sqs.Queue, error) {
	if len(s.Sources) == 0 {
		return nil, nil
	}
	if slices.ContainsFunc(s.Sources, func(src contract.LatencySource) bool {
		return len(src.SubscribedLogGroups()) > 0 || src.ReadsAllFunctions()
	}) {
		r, err := aws.GetRegion(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("latency sources: region: %w", err)
		}
		partition, err := aws.GetPartition(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("latency sources: partition: %w", err)
		}
		for _, src := range s.Sources {
			if src.ReadsAllFunctions() {
				groups := fmt.Sprintf("arn:%s:logs:%s:%s:log-group:*", partition.Partition, r.Name, account)
				if err := subscribeAll(ctx, prefix, src, groups, account, fn); err != nil {
					return nil, err
				}
			}
			for _, g := range src.SubscribedLogGroups() {
				arn := fmt.Sprintf("arn:%s:logs:%s:%s:log-group:%s:*", partition.Partition, r.Name, account, g)
				if err := subscribe(ctx, prefix, src, g, arn, account, fn); err != nil {
					return nil, err
				}
			}
		}
	}

	queues := map[string]*sqs.Queue{}
	buckets := map[string]bool{}
	for _, src := range s.Sources {
		if src.Kind != contract.SourceALB {
			continue
		}
		q, err := newObjectRule(ctx, prefix, src, fn)
		if err != nil {
			return nil, err
		}
		queues["source-"+src.Name+"-failures"] = q
		// One per bucket: the resource owns the bucket's whole notification
		// configuration, so two would undo each other.
		if s.ManageBucketNotifications && !buckets[src.Bucket] {
			buckets[src.Bucket] = true
			_, err := s3.NewBucketNotification(ctx, "bucket-notifications-"+src.Bucket, &s3.BucketNotificationArgs{
				Bucket:      pulumi.String(src.Bucket),
				Eventbridge: pulumi.Bool(true),
			})
			if err != nil {
				return nil, fmt.Errorf("latency source %s: bucket notifications: %w", src.Name, err)
			}
		}
	}
	return queues, nil
}

// groupID names a log group's resources: the group's name in the
// characters resource names and statement ids allow, and a hash of the
// whole name, since "/a.b" and "/a-b" would otherwise meet.
func groupID(group string) (readable, hash string) {
	sum := sha256.Sum256([]byte(group))
	return safeName(strings.Trim(group, "/")), hex.EncodeToString(sum[:5])
}

// subscribe sends group's lines (a lambda source's REPORT lines only) to fn.
// The permission names the group's ARN and the account, so no other
// account's log group, nor any other group of this one, may invoke fn.
func subscribe(ctx *pulumi.Context, prefix string, src contract.LatencySource, group, groupArn, account string, fn *GoFunction) error {
	readable, hash := groupID(group)
	name := "source-" + src.Name + "-" + readable + "-" + hash
	perm, err := lambda.NewPermission(ctx, "percentiles-"+name, &lambda.PermissionArgs{
		Action:        pulumi.String("lambda:InvokeFunction"),
		Function:      fn.Function.Name,
		Principal:     pulumi.String("logs.amazonaws.com"),
		SourceArn:     pulumi.String(groupArn),
		SourceAccount: pulumi.String(account),
		// Short and within [A-Za-z0-9-_], as Lambda wants, where a name
		// made from the log group's could be neither.
		StatementId: pulumi.String("latency-" + src.Name + "-" + hash),
	}, pulumi.Parent(fn), pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return fmt.Errorf("latency source %s: permission for %s: %w", src.Name, group, err)
	}
	pattern := "" // every access-log line is one request
	if src.Kind == contract.SourceLambda {
		pattern = lambdaReportPattern
	}
	// Named after the stack, so whoever lists the group's filters (two at
	// most) sees whose this one is.
	_, err = cloudwatch.NewLogSubscriptionFilter(ctx, name, &cloudwatch.LogSubscriptionFilterArgs{
		Name:           pulumi.String(prefix + "-latency-" + src.Name),
		LogGroup:       pulumi.String(group),
		FilterPattern:  pulumi.String(pattern),
		DestinationArn: fn.Function.Arn,
	}, pulumi.DependsOn([]pulumi.Resource{perm}))
	if err != nil {
		return fmt.Errorf("latency source %s: subscription filter on %s: %w", src.Name, group, err)
	}
	return nil
}

// subscribeAll sends every log group's REPORT lines to fn, but the stack's
// own groups': fn's own REPORT lines would invoke it again, without end.
// One account-level subscription filter policy does it, so a function
// created later is read too, and the permission names every group of the
// account (groupsArn) since those are not known in advance.
func subscribeAll(ctx *pulumi.Context, prefix string, src contract.LatencySource, groupsArn, account string, fn *GoFunction) error {
	perm, err := lambda.NewPermission(ctx, "percentiles-source-"+src.Name+"-all-functions", &lambda.PermissionArgs{
		Action:        pulumi.String("lambda:InvokeFunction"),
		Function:      fn.Function.Name,
		Principal:     pulumi.String("logs.amazonaws.com"),
		SourceArn:     pulumi.String(groupsArn),
		SourceAccount: pulumi.String(account),
		StatementId:   pulumi.String("latency-" + src.Name + "-all-functions"),
	}, pulumi.Parent(fn), pulumi.DeleteBeforeReplace(true))
	if err != nil {
		return fmt.Errorf("latency source %s: permission for every log group: %w", src.Name, err)
	}
	excluded, err := json.Marshal(ownLogGroups(prefix))
	if err != nil {
		return err
	}
	doc := fn.Function.Arn.ApplyT(func(arn string) (string, error) {
		b, err := json.Marshal(map[string]string{"DestinationArn": arn, "FilterPattern": lambdaReportPattern})
		return string(b), err
	}).(pulumi.StringOutput)
	_, err = cloudwatch.NewLogAccountPolicy(ctx, "source-"+src.Name+"-all-functions", &cloudwatch.LogAccountPolicyArgs{
		PolicyName:        pulumi.String(prefix + "-latency-" + src.Name),
		PolicyType:        pulumi.String("SUBSCRIPTION_FILTER_POLICY"),
		PolicyDocument:    doc,
		Scope:             pulumi.String("ALL"),
		SelectionCriteria: pulumi.String("LogGroupName NOT IN " + string(excluded)),
	}, pulumi.DependsOn([]pulumi.Resource{perm}))
	if err != nil {
		return fmt.Errorf("latency source %s: account subscription policy: %w", src.Name, err)
	}
	return nil
}

// objectCreatedPattern matches EventBridge's "Object Created" events of an
// alb source's bucket, under its prefix.
func objectCreatedPattern(src contract.LatencySource) (string, error) {
	detail := map[string]any{"bucket": map[string]any{"name": []string{src.Bucket}}}
	if src.Prefix != "" {
		detail["object"] = map[string]any{"key": []any{map[string]string{"prefix": src.Prefix}}}
	}
	b, err := json.Marshal(map[string]any{
		"source":      []string{"aws.s3"},
		"detail-type": []string{"Object Created"},
		"detail":      detail,
	})
	return string(b), err
}

// newObjectRule invokes fn for each log object an alb source's load
// balancer writes, and returns the queue of the events it could not
// deliver.
func newObjectRule(ctx *pulumi.Context, prefix string, src contract.LatencySource, fn *GoFunction) (*sqs.Queue, error) {
	name := "source-" + src.Name
	pattern, err := objectCreatedPattern(src)
	if err != nil {
		return nil, fmt.Errorf("latency source %s: event pattern: %w", src.Name, err)
	}
	rule, err := cloudwatch.NewEventRule(ctx, name, &cloudwatch.EventRuleArgs{
		Description:  pulumi.Sprintf("Sends the access logs of latency source %s (s3://%s/%s) to the percentiles function", src.Name, src.Bucket, src.Prefix),
		EventPattern: pulumi.String(pattern),
	})
	if err != nil {
		return nil, fmt.Errorf("latency source %s: rule: %w", src.Name, err)
	}
	perm, err := fn.AllowInvoke(ctx, "percentiles-"+name, "events.amazonaws.com", rule.Arn)
	if err != nil {
		return nil, err
	}
	// As for the report schedule: EventBridge sends what it could not
	// deliver with its own service principal, allowed by the queue's policy
	// for this rule only.
	dlq, err := newFailureQueue(ctx, name+"-failures", sourceQueueName(prefix, src.Name))
	if err != nil {
		return nil, err
	}
	dlqPolicy, err := sqs.NewQueuePolicy(ctx, name+"-failures", &sqs.QueuePolicyArgs{
		QueueUrl: dlq.Url,
		Policy: serviceResourcePolicyJSON("SourceDeadLetters", "events.amazonaws.com",
			[]string{"sqs:SendMessage"}, dlq.Arn, rule.Arn),
	})
	if err != nil {
		return nil, fmt.Errorf("latency source %s: dead-letter queue policy: %w", src.Name, err)
	}
	_, err = cloudwatch.NewEventTarget(ctx, name, &cloudwatch.EventTargetArgs{
		Rule: rule.Name,
		Arn:  fn.Function.Arn,
		RetryPolicy: &cloudwatch.EventTargetRetryPolicyArgs{
			MaximumRetryAttempts:     pulumi.Int(sourceEventRetries),
			MaximumEventAgeInSeconds: pulumi.Int(sourceEventMaxAgeSec),
		},
		DeadLetterConfig: &cloudwatch.EventTargetDeadLetterConfigArgs{Arn: dlq.Arn},
	}, pulumi.DependsOn([]pulumi.Resource{perm, dlqPolicy}))
	if err != nil {
		return nil, fmt.Errorf("latency source %s: rule target: %w", src.Name, err)
	}
	return dlq, nil
}
