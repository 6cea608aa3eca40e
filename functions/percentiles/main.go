// Command percentiles is the Lambda that ingests API Gateway access logs from
// a CloudWatch Logs subscription into DDSketches, and posts the latency report
// to Slack on an EventBridge schedule. Build: go build -tags lambda.norpc.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lambda-slackbot/slackbot/functions/internal/config"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
)

func main() {
	ctx := context.Background()
	cfg, awsCfg, err := config.FromEnvironment(ctx)
	if err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	logger := cfg.Logger()
	var store latency.Store
	if cfg.SketchTable != "" {
		store = latency.NewDynamoStore(dynamodb.NewFromConfig(awsCfg), cfg.SketchTable)
	} else {
		logger.Warn("SLACKBOT_SKETCH_TABLE is unset: sketches live in this container's memory and vanish with it")
		store = latency.NewMemoryStore()
	}
	poster := cfg.Poster(os.Stdout)
	lambda.Start(latency.NewHandler(store, poster, cfg.ReportChannel, cfg.ReportWindow, logger).Handle)
}
