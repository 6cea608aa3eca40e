// Package bot assembles the handlers from a Config: which stores, which
// Slack poster. The Lambda mains and the dev server share it, so a local run
// serves the very code that is deployed.
package bot

import (
	"cmp"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/lambda-slackbot/slackbot/functions/internal/config"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/eventsapi"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/permit"
	"github.com/lambda-slackbot/slackbot/functions/internal/slash"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify"
)

// Bot holds what the handlers share.
type Bot struct {
	Config config.Config
	Log    *slog.Logger
	Post   notify.Poster
	// Sketches is where latency reports read from: the sketch table when
	// one is configured. Nil means reports are not set up; the dev server
	// sets an in-memory store that it feeds itself.
	Sketches latency.Store
	// Claims makes event handling and deferred commands happen once: the
	// dedupe table when one is configured, else this process's memory.
	Claims dedupe.Store

	dynamo *dynamodb.Client
}

// New builds a Bot. Nothing here does I/O: clients connect on first use, so
// a Lambda's INIT stays short. out receives printed messages when there is
// no bot token.
func New(cfg config.Config, awsCfg aws.Config, log *slog.Logger, out io.Writer) *Bot {
	b := &Bot{Config: cfg, Log: log, Post: cfg.Poster(out)}
	if cfg.DedupeTable != "" || cfg.SketchTable != "" {
		b.dynamo = dynamodb.NewFromConfig(awsCfg)
	}
	if cfg.SketchTable != "" {
		b.Sketches = latency.NewDynamoStore(b.dynamo, cfg.SketchTable)
	}
	b.Claims = &dedupe.Memory{Lease: cfg.ClaimLease}
	if cfg.DedupeTable != "" {
		b.Claims = &dedupe.Dynamo{Client: b.dynamo, Table: cfg.DedupeTable, Lease: cfg.ClaimLease}
	}
	switch v := b.Verifier(); {
	case v.Legacy():
		log.Warn("requests are checked with the legacy verification token, which Slack deprecated: " +
			"set the signing secret (signing_secret), and every request must then be signed")
	case v.VerificationToken != "":
		log.Info("a verification token is configured but ignored: with a signing secret every request must be signed")
	}
	return b
}

// Verifier checks requests with the configured credentials.
func (b *Bot) Verifier() verify.Verifier {
	return verify.Verifier{SigningSecret: b.Config.SigningSecret, VerificationToken: b.Config.VerificationToken}
}

// Events returns the Events API handler with its events registered.
func (b *Bot) Events() *eventsapi.Handler {
	h := &eventsapi.Handler{Verifier: b.Verifier(), Dedupe: b.Claims, Log: b.Log}
	var reports eventsapi.Reporter
	if b.Sketches != nil {
		reports = latency.NewReporter(b.Sketches, time.Now)
	}
	h.On("app_mention", eventsapi.AppMention(b.Post, reports, latency.ParseRequest, b.Config.ReportWindow))
	return h
}

// Permit is who may post as the bot with notify, and where, looked up in
// the workspace the Poster talks to.
func (b *Bot) Permit() *permit.Policy {
	dir, ok := b.Post.(permit.Directory)
	if !ok {
		return nil // refuses every notify: there is nothing to check with
	}
	return &permit.Policy{Users: b.Config.NotifyUsers, Channels: b.Config.NotifyChannels, Dir: dir}
}

// Commands returns the slash command handler. Its Defer is left to the
// caller: it depends on where the process runs.
func (b *Bot) Commands() *slash.Handler {
	h := &slash.Handler{
		Verifier:      b.Verifier(),
		Post:          b.Post,
		Permit:        b.Permit(),
		ParseRequest:  latency.ParseRequest,
		DefaultWindow: b.Config.ReportWindow,
		Sealer:        slash.NewSealer(cmp.Or(b.Config.SigningSecret, b.Config.VerificationToken)),
		Claims:        b.Claims,
		APIURL:        b.Config.SlackAPIURL,
		Log:           b.Log,
	}
	if b.Sketches != nil {
		h.Reports = latency.NewReporter(b.Sketches, time.Now)
	}
	return h
}
