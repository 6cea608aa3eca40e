package accesslog

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"unicode/utf8"

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
	all     bool              // lambda: every function's group, each named by its last segment

	// What this container learnt from the store's Admit: a route once
	// admitted stays admitted, and one refused was refused because the
	// source was full, which it stays.
	mu       sync.Mutex
	admitted map[string]bool
	rejected map[string]bool
}

// maxRejected bounds the refused routes a container remembers per source;
// forgetting them only means asking the store again.
const maxRejected = 1 << 16

// SetSources makes the ingester read the latency sources' log groups, and
// take only ownGroup as the bot's own access log: a batch from any other
// group is dropped. With ownGroup "", every group that is no source's is
// the bot's own, as before there were sources. Call it before the first
// Ingest.
func (in *Ingester) SetSources(ownGroup string, sources []contract.LatencySource) {
	in.ownGroup = ownGroup
	in.sources = make(map[string]*sourceReader, len(sources))
	in.groups = make(map[string]*sourceReader)
	in.allFunctions = nil
	for _, s := range sources {
		r := &sourceReader{src: s, limit: s.RouteLimit(), admitted: map[string]bool{}, rejected: map[string]bool{}}
		switch s.Kind {
		case contract.SourceAPIGateway:
			r.gateway = newGatewayFormat(s.Fields)
		case contract.SourceALB:
			r.tmpl = newTemplater(s.Routes)
		case contract.SourceLambda:
			r.fns = map[string]string{}
			if s.ReadsAllFunctions() {
				r.all, in.allFunctions = true, r
			}
			for i, g := range s.FunctionLogGroups() {
				// A function's own group names it. Groups given in
				// logGroups pair with the functions in order when there are
				// as many; otherwise a group is named by its last segment.
				fn := path.Base(g)
				if len(s.LogGroups) == 0 || len(s.LogGroups) == len(s.Functions) {
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

// Ignore makes the ingester drop every batch of group, whatever the
// sources say: the percentiles function's own log group, whose REPORT lines
// would otherwise invoke it again for each batch it reads.
func (in *Ingester) Ignore(group string) {
	if in.ignored == nil {
		in.ignored = map[string]bool{}
	}
	in.ignored[group] = true
}

// sourceOf is the source whose batches come from group: the one that names
// it, else, for a function's group, the source of every function; nil for
// none.
func (in *Ingester) sourceOf(group []byte) *sourceReader {
	if in.ignored[string(group)] {
		return nil
	}
	if r := in.groups[string(group)]; r != nil {
		return r
	}
	if in.allFunctions != nil && len(group) > len(contract.FunctionLogPrefix) &&
		string(group[:len(contract.FunctionLogPrefix)]) == contract.FunctionLogPrefix {
		return in.allFunctions
	}
	return nil
}

// function names the function whose log group is group, for a lambda
// source.
func (r *sourceReader) function(group string) string {
	if fn, ok := r.fns[group]; ok || !r.all {
		return fn
	}
	return strings.TrimPrefix(group, contract.FunctionLogPrefix)
}

// reader says how a batch's messages are read (see reader): the bot's own
// as they are scanned, a source's where they lie, in place when its parser
// can, and then counted as they are read when the batch is data.
func (in *Ingester) reader(ctx context.Context, w *batchWork, typ, group []byte) (bool, inlineFunc, countFunc) {
	r := in.sourceOf(group)
	if r == nil {
		return !in.isOwn(group), nil, nil
	}
	var inline inlineFunc
	switch {
	case r.gateway != nil:
		inline = func(b []byte, ev *logEvent) (int, bool) { return r.gateway.inlineShaped(b, ev, &w.shape) }
	case r.fns != nil:
		inline = reportInline
	default:
		return true, nil, nil
	}
	if string(typ) != DataMessage {
		return true, inline, nil
	}
	w.lines.start(ctx, in, w, r, string(group))
	return true, inline, w.lines.countInline
}

// isOwn says whether a log group is the bot's own access log.
func (in *Ingester) isOwn(group []byte) bool {
	if in.ownGroup != "" {
		return string(group) == in.ownGroup
	}
	return in.sourceOf(group) == nil && !in.ignored[string(group)]
}

// sourceBatch adds a source's subscription batch to w.parts and merges
// them into the store.
func (in *Ingester) sourceBatch(ctx context.Context, w *batchWork, r *sourceReader, env *delivery) (IngestStats, error) {
	c := &w.lines
	if env.counted == 0 {
		// Nothing was counted as the batch was scanned, or what was is
		// void (see countFunc).
		c.start(ctx, in, w, r, string(env.logGroup))
	}
	stats := &c.stats
	stats.MessageType, stats.LogGroup, stats.Source, stats.Events = string(env.messageType), string(env.logGroup), r.src.Name, env.size()
	switch stats.MessageType {
	case DataMessage:
	case ControlMessage:
		return *stats, nil
	default:
		return *stats, fmt.Errorf("%w: messageType %q, want %s or %s", ErrMalformedDelivery, stats.MessageType, DataMessage, ControlMessage)
	}
	stats.Batch = batchID(env)
	c.a.named()
	for i := range env.events {
		ev := &env.events[i]
		var (
			h   hit
			err error
		)
		switch {
		case ev.inline:
			h, err = ev.h, ev.err
		case r.src.Kind == contract.SourceAPIGateway:
			h, err = r.gateway.parse(ev.message, ev.escaped, &w.text)
		case r.src.Kind == contract.SourceLambda:
			h, err = parseReport(ev.message, ev.escaped, &w.text)
		default:
			err = errNotARequest // an alb source has no log group
		}
		c.count(ev.timestamp, ev.message, h, err)
	}
	return *stats, c.a.flush(stats.Batch)
}

// lineCounter counts the lines of a source's subscription batch, as the
// batch is scanned (countInline) or after (sourceBatch).
type lineCounter struct {
	a          *adder
	stats      IngestStats
	fn, fnInit []byte // lambda: the routes of the function and of its cold starts
}

// start readies c for a batch of r's from group.
func (c *lineCounter) start(ctx context.Context, in *Ingester, w *batchWork, r *sourceReader, group string) {
	clear(w.parts)
	c.stats = IngestStats{}
	c.a = in.newAdder(ctx, w, r, &c.stats)
	c.fn, c.fnInit = nil, nil
	if r.fns != nil {
		fn := r.function(group)
		c.fn, c.fnInit = []byte(fn), []byte(fn+" init")
	}
}

// countInline counts a line as the batch is scanned (see countFunc), until
// as many new routes wait for the store as it is asked about at once: the
// store is asked once the batch was read whole (see adder.named), so a
// batch encoding/json must read again has changed nothing but w.
func (c *lineCounter) countInline(timestamp int64, message []byte, h hit, err error) bool {
	if len(c.a.w.pending) >= resolveEvery {
		return false
	}
	c.count(timestamp, message, h, err)
	return true
}

// count counts one line: its hit h, or err.
func (c *lineCounter) count(timestamp int64, message []byte, h hit, err error) {
	if err == nil && h.ms == 0 {
		h.ms = timestamp
	}
	if err == nil && (h.ms < timestamp-maxClockGap || h.ms > timestamp+maxClockGap) {
		err = errTimeOutOfRange
	}
	if err != nil {
		c.a.reject(err, timestamp, message)
		return
	}
	if c.fn != nil {
		h.route = c.fn
		if h.init >= 0 {
			c.a.add(hit{route: c.fnInit, ms: h.ms, latency: h.init, status: 200})
		}
	}
	c.a.add(h)
}

// Where a route's requests go.
const (
	routePending  = iota // not yet asked of the store: under the route, for now
	routeAdmitted        // under the route
	routeRejected        // under contract.OtherRoute
)

type routeEntry struct {
	route string // as stored: templated, interned
	state int
	// sk is the route's part of minute, valid while epoch is the batch
	// work's: a line of a route seen lately costs no lookup of its part.
	sk     *sketchstore.Sketches
	minute int64
	epoch  uint64
	gen    uint64 // of the pending routes, for a pending entry
}

// adder puts a source's hits into w.parts, each under its route: the route
// as logged (templated for alb), or contract.OtherRoute for a request of no
// route and for the routes of a source that has as many as it may keep.
// New routes are asked of the store (Admit) a few at a time, so a spray of
// invented paths holds no more than resolveEvery of them at once.
type adder struct {
	ctx   context.Context
	in    *Ingester
	w     *batchWork
	r     *sourceReader
	stats *IngestStats
	cache map[string]*routeEntry // logged route -> where it goes
	// templates finds the entry of a logged route that templating
	// changed when it is not in cache: one of many (ids in its path).
	templates map[string]*routeEntry
	err       error // the first failed Admit; the batch fails with it
	// A subscription batch's lines counted as it is scanned come before
	// its id (stats.Batch) is known: until then (named) the store is not
	// asked about new routes, and malformed lines wait to be logged.
	unnamed  bool
	unlogged [][2]string // reason, line
	// memo, when set, is asked before cache (ALB).
	memo *routeMemo
}

// routeMemo holds cache's entries of the routes seen lately, each in the
// slot its bytes hash to, with the bytes beside it: an ALB object's ids
// keep cache thousands of routes large, so a lookup of it misses the CPU's
// caches while most lines repeat a few routes. A slot holds what cache
// holds for its route: add updates both, and empties the memo with cache.
type routeMemo [memoSlots]memoSlot

const (
	memoSlots = 256
	memoKey   = 47 // the longest route memoized; a slot is 64 bytes
)

type memoSlot struct {
	n   uint8
	key [memoKey]byte
	e   *routeEntry // nil: empty
}

// slot is route's slot, or nil for a route too short or long to keep.
func (m *routeMemo) slot(route []byte) *memoSlot {
	if len(route) < 8 || len(route) > memoKey {
		return nil
	}
	// The route's ends: ids, which tell routes apart, are mostly at the end.
	x := binary.LittleEndian.Uint64(route)*0x9E3779B97F4A7C15 ^ binary.LittleEndian.Uint64(route[len(route)-8:]) ^ uint64(len(route))
	return &m[(x*0xC2B2AE3D27D4EB4F)>>(64-8)]
}

// maxRouteCache bounds the logged routes remembered per source: raw ALB
// paths are unbounded, their templates are not.
const maxRouteCache = 4096

// resolveEvery is how many new routes wait for the store's answer.
const resolveEvery = 256

func (in *Ingester) newAdder(ctx context.Context, w *batchWork, r *sourceReader, stats *IngestStats) *adder {
	cache, templates := w.sourceRoutes[r.src.Name], w.sourceTemplates[r.src.Name]
	if cache == nil || len(cache) > maxRouteCache || len(templates) > maxRouteCache {
		cache, templates = make(map[string]*routeEntry), make(map[string]*routeEntry)
		w.sourceRoutes[r.src.Name], w.sourceTemplates[r.src.Name] = cache, templates
	}
	clear(w.pending)
	w.pendingOrder = w.pendingOrder[:0]
	w.pendingGen++
	w.epoch++
	return &adder{ctx: ctx, in: in, w: w, r: r, stats: stats, cache: cache, templates: templates, unnamed: stats.Batch == ""}
}

// named says stats.Batch is set: the malformed lines counted before are
// logged, and the store is asked about new routes, as add would have.
func (a *adder) named() {
	a.unnamed = false
	for _, l := range a.unlogged {
		a.logMalformed(l[0], l[1])
	}
	a.unlogged = a.unlogged[:0]
	if len(a.w.pending) >= resolveEvery {
		a.resolve()
	}
}

func (a *adder) logMalformed(reason, line string) {
	a.in.logger.Warn("skipping a malformed line", "source", a.r.src.Name, "reason", reason,
		"batch", a.stats.Batch, "line", line)
}

// stale says an entry waits for an answer that came while it was cached.
func (a *adder) stale(e *routeEntry) bool {
	// resolve answers every pending entry it can reach; one pending since
	// an earlier set of pending routes was dropped is stale.
	return e.state == routePending && e.gen != a.w.pendingGen
}

// add counts a hit under its route.
func (a *adder) add(h hit) {
	if h.method != nil {
		a.w.route = append(append(append(a.w.route[:0], h.method...), ' '), h.route...)
		h.route, h.method = a.w.route, nil
	}
	var e *routeEntry
	var slot *memoSlot
	if a.memo != nil {
		if slot = a.memo.slot(h.route); slot != nil && slot.e != nil && string(slot.key[:slot.n]) == string(h.route) {
			e = slot.e
		}
	}
	if e == nil {
		e = a.cache[string(h.route)]
	}
	if e == nil || a.stale(e) {
		e = a.entry(h.route)
		if len(a.cache) >= maxRouteCache {
			clear(a.cache)
			if a.memo != nil {
				clear(a.memo[:])
			}
		}
		a.cache[string(h.route)] = e
	}
	if slot != nil && slot.e != e {
		slot.n = uint8(copy(slot.key[:], h.route))
		slot.e = e
	}
	minute := floorMinute(h.ms)
	if e.epoch != a.w.epoch || e.minute != minute || e.sk == nil {
		k := sketchstore.Key{Source: a.r.src.Name, Route: e.route, Minute: minute}
		sk := a.w.parts[k]
		if sk == nil {
			sk = sketchstore.NewSketches()
			a.w.parts[k] = sk
		}
		e.sk, e.minute, e.epoch = sk, minute, a.w.epoch
	}
	if h.latency >= 0 {
		// Parsers checked it is finite, non-negative and below
		// maxLatencyMillis, which the sketch takes without error.
		_ = e.sk.Response.Add(h.latency)
	}
	e.sk.CountStatus(h.status)
	a.stats.Added++
	if len(a.w.pending) >= resolveEvery && !a.unnamed {
		a.resolve()
	}
}

// entry decides where a logged route goes, from what the container knows.
func (a *adder) entry(logged []byte) *routeEntry {
	switch {
	case len(logged) == 0:
		return &routeEntry{route: contract.OtherRoute, state: routeAdmitted}
	case a.r.tmpl == nil:
		return a.decide(string(logged))
	}
	a.w.tpl = a.r.tmpl.route(a.w.tpl, logged)
	if e := a.templates[string(a.w.tpl)]; e != nil && !a.stale(e) {
		return e
	}
	e := a.decide(string(a.w.tpl))
	if len(a.templates) >= maxRouteCache {
		clear(a.templates)
	}
	a.templates[e.route] = e
	return e
}

// decide finds where route goes: what the container learnt, or the store's
// answer to come.
func (a *adder) decide(route string) *routeEntry {
	if !utf8.ValidString(route) {
		route = strings.ToValidUTF8(route, "\uFFFD")
	}
	if a.w.pending[route] {
		return &routeEntry{route: route, state: routePending, gen: a.w.pendingGen}
	}
	a.r.mu.Lock()
	admitted, rejected := a.r.admitted[route], a.r.rejected[route]
	a.r.mu.Unlock()
	switch {
	case admitted:
		return &routeEntry{route: route, state: routeAdmitted}
	case rejected:
		return &routeEntry{route: contract.OtherRoute, state: routeRejected}
	}
	a.w.pending[route] = true
	a.w.pendingOrder = append(a.w.pendingOrder, route)
	return &routeEntry{route: route, state: routePending, gen: a.w.pendingGen}
}

// resolve asks the store to admit the pending routes, and moves the
// requests of those it refused under contract.OtherRoute.
func (a *adder) resolve() {
	w := a.w
	if len(w.pending) == 0 || a.err != nil {
		return
	}
	pending := w.pendingOrder
	admitted, err := a.in.store.Admit(a.ctx, a.r.src.Name, pending, a.r.limit)
	if err != nil {
		a.err = fmt.Errorf("admit the routes of %s: %w", a.r.src.Name, err)
		return
	}
	ok := make(map[string]bool, len(admitted))
	for _, route := range admitted {
		ok[route] = true
	}
	a.r.mu.Lock()
	if len(a.r.rejected) > maxRejected {
		clear(a.r.rejected)
	}
	for _, route := range pending {
		if ok[route] {
			a.r.admitted[route] = true
		} else {
			a.r.rejected[route] = true
		}
	}
	a.r.mu.Unlock()
	for k, p := range w.parts {
		if !w.pending[k.Route] || ok[k.Route] {
			continue
		}
		delete(w.parts, k)
		o := sketchstore.Key{Source: k.Source, Route: contract.OtherRoute, Minute: k.Minute}
		if q := w.parts[o]; q != nil {
			// Both hold counts and sketches of the same mapping: merging
			// cannot fail.
			_ = q.Merge(p)
		} else {
			w.parts[o] = p
		}
	}
	for _, m := range []map[string]*routeEntry{a.cache, a.templates} {
		for _, e := range m {
			if e.state == routePending && w.pending[e.route] {
				if ok[e.route] {
					e.state = routeAdmitted
				} else {
					e.route, e.state = contract.OtherRoute, routeRejected
				}
			}
		}
	}
	clear(w.pending)
	w.pendingOrder = w.pendingOrder[:0]
	w.pendingGen++
	w.epoch++ // parts moved
}

// reject counts a line that is no hit.
func (a *adder) reject(err error, eventMs int64, line []byte) {
	switch err {
	case errNotARequest:
		a.stats.Skipped++
	case errLacksLatency:
		a.stats.NoLatency++
		a.stats.NoLatencyMinute = max(a.stats.NoLatencyMinute, floorMinute(eventMs))
	default:
		a.stats.Malformed++
		switch {
		case a.stats.Malformed > maxLoggedMalformed:
		case a.unnamed:
			a.unlogged = append(a.unlogged, [2]string{err.Error(), truncate(line, 200)})
		default:
			a.logMalformed(err.Error(), truncate(line, 200))
		}
	}
}

// flush resolves the pending routes and merges the parts as batch.
func (a *adder) flush(batch string) error {
	a.resolve()
	if a.err != nil {
		return a.err
	}
	w, stats := a.w, a.stats
	if a.stats.Malformed > 0 {
		a.in.logger.Warn("lines skipped", "source", a.r.src.Name, "batch", batch, "malformed", stats.Malformed, "of", stats.Events)
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
	if err := a.in.store.Merge(a.ctx, batch, w.parts); err != nil {
		return fmt.Errorf("merge batch %s of %s into the sketch store: %w", batch, a.r.src.Name, err)
	}
	clear(w.parts)
	w.epoch++
	return nil
}

// ErrUnknownSource is an object for a source the ingester was not given.
var ErrUnknownSource = errors.New("no such alb latency source")

// maxObjectParts is how many route-minutes an object gathers before they are
// merged into the store: an ALB file spans five minutes, so this is only
// reached by a file of lines from far apart, whose memory it bounds.
const maxObjectParts = 4096

// maxALBLine bounds a line of an ALB log; a longer one is skipped, and
// only this much of it kept meanwhile.
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
	if _, err := w.dec.gunzip(r); err != nil {
		return stats, fmt.Errorf("%s: not gzip: %w", object, err)
	}
	a := in.newAdder(ctx, w, src, &stats)
	a.memo = new(routeMemo)
	flushes := 0
	var h hit
	sp := lineSplitter{carry: w.carry[:0], line: func(line []byte) error {
		stats.Events++
		if len(line) > maxALBLine {
			a.reject(errLongLine, 0, line)
		} else if err := w.alb.parse(line, &w.route, &h); err != nil {
			a.reject(err, 0, line)
		} else {
			a.add(h)
		}
		if len(w.parts) >= maxObjectParts {
			if err := a.flush(fmt.Sprintf("%s#%d", object, flushes)); err != nil {
				return err
			}
			flushes++
		}
		return nil
	}}
	// The decompressor writes each run of output straight from its window
	// into the splitter: no copy into a reader's buffer between them.
	if _, err := w.dec.gz.WriteTo(&sp); err != nil {
		if errors.Is(err, errStopped) {
			return stats, sp.err
		}
		return stats, fmt.Errorf("read %s: %w", object, err)
	}
	if err := sp.end(); err != nil {
		return stats, err
	}
	w.carry = sp.carry
	return stats, a.flush(fmt.Sprintf("%s#%d", object, flushes))
}

// lineSplitter calls line for each line of what is written to it, without
// its newline. A line longer than maxALBLine is passed on cut short, for
// line to refuse.
type lineSplitter struct {
	carry []byte // the start of a line a Write cut
	long  bool   // carry was cut short
	line  func([]byte) error
	err   error // line's error, which stopped the writes
}

var errStopped = errors.New("stopped by a line")

func (s *lineSplitter) Write(p []byte) (int, error) {
	n := len(p)
	if len(s.carry) > 0 || s.long {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.keep(p)
			return n, nil
		}
		s.keep(p[:i])
		if err := s.emit(s.carry); err != nil {
			return 0, err
		}
		s.carry, s.long = s.carry[:0], false
		p = p[i+1:]
	}
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		if err := s.emit(p[:i]); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	s.keep(p)
	return n, nil
}

func (s *lineSplitter) keep(p []byte) {
	if room := maxALBLine + 1 - len(s.carry); len(p) > room {
		p, s.long = p[:room], true
	}
	s.carry = append(s.carry, p...)
}

func (s *lineSplitter) emit(line []byte) error {
	if err := s.line(line); err != nil {
		s.err = err
		return errStopped
	}
	return nil
}

// end passes on a last line without a newline.
func (s *lineSplitter) end() error {
	if len(s.carry) == 0 {
		return nil
	}
	err := s.line(s.carry)
	s.carry = s.carry[:0]
	return err
}

// gunzip returns d's gzip reader reset to r.
func (d *decoder) gunzip(r io.Reader) (*gzip.Reader, error) {
	var err error
	if d.gz == nil {
		d.gz, err = gzip.NewReader(r)
	} else {
		err = d.gz.Reset(r)
	}
	return d.gz, err
}
