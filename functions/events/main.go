// Command events is the Lambda behind POST /slack/events.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lambda-slackbot/slackbot/functions/internal/bot"
	"github.com/lambda-slackbot/slackbot/functions/internal/config"
)

func main() {
	cfg, awsCfg, err := config.FromEnvironment(context.Background())
	if err != nil {
		slog.Error("configuration", "error", err)
		os.Exit(1)
	}
	b := bot.New(cfg, awsCfg, cfg.Logger(), os.Stdout)
	// Each event is answered with the token of its workspace's installation.
	lambda.Start(b.PerWorkspace(b.Events().ServeEvent))
}
