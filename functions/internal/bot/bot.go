// Package bot assembles the handlers from a Config: which stores, which
// Slack poster. The Lambda mains and the dev server share it, so a local run
// serves the very code that is deployed.
package bot

import (
	"io"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lambda-slackbot/slackbot/functions/internal/config"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/eventsapi"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/slash"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify"
)

// Bot holds what the handlers share.
type Bot struct {
	Config config.Config
	Log    *slog.Logger
	Post   notify.Poster
	dynamo *dynamodb.Client
}

// New builds a Bot. Nothing here does I/O: clients connect on first use, so
// a Lambda's INIT stays short. out receives printed messages when there is
// no bot token.
func New(cfg config.Config, awsCfg aws.Config, log *slog.Logger, out io.Writer) *Bot {
	b := &Bot{Config: cfg, Log: log, Post: notify.New(cfg.BotToken, cfg.SlackAPIURL, out)}
	if cfg.DedupeTable != "" || cfg.SketchTable != "" {
		b.dynamo = dynamodb.NewFromConfig(awsCfg)
	}
	return b
}

// Verifier checks requests with the configured credentials.
func (b *Bot) Verifier() verify.Verifier {
	return verify.Verifier{SigningSecret: b.Config.SigningSecret, VerificationToken: b.Config.VerificationToken}
}

// Events returns the Events API handler with its events registered.
func (b *Bot) Events() *eventsapi.Handler {
	var store dedupe.Store = &dedupe.Memory{}
	if b.Config.DedupeTable != "" {
		store = &dedupe.Dynamo{Client: b.dynamo, Table: b.Config.DedupeTable}
	}
	h := &eventsapi.Handler{Verifier: b.Verifier(), Dedupe: store, Log: b.Log}
	h.On("app_mention", eventsapi.AppMention(b.Post, nil, nil, b.Config.ReportWindow))
	return h
}

// Commands returns the slash command handler. Its Defer is left to the
// caller: it depends on where the process runs.
func (b *Bot) Commands() *slash.Handler {
	return &slash.Handler{
		Verifier:      b.Verifier(),
		Post:          b.Post,
		DefaultWindow: b.Config.ReportWindow,
		Log:           b.Log,
	}
}
