// Command commands is the Lambda behind POST /slack/commands.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/functions/internal/bot"
	"github.com/lambda-slackbot/slackbot/functions/internal/config"
	"github.com/lambda-slackbot/slackbot/functions/internal/slash"
)

func main() {
	cfg, awsCfg, err := config.FromEnvironment(context.Background())
	if err != nil {
		slog.Error("configuration", "error", err)
		os.Exit(1)
	}
	h := bot.New(cfg, awsCfg, cfg.Logger(), os.Stdout).Commands()
	// Slow subcommands finish in a second, asynchronous invocation of this
	// same function; Lambda sets its name.
	if name := os.Getenv("AWS_LAMBDA_FUNCTION_NAME"); name != "" {
		h.Defer = lambdaDeferrer{Client: awslambda.NewFromConfig(awsCfg), Function: name}
	}
	lambda.Start(h.Invoke)
}

// lambdaDeferrer defers by invoking a function (the running one, named by
// AWS_LAMBDA_FUNCTION_NAME) asynchronously: Lambda queues the event and the
// invocation returns in milliseconds.
type lambdaDeferrer struct {
	Client   *awslambda.Client
	Function string
}

// Defer implements slash.Deferrer.
func (d lambdaDeferrer) Defer(ctx context.Context, cmd slack.SlashCommand) error {
	payload, err := json.Marshal(slash.Deferred{Command: cmd})
	if err != nil {
		return fmt.Errorf("encode deferred command: %w", err)
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
