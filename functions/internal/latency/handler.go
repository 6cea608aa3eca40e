package latency

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
	"github.com/lambda-slackbot/slackbot/functions/internal/alarm"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
)

// Handler is the percentiles function: CloudWatch Logs subscription events
// are ingested, EventBridge schedules post a report, and CloudWatch alarm
// notifications from SNS are posted as they come. It holds no Lambda types,
// so tests call Handle directly.
type Handler struct {
	Ingester *Ingester
	Reporter *Reporter
	Poster   notify.Poster
	Channel  string        // where scheduled reports and alarms go; empty means nowhere, with an error in the log
	Window   time.Duration // a scheduled report's window
	Logger   *slog.Logger
}

// NewHandler wires a Handler around store.
func NewHandler(store Store, poster notify.Poster, channel string, window time.Duration, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{
		Ingester: NewIngester(store, logger),
		Reporter: NewReporter(store, time.Now),
		Poster:   poster,
		Channel:  channel,
		Window:   window,
		Logger:   logger,
	}
}

// Outcome is what an invocation did; Lambda logs it as the result.
type Outcome struct {
	Ingested *IngestStats  `json:"ingested,omitempty"`
	Reported *ReportResult `json:"reported,omitempty"`
	Alarms   *AlarmResult  `json:"alarms,omitempty"`
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
}

// ErrUnknownEvent is an invocation that is neither a log subscription, a
// schedule nor an SNS notification: a wiring mistake, so it fails loudly.
var ErrUnknownEvent = errors.New("unknown event: want a CloudWatch Logs subscription event (\"awslogs\"), an EventBridge scheduled event, or an SNS notification (\"EventSource\":\"aws:sns\", e.g. a CloudWatch alarm)")

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
	case probe.DetailType == "Scheduled Event" || probe.Source == "aws.events" || probe.Source == "aws.scheduler":
		at, err := time.Parse(time.RFC3339, probe.Time)
		if err != nil {
			// EventBridge always sends a time; a hand-made test event may
			// not, and "now" is what it means.
			at = h.Reporter.now()
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
	h.Logger.Info("ingested access logs", "batch", stats.Batch, "messageType", stats.MessageType,
		"events", stats.Events, "added", stats.Added, "malformed", stats.Malformed, "unrouted", stats.Unrouted, "routeMinutes", stats.Parts)
	return Outcome{Ingested: &stats}, nil
}

func (h *Handler) report(ctx context.Context, at time.Time) (Outcome, error) {
	if h.Channel == "" {
		// Failing would only make Lambda retry a report that cannot go
		// anywhere; the log says what to change.
		h.Logger.Error("no channel for the scheduled latency report: set the stack's reportChannel config (it becomes " +
			contract.EnvReportChannel + "), e.g. pulumi config set reportChannel '#ops', then pulumi up")
		return Outcome{Reported: &ReportResult{Skipped: contract.EnvReportChannel + " is not set"}}, nil
	}
	msg, err := h.Reporter.ReportEnding(ctx, at, h.Window, "")
	if err != nil {
		return Outcome{}, fmt.Errorf("scheduled latency report: %w", err)
	}
	msg.Channel = h.Channel
	posted, err := h.Poster.Post(ctx, msg)
	if err != nil {
		return Outcome{}, fmt.Errorf("post the scheduled latency report to %s: %w", h.Channel, err)
	}
	h.Logger.Info("posted latency report", "channel", h.Channel, "window", FormatWindow(h.Window), "ts", posted.TS)
	return Outcome{Reported: &ReportResult{Channel: posted.ChannelID, TS: posted.TS}}, nil
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
	if h.Channel == "" {
		// As with the report, a retry would not find a channel either; the
		// log keeps what the alarm said.
		for _, m := range msgs {
			h.Logger.Error("no channel for an alarm notification: set the stack's reportChannel config (it becomes "+
				contract.EnvReportChannel+"), e.g. pulumi config set reportChannel '#ops', then pulumi up", "notification", m.Text)
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
