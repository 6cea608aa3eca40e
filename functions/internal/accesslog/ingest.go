package accesslog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
)

// Route names a route as the access log does, "<httpMethod> <resourcePath>",
// so the dev server's requests and API Gateway's land on the same key.
func Route(method, resourcePath string) string { return method + " " + resourcePath }

func floorMinute(ms int64) int64 {
	m := ms / 60000
	if ms < 0 && ms%60000 != 0 {
		m--
	}
	return m * 60
}

// IngestStats says what one subscription batch or S3 object held.
type IngestStats struct {
	Batch       string `json:"batch"` // the batch's id, as the store's de-duplication sees it
	MessageType string `json:"messageType,omitempty"`
	LogGroup    string `json:"logGroup,omitempty"`
	Source      string `json:"source,omitempty"` // the latency source the lines belong to
	Events      int    `json:"events"`
	Added       int    `json:"added"`     // lines that went into a sketch
	Malformed   int    `json:"malformed"` // lines that could not be used
	Unrouted    int    `json:"unrouted"`  // the bot's own requests that matched no route, so have no route to count under
	// Of a source's lines: those that tell of no request (START, END, a
	// function's own output), those without a latency field, and those
	// counted under contract.OtherRoute because the source has its
	// maxRoutes routes already (or they matched no route).
	Skipped   int `json:"skipped,omitempty"`
	NoLatency int `json:"noLatency,omitempty"`
	Other     int `json:"other,omitempty"`
	// NoLatencyMinute is the start (unix seconds) of the latest minute
	// with lines without a latency field, when NoLatency > 0.
	NoLatencyMinute int64 `json:"noLatencyMinute,omitempty"`
	// Dropped says the batch came from a log group of no source.
	Dropped bool `json:"dropped,omitempty"`
	Parts   int  `json:"parts"` // route-minutes merged into the store
	// FirstMinute and LastMinute are the earliest and latest minute starts
	// (unix seconds) the batch touched, when Parts > 0: alert rules are
	// checked over the window ending with the last.
	FirstMinute int64 `json:"firstMinute,omitempty"`
	LastMinute  int64 `json:"lastMinute,omitempty"`
}

// maxClockGap is how far a line's requestTimeEpoch may be from the time
// CloudWatch Logs received it. API Gateway writes its access log within
// seconds; a day covers any delay in delivery.
const maxClockGap = 24 * 60 * 60 * 1000

var errTimeOutOfRange = errors.New("requestTimeEpoch is more than a day from when CloudWatch Logs received the line")

// maxLoggedMalformed is how many malformed lines a batch logs: enough to see
// what is wrong, few enough that a broken format cannot flood the log.
const maxLoggedMalformed = 3

// Ingester adds access-log batches to a Store: the bot's own, and those of
// the latency sources it was given (SetSources). It is safe for concurrent
// use; each call borrows its own buffers.
type Ingester struct {
	store  sketchstore.Store
	logger *slog.Logger
	pool   sync.Pool // *batchWork

	ownGroup     string                   // the bot's own access-log group; "" reads every group of no source as it
	sources      map[string]*sourceReader // by name
	groups       map[string]*sourceReader // by subscribed log group
	allFunctions *sourceReader            // the lambda source of every function, if any
	ignored      map[string]bool          // groups never read (Ignore)
}

// NewIngester returns an Ingester that merges into store and logs to logger.
func NewIngester(store sketchstore.Store, logger *slog.Logger) *Ingester {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Ingester{store: store, logger: logger}
}

// batchWork is the reusable state of one batch: decode buffers and the
// per-route-minute sketches being built.
type batchWork struct {
	dec    decoder
	parts  map[sketchstore.Key]*sketchstore.Sketches
	routes map[string]string // interned route names, so a route costs one allocation per container
	key    []byte

	// A source's batch (see sourceBatch).
	sourceRoutes     map[string]map[string]*routeEntry // source -> where each logged route goes
	sourceTemplates  map[string]map[string]*routeEntry // source -> where each templated route goes
	epoch            uint64                            // bumped when parts are merged or moved, so no entry's part is stale
	pending          map[string]bool                   // routes new to this container, for Admit
	pendingOrder     []string                          // the same, in the order they came
	pendingGen       uint64                            // bumped whenever pending is emptied
	shape            gwShape                           // of the last API Gateway line read in place
	lines            lineCounter                       // of the source's batch being read
	text, route, tpl []byte                            // scratch: a decoded line, a route as logged, its template
	carry            []byte                            // an ALB object's line cut between two writes
	alb              albParser
}

func (in *Ingester) work() *batchWork {
	if w, ok := in.pool.Get().(*batchWork); ok {
		return w
	}
	return &batchWork{parts: make(map[sketchstore.Key]*sketchstore.Sketches), routes: make(map[string]string),
		sourceRoutes: make(map[string]map[string]*routeEntry), sourceTemplates: make(map[string]map[string]*routeEntry),
		pending: make(map[string]bool)}
}

// Ingest decodes data, the "data" field of an "awslogs" event (base64 of gzip
// of JSON), and merges its access-log lines into the store. A batch that
// cannot be decoded is an ErrMalformedDelivery error; a line that cannot be
// used is counted and skipped. The store applies a batch at most once per
// route-minute, so a retried delivery does not count twice.
func (in *Ingester) Ingest(ctx context.Context, data []byte) (IngestStats, error) {
	w := in.work()
	defer in.pool.Put(w)
	plain, err := w.dec.decompress(data)
	if err != nil {
		return IngestStats{}, err
	}
	return in.ingestJSON(ctx, w, plain)
}

// ingestJSON is Ingest after base64 and gunzip: b is the batch's JSON.
func (in *Ingester) ingestJSON(ctx context.Context, w *batchWork, b []byte) (IngestStats, error) {
	clear(w.parts)
	env := &w.dec.env
	err := decodeDeliveryOf(b, env, func(typ, group []byte) (bool, inlineFunc, countFunc) { return in.reader(ctx, w, typ, group) })
	if err != nil {
		return IngestStats{}, err
	}
	group := env.logGroup
	src := in.sourceOf(group)
	var stats IngestStats
	switch {
	case src != nil:
		stats, err = in.sourceBatch(ctx, w, src, env)
		if err != nil {
			return stats, err
		}
		if stats.NoLatency > 0 {
			if err := in.store.NoteNoLatency(ctx, src.src.Name, stats.NoLatencyMinute); err != nil {
				return stats, fmt.Errorf("note lines without latency of %s: %w", src.src.Name, err)
			}
		}
		return stats, nil
	case in.isOwn(group):
		stats, err = w.aggregateDelivery(env, in.logger)
	default:
		stats = IngestStats{MessageType: string(env.messageType), LogGroup: string(group), Events: env.size(), Dropped: true}
		if stats.MessageType == DataMessage {
			stats.Batch = batchID(env)
			// A subscription nobody configured, or one left behind by a
			// source since removed: what it sends is not ours to count.
			in.logger.Warn("dropping a batch from a log group that is neither the bot's access log nor a latency source's",
				"logGroup", stats.LogGroup, "events", stats.Events, "batch", stats.Batch)
		}
		return stats, nil
	}
	if err != nil || len(w.parts) == 0 {
		return stats, err
	}
	stats.Parts = len(w.parts)
	for k := range w.parts {
		if stats.FirstMinute == 0 || k.Minute < stats.FirstMinute {
			stats.FirstMinute = k.Minute
		}
		stats.LastMinute = max(stats.LastMinute, k.Minute)
	}
	if err := in.store.Merge(ctx, stats.Batch, w.parts); err != nil {
		return stats, fmt.Errorf("merge batch %s into the sketch store: %w", stats.Batch, err)
	}
	return stats, nil
}

func (w *batchWork) aggregateDelivery(env *delivery, logger *slog.Logger) (IngestStats, error) {
	stats := IngestStats{
		MessageType: string(env.messageType),
		LogGroup:    string(env.logGroup),
		Events:      len(env.events),
	}
	switch stats.MessageType {
	case DataMessage:
	case ControlMessage:
		// CloudWatch Logs checks that the destination is reachable; there
		// is nothing to count.
		return stats, nil
	default:
		return stats, fmt.Errorf("%w: messageType %q, want %s or %s", ErrMalformedDelivery, stats.MessageType, DataMessage, ControlMessage)
	}
	stats.Batch = batchID(env)

	var (
		last       *sketchstore.Sketches
		lastMethod []byte
		lastPath   []byte
		lastMinute int64 = -1
	)
	if len(w.routes) > 1000 {
		// API Gateway's resource paths are templates, so routes are few;
		// this only guards a container against a log of invented ones.
		clear(w.routes)
	}
	for i := range env.events {
		ev := &env.events[i]
		rec, err := ev.line()
		ms := rec.RequestTime
		if err == nil && ms == 0 {
			ms = ev.timestamp
		}
		if err == nil && (ms < ev.timestamp-maxClockGap || ms > ev.timestamp+maxClockGap) {
			// Each distinct minute is a write to the store; a line claiming
			// some other day would cost one and help no report.
			err = errTimeOutOfRange
		}
		if err != nil {
			if err == errUnrouted {
				stats.Unrouted++
				continue
			}
			stats.Malformed++
			if stats.Malformed <= maxLoggedMalformed {
				logger.Warn("skipping a malformed access-log line",
					"reason", err.Error(), "batch", stats.Batch, "eventId", string(ev.id),
					"line", truncate(ev.message, 200))
			}
			continue
		}
		minute := floorMinute(ms)
		if last == nil || minute != lastMinute || !bytes.Equal(rec.Method, lastMethod) || !bytes.Equal(rec.Path, lastPath) {
			w.key = append(append(append(w.key[:0], rec.Method...), ' '), rec.Path...)
			route, ok := w.routes[string(w.key)]
			if !ok {
				route = string(w.key)
				w.routes[route] = route
			}
			k := sketchstore.Key{Source: contract.DefaultSource, Route: route, Minute: minute}
			last = w.parts[k]
			if last == nil {
				last = sketchstore.NewSketches()
				w.parts[k] = last
			}
			lastMethod, lastPath, lastMinute = rec.Method, rec.Path, minute
		}
		// Values were checked to be finite, non-negative and below
		// maxLatencyMillis, which the sketch takes without error.
		if rec.Response >= 0 {
			_ = last.Response.Add(rec.Response)
		}
		if rec.Integration >= 0 {
			_ = last.Integration.Add(rec.Integration)
		}
		last.CountStatus(rec.Status)
		stats.Added++
	}
	if stats.Malformed > 0 {
		logger.Warn("access-log lines skipped", "batch", stats.Batch, "malformed", stats.Malformed, "of", stats.Events)
	}
	return stats, nil
}

// batchID names a batch by where it came from and its first and last event
// ids. CloudWatch Logs event ids are unique, and a retried delivery carries the
// same events in the same order, so a retry gets the same id and a different
// batch never does. Hashing every id would say the same at a cost per record.
func batchID(env *delivery) string {
	h := sha256.New()
	var n [8]byte
	write := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	write(env.owner)
	write(env.logGroup)
	write(env.logStream)
	binary.BigEndian.PutUint64(n[:], uint64(env.size()))
	h.Write(n[:])
	if env.size() > 0 {
		first, last := env.ends()
		write(first)
		write(last)
	}
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
