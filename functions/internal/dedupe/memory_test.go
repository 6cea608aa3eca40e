package dedupe_test

import (
	"context"
	"errors"
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

// lease is the in-progress lease of the scripted stores: short, so the
// scripts show a lease running out.
const lease = 30 * time.Second

// step is one call on a Store and what it must answer.
type step struct {
	at      time.Duration // since t0
	op      string        // "claim", "complete" or "release"
	id      string
	as      string       // which holder claims, completes or releases; "" is "a"
	want    dedupe.State // for claims
	lost    bool         // for complete: the claim was taken over
	comment string
}

// storeSteps is the behaviour every Store shares, run against each, to the
// second: Memory and Dynamo must agree even at an expiry second itself.
var storeSteps = []struct {
	name  string
	steps []step
}{
	{"first claim acquires; others find it in progress, then done", []step{
		{op: "claim", id: "Ev1", want: dedupe.Acquired},
		{op: "claim", id: "Ev1", as: "b", want: dedupe.InProgress},
		{op: "complete", id: "Ev1"},
		{op: "claim", id: "Ev1", as: "b", want: dedupe.Done},
	}},
	{"ids are independent", []step{
		{op: "claim", id: "Ev1", want: dedupe.Acquired},
		{op: "claim", id: "Ev2", as: "b", want: dedupe.Acquired},
		{op: "claim", id: "Ev2", as: "c", want: dedupe.InProgress},
		{op: "claim", id: "Ev1", as: "c", want: dedupe.InProgress},
	}},
	{"release makes it claimable", []step{
		{op: "claim", id: "Ev1", want: dedupe.Acquired},
		{op: "release", id: "Ev1"},
		{op: "claim", id: "Ev1", as: "b", want: dedupe.Acquired},
		{op: "claim", id: "Ev1", as: "c", want: dedupe.InProgress},
	}},
	{"release of an unknown id is fine", []step{
		{op: "release", id: "never-claimed"},
		{op: "claim", id: "never-claimed", want: dedupe.Acquired},
	}},
	{"a lease holds until its expiry second, which takes it over", []step{
		{op: "claim", id: "Ev1", want: dedupe.Acquired, comment: "then the attempt crashes"},
		{at: lease - time.Second, op: "claim", id: "Ev1", as: "b", want: dedupe.InProgress, comment: "a retry during the lease"},
		{at: lease, op: "claim", id: "Ev1", as: "b", want: dedupe.Acquired, comment: "the expiry second itself"},
		{at: lease, op: "claim", id: "Ev1", as: "c", want: dedupe.InProgress, comment: "the new holder's lease"},
		{at: lease + time.Second, op: "complete", id: "Ev1", as: "b"},
		{at: lease + time.Second, op: "complete", id: "Ev1", lost: true, comment: "the crashed attempt, had it lived"},
		{at: lease + 2*time.Second, op: "claim", id: "Ev1", as: "c", want: dedupe.Done},
	}},
	{"a taken-over claim's release leaves the new holder alone", []step{
		{op: "claim", id: "Ev1", want: dedupe.Acquired},
		{at: lease, op: "claim", id: "Ev1", as: "b", want: dedupe.Acquired},
		{at: lease, op: "release", id: "Ev1", comment: "the slow first attempt fails late"},
		{at: lease, op: "claim", id: "Ev1", as: "c", want: dedupe.InProgress},
		{at: lease, op: "complete", id: "Ev1", as: "b"},
		{at: lease, op: "claim", id: "Ev1", as: "c", want: dedupe.Done},
	}},
	{"done lasts until its TTL, to the second", []step{
		{op: "claim", id: "Ev1", want: dedupe.Acquired},
		{op: "complete", id: "Ev1"},
		{at: time.Hour, op: "claim", id: "Ev1", as: "b", want: dedupe.Done, comment: "a retry an hour later"},
		{at: dedupe.TTL - time.Second, op: "claim", id: "Ev1", as: "b", want: dedupe.Done},
		{at: dedupe.TTL, op: "claim", id: "Ev1", as: "b", want: dedupe.Acquired, comment: "the expiry second itself"},
		{at: dedupe.TTL, op: "claim", id: "Ev1", as: "c", want: dedupe.InProgress},
	}},
}

func runSteps(t *testing.T, store dedupe.Store, c *clock, prefix string, steps []step) {
	t.Helper()
	ctx := context.Background()
	held := map[string]dedupe.Claim{}
	for i, s := range steps {
		c.Set(t0.Add(s.at))
		id, who := prefix+s.id, s.as
		if who == "" {
			who = "a"
		}
		switch s.op {
		case "claim":
			got, err := store.Claim(ctx, id)
			if err != nil {
				t.Fatalf("step %d: Claim(%s): %v", i, id, err)
			}
			if got.State != s.want {
				t.Errorf("step %d (%s at +%v): %s's Claim(%s) = %v, want %v", i, s.comment, s.at, who, id, got.State, s.want)
			}
			if got.State == dedupe.Acquired {
				held[who+id] = got
			}
		case "complete":
			err := store.Complete(ctx, held[who+id])
			if s.lost != errors.Is(err, dedupe.ErrLost) || (!s.lost && err != nil) {
				t.Errorf("step %d (%s at +%v): %s's Complete(%s) = %v, want lost=%v", i, s.comment, s.at, who, id, err, s.lost)
			}
		case "release":
			if err := store.Release(ctx, held[who+id]); err != nil {
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
			runSteps(t, &dedupe.Memory{Now: c.Now, Lease: lease}, c, "", tt.steps)
		})
	}
}

func TestMemoryZeroValueUsesWallClock(t *testing.T) {
	t.Parallel()
	var m dedupe.Memory
	ctx := context.Background()
	if c, err := m.Claim(ctx, "Ev1"); err != nil || c.State != dedupe.Acquired {
		t.Fatalf("first Claim = %v, %v; want acquired", c.State, err)
	}
	if c, err := m.Claim(ctx, "Ev1"); err != nil || c.State != dedupe.InProgress {
		t.Fatalf("second Claim = %v, %v; want in progress", c.State, err)
	}
}

// TestMemorySweepKeepsLiveClaims fills the store to its sweep size with
// expired claims and one live one; the sweep must drop only the expired.
func TestMemorySweepKeepsLiveClaims(t *testing.T) {
	t.Parallel()
	c := &clock{now: t0}
	m := &dedupe.Memory{Now: c.Now, Lease: lease}
	ctx := context.Background()
	claim := func(id string) dedupe.State {
		t.Helper()
		got, err := m.Claim(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return got.State
	}
	for i := range 9999 {
		if got := claim(fmt.Sprintf("old-%d", i)); got != dedupe.Acquired {
			t.Fatalf("Claim(old-%d) = %v", i, got)
		}
	}
	c.Set(t0.Add(lease - time.Second))
	if got := claim("live"); got != dedupe.Acquired {
		t.Fatalf("Claim(live) = %v", got)
	}
	// Every "old-" lease has run out; this claim triggers the sweep.
	c.Set(t0.Add(lease))
	if got := claim("new"); got != dedupe.Acquired {
		t.Fatalf("Claim(new) = %v", got)
	}
	if got := claim("live"); got != dedupe.InProgress {
		t.Errorf("the sweep dropped a live claim: Claim(live) = %v", got)
	}
	if got := claim("new"); got != dedupe.InProgress {
		t.Errorf("Claim(new) twice = %v", got)
	}
	if got := claim("old-7"); got != dedupe.Acquired {
		t.Errorf("an expired claim still blocks: Claim(old-7) = %v", got)
	}
}

// claimAtOnce has n goroutines claim id at the same moment and returns how
// many acquired it and the errors.
func claimAtOnce(store dedupe.Store, id string, n int) (won int, errs []error) {
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for range n {
		wg.Go(func() {
			<-start
			c, err := store.Claim(context.Background(), id)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if err == nil && c.State == dedupe.Acquired {
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
