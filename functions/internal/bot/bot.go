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
	"github.com/lambda-slackbot/slackbot/functions/internal/deferred"
	"github.com/lambda-slackbot/slackbot/functions/internal/eventsapi"
	"github.com/lambda-slackbot/slackbot/functions/internal/installstore"
	"github.com/lambda-slackbot/slackbot/functions/internal/interactions"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/permit"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
	"github.com/lambda-slackbot/slackbot/functions/internal/slash"
	"github.com/lambda-slackbot/slackbot/functions/internal/tokens"
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
	Sketches sketchstore.Store
	// Charts draws `/slackbot latency … chart`; nil: the command says charts
	// are not offered. The commands function and the dev server set it (a
	// *chart.Charts over Sketches) from their mains, so this package, and
	// with it the events function, does not link the plotting library.
	Charts slash.Charter
	// Claims makes event handling and deferred commands happen once: the
	// dedupe table when one is configured, else this process's memory.
	Claims dedupe.Store
	// ChartClaims hold the chart limit: the same place as Claims, with a
	// lease of slash.ChartWindow.
	ChartClaims dedupe.Store
	// Installs keeps the workspaces that installed the app by OAuth, and
	// Tokens picks each request's token from them; both nil without
	// installs (no installations table, no client id), when the
	// configured bot token answers every request as before.
	Installs installstore.Store
	Tokens   *tokens.Resolver

	dynamo *dynamodb.Client
}

// New builds a Bot. Nothing here does I/O: clients connect on first use, so
// a Lambda's INIT stays short. out receives printed messages when there is
// no bot token.
func New(cfg config.Config, awsCfg aws.Config, log *slog.Logger, out io.Writer) *Bot {
	b := &Bot{Config: cfg, Log: log, Post: cfg.Poster(out)}
	if cfg.DedupeTable != "" || cfg.SketchTable != "" || cfg.InstallationsTable != "" {
		b.dynamo = dynamodb.NewFromConfig(awsCfg)
	}
	if cfg.SketchTable != "" {
		b.Sketches = sketchstore.NewDynamoStore(b.dynamo, cfg.SketchTable)
	}
	b.Claims = &dedupe.Memory{Lease: cfg.ClaimLease}
	b.ChartClaims = &dedupe.Memory{Lease: slash.ChartWindow}
	if cfg.DedupeTable != "" {
		b.Claims = &dedupe.Dynamo{Client: b.dynamo, Table: cfg.DedupeTable, Lease: cfg.ClaimLease}
		b.ChartClaims = &dedupe.Dynamo{Client: b.dynamo, Table: cfg.DedupeTable, Lease: slash.ChartWindow}
	}
	switch {
	case cfg.InstallationsTable != "":
		b.Installs = installstore.Open(b.dynamo, awsCfg, cfg.InstallationsTable, cfg.TokenKey)
	case cfg.ClientID != "":
		// A local run: installs last as long as the process.
		b.Installs = &installstore.Memory{}
	}
	if b.Installs != nil {
		b.Tokens = &tokens.Resolver{Store: b.Installs, Configured: cfg.BotToken, ClientID: cfg.ClientID,
			ClientSecret: cfg.ClientSecret, APIURL: cfg.SlackAPIURL, Log: log}
		b.Post = &tokens.Poster{Resolver: b.Tokens, APIURL: cfg.SlackAPIURL}
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
	h.On("app_mention", eventsapi.AppMention(b.Post, b.reports(), latency.RequestParser(b.Config.LatencySources), b.Config.ReportWindow))
	h.On("app_uninstalled", b.uninstalled)
	h.On("tokens_revoked", b.tokensRevoked)
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

// Deferred returns the runner of the work commands and interactions finish
// after answering, sealed with a key from the signing secret and claimed in
// Claims. Set its Send (where it runs), then hand it to Commands and
// Interactions, which register their kinds of work with it.
func (b *Bot) Deferred() *deferred.Runner {
	return &deferred.Runner{
		Sealer: deferred.NewSealer(cmp.Or(b.Config.SigningSecret, b.Config.VerificationToken)),
		Claims: b.Claims,
		Log:    b.Log,
	}
}

// reports builds latency reports, when reports are set up. Without them
// it is a nil interface, which every handler's Reporter reads as "not set
// up" (a nil interface converts to a nil interface).
func (b *Bot) reports() slash.Reporter {
	if b.Sketches == nil {
		return nil
	}
	return latency.NewBuilder(b.Sketches, b.Config.LatencySources, time.Now)
}

// Commands returns the slash command handler. Its slow work runs through
// later when later has a Sender, else before the answer.
func (b *Bot) Commands(later *deferred.Runner) *slash.Handler {
	h := &slash.Handler{
		Verifier:      b.Verifier(),
		Post:          b.Post,
		Permit:        b.Permit(),
		Reports:       b.reports(),
		Charts:        b.Charts,
		ChartClaims:   b.ChartClaims,
		ParseRequest:  latency.RequestParser(b.Config.LatencySources),
		DefaultWindow: b.Config.ReportWindow,
		APIURL:        b.Config.SlackAPIURL,
		Log:           b.Log,
	}
	// Only a poster that can share files (the bot token's client, or the
	// Printer of a local run) can carry a chart; a webhook cannot.
	if up, ok := b.Post.(notify.Uploader); ok {
		h.Upload = up
	}
	if later != nil {
		later.On(slash.Kind, h.FinishJob)
		if later.Send != nil {
			h.Later = later
		}
	}
	return h
}

// Interactions returns the interactivity handler with the latency report's
// buttons and the notify modal registered; later is as for Commands.
// respond, when set, answers response URLs Slack's host would not (the dev
// server's stand-in).
//
// The commands function serves it: it holds what the interactions need
// (the notify allow-lists, read access to the sketches, the dedupe table
// and the right to invoke itself for slow work), so no fourth function
// and no second copy of those grants are needed.
func (b *Bot) Interactions(later *deferred.Runner, respond func(responseURL string) notify.Poster) *interactions.Handler {
	h := &interactions.Handler{Verifier: b.Verifier(), Log: b.Log}
	reports := &interactions.Reports{Reports: b.reports(), APIURL: b.Config.SlackAPIURL, Respond: respond, Log: b.Log}
	modal := &interactions.NotifyModal{
		Notifier: slash.Notifier{Post: b.Post, Permit: b.Permit(), Log: b.Log},
		Claims:   b.Claims,
		Log:      b.Log,
	}
	// Only a bot token's client opens modals (the configured token's, or
	// each workspace's); without one the shortcut is answered 403.
	switch p := b.Post.(type) {
	case *notify.Client:
		modal.Views = p
	case *tokens.Poster:
		modal.Views = p
	}
	if later != nil {
		later.On(interactions.ReportKind, reports.FinishJob)
		if later.Send != nil {
			reports.Later = later
		}
	}
	reports.Register(h)
	modal.Register(h)
	return h
}
