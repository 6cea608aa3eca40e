package main

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// failureRetentionSeconds is how long a failure queue keeps an event: 14 days,
// SQS's maximum, so an event that failed on a Friday is still there to read
// (and its alarm still firing) after a holiday.
const failureRetentionSeconds = 14 * 24 * 60 * 60

// newFailureQueue makes an SQS queue that keeps the events a function or a
// schedule could not deliver. SQS-managed encryption needs no KMS key, so
// neither Lambda nor EventBridge needs KMS permissions to send to it.
func newFailureQueue(ctx *pulumi.Context, name, queueName string, opts ...pulumi.ResourceOption) (*sqs.Queue, error) {
	q, err := sqs.NewQueue(ctx, name, &sqs.QueueArgs{
		Name:                    pulumi.String(queueName),
		SqsManagedSseEnabled:    pulumi.Bool(true),
		MessageRetentionSeconds: pulumi.Int(failureRetentionSeconds),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("failure queue %s: %w", name, err)
	}
	return q, nil
}
