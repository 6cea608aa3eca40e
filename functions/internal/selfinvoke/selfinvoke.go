// Package selfinvoke finishes slow work in a second, asynchronous invocation
// of the running Lambda function. A function's container is frozen as soon
// as it has answered, so a goroutine started before the answer would not
// run; an asynchronous invocation returns in milliseconds and Lambda queues
// the event.
//
// It is its own package so that only the commands function links the
// Lambda API client: the events function never defers, and its cold start
// would pay for the client's package initialisation all the same.
package selfinvoke

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambda-slackbot/slackbot/functions/internal/deferred"
)

// Invoker is the part of the Lambda client a Deferrer uses.
type Invoker interface {
	Invoke(ctx context.Context, in *awslambda.InvokeInput, opts ...func(*awslambda.Options)) (*awslambda.InvokeOutput, error)
}

// Deferrer defers by invoking a function (the running one, named by
// AWS_LAMBDA_FUNCTION_NAME) asynchronously: Lambda queues the event and the
// call returns in milliseconds, while a goroutine would be frozen with the
// container once the acknowledgement is sent.
type Deferrer struct {
	Client   Invoker
	Function string
}

// Send implements deferred.Sender.
func (d Deferrer) Send(ctx context.Context, sealed deferred.Sealed) error {
	payload, err := json.Marshal(map[string]deferred.Sealed{deferred.Key: sealed})
	if err != nil {
		return fmt.Errorf("encode deferred job: %w", err)
	}
	_, err = d.Client.Invoke(ctx, &awslambda.InvokeInput{
		FunctionName:   aws.String(d.Function),
		InvocationType: types.InvocationTypeEvent,
		Payload:        payload,
	})
	if err != nil {
		return fmt.Errorf("invoke %s asynchronously: %w", d.Function, err)
	}
	return nil
}
