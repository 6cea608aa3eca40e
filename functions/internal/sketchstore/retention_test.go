package sketchstore

import (
	"context"
	"testing"
	"time"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/dynamo/dynamotest"
)

// TestWindowStartPastMinuteRetention: a window whose start is older than
// the minutes' retention (a 30-day report) starts at the hour holding its
// start, in every store, whether or not the minutes there are gone yet.
// Reading those minutes instead lost the ones DynamoDB's TTL (and the memory
// store's pruning) had deleted, and only there: the DynamoDB stand-in has no
// TTL, so the two stores disagreed. That is the "total 77718600, want
// 77760000" BenchmarkReport30d/memory once failed with, 23 minutes short.
func TestWindowStartPastMinuteRetention(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	from := time.Date(2026, 1, 30, 11, 37, 0, 0, time.UTC) // 30 days and 23 minutes before now
	to := now.Add(-time.Hour)
	if now.Sub(from) <= Minute.Retention() || now.Sub(to) >= Minute.Retention() {
		t.Fatalf("the window must start past the minutes' retention (%s) and end within it", Minute.Retention())
	}
	// One request a minute for two hours either side of from, and in the
	// two hours before now.
	parts := map[Key]*Sketches{}
	for _, span := range [][2]time.Time{{from.Add(-2 * time.Hour), from.Add(2 * time.Hour)}, {now.Add(-2 * time.Hour), now}} {
		for m := span[0]; m.Before(span[1]); m = m.Add(time.Minute) {
			p := NewSketches()
			_ = p.Response.Add(10)
			p.CountStatus(200)
			parts[Key{"", "POST /slack/events", m.Unix()}] = p
		}
	}
	clock := func() time.Time { return now }
	mem := NewMemoryStore()
	dyn := NewDynamoStore(dynamotest.NewStandIn(contract.SketchRouteKey, contract.SketchMinuteKey), "sketches")
	mem.Now, dyn.Now = clock, clock
	for name, s := range map[string]Store{"memory": mem, "dynamodb": dyn} {
		if err := s.Merge(ctx, "", parts); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// The memory store drops expired minutes as DynamoDB's TTL would.
	mem.mu.Lock()
	mem.prune(now)
	mem.mu.Unlock()

	// From 11:00 on January 30: 157 minutes of the first span (the 37
	// before from among them), and the 60 of the second before to.
	const want = 157 + 60
	for name, s := range map[string]Store{"memory": mem, "dynamodb": dyn} {
		got, err := Range(ctx, s, "", from, to)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n := count(got, "POST /slack/events"); n != want {
			t.Errorf("%s: %d requests from %s to %s, want %d: the window starts at its start's hour", name, n,
				from.Format(time.DateTime), to.Format(time.DateTime), want)
		}
	}
}
