package dedupe_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lambda-slackbot/slackbot/functions/internal/dedupe"
)

// clock is a settable time source for Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// t0 is the start of every scripted clock: now, to the second, so that a
// store that also looks at the wall clock (DynamoDB TTL) sees live items.
var t0 = time.Now().UTC().Truncate(time.Second)

// step is one call on a Store and what it must answer.
type step struct {
	at      time.Duration // since t0
	op      string        // "claim" or "release"
	id      string
	want    bool // for claims
	comment string
}

// storeSteps is the behaviour every Store shares, run against each.
var storeSteps = []struct {
	name  string
	steps []step
}{
	{"first claim wins, second loses", []step{
		{op: "claim", id: "Ev1", want: true},
		{op: "claim", id: "Ev1", want: false},
		{op: "claim", id: "Ev1", want: false},
	}},
	{"ids are independent", []step{
		{op: "claim", id: "Ev1", want: true},
		{op: "claim", id: "Ev2", want: true},
		{op: "claim", id: "Ev2", want: false},
		{op: "claim", id: "Ev1", want: false},
	}},
	{"release makes it claimable", []step{
		{op: "claim", id: "Ev1", want: true},
		{op: "release", id: "Ev1"},
		{op: "claim", id: "Ev1", want: true},
		{op: "claim", id: "Ev1", want: false},
	}},
	{"release of an unknown id is fine", []step{
		{op: "release", id: "never-claimed"},
		{op: "claim", id: "never-claimed", want: true},
	}},
	{"a claim lasts until its TTL", []step{
		{op: "claim", id: "Ev1", want: true},
		{at: time.Hour, op: "claim", id: "Ev1", want: false, comment: "a retry an hour later"},
		{at: dedupe.TTL - time.Second, op: "claim", id: "Ev1", want: false},
		{at: dedupe.TTL + time.Second, op: "claim", id: "Ev1", want: true, comment: "expired"},
		{at: dedupe.TTL + 2*time.Second, op: "claim", id: "Ev1", want: false, comment: "claimed again"},
	}},
}

func runSteps(t *testing.T, store dedupe.Store, c *clock, prefix string, steps []step) {
	t.Helper()
	ctx := context.Background()
	for i, s := range steps {
		c.Set(t0.Add(s.at))
		id := prefix + s.id
		switch s.op {
		case "claim":
			got, err := store.Claim(ctx, id)
			if err != nil {
				t.Fatalf("step %d: Claim(%s): %v", i, id, err)
			}
			if got != s.want {
				t.Errorf("step %d (%s at +%v): Claim(%s) = %v, want %v", i, s.comment, s.at, id, got, s.want)
			}
		case "release":
			if err := store.Release(ctx, id); err != nil {
				t.Fatalf("step %d: Release(%s): %v", i, id, err)
			}
		default:
			t.Fatalf("unknown op %q", s.op)
		}
	}
}

func TestMemory(t *testing.T) {
	t.Parallel()
	for _, tt := range storeSteps {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &clock{}
			runSteps(t, &dedupe.Memory{Now: c.Now}, c, "", tt.steps)
		})
	}
}

func TestMemoryZeroValueUsesWallClock(t *testing.T) {
	t.Parallel()
	var m dedupe.Memory
	ctx := context.Background()
	if ok, err := m.Claim(ctx, "Ev1"); err != nil || !ok {
		t.Fatalf("first Claim = %v, %v; want true", ok, err)
	}
	if ok, err := m.Claim(ctx, "Ev1"); err != nil || ok {
		t.Fatalf("second Claim = %v, %v; want false", ok, err)
	}
}

// TestMemorySweepKeepsLiveClaims fills the store to its sweep size with
// expired claims and one live one; the sweep must drop only the expired.
func TestMemorySweepKeepsLiveClaims(t *testing.T) {
	t.Parallel()
	c := &clock{now: t0}
	m := &dedupe.Memory{Now: c.Now}
	ctx := context.Background()
	for i := range 9999 {
		if ok, _ := m.Claim(ctx, fmt.Sprintf("old-%d", i)); !ok {
			t.Fatalf("Claim(old-%d) = false", i)
		}
	}
	c.Set(t0.Add(dedupe.TTL - time.Minute))
	if ok, _ := m.Claim(ctx, "live"); !ok {
		t.Fatal("Claim(live) = false")
	}
	// Every "old-" claim has expired; this claim triggers the sweep.
	c.Set(t0.Add(dedupe.TTL + time.Second))
	if ok, _ := m.Claim(ctx, "new"); !ok {
		t.Fatal("Claim(new) = false")
	}
	if ok, _ := m.Claim(ctx, "live"); ok {
		t.Error("the sweep dropped a live claim: Claim(live) = true")
	}
	if ok, _ := m.Claim(ctx, "new"); ok {
		t.Error("Claim(new) = true twice")
	}
	if ok, _ := m.Claim(ctx, "old-7"); !ok {
		t.Error("an expired claim still blocks: Claim(old-7) = false")
	}
}

// claimAtOnce has n goroutines claim id at the same moment and returns how
// many won and the errors.
func claimAtOnce(store dedupe.Store, id string, n int) (won int, errs []error) {
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for range n {
		wg.Go(func() {
			<-start
			ok, err := store.Claim(context.Background(), id)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				won++
			}
		})
	}
	close(start)
	wg.Wait()
	return won, errs
}

func TestMemoryConcurrentClaims(t *testing.T) {
	t.Parallel()
	m := &dedupe.Memory{}
	for round := range 20 {
		id := fmt.Sprintf("Ev-%d", round)
		won, errs := claimAtOnce(m, id, 16)
		if won != 1 || len(errs) != 0 {
			t.Fatalf("16 concurrent Claim(%s): %d won, errors %v; want exactly 1 and none", id, won, errs)
		}
	}
}
