package slash

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/permit"
)

// Subcommand is one word after the slash command: what help says of it, and
// how it is answered. A quick one (Quick) answers at once; a deferred one
// (Slow) is acknowledged at once and finished through the command's
// response_url, exactly once.
type Subcommand struct {
	Name    string // the word, lower case
	Usage   string // its arguments as help shows them, like "<#channel> <text>"
	Summary string // what it does, for help

	// Quick is the answer of a quick subcommand.
	Quick func(ctx context.Context, cmd slack.SlashCommand) notify.Message
	// Check, of a deferred subcommand, reads the arguments before anything
	// is deferred: it returns the acknowledgement, or an error whose text
	// is the answer. Nil acknowledges with "Working on it…".
	Check func(cmd slack.SlashCommand) (ack string, err error)
	// Slow does a deferred subcommand's work; its message is the answer.
	Slow func(ctx context.Context, cmd slack.SlashCommand) notify.Message
}

// Add registers s, replacing a subcommand of the same name.
func (h *Handler) Add(s Subcommand) {
	h.added = append(h.added, s)
}

// subcommands is the registry: the built-in subcommands, then those added,
// each name once, in the order help lists them.
func (h *Handler) subcommands() []Subcommand {
	subs := []Subcommand{
		{Name: "help", Summary: "this list",
			Quick: func(_ context.Context, cmd slack.SlashCommand) notify.Message { return h.help(cmd.Command, "") }},
		{Name: "echo", Usage: "<text>", Summary: "show what Slack sent me",
			Quick: func(_ context.Context, cmd slack.SlashCommand) notify.Message { return echo(cmd) }},
		{Name: "notify", Usage: "<#channel> <text>", Summary: "post to a channel (name or ID), saying you asked",
			Check: checkNotify, Slow: h.notify},
		{Name: "latency", Usage: "[source] [window] [route] [chart]", Summary: "p50/p90/p95/p99 of a latency source (the default one, else this bot's API), e.g. `latency 15m events` or `latency orders 1h`; `chart` shares a chart of it in this channel; `latency sources` lists the sources",
			Check: h.checkLatency, Slow: h.latency},
	}
	for _, s := range h.added {
		i := len(subs)
		for j, have := range subs {
			if have.Name == s.Name {
				i = j
			}
		}
		if i == len(subs) {
			subs = append(subs, s)
		} else {
			subs[i] = s
		}
	}
	return subs
}

func (h *Handler) lookup(name string) (Subcommand, bool) {
	for _, s := range h.subcommands() {
		if s.Name == name {
			return s, true
		}
	}
	return Subcommand{}, false
}

// help lists the registry, after note when there is one.
func (h *Handler) help(command, note string) notify.Message {
	command = escape(cmp.Or(command, "/slackbot"))
	var lines []string
	for _, s := range h.subcommands() {
		lines = append(lines, fmt.Sprintf("`%s`%s", strings.TrimSpace(command+" "+s.Name+" "+s.Usage), cmp.Or(" — "+s.Summary, "")))
	}
	body := strings.Join(lines, "\n")
	var blocks []slack.Block
	fallback := body
	if note != "" {
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, note, false, false), nil, nil))
		fallback = note + "\n" + body
	}
	blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*What I can do*\n"+body, false, false), nil, nil))
	return notify.Message{Text: fallback, Blocks: blocks}
}

func checkNotify(cmd slack.SlashCommand) (string, error) {
	words, rest := cutWords(cmd.Text, 2)
	if len(words) < 2 || rest == "" {
		return "", fmt.Errorf("`notify` needs a channel and a message: `%s notify #general Deploy done`", escape(cmp.Or(cmd.Command, "/slackbot")))
	}
	return fmt.Sprintf("Posting to %s…", escape(words[1])), nil
}

// notify posts for the user, as the permit policy allows.
func (h *Handler) notify(ctx context.Context, cmd slack.SlashCommand) notify.Message {
	words, msg := cutWords(cmd.Text, 2)
	if len(words) < 2 || msg == "" {
		return h.help(cmd.Command, "`notify` needs a channel and a message.")
	}
	answer, _ := h.notifier().Notify(ctx, cmd.UserID, words[1], msg, "`"+escape(cmd.Command)+" notify`")
	return Text(answer)
}

func (h *Handler) notifier() Notifier {
	return Notifier{Post: h.Post, Permit: h.Permit, Log: h.Log}
}

// errNoReports answers latency where no sketch store is configured.
var errNoReports = errors.New("Percentile reports are not set up yet: the percentiles function has no sketch store here, so there are no numbers to show.")

// errNoCharts answers `latency … chart` where charts cannot be shared.
var errNoCharts = errors.New("I can't share charts here: that needs the bot token, with the files:write scope. Without `chart` you get the report.")

// errNoChannel answers `latency … chart` from a command without a channel.
var errNoChannel = errors.New("I can't tell which channel this was typed in, so I can't share a chart there.")

func (h *Handler) checkLatency(cmd slack.SlashCommand) (string, error) {
	if h.Reports == nil {
		return "", errNoReports
	}
	req, chart, err := h.latencyArgs(cmd)
	switch {
	case err != nil:
		return "", err
	case req.ListSources:
		return "Listing the latency sources…", nil
	case !chart:
		return "Building the latency report…", nil
	case h.Charts == nil || h.Upload == nil:
		return "", errNoCharts
	case cmd.ChannelID == "":
		return "", errNoChannel
	}
	return "Drawing the latency chart…", nil
}

func (h *Handler) latency(ctx context.Context, cmd slack.SlashCommand) notify.Message {
	if h.Reports == nil {
		return Text(errNoReports.Error())
	}
	req, chart, err := h.latencyArgs(cmd)
	if err != nil {
		return Text(err.Error())
	}
	if chart {
		return h.shareChart(ctx, cmd, req)
	}
	m, err := h.Reports.Report(ctx, req)
	if err != nil {
		h.Log.Error("latency report", "error", err)
		return Text("Couldn't build the report: " + UserError(err))
	}
	return m
}

// ChartsPerMinute is how many charts one user may share in ChartWindow: a
// chart is a file in a channel, and drawing one reads up to days of
// sketches.
const (
	ChartsPerMinute = 3
	ChartWindow     = time.Minute
)

// errTooManyCharts answers a user past ChartsPerMinute.
var errTooManyCharts = fmt.Errorf("You've shared %d charts in the last minute; try again in a minute.", ChartsPerMinute)

// claimChart takes one of the user's ChartsPerMinute slots: claims
// chart/<user>/<i>, whose lease is ChartWindow and which are never
// released, so each frees itself when its minute is over. It reports
// false when all are taken.
func (h *Handler) claimChart(ctx context.Context, user string) (bool, error) {
	claims := h.ChartClaims
	if claims == nil {
		h.chartMemory.Do(func() { h.chartClaims = &dedupe.Memory{Lease: ChartWindow} })
		claims = h.chartClaims
	}
	for i := range ChartsPerMinute {
		c, err := claims.Claim(ctx, fmt.Sprintf("chart/%s/%d", user, i))
		if err != nil {
			return false, fmt.Errorf("chart limit: %w", err)
		}
		if c.State == dedupe.Acquired {
			return true, nil
		}
	}
	return false, nil
}

// shareChart draws the window's chart and uploads it to the command's own
// channel, never another: cmd comes from Slack's signed form (sealed when
// deferred), so ChannelID is where the user typed. A file in a channel is a
// post as the bot, so it follows notify's policy (Permit: the allow-lists
// and membership), and at most ChartsPerMinute per user. What went wrong is
// told in words, never as an internal error.
func (h *Handler) shareChart(ctx context.Context, cmd slack.SlashCommand, req latency.Request) notify.Message {
	switch {
	case h.Charts == nil || h.Upload == nil:
		return Text(errNoCharts.Error())
	case cmd.ChannelID == "":
		return Text(errNoChannel.Error())
	}
	if _, err := h.Permit.Check(ctx, cmd.UserID, cmd.ChannelID); err != nil {
		if errors.Is(err, permit.ErrRefused) {
			h.Log.Warn("chart refused", "user", cmd.UserID, "reason", err.Error())
			return Text(permit.ErrRefused.Error())
		}
		h.Log.Error("chart: check permission", "user", cmd.UserID, "error", err)
		return Text("Couldn't share the chart: " + UserError(err))
	}
	switch ok, err := h.claimChart(ctx, cmd.UserID); {
	case err != nil:
		h.Log.Error("chart: claim", "user", cmd.UserID, "error", err)
		return Text("Couldn't share the chart: " + UserError(err))
	case !ok:
		h.Log.Warn("chart refused: past the limit", "user", cmd.UserID, "perMinute", ChartsPerMinute)
		return Text(errTooManyCharts.Error())
	}
	window := req.Window
	png, title, err := h.Charts.Chart(ctx, req.Source, req.Window, req.Route)
	if err != nil {
		h.Log.Error("latency chart", "error", err)
		return Text("Couldn't draw the chart: " + UserError(err))
	}
	what := "all routes"
	if req.Route != "" {
		what = "`" + escape(req.Route) + "`"
	}
	if req.Source != "" {
		// A source's name is one of the configured ones: nothing to escape.
		what += " of " + req.Source
	}
	if png == nil {
		return Text(fmt.Sprintf("There are no requests of %s in the last %s to draw.", what, contract.FormatWindow(window)))
	}
	err = h.Upload.Upload(ctx, notify.File{
		Channel: cmd.ChannelID,
		Name:    "latency.png",
		Title:   title,
		Comment: fmt.Sprintf("Latency of %s, last %s, asked for by %s with `%s latency`", what, contract.FormatWindow(window), userRef(cmd.UserID), escape(cmp.Or(cmd.Command, "/slackbot"))),
		Data:    png,
	})
	if err != nil {
		h.Log.Error("upload latency chart", "error", err, "channel", cmd.ChannelID, "user", cmd.UserID)
		return Text("Couldn't share the chart: " + UserError(err))
	}
	return Text(fmt.Sprintf("Shared the latency chart of %s, last %s, in this channel.", what, contract.FormatWindow(window)))
}
