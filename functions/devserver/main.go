// Command devserver runs the bot on this machine: a stand-in for API
// Gateway's REST proxy integration that serves POST /slack/events, POST
// /slack/commands and POST /slack/interactions, and the install's GET
// /slack/install and /slack/oauth_redirect, with the same handler code the
// Lambdas run. With SLACK_CLIENT_ID and SLACK_CLIENT_SECRET set, the
// installations it takes live in its memory.
//
// With nothing configured it makes a signing secret for the session and
// prints messages instead of sending them; with SLACK_* set (and a tunnel
// bringing Slack's requests in) it talks to real Slack.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/alerts"
	"github.com/lambda-slackbot/slackbot/functions/internal/bot"
	"github.com/lambda-slackbot/slackbot/functions/internal/chart"
	"github.com/lambda-slackbot/slackbot/functions/internal/chat"
	"github.com/lambda-slackbot/slackbot/functions/internal/config"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
	"github.com/lambda-slackbot/slackbot/functions/internal/slash"
	"github.com/lambda-slackbot/slackbot/functions/internal/tokens"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "address to listen on")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "devserver:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The full credential chain (profiles, SSO) of a developer's machine,
	// which the Lambda functions leave out for their cold start.
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("aws config: %w", err)
	}
	cfg, err := config.LoadWith(ctx, awsCfg)
	if err != nil {
		return err
	}
	generated := cfg.SigningSecret == ""
	if generated {
		buf := make([]byte, 16)
		rand.Read(buf)
		cfg.SigningSecret = hex.EncodeToString(buf)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           newHandler(bot.Options{Config: cfg, AWS: awsCfg, Log: cfg.Logger(), Out: os.Stdout}, os.Stdout),
		ReadHeaderTimeout: 10 * time.Second,
	}
	printWelcome(os.Stdout, "http://"+ln.Addr().String(), cfg, generated)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// localResponse takes the dev server's own response_url stand-in, so a
// local run answers without Slack; a response_url of real Slack (through a
// tunnel) is left to the handler, which posts it as deployed.
func localResponse(u string) chat.Poster {
	pu, err := url.Parse(u)
	if err != nil || pu.Path != responsePath {
		return nil
	}
	if ip := net.ParseIP(pu.Hostname()); pu.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil
	}
	return &chat.Webhook{URL: u, ResponseType: slack.ResponseTypeEphemeral}
}

// newHandler serves the bot's routes, assembled from o, through the API
// Gateway stand-in, and the local response_url, writing access logs and
// messages to out.
func newHandler(o bot.Options, out io.Writer) http.Handler {
	// Without a sketch table, the dev server's own requests are the traffic
	// `/slackbot latency` reports on, statuses included, so its 4xx and 5xx
	// rates are those of the requests just sent.
	var mem *sketchstore.MemoryStore
	if o.Config.SketchTable == "" && o.Sketches == nil {
		mem = sketchstore.NewMemoryStore()
		o.Sketches = mem
	}
	// As the commands function does: `latency … chart` is drawn here, and
	// the Printer of a run without a bot token writes the PNG to a
	// temporary directory and prints its path.
	o.Draw = func(s sketchstore.Store) slash.Charter {
		return &chart.Charts{Store: s, Sources: o.Config.LatencySources, Rules: o.Config.AlertRules, Match: latency.MatchRoutes}
	}
	o.InProcess, o.Respond = true, localResponse
	// The browser comes here directly, without a stage in the path.
	o.InstallBaseURL = func(req events.APIGatewayProxyRequest) string { return "http://" + req.Headers["Host"] }
	h := bot.New(o)
	var observe func(string, time.Time, int, time.Duration, time.Duration)
	if mem != nil {
		observe = mem.RecordStatus
		if check := alertLoop(h.Bot, mem, out); check != nil {
			observe = func(route string, at time.Time, status int, response, integration time.Duration) {
				mem.RecordStatus(route, at, status, response, integration)
				check()
			}
		}
	}
	gateway := NewProxy(
		Route{Method: http.MethodPost, Path: contract.EventsPath, Handler: h.Events},
		Route{Method: http.MethodPost, Path: contract.CommandsPath, Handler: h.Commands},
		Route{Method: http.MethodPost, Path: contract.InteractionsPath, Handler: h.Interactions},
		Route{Method: http.MethodGet, Path: contract.InstallPath, Handler: h.Install},
		Route{Method: http.MethodGet, Path: contract.OAuthRedirectPath, Handler: h.OAuthRedirect},
	).WithAccessLog(out)
	gateway.Observe = observe
	mux := http.NewServeMux()
	mux.Handle("/", gateway)
	mux.Handle("POST "+responsePath, printResponse(out))
	return mux
}

// alertLoop checks SLACKBOT_ALERT_RULES over mem after requests, as the
// percentiles function does after each ingest, with the state in memory as
// the sketches are, and posts where that function would
// (SLACKBOT_REPORT_VIA); without Slack credentials, to out. It returns the
// function that asks for a check, or nil without rules. Checks run one at
// a time, off the request's path: a request during a check asks for one
// more, not one each, so a burst of traffic costs two checks, and a slow
// Slack never delays an answer.
func alertLoop(b *bot.Bot, mem *sketchstore.MemoryStore, out io.Writer) func() {
	if len(b.Config.AlertRules) == 0 {
		return nil
	}
	post, err := tokens.ReportPoster(b.Config, b.Installs, b.Log, out)
	if err != nil {
		b.Log.Error("alert rules are not checked", "error", err)
		return nil
	}
	checker := &alerts.Checker{Rules: b.Config.AlertRules, Store: mem, State: &alerts.MemoryState{},
		Post: post, Channel: b.Config.ReportChannel, Log: b.Log}
	pending := make(chan struct{}, 1)
	go func() {
		for range pending {
			end := time.Unix(sketchstore.MinuteOf(time.Now())+60, 0)
			if _, err := checker.Check(context.Background(), end); err != nil {
				b.Log.Error("alert rules", "error", err)
			}
		}
	}()
	return func() {
		select {
		case pending <- struct{}{}:
		default: // a check is already due; it will see this request
		}
	}
}
