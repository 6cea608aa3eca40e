// Package selfinvoke finishes slow work in a second, asynchronous invocation
// of the running Lambda function. A function's container is frozen as soon
// as it has answered, so a goroutine started before the answer would not
// run; an asynchronous invocation returns in milliseconds and Lambda queues
// the event.
//
// The call is Lambda's Invoke made through awsenv.Call, not the SDK's
// Lambda client, whose package initialisation (its schemas and endpoint
// tables, about 0.7 ms) every cold start of the commands function would pay
// for one operation. TestInvokeIsTheSDKsRequest holds it to the SDK's.
package selfinvoke

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambda-slackbot/slackbot/functions/internal/awsenv"
	"github.com/lambda-slackbot/slackbot/functions/internal/deferred"
)

// Deferrer defers by invoking a function (the running one, named by
// AWS_LAMBDA_FUNCTION_NAME) asynchronously: Lambda queues the event and the
// call returns in milliseconds, while a goroutine would be frozen with the
// container once the acknowledgement is sent.
type Deferrer struct {
	AWS      aws.Config
	Function string
}

// Send implements deferred.Sender.
func (d Deferrer) Send(ctx context.Context, sealed deferred.Sealed) error {
	payload, err := json.Marshal(map[string]deferred.Sealed{deferred.Key: sealed})
	if err != nil {
		return fmt.Errorf("encode deferred job: %w", err)
	}
	if err := Invoke(ctx, d.AWS, d.Function, payload); err != nil {
		return fmt.Errorf("invoke %s asynchronously: %w", d.Function, err)
	}
	return nil
}

// Invoke queues payload for function (a name or an ARN): Lambda's Invoke
// with InvocationType Event.
func Invoke(ctx context.Context, cfg aws.Config, function string, payload []byte) error {
	return awsenv.Call(ctx, cfg, awsenv.Request{
		Service: awsenv.Lambda,
		Method:  http.MethodPost,
		Path:    "/2015-03-31/functions/" + strings.ReplaceAll(url.PathEscape(function), ":", "%3A") + "/invocations",
		Header:  http.Header{"X-Amz-Invocation-Type": {"Event"}},
		Body:    payload,
	}, nil)
}
