package deferred

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambda-slackbot/slackbot/functions/internal/apigw"
)

// Function is the Lambda entry point of a function that defers work to
// itself. It takes two kinds of event: API Gateway proxy requests, answered
// by the route of their resource path, and the jobs Lambda (the Sender)
// sends, run by Runner.
type Function struct {
	Routes map[string]apigw.Handler // by resource path, like "/slack/commands"
	Runner *Runner
}

// Invoke is the function's handler for lambda.Start.
func (f Function) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Sealed     *Sealed `json:"slackbot_deferred"`
		HTTPMethod string  `json:"httpMethod"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("decode invocation: %w", err)
	}
	switch {
	case probe.Sealed != nil:
		// An error reaches Lambda, which sends the event to the function's
		// on-failure queue (it is not retried: a retry could post twice).
		if err := f.Runner.Run(ctx, *probe.Sealed); err != nil {
			f.Runner.log().Error("deferred job failed", "error", err)
			return nil, err
		}
		return nil, nil
	case probe.HTTPMethod != "":
		var req events.APIGatewayProxyRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, fmt.Errorf("decode API Gateway request: %w", err)
		}
		route, ok := f.Routes[req.Resource]
		if !ok {
			return apigw.ErrorResponse(apigw.Errorf(http.StatusNotFound, "no route for %q", req.Resource)), nil
		}
		return route(ctx, req)
	default:
		return nil, errors.New("invocation is neither an API Gateway request nor a deferred job")
	}
}
