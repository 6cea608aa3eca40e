package accesslog

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lambda-slackbot/slackbot/contract"
)

// accessLine is one access-log line exactly as API Gateway writes it with
// contract.AccessLogFormat: every value quoted.
func accessLine(requestID string, epochMs int64, method, path, status, resp, integ string) string {
	return strings.NewReplacer(
		"$context.requestId", requestID,
		"$context.requestTimeEpoch", strconv.FormatInt(epochMs, 10),
		"$context.httpMethod", method,
		"$context.resourcePath", path,
		"$context.status", status,
		"$context.responseLatency", resp,
		"$context.integrationLatency", integ,
	).Replace(contract.AccessLogFormat)
}

// request is one request in a generated batch.
type request struct {
	method, path string
	at           time.Time
	resp, integ  int // ms; negative writes "-"
}

func (r request) line(id int) string {
	ms := func(v int) string {
		if v < 0 {
			return "-"
		}
		return strconv.Itoa(v)
	}
	return accessLine(fmt.Sprintf("%08x-7b61-11e6-9a41-%012x", id, id*7919), r.at.UnixMilli(), r.method, r.path, "200", ms(r.resp), ms(r.integ))
}

// cwEventID is a CloudWatch Logs event id: 56 decimal digits, built from the
// time and a sequence as the real ones are, so consecutive ids share a long
// prefix (which matters to how well a batch compresses).
func cwEventID(at time.Time, seq int) string {
	return fmt.Sprintf("%022d%010d%024d", at.UnixMilli()*1000, 1234567890, seq)
}

// batchOf builds the decompressed JSON of a subscription batch from the
// bot's own access-log group.
func batchOf(t testing.TB, messageType string, messages []string, at time.Time) []byte {
	t.Helper()
	return subscriptionBatch(t, ownGroup, messageType, messages, at)
}

// subscriptionBatch builds the decompressed JSON of a subscription batch
// from group.
func subscriptionBatch(t testing.TB, group, messageType string, messages []string, at time.Time) []byte {
	t.Helper()
	d := events.CloudwatchLogsData{
		Owner:               "123456789012",
		LogGroup:            group,
		LogStream:           "6b1f0e6b5f3e4c0e8a3c9d2f7e1a4b5c",
		SubscriptionFilters: []string{"slackbot-percentiles"},
		MessageType:         messageType,
		LogEvents:           []events.CloudwatchLogsLogEvent{},
	}
	for i, m := range messages {
		d.LogEvents = append(d.LogEvents, events.CloudwatchLogsLogEvent{ID: cwEventID(at, i), Timestamp: at.UnixMilli() + int64(i), Message: m})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// CloudWatch Logs does not escape <, > and & as Go does by default.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b.Bytes())
}

// compress is what CloudWatch Logs does to a batch: gzip, then base64.
func compress(t testing.TB, plain []byte) []byte {
	t.Helper()
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return []byte(base64.StdEncoding.EncodeToString(z.Bytes()))
}

// awslogsEvent is the Lambda event of a subscription delivery.
func awslogsEvent(data []byte) json.RawMessage {
	b, err := json.Marshal(events.CloudwatchLogsEvent{AWSLogs: events.CloudwatchLogsRawData{Data: string(data)}})
	if err != nil {
		panic(err)
	}
	return b
}

// realisticBatch is a subscription batch of about size bytes (decompressed)
// of access-log lines for the bot's two routes, latencies lognormal around
// 40 ms, starting at start and 20 ms apart; it returns the number of lines.
func realisticBatch(t testing.TB, size int, start time.Time, seed uint64) ([]byte, int) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	var msgs []string
	total := 0
	for total < size {
		path := contract.EventsPath
		if r.IntN(4) == 0 {
			path = contract.CommandsPath
		}
		integ := int(lognormal(r, 35, 0.6))
		req := request{method: "POST", path: path, at: start.Add(time.Duration(len(msgs)) * 20 * time.Millisecond), resp: integ + 3 + r.IntN(8), integ: integ}
		m := req.line(len(msgs))
		msgs = append(msgs, m)
		total += len(m) + 110 // the event's id, timestamp and quoting
	}
	return batchOf(t, DataMessage, msgs, start), len(msgs)
}

func lognormal(r *rand.Rand, median, sigma float64) float64 {
	return median * expNorm(r, sigma)
}

func expNorm(r *rand.Rand, sigma float64) float64 {
	return math.Exp(r.NormFloat64() * sigma)
}

// decodeDelivery parses the JSON of a subscription batch into e, as
// decoder.decode does after gunzip. The common
// shape goes through a hand-written scanner; whatever it does not handle is
// decoded by encoding/json into events.CloudwatchLogsData, so the two agree
// on every input (FuzzDecodeDelivery holds them to that).
func decodeDelivery(b []byte, e *delivery) error {
	return decodeDeliveryOf(b, e, nil)
}

// aggregate decodes a batch of the bot's own access log into w.parts, one
// sketch pair per route-minute.
func (w *batchWork) aggregate(data []byte, logger *slog.Logger) (IngestStats, error) {
	clear(w.parts)
	env, err := w.dec.decode(data, nil)
	if err != nil {
		return IngestStats{}, err
	}
	return w.aggregateDelivery(env, logger)
}

// inline is inlineShaped without a shape: each line read on its own.
func (g *gatewayFormat) inline(b []byte, ev *logEvent) (int, bool) {
	return g.inlineShaped(b, ev, nil)
}
