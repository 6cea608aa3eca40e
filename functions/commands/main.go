// Command commands is the Lambda behind POST /slack/commands. Slow
// subcommands finish in a second, asynchronous invocation of this same
// function (selfinvoke.Deferrer), which slash.Handler.Invoke tells apart
// from API Gateway's requests.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambda-slackbot/slackbot/functions/internal/bot"
	"github.com/lambda-slackbot/slackbot/functions/internal/config"
	"github.com/lambda-slackbot/slackbot/functions/internal/selfinvoke"
)

func main() {
	cfg, awsCfg, err := config.FromEnvironment(context.Background())
	if err != nil {
		slog.Error("configuration", "error", err)
		os.Exit(1)
	}
	h := bot.New(cfg, awsCfg, cfg.Logger(), os.Stdout).Commands()
	// Lambda sets the function's own name.
	if name := os.Getenv("AWS_LAMBDA_FUNCTION_NAME"); name != "" {
		h.Defer = selfinvoke.Deferrer{Client: awslambda.NewFromConfig(awsCfg), Function: name}
	}
	lambda.Start(h.Invoke)
}
