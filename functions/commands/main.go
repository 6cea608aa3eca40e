// Command commands is the Lambda behind POST /slack/commands and POST
// /slack/interactions: slash commands, and the clicks, shortcuts and modal
// submissions of interactivity, which need the same grants (see
// bot.Interactions); and GET /slack/install and /slack/oauth_redirect,
// the OAuth install, which claims its state in the same dedupe table. Slow work finishes in a second, asynchronous
// invocation of this same function (selfinvoke.Deferrer), which
// deferred.Function tells apart from API Gateway's requests.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/apigw"
	"github.com/lambda-slackbot/slackbot/functions/internal/bot"
	"github.com/lambda-slackbot/slackbot/functions/internal/chart"
	"github.com/lambda-slackbot/slackbot/functions/internal/config"
	"github.com/lambda-slackbot/slackbot/functions/internal/deferred"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
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
	h := bot.New(bot.Options{
		Config: cfg, AWS: awsCfg, Log: cfg.Logger(), Out: os.Stdout,
		// Here rather than in bot, so only this function links the plotting
		// library: `/slackbot latency … chart` is drawn in its deferred half.
		Draw: func(s sketchstore.Store) slash.Charter {
			return &chart.Charts{Store: s, Sources: cfg.LatencySources, Rules: cfg.AlertRules, Match: latency.MatchRoutes}
		},
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
