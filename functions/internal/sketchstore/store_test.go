package sketchstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

// part is a sketch pair holding values.
func part(values ...float64) *Sketches {
	s := NewSketches()
	for _, v := range values {
		_ = s.Response.Add(v)
		_ = s.Integration.Add(v / 2)
		s.CountStatus(200)
	}
	return s
}

func count(m map[string]*Sketches, route string) int {
	if s := m[route]; s != nil {
		return int(s.Response.GetCount())
	}
	return 0
}

// storeContract runs the behaviour every Store must have. newStore returns
// an empty store.
func storeContract(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	m0 := batchTime.Unix()
	const ev, cmd = "POST /slack/events", "POST /slack/commands"

	t.Run("range is [from, to) by minute start", func(t *testing.T) {
		s := newStore(t)
		err := s.Merge(ctx, "b1", map[Key]*Sketches{
			{"", ev, m0 - 60}:  part(1),
			{"", ev, m0}:       part(2, 3),
			{"", ev, m0 + 60}:  part(4, 5, 6),
			{"", ev, m0 + 120}: part(7, 8, 9, 10),
			{"", cmd, m0 + 60}: part(100),
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			from, to    int64
			events, cmd int
		}{
			{m0, m0 + 120, 5, 1},
			{m0, m0 + 60, 2, 0},
			{m0 - 60, m0 + 180, 10, 1},
			{m0 + 180, m0 + 240, 0, 0},
			{m0 + 30, m0 + 90, 3, 1}, // a minute is in when its start is
		} {
			got, err := Range(ctx, s, "", time.Unix(c.from, 0), time.Unix(c.to, 0))
			if err != nil {
				t.Fatal(err)
			}
			if count(got, ev) != c.events || count(got, cmd) != c.cmd {
				t.Errorf("Range(%+d, %+d): events %d, commands %d; want %d, %d", c.from-m0, c.to-m0, count(got, ev), count(got, cmd), c.events, c.cmd)
			}
			for route, sk := range got {
				if sk.Response.IsEmpty() {
					t.Errorf("Range(%+d, %+d) lists %s with no data", c.from-m0, c.to-m0, route)
				}
			}
		}
		got, _ := Range(ctx, s, "", time.Unix(m0, 0), time.Unix(m0+60, 0))
		if sum := Summarize(got[ev].Integration); sum.Count != 2 || testenv.RelErr(sum.Max, 1.5) > 1e-9 {
			t.Errorf("integration latency: %+v, want 2 values up to 1.5", sum)
		}
	})

	t.Run("a series' totals are its range", func(t *testing.T) {
		s := newStore(t)
		err := s.Merge(ctx, "b1", map[Key]*Sketches{
			{"", ev, m0 - 60}:    part(1),
			{"", ev, m0}:         part(2, 3),
			{"", ev, m0 + 3540}:  part(4),
			{"", cmd, m0 + 1800}: part(5, 6, 7),
			{"", cmd, m0 + 3600}: part(8),
		})
		if err != nil {
			t.Fatal(err)
		}
		from, to := batchTime, batchTime.Add(time.Hour)
		series, err := s.Series(ctx, "", from, to, 5*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		before := count(map[string]*Sketches{ev: series.Routes[ev][0]}, ev)
		totals, err := series.Totals()
		if err != nil {
			t.Fatal(err)
		}
		want, err := Range(ctx, s, "", from, to)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []string{ev, cmd} {
			g, w := totals[r], want[r]
			if g == nil || w == nil || g.Requests != w.Requests || g.Response.GetCount() != w.Response.GetCount() ||
				g.Response.GetSum() != w.Response.GetSum() || g.Integration.GetCount() != w.Integration.GetCount() {
				t.Errorf("%s: totals %+v, range %+v", r, g, w)
			}
		}
		if count(totals, ev) != 3 || count(totals, cmd) != 3 || len(totals) != 2 {
			t.Errorf("totals %d and %d requests over %d routes; want 3 and 3 over 2", count(totals, ev), count(totals, cmd), len(totals))
		}
		if after := count(map[string]*Sketches{ev: series.Routes[ev][0]}, ev); after != before {
			t.Errorf("Totals changed the series' first bucket from %d to %d requests", before, after)
		}
	})

	t.Run("a batch applies once per route-minute", func(t *testing.T) {
		s := newStore(t)
		parts := map[Key]*Sketches{{"", ev, m0}: part(1, 2), {"", cmd, m0}: part(3)}
		for _, batch := range []string{"a", "a", "b", "a", "b"} {
			if err := s.Merge(ctx, batch, parts); err != nil {
				t.Fatal(err)
			}
		}
		// No batch id: no de-duplication.
		_ = s.Merge(ctx, "", parts)
		_ = s.Merge(ctx, "", parts)
		got, _ := Range(ctx, s, "", time.Unix(m0, 0), time.Unix(m0+60, 0))
		if count(got, ev) != 8 || count(got, cmd) != 4 {
			t.Errorf("events %d, commands %d; want 8 and 4 (batches a and b once each, two without id)", count(got, ev), count(got, cmd))
		}
	})

	t.Run("a retry applies only to the minutes it missed", func(t *testing.T) {
		s := newStore(t)
		_ = s.Merge(ctx, "a", map[Key]*Sketches{{"", ev, m0}: part(1)})
		// The delivery's retry carries the minute it wrote and one it did not.
		_ = s.Merge(ctx, "a", map[Key]*Sketches{{"", ev, m0}: part(1), {"", ev, m0 + 60}: part(2)})
		got, _ := Range(ctx, s, "", time.Unix(m0, 0), time.Unix(m0+120, 0))
		if count(got, ev) != 2 {
			t.Errorf("count %d, want 2", count(got, ev))
		}
	})

	t.Run("merge neither keeps nor changes its parts", func(t *testing.T) {
		s := newStore(t)
		p := part(5)
		_ = s.Merge(ctx, "a", map[Key]*Sketches{{"", ev, m0}: p})
		_ = s.Merge(ctx, "b", map[Key]*Sketches{{"", ev, m0}: part(7)})
		_ = p.Response.Add(1000) // the ingest reuses nothing, but a caller might
		if p.Response.GetCount() != 2 {
			t.Errorf("the part has %v values, want 2: Merge changed it", p.Response.GetCount())
		}
		got, _ := Range(ctx, s, "", time.Unix(m0, 0), time.Unix(m0+60, 0))
		if sum := Summarize(got[ev].Response); sum.Count != 2 || sum.Max != 7 {
			t.Errorf("stored %+v, want 2 values up to 7: the store kept the caller's sketch", sum)
		}
		// Nor may Range hand out the store's own sketches.
		_ = got[ev].Response.Add(5000)
		again, _ := Range(ctx, s, "", time.Unix(m0, 0), time.Unix(m0+60, 0))
		if again[ev].Response.GetCount() != 2 {
			t.Errorf("changing Range's answer changed the store")
		}
	})
	t.Run("sources keep their own routes", func(t *testing.T) {
		s := newStore(t)
		err := s.Merge(ctx, "b1", map[Key]*Sketches{
			{"", ev, m0}:                            part(1),
			{contract.DefaultSource, ev, m0 + 60}:   part(2),
			{"orders", ev, m0}:                      part(3, 4, 5),
			{"orders", "GET /orders/{id}", m0 + 60}: part(6),
		})
		if err != nil {
			t.Fatal(err)
		}
		own, _ := Range(ctx, s, "", time.Unix(m0, 0), time.Unix(m0+120, 0))
		named, _ := Range(ctx, s, contract.DefaultSource, time.Unix(m0, 0), time.Unix(m0+120, 0))
		orders, _ := Range(ctx, s, "orders", time.Unix(m0, 0), time.Unix(m0+120, 0))
		if len(own) != 1 || count(own, ev) != 2 || len(named) != 1 || count(named, ev) != 2 {
			t.Errorf(`source "" has %d routes, %d events; %q has %d, %d; want 1 route of 2 requests each`, len(own), count(own, ev), contract.DefaultSource, len(named), count(named, ev))
		}
		if len(orders) != 2 || count(orders, ev) != 3 || count(orders, "GET /orders/{id}") != 1 {
			t.Errorf("orders: %d routes, %d and %d requests; want 2 routes of 3 and 1", len(orders), count(orders, ev), count(orders, "GET /orders/{id}"))
		}
		none, _ := Range(ctx, s, "web", time.Unix(m0, 0), time.Unix(m0+120, 0))
		if len(none) != 0 {
			t.Errorf("a source without data has %d routes", len(none))
		}
	})

	t.Run("source stats", func(t *testing.T) {
		s := newStore(t)
		if st, err := s.SourceStats(ctx, "orders"); err != nil || st != (SourceStats{}) {
			t.Errorf("stats of an empty source: %+v, %v", st, err)
		}
		_ = s.Merge(ctx, "b1", map[Key]*Sketches{{"orders", ev, m0 + 60}: part(1), {"orders", cmd, m0}: part(2), {"", ev, m0 + 600}: part(3)})
		_ = s.Merge(ctx, "b2", map[Key]*Sketches{{"orders", ev, m0}: part(1)}) // late, older
		if err := s.NoteNoLatency(ctx, "orders", m0+120); err != nil {
			t.Fatal(err)
		}
		_ = s.NoteNoLatency(ctx, "orders", m0)
		st, err := s.SourceStats(ctx, "orders")
		if want := (SourceStats{Routes: 2, Latest: m0 + 60, LatestNoLatency: m0 + 120}); err != nil || st != want {
			t.Errorf("orders: %+v, %v; want %+v", st, err, want)
		}
		st, err = s.SourceStats(ctx, "")
		if want := (SourceStats{Routes: 1, Latest: m0 + 600}); err != nil || st != want {
			t.Errorf("the bot's own: %+v, %v; want %+v", st, err, want)
		}
	})

	t.Run("admit bounds a source's routes", func(t *testing.T) {
		s := newStore(t)
		got, err := s.Admit(ctx, "web", []string{"GET /a", "GET /b", "GET /a", contract.OtherRoute}, 3)
		if err != nil || !slices.Equal(got, []string{"GET /a", "GET /b", contract.OtherRoute}) {
			t.Fatalf("first Admit = %v, %v", got, err)
		}
		got, _ = s.Admit(ctx, "web", []string{"GET /c", "GET /d", "GET /b"}, 3)
		if !slices.Equal(got, []string{"GET /c", "GET /b"}) {
			t.Errorf("second Admit = %v, want [GET /c GET /b]: one slot was left", got)
		}
		got, _ = s.Admit(ctx, "web", []string{"GET /d", "GET /a", "GET /c", "GET /b"}, 3)
		if !slices.Equal(got, []string{"GET /a", "GET /c", "GET /b"}) {
			t.Errorf("Admit when full = %v, want the three admitted", got)
		}
		// Another source has slots of its own.
		got, _ = s.Admit(ctx, "orders", []string{"GET /d"}, 3)
		if !slices.Equal(got, []string{"GET /d"}) {
			t.Errorf("Admit of another source = %v", got)
		}
	})
}

func TestMemoryStore(t *testing.T) {
	storeContract(t, func(*testing.T) Store { return newMemory() })
}

func TestMemoryStoreForgetsBatchesBeyondTheBound(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		others int
		want   int // values after the first batch is retried
	}{
		{maxBatches(Minute) - 1, maxBatches(Minute)}, // still remembered: the retry is skipped
		{maxBatches(Minute), maxBatches(Minute) + 2}, // forgotten: the retry counts again
	} {
		s := newMemory()
		k := Key{"", "GET /a", batchTime.Unix()}
		_ = s.Merge(ctx, "first", map[Key]*Sketches{k: part(1)})
		for i := range c.others {
			_ = s.Merge(ctx, fmt.Sprint("other", i), map[Key]*Sketches{k: part(1)})
		}
		_ = s.Merge(ctx, "first", map[Key]*Sketches{k: part(1)})
		got, _ := Range(ctx, s, "", batchTime, batchTime.Add(time.Minute))
		if n := count(got, "GET /a"); n != c.want {
			t.Errorf("after %d other batches: %d values, want %d", c.others, n, c.want)
		}
	}
}

func TestMemoryStoreRecord(t *testing.T) {
	s := newMemory()
	at := batchTime.Add(90 * time.Second)
	s.Record("POST /slack/events", at, 120*time.Millisecond, 100*time.Millisecond)
	s.Record("POST /slack/events", at.Add(time.Second), 1500*time.Microsecond, -1)
	got, _ := Range(context.Background(), s, "", batchTime.Add(time.Minute), batchTime.Add(2*time.Minute))
	sk := got["POST /slack/events"]
	if sk == nil {
		t.Fatal("nothing recorded in the minute")
	}
	r, i := Summarize(sk.Response), Summarize(sk.Integration)
	if r.Count != 2 || r.Max != 120 || testenv.RelErr(r.P50, 1.5) > RelativeAccuracy || i.Count != 1 || i.Max != 100 {
		t.Errorf("response %+v, integration %+v; want 2 values 1.5 and 120 ms, and one of 100 ms", r, i)
	}
}

func TestMemoryStoreConcurrentMerges(t *testing.T) {
	ctx := context.Background()
	s := newMemory()
	k := Key{"", "POST /slack/events", batchTime.Unix()}
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			_ = s.Merge(ctx, fmt.Sprint("batch", i), map[Key]*Sketches{k: part(1, 2, 3)})
			s.Record(k.Route, batchTime, time.Millisecond, time.Millisecond)
			_, _ = Range(ctx, s, "", batchTime, batchTime.Add(time.Minute))
		})
	}
	wg.Wait()
	got, _ := Range(ctx, s, "", batchTime, batchTime.Add(time.Minute))
	if n := count(got, k.Route); n != 32*4 {
		t.Errorf("%d values, want %d", n, 32*4)
	}
}

func TestMemoryStorePrunesPastRetention(t *testing.T) {
	s := newMemory()
	now := time.Now()
	s.Record("GET /old", now.Add(-Minute.Retention()-time.Hour), time.Millisecond, -1)
	s.Record("GET /new", now.Add(-time.Hour), time.Millisecond, -1)
	s.mu.Lock()
	s.prune(now)
	kept := map[itemKey]bool{}
	for k := range s.items {
		kept[k] = true
	}
	s.mu.Unlock()
	old := now.Add(-Minute.Retention() - time.Hour).Unix()
	if kept[itemKey{Minute, contract.DefaultSource, "GET /old", Minute.Start(old)}] || !kept[itemKey{Hour, contract.DefaultSource, "GET /old", Hour.Start(old)}] ||
		!kept[itemKey{Minute, contract.DefaultSource, "GET /new", MinuteOf(now.Add(-time.Hour))}] {
		t.Errorf("after prune: %v; want the old minute gone, its hour and day kept, the new minute kept", kept)
	}
}

// testNow is the tests' clock: a day after batchTime, so nothing they write
// has expired.
func testNow() time.Time { return batchTime.Add(24 * time.Hour) }

func newMemory() *MemoryStore {
	s := NewMemoryStore()
	s.Now = testNow
	return s
}

func newDynamo(c DynamoAPI, table string) *DynamoStore {
	s := NewDynamoStore(c, table)
	s.Now = testNow
	return s
}
