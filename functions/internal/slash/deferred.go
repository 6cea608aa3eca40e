package slash

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/slack-go/slack"
)

// Deferred is the event the commands function sends itself to finish a
// command. It reaches the function only through lambda:InvokeFunction, which
// IAM limits to the function's own role, never through API Gateway.
type Deferred struct {
	Command slack.SlashCommand `json:"slackbot_deferred_command"`
}

// GoDeferrer finishes commands in a goroutine, for a long-running process
// such as the dev server.
type GoDeferrer struct{ Handler *Handler }

// Defer implements Deferrer.
func (d GoDeferrer) Defer(_ context.Context, cmd slack.SlashCommand) error {
	go func() {
		if err := d.Handler.Finish(context.Background(), cmd); err != nil {
			d.Handler.Log.Error("finish command", "error", err)
		}
	}()
	return nil
}

// Invoke is the commands function's Lambda entry point: an API Gateway proxy
// request from Slack, or a Deferred command from itself.
func (h *Handler) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Deferred   *slack.SlashCommand `json:"slackbot_deferred_command"`
		HTTPMethod string              `json:"httpMethod"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("decode invocation: %w", err)
	}
	switch {
	case probe.Deferred != nil:
		// Failures are logged, not returned: Lambda would retry the event,
		// and a second copy of a notify post in a channel is worse than a
		// lost confirmation.
		if err := h.Finish(ctx, *probe.Deferred); err != nil {
			h.Log.Error("finish deferred command", "error", err)
		}
		return nil, nil
	case probe.HTTPMethod != "":
		var req events.APIGatewayProxyRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, fmt.Errorf("decode API Gateway request: %w", err)
		}
		return h.ServeCommand(ctx, req)
	default:
		return nil, errors.New("invocation is neither an API Gateway request nor a deferred command")
	}
}
