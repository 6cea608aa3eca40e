package accesslog

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
)

// sourceReader is a latency source as the ingest reads it.
type sourceReader struct {
	src     contract.LatencySource
	limit   int
	gateway *gatewayFormat    // apigateway
	tmpl    *templater        // alb
	fns     map[string]string // lambda: log group -> the function whose REPORT lines it holds
}

// admittedRoutes is what this container knows a source's routes to be. It
// is replaced, never changed, so a batch may read it without the lock.
type admittedRoutes struct {
	routes map[string]bool
}

// SetSources makes the ingester read the latency sources' log groups, and
// take only ownGroup as the bot's own access log: a batch from any other
// group is dropped. With ownGroup "", every group that is no source's is
// the bot's own, as before there were sources. Call it before the first
// Ingest.
func (in *Ingester) SetSources(ownGroup string, sources []contract.LatencySource) {
	in.ownGroup = ownGroup
	in.sources = make(map[string]*sourceReader, len(sources))
	in.groups = make(map[string]*sourceReader)
	for _, s := range sources {
		r := &sourceReader{src: s, limit: s.RouteLimit()}
		switch s.Kind {
		case contract.SourceAPIGateway:
			r.gateway = newGatewayFormat(s.Fields)
		case contract.SourceALB:
			r.tmpl = newTemplater(s.Routes)
		case contract.SourceLambda:
			r.fns = map[string]string{}
			groups := s.FunctionLogGroups()
			for i, g := range groups {
				// A function's own group names it. Groups given in
				// logGroups pair with the functions in order when there are
				// as many; otherwise a group is named by its last segment.
				fn := path.Base(g)
				if strings.HasPrefix(g, "/aws/lambda/") && len(s.LogGroups) == 0 {
					fn = strings.TrimPrefix(g, "/aws/lambda/")
				} else if len(s.LogGroups) == len(s.Functions) {
					fn = s.Functions[i]
				}
				r.fns[g] = fn
			}
		}
		in.sources[s.Name] = r
		for _, g := range s.SubscribedLogGroups() {
			in.groups[g] = r
		}
	}
}

// isOwn says whether a log group is the bot's own access log.
func (in *Ingester) isOwn(group []byte) bool {
	if in.ownGroup != "" {
		return string(group) == in.ownGroup
	}
	return in.groups[string(group)] == nil
}

func (in *Ingester) known(source string) *admittedRoutes {
	in.mu.Lock()
	defer in.mu.Unlock()
	if a := in.admitted[source]; a != nil {
		return a
	}
	return &admittedRoutes{}
}

// sourceBatch adds a source's subscription batch to w.parts.
func (in *Ingester) sourceBatch(ctx context.Context, w *batchWork, r *sourceReader, env *delivery) (IngestStats, error) {
	stats := IngestStats{
		MessageType: string(env.messageType),
		LogGroup:    string(env.logGroup),
		Source:      r.src.Name,
		Events:      len(env.events),
	}
	switch stats.MessageType {
	case DataMessage:
	case ControlMessage:
		return stats, nil
	default:
		return stats, fmt.Errorf("%w: messageType %q, want %s or %s", ErrMalformedDelivery, stats.MessageType, DataMessage, ControlMessage)
	}
	stats.Batch = batchID(env)
	a := newAdder(w, r, in.known(r.src.Name), &stats)
	var fn, fnInit string
	if r.fns != nil {
		fn = r.fns[stats.LogGroup]
		fnInit = fn + " init"
	}
	for i := range env.events {
		ev := &env.events[i]
		var (
			h   hit
			err error
		)
		switch r.src.Kind {
		case contract.SourceAPIGateway:
			h, err = r.gateway.parse(ev.message, ev.escaped, &w.text, &w.route)
		case contract.SourceLambda:
			h, err = parseReport(ev.message, ev.escaped, &w.text)
		default:
			err = errNotARequest // an alb source has no log group
		}
		if err == nil && h.ms == 0 {
			h.ms = ev.timestamp
		}
		if err == nil && (h.ms < ev.timestamp-maxClockGap || h.ms > ev.timestamp+maxClockGap) {
			err = errTimeOutOfRange
		}
		if err != nil {
			a.reject(err, ev.timestamp, ev.message, in)
			continue
		}
		if fn != "" {
			a.addTo(fn, h.ms, h.latency, h.status)
			if h.init >= 0 {
				a.addTo(fnInit, h.ms, h.init, 200)
			}
			continue
		}
		a.add(h)
	}
	a.done(in)
	return stats, nil
}

// adder puts a source's hits into w.parts, each under its route: the route
// as logged (templated for alb), or contract.OtherRoute once the source
// has as many routes as it may keep.
type adder struct {
	w      *batchWork
	r      *sourceReader
	known  *admittedRoutes
	stats  *IngestStats
	routes map[string]string // logged route -> route, for this source
	room   int               // how many routes this container may still take as pending

	last       *sketchstore.Sketches
	lastRoute  string
	lastMinute int64
}

// maxRouteCache bounds the logged routes remembered per source: raw ALB
// paths are unbounded, their templates are not.
const maxRouteCache = 4096

func newAdder(w *batchWork, r *sourceReader, known *admittedRoutes, stats *IngestStats) *adder {
	routes := w.sourceRoutes[r.src.Name]
	if routes == nil || len(routes) > maxRouteCache {
		routes = make(map[string]string)
		w.sourceRoutes[r.src.Name] = routes
	}
	clear(w.pending)
	return &adder{w: w, r: r, known: known, stats: stats, routes: routes, room: r.limit - len(known.routes), lastMinute: -1}
}

// add counts a hit under its route.
func (a *adder) add(h hit) {
	route, ok := a.routes[string(h.route)]
	if !ok {
		switch {
		case len(h.route) == 0:
			route = contract.OtherRoute
		case a.r.tmpl != nil:
			a.w.tpl = a.r.tmpl.route(a.w.tpl, h.route)
			route = string(a.w.tpl)
		default:
			route = string(h.route)
		}
		route = strings.ToValidUTF8(route, "\uFFFD")
		a.routes[string(h.route)] = route
	}
	a.addTo(route, h.ms, h.latency, h.status)
}

// addTo counts one request of route at ms.
func (a *adder) addTo(route string, ms int64, latency float64, status int) {
	minute := floorMinute(ms)
	if a.last == nil || minute != a.lastMinute || route != a.lastRoute {
		a.lastRoute, a.lastMinute = route, minute
		if route != contract.OtherRoute && !a.known.routes[route] && !a.w.pending[route] {
			// Only limit routes can be admitted in all, and those the
			// container knows already hold their places: any new route
			// beyond the room left goes under (other) at once, so a batch
			// of invented paths costs no more than one of real ones.
			if len(a.w.pending) < a.room {
				a.w.pending[route] = true
			} else {
				route = contract.OtherRoute
			}
		}
		k := sketchstore.Key{Source: a.r.src.Name, Route: route, Minute: minute}
		a.last = a.w.parts[k]
		if a.last == nil {
			a.last = sketchstore.NewSketches()
			a.w.parts[k] = a.last
		}
	}
	a.count(a.last, latency, status)
}

func (a *adder) count(s *sketchstore.Sketches, latency float64, status int) {
	if latency >= 0 {
		// Parsers checked it is finite, non-negative and below
		// maxLatencyMillis, which the sketch takes without error.
		_ = s.Response.Add(latency)
	}
	s.CountStatus(status)
	a.stats.Added++
}

// reject counts a line that is no hit.
func (a *adder) reject(err error, eventMs int64, line []byte, in *Ingester) {
	switch err {
	case errNotARequest:
		a.stats.Skipped++
	case errLacksLatency:
		a.stats.NoLatency++
		a.stats.NoLatencyMinute = max(a.stats.NoLatencyMinute, floorMinute(eventMs))
	default:
		a.stats.Malformed++
		if a.stats.Malformed <= maxLoggedMalformed {
			in.logger.Warn("skipping a malformed line", "source", a.r.src.Name, "reason", err.Error(),
				"batch", a.stats.Batch, "line", truncate(line, 200))
		}
	}
}

func (a *adder) done(in *Ingester) {
	if a.stats.Malformed > 0 {
		in.logger.Warn("lines skipped", "source", a.r.src.Name, "batch", a.stats.Batch, "malformed", a.stats.Malformed, "of", a.stats.Events)
	}
}

// flush asks the store to admit the batch's new routes, moves what it did
// not admit under contract.OtherRoute, and merges the parts as batch.
func (in *Ingester) flush(ctx context.Context, w *batchWork, r *sourceReader, stats *IngestStats, batch string) error {
	if len(w.pending) > 0 {
		pending := make([]string, 0, len(w.pending))
		for route := range w.pending {
			pending = append(pending, route)
		}
		admitted, err := in.store.Admit(ctx, r.src.Name, pending, r.limit)
		if err != nil {
			return fmt.Errorf("admit the routes of %s: %w", r.src.Name, err)
		}
		in.learn(r.src.Name, admitted)
		ok := make(map[string]bool, len(admitted))
		for _, route := range admitted {
			ok[route] = true
		}
		for k, p := range w.parts {
			if !w.pending[k.Route] || ok[k.Route] {
				continue
			}
			delete(w.parts, k)
			o := sketchstore.Key{Source: k.Source, Route: contract.OtherRoute, Minute: k.Minute}
			if q := w.parts[o]; q != nil {
				if err := q.Merge(p); err != nil {
					return fmt.Errorf("count %s under %s: %w", k.Route, contract.OtherRoute, err)
				}
			} else {
				w.parts[o] = p
			}
		}
		clear(w.pending)
	}
	if len(w.parts) == 0 {
		return nil
	}
	stats.Parts += len(w.parts)
	for k, p := range w.parts {
		if k.Route == contract.OtherRoute {
			stats.Other += int(p.Requests)
		}
		if stats.FirstMinute == 0 || k.Minute < stats.FirstMinute {
			stats.FirstMinute = k.Minute
		}
		stats.LastMinute = max(stats.LastMinute, k.Minute)
	}
	if err := in.store.Merge(ctx, batch, w.parts); err != nil {
		return fmt.Errorf("merge batch %s of %s into the sketch store: %w", batch, r.src.Name, err)
	}
	clear(w.parts)
	return nil
}

// learn records routes the store admitted for source.
func (in *Ingester) learn(source string, routes []string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.admitted == nil {
		in.admitted = map[string]*admittedRoutes{}
	}
	old := in.admitted[source]
	next := &admittedRoutes{routes: map[string]bool{}}
	if old != nil {
		for r := range old.routes {
			next.routes[r] = true
		}
	}
	for _, r := range routes {
		if r != contract.OtherRoute {
			next.routes[r] = true
		}
	}
	in.admitted[source] = next
}

// ErrUnknownSource is an object for a source the ingester was not given.
var ErrUnknownSource = errors.New("no such alb latency source")

// maxObjectParts is how many route-minutes an object gathers before they are
// merged into the store: an ALB file spans five minutes, so this is only
// reached by a file of lines from far apart, whose memory it bounds.
const maxObjectParts = 4096

// maxALBLine bounds a line of an ALB log; a longer one is skipped.
const maxALBLine = 64 << 10

var errLongLine = errors.New("line longer than 64 KiB")

// IngestALB reads one gzip ALB access-log object of the named alb source
// from r, as a stream, and merges its lines into the store. object names
// it for the store's de-duplication (bucket, key and version): merged as
// batches object#0, object#1, …, so a retry of a failed object counts each
// route-minute once. Memory does not grow with the object's size.
func (in *Ingester) IngestALB(ctx context.Context, source string, r io.Reader, object string) (IngestStats, error) {
	src := in.sources[source]
	if src == nil || src.tmpl == nil {
		return IngestStats{}, fmt.Errorf("%w: %q", ErrUnknownSource, source)
	}
	w := in.work()
	defer in.pool.Put(w)
	clear(w.parts)
	stats := IngestStats{Batch: object, Source: source}
	zr, err := w.dec.gunzip(r)
	if err != nil {
		return stats, fmt.Errorf("%s: not gzip: %w", object, err)
	}
	br := w.dec.lines(zr)
	a := newAdder(w, src, in.known(source), &stats)
	flushes := 0
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			stats.Events++
			a.reject(errLongLine, 0, line, in)
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			continue
		}
		if len(line) > 0 {
			line = bytes.TrimSuffix(line, []byte("\n"))
			stats.Events++
			if h, perr := w.alb.parse(line, &w.route); perr != nil {
				a.reject(perr, 0, line, in)
			} else {
				a.add(h)
			}
			if len(w.parts) >= maxObjectParts {
				if ferr := in.flush(ctx, w, src, &stats, fmt.Sprintf("%s#%d", object, flushes)); ferr != nil {
					return stats, ferr
				}
				flushes++
				a = newAdder(w, src, in.known(source), &stats)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return stats, fmt.Errorf("read %s: %w", object, err)
		}
	}
	a.done(in)
	if err := in.flush(ctx, w, src, &stats, fmt.Sprintf("%s#%d", object, flushes)); err != nil {
		return stats, err
	}
	return stats, nil
}

// gunzip returns d's gzip reader reset to r.
func (d *decoder) gunzip(r io.Reader) (io.Reader, error) {
	var err error
	if d.gz == nil {
		d.gz, err = gzip.NewReader(r)
	} else {
		err = d.gz.Reset(r)
	}
	return d.gz, err
}

// lines returns d's line reader reset to r.
func (d *decoder) lines(r io.Reader) *bufio.Reader {
	if d.br == nil {
		d.br = bufio.NewReaderSize(r, maxALBLine)
	} else {
		d.br.Reset(r)
	}
	return d.br
}
