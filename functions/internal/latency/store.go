package latency

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Retention is how long the stores keep a route-minute: the longest window
// a report may ask for (MaxWindow, 7 days) plus the window before it that the
// report compares with, plus a day so the oldest minute of a 7-day comparison
// has not just expired (DynamoDB's TTL deletes late, never early, so a day
// is ample).
const Retention = 2*MaxWindow + 24*time.Hour

// maxBatchesPerMinute is how many batch ids a route-minute remembers. A
// retried delivery is recognised as long as fewer than this many other
// batches touched the same route-minute since it was first applied. Lambda
// retries an asynchronous event within minutes and CloudWatch Logs delivers
// a minute's events over a minute or two, so 128 covers a route seeing a new
// batch every second for two minutes.
const maxBatchesPerMinute = 128

// Store keeps one sketch pair per route-minute.
type Store interface {
	// Merge adds each sketch pair in parts to its route-minute. batch names
	// the delivery the parts came from: a route-minute that already took
	// batch skips it, so a retried delivery counts once; "" skips this
	// check. Merge must neither change nor keep parts; no update may be lost
	// when many callers merge into the same route-minute at once.
	Merge(ctx context.Context, batch string, parts map[Key]*Sketches) error

	// Range returns, per route, the merge of every minute in [from, to)
	// (minute starts, so a minute is in when from <= start < to).
	Range(ctx context.Context, from, to time.Time) (map[string]*Sketches, error)
}

// MemoryStore is the Store of a run without DynamoDB: the dev server, tests,
// and a Lambda whose sketch table is not configured (where it lasts only as
// long as the container, which the logs say).
type MemoryStore struct {
	mu      sync.Mutex
	minutes map[Key]*memMinute
	ops     int
	now     func() time.Time // for pruning
}

type memMinute struct {
	sketches *Sketches
	batches  []string // oldest first, at most maxBatchesPerMinute
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{minutes: make(map[Key]*memMinute), now: time.Now}
}

func (s *MemoryStore) minute(k Key) *memMinute {
	m := s.minutes[k]
	if m == nil {
		m = &memMinute{sketches: NewSketches()}
		s.minutes[k] = m
	}
	return m
}

// Merge implements Store.
func (s *MemoryStore) Merge(_ context.Context, batch string, parts map[Key]*Sketches) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, p := range parts {
		m := s.minute(k)
		if batch != "" && m.applied(batch) {
			continue
		}
		if err := m.sketches.Merge(p); err != nil {
			return fmt.Errorf("merge %s at %d: %w", k.Route, k.Minute, err)
		}
		if batch != "" {
			m.batches = appendBounded(m.batches, batch, maxBatchesPerMinute)
		}
	}
	s.tick()
	return nil
}

// tick prunes now and then, so a long-running dev server does not grow
// without bound. Caller holds mu.
func (s *MemoryStore) tick() {
	s.ops++
	if s.ops%1024 == 0 {
		s.prune(s.now())
	}
}

func (m *memMinute) applied(batch string) bool {
	for _, b := range m.batches {
		if b == batch {
			return true
		}
	}
	return false
}

// appendBounded appends v, dropping the oldest entries beyond limit.
func appendBounded[T any](s []T, v T, limit int) []T {
	s = append(s, v)
	if len(s) > limit {
		s = append(s[:0], s[len(s)-limit:]...)
	}
	return s
}

// Record adds one request's latencies at time at: the dev server's cheap
// call after each request it serves. A negative duration means "none".
func (s *MemoryStore) Record(route string, at time.Time, responseLatency, integrationLatency time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.minute(Key{route, MinuteOf(at)})
	if responseLatency >= 0 {
		_ = m.sketches.Response.Add(millis(responseLatency))
	}
	if integrationLatency >= 0 {
		_ = m.sketches.Integration.Add(millis(integrationLatency))
	}
	s.tick()
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Range implements Store.
func (s *MemoryStore) Range(_ context.Context, from, to time.Time) (map[string]*Sketches, error) {
	lo, hi := from.Unix(), to.Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]*Sketches)
	for k, m := range s.minutes {
		if k.Minute < lo || k.Minute >= hi {
			continue
		}
		r := out[k.Route]
		if r == nil {
			out[k.Route] = m.sketches.Copy()
			continue
		}
		if err := r.Merge(m.sketches); err != nil {
			return nil, fmt.Errorf("merge %s at %d: %w", k.Route, k.Minute, err)
		}
	}
	return out, nil
}

// prune drops minutes past Retention, as DynamoDB's TTL does. Caller holds mu.
func (s *MemoryStore) prune(now time.Time) {
	oldest := now.Add(-Retention).Unix()
	for k := range s.minutes {
		if k.Minute < oldest {
			delete(s.minutes, k)
		}
	}
}
