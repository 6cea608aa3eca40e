package sketchstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/lambda-slackbot/slackbot/contract"
)

// Key names one route-minute of a source: the unit the ingest hands the
// store.
type Key struct {
	Source string // a contract.LatencySource's name; "" is contract.DefaultSource
	Route  string // e.g. "POST /slack/events", "billing init", contract.OtherRoute
	Minute int64  // unix seconds of the minute's start
}

// sourceName is source with "" read as contract.DefaultSource.
func sourceName(source string) string {
	if source == "" {
		return contract.DefaultSource
	}
	return source
}

// MinuteOf returns the start of t's minute in unix seconds.
func MinuteOf(t time.Time) int64 { return Minute.Start(t.Unix()) }

// maxBatches is how many batch ids an item remembers, per level. A retried
// delivery is recognised as long as fewer than this many other batches
// touched the same item since it was first applied. Lambda retries an
// asynchronous event within minutes and CloudWatch Logs delivers a minute's
// events over a minute or two, so 128 covers a route seeing a new batch
// every second for two minutes. An hour or a day takes every batch of its
// minutes, so it remembers more: 1024 keys of 12 bytes, 12 KiB of the
// item's 400 KiB, cover seventeen minutes at a batch a second.
func maxBatches(l Level) int {
	if l == Minute {
		return 128
	}
	return 1024
}

// Store keeps one sketch pair per route-minute, and its hour and day.
type Store interface {
	// Merge adds each sketch pair in parts to its route-minute, and to the
	// hour and the day holding it. batch names the delivery the parts came
	// from: an item that already took batch skips it, so a retried delivery
	// counts once; "" skips this check. Merge must neither change nor keep
	// parts; no update may be lost when many callers merge at once.
	Merge(ctx context.Context, batch string, parts map[Key]*Sketches) error

	// Series returns, per route of source, the data of [from, to) (minute
	// starts) in buckets of step, read from the coarsest items that fit
	// (see cover). A step of 0 is one bucket: the whole window.
	Series(ctx context.Context, source string, from, to time.Time, step time.Duration) (*Series, error)

	// Admit returns which of routes source may keep: those it already has
	// and, while it has fewer than max, new ones in the order given, so a
	// source never has more than max distinct routes, however many
	// containers ingest it at once. contract.OtherRoute, where the ingest
	// counts the rest, is always admitted and never counted. The answer
	// keeps routes' order and drops repeats.
	Admit(ctx context.Context, source string, routes []string, max int) ([]string, error)

	// NoteNoLatency records that source logged, in the minute starting at
	// minute (unix seconds), lines that carry no latency to sketch, such
	// as an access log in the console's default format.
	NoteNoLatency(ctx context.Context, source string, minute int64) error

	// SourceStats says what the store holds of source.
	SourceStats(ctx context.Context, source string) (SourceStats, error)
}

// SourceStats is what a store holds of one source, for a listing of the
// sources.
type SourceStats struct {
	Routes int // distinct routes with data
	// Latest is the start (unix seconds) of the latest minute with data,
	// 0 for none; LatestNoLatency that of the latest minute with lines
	// without a latency (see NoteNoLatency), 0 for none.
	Latest          int64
	LatestNoLatency int64
}

// Series is a window's data in buckets of Step: bucket i holds the items
// starting in [Start+i·Step, Start+(i+1)·Step), clipped to the window, so
// the first and last may be partial. Buckets without data are nil.
type Series struct {
	Start  time.Time
	Step   time.Duration
	Routes map[string][]*Sketches
}

// Range returns, per route of source, the merge of every minute in [from,
// to) (minute starts, so a minute is in when from <= start < to).
func Range(ctx context.Context, s Store, source string, from, to time.Time) (map[string]*Sketches, error) {
	series, err := s.Series(ctx, source, from, to, 0)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*Sketches, len(series.Routes))
	for route, b := range series.Routes {
		if len(b) > 0 && b[0] != nil {
			out[route] = b[0]
		}
	}
	return out, nil
}

// Totals returns, per route, the merge of all its buckets: the Range of
// the series' window, for a caller that needs both and should read once.
// The series is left as it was.
func (s *Series) Totals() (map[string]*Sketches, error) {
	out := make(map[string]*Sketches, len(s.Routes))
	for route, buckets := range s.Routes {
		var t *Sketches
		for _, b := range buckets {
			switch {
			case b == nil:
			case t == nil:
				t = b.Copy()
			default:
				if err := t.Merge(b); err != nil {
					return nil, fmt.Errorf("merge %s: %w", route, err)
				}
			}
		}
		if t != nil {
			out[route] = t
		}
	}
	return out, nil
}

// window is a Series request in unix seconds, with its spans.
type window struct {
	from, to, step, first int64
	buckets               int
	spans                 []span
}

func newWindow(from, to time.Time, step time.Duration, now time.Time) (window, error) {
	// A minute is in when its start is: round from up and to up, to minutes.
	w := window{from: ceilTo(from.Unix(), 60), to: ceilTo(to.Unix(), 60), step: int64(step / time.Second)}
	if step < 0 || step%time.Minute != 0 {
		return window{}, fmt.Errorf("series step %s: want whole minutes", step)
	}
	// An end older than its level's retention may be gone: read it from the
	// hour (or day) holding it instead. Both ends move the same way, so a
	// window and the one before it still meet without overlapping.
	w.from, w.to = expired(w.from, now), expired(w.to, now)
	if w.to <= w.from {
		return w, nil
	}
	coarsest := Day
	if w.step == 0 {
		w.first, w.buckets = w.from, 1
	} else {
		coarsest = coarsestFor(w.step)
		w.first = floorTo(w.from, w.step)
		w.buckets = int((ceilTo(w.to, w.step) - w.first) / w.step)
		if w.buckets > 10_000 {
			return window{}, fmt.Errorf("series of %d buckets: want a coarser step", w.buckets)
		}
	}
	w.spans = cover(w.from, w.to, coarsest)
	return w, nil
}

// expired moves t, an end of a window, down to the start of the finest
// level whose item holding it is still kept at now. DynamoDB's TTL deletes
// late, never early, so an item younger than its retention is there.
func expired(t int64, now time.Time) int64 {
	for _, l := range Levels {
		if s := l.Start(t); s >= now.Add(-l.Retention()).Unix() || l == Day {
			return s
		}
	}
	return t
}

func clock(now func() time.Time) time.Time {
	if now != nil {
		return now()
	}
	return time.Now()
}

func (w window) bucket(start int64) int {
	if w.step == 0 {
		return 0
	}
	return int((start - w.first) / w.step)
}

// collector gathers items into a Series from any number of goroutines.
type collector struct {
	w      window
	mu     sync.Mutex
	routes map[string][]*Sketches
}

func newCollector(w window) *collector {
	return &collector{w: w, routes: make(map[string][]*Sketches)}
}

// add merges s, which the collector may keep, into route's bucket i.
func (c *collector) add(route string, i int, s *Sketches) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.routes[route]
	if b == nil {
		b = make([]*Sketches, c.w.buckets)
		c.routes[route] = b
	}
	if b[i] == nil {
		b[i] = s
		return nil
	}
	return b[i].Merge(s)
}

func (c *collector) series() *Series {
	return &Series{Start: time.Unix(c.w.first, 0).UTC(), Step: time.Duration(c.w.step) * time.Second, Routes: c.routes}
}

// MemoryStore is the Store of a run without DynamoDB: the dev server, tests,
// and a Lambda whose sketch table is not configured (where it lasts only as
// long as the container, which the logs say).
type MemoryStore struct {
	// Now is the clock items expire by; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	items    map[itemKey]*memItem
	ops      int
	admitted map[string][]string    // source -> its routes, in the order admitted
	stats    map[string]SourceStats // source -> its latest minutes (Routes unused)
}

// itemKey names one stored item; its source is never "" (see sourceName).
type itemKey struct {
	level  Level
	source string
	route  string
	start  int64
}

type memItem struct {
	sketches *Sketches
	batches  []string // oldest first, at most maxBatches(level)
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{items: make(map[itemKey]*memItem), admitted: make(map[string][]string), stats: make(map[string]SourceStats)}
}

func (s *MemoryStore) item(k itemKey) *memItem {
	m := s.items[k]
	if m == nil {
		m = &memItem{sketches: NewSketches()}
		s.items[k] = m
	}
	return m
}

// Merge implements Store.
func (s *MemoryStore) Merge(_ context.Context, batch string, parts map[Key]*Sketches) error {
	items, err := rollUp(parts)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, p := range items {
		m := s.item(k)
		if batch != "" && slices.Contains(m.batches, batch) {
			continue
		}
		if err := m.sketches.Merge(p); err != nil {
			return fmt.Errorf("merge %s %s at %d: %w", k.route, k.level, k.start, err)
		}
		if batch != "" {
			m.batches = appendBounded(m.batches, batch, maxBatches(k.level))
		}
		if k.level == Minute {
			st := s.stats[k.source]
			st.Latest = max(st.Latest, k.start)
			s.stats[k.source] = st
		}
	}
	s.tick()
	return nil
}

// Admit implements Store.
func (s *MemoryStore) Admit(_ context.Context, source string, routes []string, limit int) ([]string, error) {
	source = sourceName(source)
	s.mu.Lock()
	defer s.mu.Unlock()
	have := s.admitted[source]
	out := make([]string, 0, len(routes))
	for _, r := range routes {
		switch {
		case slices.Contains(out, r):
		case r == contract.OtherRoute || slices.Contains(have, r):
			out = append(out, r)
		case len(have) < limit:
			have = append(have, r)
			out = append(out, r)
		}
	}
	s.admitted[source] = have
	return out, nil
}

// NoteNoLatency implements Store.
func (s *MemoryStore) NoteNoLatency(_ context.Context, source string, minute int64) error {
	source = sourceName(source)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats[source]
	st.LatestNoLatency = max(st.LatestNoLatency, minute)
	s.stats[source] = st
	return nil
}

// SourceStats implements Store.
func (s *MemoryStore) SourceStats(_ context.Context, source string) (SourceStats, error) {
	source = sourceName(source)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats[source]
	routes := map[string]bool{}
	for k := range s.items {
		if k.source == source && k.level == Day {
			routes[k.route] = true
		}
	}
	st.Routes = len(routes)
	return st, nil
}

// rollUp returns the items a batch's parts go into: each minute, and the
// merge of a batch's minutes per hour and per day. The batch is then one
// write per item, and an item that took it skips all of it on a retry.
func rollUp(parts map[Key]*Sketches) (map[itemKey]*Sketches, error) {
	items := make(map[itemKey]*Sketches, len(parts)+4)
	for k, p := range parts {
		src := sourceName(k.Source)
		items[itemKey{Minute, src, k.Route, k.Minute}] = p
		for _, l := range Levels[1:] {
			ik := itemKey{l, src, k.Route, l.Start(k.Minute)}
			r := items[ik]
			if r == nil {
				items[ik] = p.Copy()
				continue
			}
			if err := r.Merge(p); err != nil {
				return nil, fmt.Errorf("merge %s at %d into its %s: %w", k.Route, k.Minute, l, err)
			}
		}
	}
	return items, nil
}

// tick prunes now and then, so a long-running dev server does not grow
// without bound. Caller holds mu.
func (s *MemoryStore) tick() {
	s.ops++
	if s.ops%1024 == 0 {
		s.prune(clock(s.Now))
	}
}

// appendBounded appends v, dropping the oldest entries beyond limit.
func appendBounded[T any](s []T, v T, limit int) []T {
	s = append(s, v)
	if len(s) > limit {
		s = append(s[:0], s[len(s)-limit:]...)
	}
	return s
}

// Record adds one request's latencies at time at, to the bot's own source:
// the dev server's cheap call after each request it serves. A negative
// duration means "none".
func (s *MemoryStore) Record(route string, at time.Time, responseLatency, integrationLatency time.Duration) {
	s.RecordStatus(route, at, 0, responseLatency, integrationLatency)
}

// RecordStatus is Record with the response's HTTP status (0: unknown).
func (s *MemoryStore) RecordStatus(route string, at time.Time, status int, responseLatency, integrationLatency time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range Levels {
		m := s.item(itemKey{l, contract.DefaultSource, route, l.Start(at.Unix())})
		if responseLatency >= 0 {
			_ = m.sketches.Response.Add(millis(responseLatency))
		}
		if integrationLatency >= 0 {
			_ = m.sketches.Integration.Add(millis(integrationLatency))
		}
		m.sketches.CountStatus(status)
	}
	st := s.stats[contract.DefaultSource]
	st.Latest = max(st.Latest, Minute.Start(at.Unix()))
	s.stats[contract.DefaultSource] = st
	s.tick()
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Series implements Store.
func (s *MemoryStore) Series(_ context.Context, source string, from, to time.Time, step time.Duration) (*Series, error) {
	source = sourceName(source)
	w, err := newWindow(from, to, step, clock(s.Now))
	if err != nil {
		return nil, err
	}
	c := newCollector(w)
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, m := range s.items {
		if k.source != source {
			continue
		}
		for _, sp := range w.spans {
			if k.level == sp.level && k.start >= sp.lo && k.start < sp.hi {
				if err := c.add(k.route, w.bucket(k.start), m.sketches.Copy()); err != nil {
					return nil, fmt.Errorf("merge %s at %d: %w", k.route, k.start, err)
				}
				break
			}
		}
	}
	return c.series(), nil
}

// prune drops items past their level's retention, as DynamoDB's TTL does.
// Caller holds mu.
func (s *MemoryStore) prune(now time.Time) {
	for k := range s.items {
		if k.start < now.Add(-k.level.Retention()).Unix() {
			delete(s.items, k)
		}
	}
}

var (
	_ Store = (*MemoryStore)(nil)
	_ Store = (*DynamoStore)(nil)
)
