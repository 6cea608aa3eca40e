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
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
)

// Handler is the percentiles function: CloudWatch Logs subscription events
// are ingested, EventBridge schedules post a report. It holds no Lambda
// types, so tests call Handle directly.
type Handler struct {
	Ingester *Ingester
	Reporter *Reporter
	Poster   notify.Poster
	Channel  string        // where scheduled reports go; empty means nowhere, with an error in the log
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
}

// ReportResult says where a scheduled report went, or why it did not.
type ReportResult struct {
	Channel string `json:"channel,omitempty"`
	TS      string `json:"ts,omitempty"`
	Skipped string `json:"skipped,omitempty"`
}

// ErrUnknownEvent is an invocation that is neither a log subscription nor a
// schedule: a wiring mistake, so it fails loudly.
var ErrUnknownEvent = errors.New("unknown event: want a CloudWatch Logs subscription event (\"awslogs\") or an EventBridge scheduled event")

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
