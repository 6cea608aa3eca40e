// Command commands is the Lambda behind POST /slack/commands and POST
// /slack/interactions: slash commands, and the clicks, shortcuts and modal
// submissions of interactivity, which need the same grants (see bot.New);
// and GET /slack/install and /slack/oauth_redirect, the OAuth install,
// which claims its state in the same dedupe table. Slow work finishes in a
// second, asynchronous invocation of this same function
// (selfinvoke.Deferrer), which deferred.Function tells apart from API
// Gateway's requests.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/apigw"
	"github.com/lambda-slackbot/slackbot/functions/internal/bot"
	"github.com/lambda-slackbot/slackbot/functions/internal/chartcall"
	"github.com/lambda-slackbot/slackbot/functions/internal/config"
	"github.com/lambda-slackbot/slackbot/functions/internal/deferred"
	"github.com/lambda-slackbot/slackbot/functions/internal/selfinvoke"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
	"github.com/lambda-slackbot/slackbot/functions/internal/slash"
)

func main() {
	cfg, awsCfg, err := config.FromEnvironment(context.Background())
	if err != nil {
		slog.Error("configuration", "error", err)
		os.Exit(1)
	}
	var send deferred.Sender
	// Lambda sets the function's own name.
	if name := os.Getenv("AWS_LAMBDA_FUNCTION_NAME"); name != "" {
		send = selfinvoke.Deferrer{AWS: awsCfg, Function: name}
	}
	// Charts are drawn by the function SLACKBOT_CHART_FUNCTION names (the
	// percentiles function), so this one does not link the plotting
	// library: its cold start would pay for it on every request.
	var draw func(sketchstore.Store) slash.Charter
	if fn := os.Getenv(contract.EnvChartFunction); fn != "" {
		draw = func(sketchstore.Store) slash.Charter { return chartcall.Lambda{AWS: awsCfg, Function: fn} }
	}
	h := bot.New(bot.Options{
		Config: cfg, AWS: awsCfg, Log: cfg.Logger(), Out: os.Stdout,
		Draw: draw,
		Send: send,
	})
	fn := deferred.Function{
		Routes: map[string]apigw.Handler{
			contract.CommandsPath:      h.Commands,
			contract.InteractionsPath:  h.Interactions,
			contract.InstallPath:       h.Install,
			contract.OAuthRedirectPath: h.OAuthRedirect,
		},
		Runner: h.Jobs,
	}
	lambda.Start(fn.Invoke)
}
