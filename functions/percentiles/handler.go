package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/accesslog"
	"github.com/lambda-slackbot/slackbot/functions/internal/alarm"
	"github.com/lambda-slackbot/slackbot/functions/internal/alerts"
	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
	"github.com/lambda-slackbot/slackbot/functions/internal/latency"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
)

// Handler is the percentiles function: CloudWatch Logs subscription events
// are ingested and the alert rules checked over what they touched,
// EventBridge schedules check the rules and post a report with its chart,
// and CloudWatch alarm notifications from SNS are posted as they come. It
// holds no Lambda types, so tests call Handle directly.
type Handler struct {
	Ingester *accesslog.Ingester
	Reports  *latency.Builder
	Store    sketchstore.Store
	Alerts   *alerts.Checker // nil: no alert rules
	Poster   notify.Poster   // reports, alerts and alarms: the bot or the incoming webhook
	Channel  string          // where they go; empty means nowhere (unless the webhook's), with an error in the log
	Window   time.Duration   // a scheduled report's window
	Logger   *slog.Logger
	Now      func() time.Time // nil: time.Now

	// Sources are the latency sources beyond the bot's own; their log
	// groups are the Ingester's (accesslog.Ingester.SetSources).
	Sources []contract.LatencySource
	// Objects reads the ALB log objects of alb sources; Claims makes each
	// read once (nil: claimed in memory, for this container only).
	Objects ObjectGetter
	Claims  dedupe.Store
}

// NewHandler wires a Handler around store. rules may be empty; state keeps
// their status.
func NewHandler(store sketchstore.Store, poster notify.Poster, channel string, window time.Duration,
	rules []contract.AlertRule, state alerts.State, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		Ingester: accesslog.NewIngester(store, logger),
		Reports:  latency.NewBuilder(store, time.Now),
		Store:    store,
		Poster:   poster,
		Channel:  channel,
		Window:   window,
		Logger:   logger,
	}
	if len(rules) > 0 {
		h.Alerts = &alerts.Checker{Rules: rules, Store: store, State: state, Post: poster, Channel: channel, Log: logger}
	}
	return h
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Outcome is what an invocation did; Lambda logs it as the result.
type Outcome struct {
	Ingested *accesslog.IngestStats `json:"ingested,omitempty"`
	Reported *ReportResult          `json:"reported,omitempty"`
	Alarms   *AlarmResult           `json:"alarms,omitempty"`
	Alerts   []alerts.Change        `json:"alerts,omitempty"`
	Object   *ObjectResult          `json:"object,omitempty"`
}

// AlarmResult says how many SNS notifications were posted, and where, or
// why none was.
type AlarmResult struct {
	Posted  int    `json:"posted"`
	Channel string `json:"channel,omitempty"`
	Skipped string `json:"skipped,omitempty"`
}

// ReportResult says where a scheduled report went, or why it did not.
type ReportResult struct {
	Channel string `json:"channel,omitempty"`
	TS      string `json:"ts,omitempty"`
	Skipped string `json:"skipped,omitempty"`
	// Chart is "uploaded", or why there is none.
	Chart string `json:"chart,omitempty"`
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

// Handle dispatches one invocation.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (Outcome, error) {
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
	out.Alerts, err = h.checkAlerts(ctx, time.Unix(stats.LastMinute+60, 0))
	return out, err
}

// canPost says whether reports and alerts have somewhere to go: a channel,
// or an incoming webhook, whose channel is its own.
func (h *Handler) canPost() bool {
	_, webhook := h.Poster.(*notify.Webhook)
	return h.Channel != "" || webhook
}

const noChannel = "no channel for the latency report, alerts and alarms: set the stack's reportChannel config (it becomes " +
	contract.EnvReportChannel + "), e.g. pulumi config set reportChannel '#ops', then pulumi up"

func (h *Handler) checkAlerts(ctx context.Context, end time.Time) ([]alerts.Change, error) {
	if h.Alerts == nil {
		return nil, nil
	}
	if !h.canPost() {
		h.Logger.Error(noChannel)
		return nil, nil
	}
	changes, err := h.Alerts.Check(ctx, end)
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
	// The report and its chart show the same window: it is read once.
	series, err := h.charts().Read(ctx, at, h.Window)
	if err != nil {
		return Outcome{Alerts: changes}, fmt.Errorf("scheduled latency report: %w", err)
	}
	msg, err := h.Reports.ReportOfSeries(ctx, at, h.Window, "", series)
	if err != nil {
		return Outcome{Alerts: changes}, fmt.Errorf("scheduled latency report: %w", err)
	}
	msg.Channel = h.Channel
	posted, err := h.Poster.Post(ctx, msg)
	if err != nil {
		return Outcome{Alerts: changes}, fmt.Errorf("post the scheduled latency report to %s: %w", h.Channel, err)
	}
	h.Logger.Info("posted latency report", "channel", h.Channel, "window", contract.FormatWindow(h.Window), "ts", posted.TS)
	res := &ReportResult{Channel: posted.ChannelID, TS: posted.TS}
	// The report is out: a chart that fails is logged, not retried, or the
	// retry would post the report again.
	res.Chart = h.chart(ctx, series, at, posted.TS)
	return Outcome{Reported: res, Alerts: changes}, nil
}

// snsEventSource is what Lambda's SNS event puts in each record's
// EventSource (S3 and SQS events say "aws:s3" and "aws:sqs" under
// "eventSource").
const snsEventSource = "aws:sns"

// alarms posts each notification of an SNS event, CloudWatch alarms through
// the alarm topic, to the report channel. SNS invokes asynchronously, so an
// error makes Lambda retry twice and then hand the event to the function's
// on-failure destination; SNS sends one record per invocation, so a retry
// does not repeat a message already posted.
func (h *Handler) alarms(ctx context.Context, raw []byte) (Outcome, error) {
	msgs, err := alarm.Parse(raw)
	if err != nil {
		return Outcome{}, fmt.Errorf("alarm notification: %w", err)
	}
	if !h.canPost() {
		// As with the report, a retry would not find a channel either; the
		// log keeps what the alarm said.
		for _, m := range msgs {
			h.Logger.Error(noChannel, "notification", m.Text)
		}
		return Outcome{Alarms: &AlarmResult{Skipped: contract.EnvReportChannel + " is not set"}}, nil
	}
	res := &AlarmResult{Channel: h.Channel}
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
