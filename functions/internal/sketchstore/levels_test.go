package sketchstore

import (
	"math/rand/v2"
	"testing"
	"time"
)

// cover must tile the window exactly, with each span aligned to its level,
// for any window on minute boundaries.
func TestCoverTilesTheWindowExactly(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		from := 60 * (1_700_000_000/60 + r.Int64N(200*24*60))
		to := from + 60*r.Int64N(95*24*60)
		for _, coarsest := range Levels {
			at := from
			for _, s := range cover(from, to, coarsest) {
				size := s.level.Seconds()
				if s.lo != at || s.hi <= s.lo || s.lo%size != 0 || s.hi%size != 0 || s.level > coarsest {
					t.Fatalf("cover(%d, %d, %v): span %+v does not continue at %d aligned to its level", from, to, coarsest, s, at)
				}
				at = s.hi
			}
			if at != to && from < to {
				t.Fatalf("cover(%d, %d, %v) ends at %d", from, to, coarsest, at)
			}
		}
	}
}

// A 30-day report reads at most about 800 items per route, with the window
// before it; cover alone is under 200.
func TestCoverOfThirtyDaysIsSmall(t *testing.T) {
	from := int64(1_700_000_000/60*60 + 37*60) // not on an hour
	to := from + 30*86400
	items := int64(0)
	for _, s := range cover(from, to, Day) {
		items += (s.hi - s.lo) / s.level.Seconds()
	}
	if items > 200 {
		t.Errorf("a 30-day window covers %d items, want at most 200", items)
	}
}

// A window's end older than its minutes' retention is read from the hour
// holding it, and older than the hours' from the day: never from items
// DynamoDB's TTL may have deleted.
func TestExpiredEndsMoveToKeptItems(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 34, 0, 0, time.UTC)
	for _, c := range []struct{ at, want time.Time }{
		{now.Add(-time.Hour), now.Add(-time.Hour)},
		{now.Add(-14 * 24 * time.Hour), now.Add(-14 * 24 * time.Hour)},
		{now.Add(-16 * 24 * time.Hour), now.Add(-16 * 24 * time.Hour).Truncate(time.Hour)},
		{now.Add(-200 * 24 * time.Hour), now.Add(-200 * 24 * time.Hour).Truncate(24 * time.Hour)},
	} {
		if got := expired(c.at.Unix(), now); got != c.want.Unix() {
			t.Errorf("expired(%s) = %s, want %s", c.at, time.Unix(got, 0).UTC(), c.want)
		}
	}
}
