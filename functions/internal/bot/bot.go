// Package bot assembles the handlers from a Config: which stores, which
// Slack poster. The Lambda mains and the dev server share it, so a local run
// serves the very code that is deployed.
package bot

import (
	"cmp"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambda-slackbot/slackbot/functions/internal/apigw"
	"github.com/lambda-slackbot/slackbot/functions/internal/dynamo"

	"github.com/lambda-slackbot/slackbot/functions/internal/chat"
	"github.com/lambda-slackbot/slackbot/functions/internal/config"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/deferred"
	"github.com/lambda-slackbot/slackbot/functions/internal/eventsapi"
	"github.com/lambda-slackbot/slackbot/functions/internal/installstore"
	"github.com/lambda-slackbot/slackbot/functions/internal/interactions"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/permit"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
	"github.com/lambda-slackbot/slackbot/functions/internal/slash"
	"github.com/lambda-slackbot/slackbot/functions/internal/tokens"
	"github.com/lambda-slackbot/slackbot/functions/internal/verify"
)

// Options is everything New needs. Nothing is set on what it returns.
type Options struct {
	Config config.Config
	AWS    aws.Config   // awsenv.Load on Lambda
	Log    *slog.Logger // nil discards
	// Out receives the messages of a local run without a bot token; nil
	// discards them.
	Out io.Writer
	// Sketches is the store latency reports read; nil: the sketch table
	// when one is configured, else reports are not set up. The dev server
	// gives the memory store it feeds itself.
	Sketches sketchstore.Store
	// Draw returns what draws `/slackbot latency … chart` from the
	// sketches (a *chart.Charts); nil: charts are not offered. A main
	// passes it, so that only the functions that draw link the plotting
	// library.
	Draw func(sketchstore.Store) slash.Charter
	// Send delivers the work commands and interactions finish after
	// answering (selfinvoke.Deferrer on Lambda); nil: it runs before the
	// answer, unless InProcess.
	Send deferred.Sender
	// InProcess runs that work in a goroutine of this process, through the
	// same sealed path (the dev server).
	InProcess bool
	// Respond, when set, answers the response URLs Slack's host would not
	// (the dev server's stand-in), or returns nil to leave one to Slack.
	Respond func(responseURL string) chat.Poster
	// InstallBaseURL, when set, is the base of the install pages' URLs
	// (the dev server, which has no stage in its paths).
	InstallBaseURL func(events.APIGatewayProxyRequest) string
}

// Handlers are the bot's ready handlers: the API Gateway routes, each
// answering with the token of the request's workspace, and the runner of
// their deferred work.
type Handlers struct {
	Events, Commands, Interactions apigw.Handler
	Install, OAuthRedirect         apigw.Handler
	// Jobs runs the sealed jobs the handlers defer (deferred.Function's
	// Runner on Lambda).
	Jobs *deferred.Runner
	// Bot is what they share, for the dev server's alert loop and tests.
	Bot *Bot
}

// New assembles the handlers from o in one call.
func New(o Options) *Handlers {
	b := newBot(o)
	jobs := b.runner(o.Send)
	if o.InProcess {
		jobs.Send = deferred.Goroutine{Runner: jobs}
	}
	inst := b.installHandler()
	if o.InstallBaseURL != nil {
		inst.BaseURL = o.InstallBaseURL
	}
	return &Handlers{
		Events:        b.PerWorkspace(b.eventsHandler().Serve),
		Commands:      b.PerWorkspace(b.commands(jobs, o.Respond).Serve),
		Interactions:  b.PerWorkspace(b.interactions(jobs, o.Respond).Serve),
		Install:       inst.ServeInstall,
		OAuthRedirect: inst.ServeRedirect,
		Jobs:          jobs,
		Bot:           b,
	}
}

// Bot holds what the handlers share.
type Bot struct {
	Config config.Config
	Log    *slog.Logger
	Post   chat.Poster
	// Sketches is where latency reports read from (Options.Sketches). Nil
	// means reports are not set up.
	Sketches sketchstore.Store
	// Charts draws `/slackbot latency … chart` (Options.Draw); nil: the
	// command says charts are not offered.
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

	dynamo *dynamo.Client
}

// newBot builds what the handlers share. Nothing here does I/O: clients
// connect on first use, so a Lambda's INIT stays short.
func newBot(o Options) *Bot {
	cfg, awsCfg, log := o.Config, o.AWS, apigw.Log(o.Log)
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	b := &Bot{Config: cfg, Log: log, Post: cfg.Poster(out)}
	if cfg.DedupeTable != "" || cfg.SketchTable != "" || cfg.InstallationsTable != "" {
		b.dynamo = dynamo.New(awsCfg)
	}
	switch {
	case o.Sketches != nil:
		b.Sketches = o.Sketches
	case cfg.SketchTable != "":
		b.Sketches = sketchstore.NewDynamoStore(b.dynamo, cfg.SketchTable)
	}
	if o.Draw != nil && b.Sketches != nil {
		b.Charts = o.Draw(b.Sketches)
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

// eventsHandler is the Events API handler with its events registered.
func (b *Bot) eventsHandler() *eventsapi.Handler {
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

// runner is the runner of the work commands and interactions finish after
// answering, sealed with a key from the signing secret and claimed in
// Claims, sent through send (nil: slow work runs before the answer).
func (b *Bot) runner(send deferred.Sender) *deferred.Runner {
	return &deferred.Runner{
		Sealer: deferred.NewSealer(cmp.Or(b.Config.SigningSecret, b.Config.VerificationToken)),
		Send:   send,
		Claims: b.Claims,
		Log:    b.Log,
	}
}

// reports builds latency reports, when reports are set up. Without them
// it is a nil interface, which every handler's Reporter reads as "not set
// up" (a nil interface converts to a nil interface).
func (b *Bot) reports() latency.Reporter {
	if b.Sketches == nil {
		return nil
	}
	return latency.NewBuilder(b.Sketches, b.Config.LatencySources, time.Now)
}

// commands is the slash command handler. Its slow work runs through later
// when later has a Sender, else before the answer; respond is as for
// Options.
func (b *Bot) commands(later *deferred.Runner, respond func(responseURL string) chat.Poster) *slash.Handler {
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
		Respond:       respond,
		Log:           b.Log,
	}
	// Only a poster that can share files (the bot token's client, or the
	// Printer of a local run) can carry a chart; a webhook cannot.
	if up, ok := b.Post.(chat.Uploader); ok {
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

// interactions is the interactivity handler with the latency report's
// buttons and the notify modal registered; later and respond are as for
// commands.
//
// The commands function serves it: it holds what the interactions need
// (the notify allow-lists, read access to the sketches, the dedupe table
// and the right to invoke itself for slow work), so no fourth function
// and no second copy of those grants are needed.
func (b *Bot) interactions(later *deferred.Runner, respond func(responseURL string) chat.Poster) *interactions.Handler {
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
	case *chat.Client:
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
