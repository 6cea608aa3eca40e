package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/accesslog"
	"github.com/lambda-slackbot/slackbot/functions/internal/alerts"
	"github.com/lambda-slackbot/slackbot/functions/internal/chartcall"
	"github.com/lambda-slackbot/slackbot/functions/internal/chat"
	"github.com/lambda-slackbot/slackbot/functions/internal/cwalarm"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
)

// Handler is the percentiles function: CloudWatch Logs subscription events
// are ingested and the alert rules checked over what they touched,
// EventBridge schedules check the rules and post a report with its chart,
// and CloudWatch alarm notifications from SNS are posted as they come. It
// holds no Lambda types, so tests call Invoke directly.
type Handler struct {
	Ingester *accesslog.Ingester
	Store    sketchstore.Store
	Alerts   *alerts.Checker // nil: no alert rules
	Poster   chat.Poster     // reports, alerts and alarms: the bot or the incoming webhook
	Channel  string          // where they go; empty means nowhere (unless the webhook's), with an error in the log
	Window   time.Duration   // a scheduled report's window
	// AlarmTopic is the stack's alarm topic (SLACKBOT_ALARM_TOPIC_ARN):
	// only CloudWatch alarms published to it, of its account and region,
	// are posted. Empty: no SNS record is.
	AlarmTopic string
	Logger     *slog.Logger
	Now        func() time.Time // nil: time.Now

	// Sources are the latency sources beyond the bot's own; their log
	// groups are the Ingester's (accesslog.Ingester.SetSources). The
	// schedule reports each that had traffic.
	Sources []contract.LatencySource
	// Objects reads the ALB log objects of alb sources; Claims makes each
	// read once (nil: claimed in memory, for this container only).
	Objects ObjectGetter
	Claims  dedupe.Store
}

// Options is what NewHandler needs.
type Options struct {
	Store   sketchstore.Store
	Poster  chat.Poster   // reports, alerts and alarms: the bot or the incoming webhook
	Channel string        // where they go
	Window  time.Duration // a scheduled report's window
	// Rules are the alert rules (may be empty), State keeps their status.
	Rules []contract.AlertRule
	State alerts.State
	// AlarmTopic, Sources, Objects and Claims are the Handler's fields of
	// the same names; OwnLogGroup is the bot's own access-log group
	// (accesslog.Ingester.SetSources), SelfLogGroup this function's own
	// log group, never read (accesslog.Ingester.Ignore).
	AlarmTopic   string
	OwnLogGroup  string
	SelfLogGroup string
	Sources      []contract.LatencySource
	Objects      ObjectGetter
	Claims       dedupe.Store
	Log          *slog.Logger // nil discards
	Now          func() time.Time
}

// NewHandler assembles a Handler from o in one call.
func NewHandler(o Options) *Handler {
	logger := o.Log
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		Ingester:   accesslog.NewIngester(o.Store, logger),
		Store:      o.Store,
		Poster:     o.Poster,
		Channel:    o.Channel,
		Window:     o.Window,
		AlarmTopic: o.AlarmTopic,
		Logger:     logger,
		Now:        o.Now,
		Sources:    o.Sources,
		Objects:    o.Objects,
		Claims:     o.Claims,
	}
	h.Ingester.SetSources(o.OwnLogGroup, o.Sources)
	if o.SelfLogGroup != "" {
		h.Ingester.Ignore(o.SelfLogGroup)
	}
	if len(o.Rules) > 0 {
		h.Alerts = &alerts.Checker{Rules: o.Rules, Store: o.Store, State: o.State, Post: o.Poster, Channel: o.Channel, Log: logger}
	}
	return h
}

// reports builds the reports of every source.
func (h *Handler) reports() *latency.Builder { return latency.NewBuilder(h.Store, h.Sources, h.Now) }

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Outcome is what an invocation did; Lambda logs it as the result.
type Outcome struct {
	Ingested *accesslog.IngestStats `json:"ingested,omitempty"`
	// Reported is the schedule's first report, the default source's or
	// the first with traffic; Reports has every source's that was posted.
	Reported *ReportResult   `json:"reported,omitempty"`
	Reports  []ReportResult  `json:"reports,omitempty"`
	Alarms   *AlarmResult    `json:"alarms,omitempty"`
	Alerts   []alerts.Change `json:"alerts,omitempty"`
	Object   *ObjectResult   `json:"object,omitempty"`
	// Chart is a chart the commands function asked for (chartcall).
	Chart *chartcall.Answer `json:"chart,omitempty"`
}

// AlarmResult says how many SNS notifications were posted, and where, or
// why none was; Dropped counts the records that were not this stack's
// alarms.
type AlarmResult struct {
	Posted  int    `json:"posted"`
	Dropped int    `json:"dropped,omitempty"`
	Channel string `json:"channel,omitempty"`
	Skipped string `json:"skipped,omitempty"`
}

// ReportResult says where a scheduled report went, or why it did not.
type ReportResult struct {
	Source  string `json:"source,omitempty"`
	Channel string `json:"channel,omitempty"`
	TS      string `json:"ts,omitempty"`
	Skipped string `json:"skipped,omitempty"`
	// Chart is "uploaded", or why there is none.
	Chart string `json:"chart,omitempty"`
	// Unconfirmed says Slack took the report and never answered: it is
	// taken as posted, since a retry would post it again.
	Unconfirmed bool `json:"unconfirmed,omitempty"`
}

// ErrUnknownEvent is an invocation that is neither a log subscription, a
// schedule nor an SNS notification: a wiring mistake, so it fails loudly.
var ErrUnknownEvent = errors.New("unknown event: want a CloudWatch Logs subscription event (\"awslogs\"), an EventBridge scheduled event or S3 Object Created event, or an SNS notification (\"EventSource\":\"aws:sns\", e.g. a CloudWatch alarm)")

// awslogsPrefix and awslogsSuffix frame the event as Lambda delivers it; a
// match lets the big base64 string skip encoding/json's byte-by-byte scan.
var (
	awslogsPrefix = []byte(`{"awslogs":{"data":"`)
	awslogsSuffix = []byte(`"}}`)
)

// Invoke dispatches one invocation: the function's entry for lambda.Start.
func (h *Handler) Invoke(ctx context.Context, raw json.RawMessage) (Outcome, error) {
	trimmed := bytes.TrimSpace(raw)
	if data, ok := bytes.CutPrefix(trimmed, awslogsPrefix); ok {
		if data, ok := bytes.CutSuffix(data, awslogsSuffix); ok && bytes.IndexByte(data, '"') < 0 && bytes.IndexByte(data, '\\') < 0 {
			return h.ingest(ctx, data)
		}
	}
	var probe struct {
		AWSLogs    *events.CloudwatchLogsRawData `json:"awslogs"`
		Source     string                        `json:"source"`
		DetailType string                        `json:"detail-type"`
		Time       string                        `json:"time"`
		Detail     json.RawMessage               `json:"detail"`
		Records    []struct {
			EventSource string `json:"EventSource"`
		} `json:"Records"`
		Chart *chartcall.Request `json:"slackbot_chart"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return Outcome{}, fmt.Errorf("%w: %v", ErrUnknownEvent, err)
	}
	switch {
	case probe.AWSLogs != nil:
		return h.ingest(ctx, []byte(probe.AWSLogs.Data))
	case probe.DetailType == "Object Created" && probe.Source == "aws.s3":
		return h.object(ctx, probe.Detail)
	case probe.DetailType == "Scheduled Event" || probe.Source == "aws.events" || probe.Source == "aws.scheduler":
		at, err := time.Parse(time.RFC3339, probe.Time)
		if err != nil {
			// EventBridge always sends a time; a hand-made test event may
			// not, and "now" is what it means.
			at = h.now()
		}
		return h.report(ctx, at)
	case len(probe.Records) > 0 && probe.Records[0].EventSource == snsEventSource:
		return h.alarms(ctx, raw)
	case probe.Chart != nil:
		return h.drawChart(ctx, *probe.Chart)
	}
	return Outcome{}, ErrUnknownEvent
}

func (h *Handler) ingest(ctx context.Context, data []byte) (Outcome, error) {
	stats, err := h.Ingester.Ingest(ctx, data)
	if err != nil {
		h.Logger.Error("ingest failed; Lambda will retry the batch", "error", err.Error(), "batch", stats.Batch)
		return Outcome{Ingested: &stats}, err
	}
	h.Logger.Info("ingested access logs", "batch", stats.Batch, "messageType", stats.MessageType, "source", stats.Source,
		"events", stats.Events, "added", stats.Added, "malformed", stats.Malformed, "unrouted", stats.Unrouted, "routeMinutes", stats.Parts)
	out := Outcome{Ingested: &stats}
	if stats.Parts == 0 {
		return out, nil
	}
	// The rules' windows end with the last minute the batch touched. An
	// error makes Lambda retry the batch, which the store takes once.
	// A batch is one source's: only that source's rules can change.
	out.Alerts, err = h.checkAlerts(ctx, time.Unix(stats.LastMinute+60, 0), cmp.Or(stats.Source, contract.DefaultSource))
	return out, err
}

// canPost says whether reports and alerts have somewhere to go: a channel,
// or an incoming webhook, whose channel is its own.
func (h *Handler) canPost() bool {
	_, webhook := h.Poster.(*chat.Webhook)
	return h.Channel != "" || webhook
}

const noChannel = "no channel for the latency report, alerts and alarms: set the stack's reportChannel config (it becomes " +
	contract.EnvReportChannel + "), e.g. pulumi config set reportChannel '#ops', then pulumi up"

// checkAlerts checks the rules of sources, or every rule when none is
// given: a batch can change only its own source's.
func (h *Handler) checkAlerts(ctx context.Context, end time.Time, sources ...string) ([]alerts.Change, error) {
	if h.Alerts == nil {
		return nil, nil
	}
	if !h.canPost() {
		h.Logger.Error(noChannel)
		return nil, nil
	}
	var changes []alerts.Change
	var err error
	if len(sources) == 0 {
		changes, err = h.Alerts.Check(ctx, end)
	}
	for _, s := range sources {
		var ch []alerts.Change
		ch, err = h.Alerts.CheckSource(ctx, end, s)
		changes = append(changes, ch...)
		if err != nil {
			break
		}
	}
	if err != nil {
		return changes, fmt.Errorf("alert rules: %w", err)
	}
	return changes, nil
}

// report checks the alert rules, then posts the report and its chart. The
// rules go first: their state keeps a retry from posting a change twice,
// while nothing keeps a report from being posted twice, so an error after
// the report would repeat it.
func (h *Handler) report(ctx context.Context, at time.Time) (Outcome, error) {
	if !h.canPost() {
		// Failing would only make Lambda retry a report that cannot go
		// anywhere; the log says what to change.
		h.Logger.Error(noChannel)
		return Outcome{Reported: &ReportResult{Skipped: contract.EnvReportChannel + " is not set"}}, nil
	}
	changes, err := h.checkAlerts(ctx, at)
	if err != nil {
		return Outcome{Alerts: changes}, err
	}
	due, err := h.dueReports(ctx, at)
	if err != nil {
		return Outcome{Alerts: changes}, err
	}
	out := Outcome{Alerts: changes}
	for i, d := range due {
		d.msg.Channel = h.Channel
		posted, err := h.Poster.Post(ctx, d.msg)
		if chat.Unanswered(err) {
			// Slack has the report and may have posted it; failing would
			// make Lambda run the schedule again and post it twice (at
			// most once).
			h.Logger.Warn("Slack took the latency report but did not answer; taken as posted", "source", d.source, "channel", h.Channel, "error", err.Error())
			out.Reports = append(out.Reports, ReportResult{Source: d.source, Channel: h.Channel, Unconfirmed: true, Chart: "skipped: the report was not confirmed"})
			continue
		}
		if err != nil && i == 0 {
			return out, fmt.Errorf("post the scheduled latency report of %s to %s: %w", d.source, h.Channel, err)
		}
		if err != nil {
			// A retry would post the reports already out again: the
			// rest are logged, not retried.
			h.Logger.Error("post the scheduled latency report", "source", d.source, "channel", h.Channel, "error", err.Error())
			out.Reports = append(out.Reports, ReportResult{Source: d.source, Skipped: "failed: " + err.Error()})
			continue
		}
		h.Logger.Info("posted latency report", "source", d.source, "channel", h.Channel, "window", contract.FormatWindow(h.Window), "ts", posted.TS)
		res := ReportResult{Source: d.source, Channel: posted.ChannelID, TS: posted.TS}
		// The report is out: a chart that fails is logged, not retried, or
		// the retry would post the report again.
		res.Chart = h.chart(ctx, d.source, d.series, at, posted.TS)
		out.Reports = append(out.Reports, res)
	}
	out.Reported = &out.Reports[0]
	return out, nil
}

// due is one scheduled report to post: its source, its window as read, and
// the message.
type due struct {
	source string
	series *sketchstore.Series
	msg    chat.Message
}

// dueReports are the scheduled reports of the window ending at at: one per
// source with traffic in it, the default source first, or, when no source
// had any, the default source's, which says so. Each report and its chart
// show the same window, read once.
func (h *Handler) dueReports(ctx context.Context, at time.Time) ([]due, error) {
	reports, charts := h.reports(), h.charts()
	var out []due
	var quiet *due
	for _, source := range reports.Sources() {
		series, err := charts.Read(ctx, source, at, h.Window)
		if err != nil {
			return nil, fmt.Errorf("scheduled latency report of %s: %w", source, err)
		}
		traffic, err := hadTraffic(series)
		if err != nil {
			return nil, fmt.Errorf("scheduled latency report of %s: %w", source, err)
		}
		if !traffic && (quiet != nil || len(out) > 0) {
			continue
		}
		msg, err := reports.ReportOfSeries(ctx, at, latency.Request{Source: source, Window: h.Window}, series)
		if err != nil {
			return nil, fmt.Errorf("scheduled latency report of %s: %w", source, err)
		}
		d := due{source: source, series: series, msg: msg}
		if !traffic {
			quiet = &d // the default source's: the first read
			continue
		}
		out = append(out, d)
	}
	if len(out) == 0 && quiet != nil {
		out = append(out, *quiet)
	}
	return out, nil
}

// hadTraffic says whether series holds any request: latencies, or
// responses counted without one (an ALB line with -1).
func hadTraffic(series *sketchstore.Series) (bool, error) {
	totals, err := series.Totals()
	if err != nil {
		return false, err
	}
	for _, s := range totals {
		if s.Requests > 0 || !s.Response.IsEmpty() {
			return true, nil
		}
	}
	return false, nil
}

// snsEventSource is what Lambda's SNS event puts in each record's
// EventSource (S3 and SQS events say "aws:s3" and "aws:sqs" under
// "eventSource").
const snsEventSource = "aws:sns"

// alarms posts the CloudWatch alarms of an SNS event that are this stack's
// (cwalarm.Messages) to the report channel; every other record is logged and
// dropped. SNS invokes asynchronously, so an error makes Lambda retry twice
// and then hand the event to the function's on-failure destination; SNS
// sends one record per invocation, so a retry does not repeat a message
// already posted. A post Slack took and never answered fails too, so an
// alarm is posted at least once.
func (h *Handler) alarms(ctx context.Context, raw []byte) (Outcome, error) {
	msgs, dropped, err := cwalarm.Parse(raw, h.AlarmTopic)
	if err != nil {
		return Outcome{}, fmt.Errorf("alarm notification: %w", err)
	}
	for _, d := range dropped {
		h.Logger.Warn("SNS record not posted: not one of this stack's alarms", "messageId", d.MessageID,
			"topicArn", d.TopicArn, "alarmTopic", h.AlarmTopic, "reason", d.Reason)
	}
	if len(msgs) == 0 {
		return Outcome{Alarms: &AlarmResult{Dropped: len(dropped)}}, nil
	}
	if !h.canPost() {
		// As with the report, a retry would not find a channel either; the
		// log keeps what the alarm said.
		for _, m := range msgs {
			h.Logger.Error(noChannel, "notification", m.Text)
		}
		return Outcome{Alarms: &AlarmResult{Skipped: contract.EnvReportChannel + " is not set"}}, nil
	}
	res := &AlarmResult{Channel: h.Channel, Dropped: len(dropped)}
	for i, m := range msgs {
		m.Channel = h.Channel
		posted, err := h.Poster.Post(ctx, m)
		if err != nil {
			return Outcome{Alarms: res}, fmt.Errorf("post alarm notification %d of %d to %s: %w", i+1, len(msgs), h.Channel, err)
		}
		res.Posted++
		res.Channel = posted.ChannelID
		h.Logger.Info("posted alarm notification", "channel", h.Channel, "ts", posted.TS)
	}
	return Outcome{Alarms: res}, nil
}
