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
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/bot"
	"github.com/lambda-slackbot/slackbot/functions/internal/chart"
	"github.com/lambda-slackbot/slackbot/functions/internal/config"
	"github.com/lambda-slackbot/slackbot/functions/internal/deferred"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/selfinvoke"
)

func main() {
	cfg, awsCfg, err := config.FromEnvironment(context.Background())
	if err != nil {
		slog.Error("configuration", "error", err)
		os.Exit(1)
	}
	b := bot.New(cfg, awsCfg, cfg.Logger(), os.Stdout)
	if b.Sketches != nil {
		// Here rather than in bot, so only this function links the plotting
		// library: `/slackbot latency … chart` is drawn in its deferred half.
		b.Charts = &chart.Charts{Store: b.Sketches, Sources: cfg.LatencySources, Rules: cfg.AlertRules, Match: latency.MatchRoutes}
	}
	later := b.Deferred()
	// Lambda sets the function's own name.
	if name := os.Getenv("AWS_LAMBDA_FUNCTION_NAME"); name != "" {
		later.Send = selfinvoke.Deferrer{Client: awslambda.NewFromConfig(awsCfg), Function: name}
	}
	install := b.Install()
	fn := deferred.Function{
		Routes: map[string]deferred.ProxyHandler{
			contract.CommandsPath:      b.PerWorkspace(b.Commands(later).ServeCommand),
			contract.InteractionsPath:  b.PerWorkspace(b.Interactions(later, nil).ServeInteraction),
			contract.InstallPath:       install.ServeInstall,
			contract.OAuthRedirectPath: install.ServeRedirect,
		},
		Runner: later,
	}
	lambda.Start(fn.Invoke)
}
