// Command percentiles is the Lambda that ingests API Gateway access logs from
// a CloudWatch Logs subscription into DDSketches, with the logs of the
// latency sources (other API stages and Lambda functions by subscription,
// load balancers' S3 objects by EventBridge), and checks the alert rules
// over them, posts the latency report and its chart to Slack on an
// EventBridge schedule, and posts CloudWatch alarms from SNS. Build: go
// build -tags lambda.norpc.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lambda-slackbot/slackbot/functions/internal/dynamo"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/alerts"
	"github.com/lambda-slackbot/slackbot/functions/internal/config"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/installstore"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
	"github.com/lambda-slackbot/slackbot/functions/internal/tokens"
)

func main() {
	ctx := context.Background()
	cfg, awsCfg, err := config.FromEnvironment(ctx)
	if err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	logger := cfg.Logger()
	// Reports go to the report channel's workspace: the configured bot
	// token's, or the installation of reportTeam.
	var installs installstore.Store
	if cfg.InstallationsTable != "" {
		installs = installstore.Open(dynamo.New(awsCfg), awsCfg, cfg.InstallationsTable, cfg.TokenKey)
	}
	poster, err := tokens.ReportPoster(cfg, installs, logger, os.Stdout)
	if err != nil {
		logger.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	var store sketchstore.Store
	var state alerts.State
	if cfg.SketchTable != "" {
		db := dynamo.New(awsCfg)
		store = sketchstore.NewDynamoStore(db, cfg.SketchTable)
		state = &alerts.DynamoState{Client: db, Table: cfg.SketchTable}
	} else {
		logger.Warn(contract.EnvSketchTable + " is unset: sketches and alert states live in this container's memory and vanish with it")
		store = sketchstore.NewMemoryStore()
		state = &alerts.MemoryState{}
	}
	own := os.Getenv(contract.EnvAccessLogGroup)
	if own == "" && len(cfg.LatencySources) > 0 {
		logger.Warn(contract.EnvAccessLogGroup + " is unset: every batch of no latency source is read as the bot's own access log")
	}
	var claims dedupe.Store
	if cfg.DedupeTable != "" {
		claims = &dedupe.Dynamo{Client: dynamo.New(awsCfg), Table: cfg.DedupeTable, Lease: ObjectLease}
	}
	h := NewHandler(Options{
		Store: store, Poster: poster, Channel: cfg.ReportChannel, Window: cfg.ReportWindow,
		Rules: cfg.AlertRules, State: state,
		AlarmTopic:  os.Getenv(contract.EnvAlarmTopicARN),
		OwnLogGroup: own,
		// Lambda names the function's own group; a source of every
		// function must not read it (see accesslog.Ingester.Ignore).
		SelfLogGroup: os.Getenv("AWS_LAMBDA_LOG_GROUP_NAME"),
		Sources:      cfg.LatencySources,
		// The ALB log objects of alb sources, each read once.
		Objects: s3.NewFromConfig(awsCfg, func(o *s3.Options) {
			// An endpoint of one's own (moto, MinIO) names buckets in the path.
			o.UsePathStyle = os.Getenv("AWS_ENDPOINT_URL") != "" || os.Getenv("AWS_ENDPOINT_URL_S3") != ""
		}),
		Claims: claims,
		Log:    logger,
	})
	lambda.Start(h.Invoke)
}
