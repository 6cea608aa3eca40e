package tokens

import (
	"io"
	"log/slog"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/config"
	"github.com/lambda-slackbot/slackbot/functions/internal/installstore"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/workspace"
)

// ReportPoster is where scheduled reports and alerts go: to the workspace
// of the report channel. That is the configured bot token's, as
// cfg.ReportPoster decides; with no bot token and a ReportTeam, the
// installation of that team (store nil: there are none) posts them,
// unless reports go by webhook.
func ReportPoster(cfg config.Config, store installstore.Store, log *slog.Logger, out io.Writer) (notify.Poster, error) {
	if cfg.BotToken != "" || cfg.ReportTeam == "" || store == nil || cfg.ReportVia == contract.ReportViaWebhook {
		return cfg.ReportPoster(out)
	}
	r := &Resolver{Store: store, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, APIURL: cfg.SlackAPIURL, Log: log}
	return &Poster{Resolver: r, APIURL: cfg.SlackAPIURL, Workspace: workspace.Workspace{TeamID: cfg.ReportTeam}}, nil
}
