package sketchstore

import "time"

// Level is the span of time one stored item covers. Every route-minute is
// also merged into its hour and its day (UTC), so a long window reads a few
// coarse items instead of every minute; see cover.
type Level int

const (
	Minute Level = iota
	Hour
	Day
)

// Seconds is the span of one item of the level.
func (l Level) Seconds() int64 {
	switch l {
	case Hour:
		return 3600
	case Day:
		return 86400
	}
	return 60
}

// Retention is how long the stores keep an item of the level. Each level
// outlives the longest window it serves, plus the window before it that a
// report compares with, plus a day because DynamoDB's TTL deletes late,
// never early:
//   - minutes serve every window up to 7 days, the edges of longer ones
//     within those 15 days, and the window before: 2×7 days + 1 = 15 days;
//   - hours serve windows up to contract.MaxWindow (90 days) and their
//     comparison: 2×90 days + 10 = 190 days;
//   - days serve the same, and are so few that a year and more costs
//     nothing: 400 days.
//
// An end older than 15 days is therefore read from the hour holding it (see
// expired): the previous window of a report longer than 7 days starts at
// that hour, and so does a window longer than 15 days, so a 30-day report
// counts up to 59 minutes before the start it names. That is little beside
// 30 days; keeping minutes for the 90-day window and its comparison would
// keep twelve times as many.
func (l Level) Retention() time.Duration {
	switch l {
	case Hour:
		return 190 * 24 * time.Hour
	case Day:
		return 400 * 24 * time.Hour
	}
	return 15 * 24 * time.Hour
}

func (l Level) String() string {
	switch l {
	case Hour:
		return "hour"
	case Day:
		return "day"
	}
	return "minute"
}

// Levels lists the levels, finest first.
var Levels = []Level{Minute, Hour, Day}

// Start is the start of the level's item holding unix second t.
func (l Level) Start(t int64) int64 { return floorTo(t, l.Seconds()) }

func floorTo(t, size int64) int64 {
	q := t / size
	if t < 0 && t%size != 0 {
		q--
	}
	return q * size
}

func ceilTo(t, size int64) int64 { return -floorTo(-t, size) }

// span is the items of one level whose starts are in [lo, hi).
type span struct {
	level  Level
	lo, hi int64
}

// cover returns the spans that tile [from, to) (minute starts, unix seconds)
// exactly, using the coarsest items up to coarsest: whole days in the
// middle, whole hours beside them, minutes at the edges. No instant is in
// two spans, so no request is counted twice, and the window's ends are
// exact to the minute. A 30-day window is at most 30 days, 46 hours and 118
// minutes: under 200 items.
func cover(from, to int64, coarsest Level) []span {
	if from >= to {
		return nil
	}
	if coarsest == Minute {
		return []span{{Minute, from, to}}
	}
	size := coarsest.Seconds()
	a, b := ceilTo(from, size), floorTo(to, size)
	if a >= b {
		return cover(from, to, coarsest-1)
	}
	out := cover(from, a, coarsest-1)
	out = append(out, span{coarsest, a, b})
	return append(out, cover(b, to, coarsest-1)...)
}

// coarsestFor is the coarsest level whose items each fall into one bucket
// of step seconds (buckets aligned on multiples of step since the epoch).
func coarsestFor(step int64) Level {
	for l := Day; l > Minute; l-- {
		if step > 0 && step%l.Seconds() == 0 {
			return l
		}
	}
	return Minute
}
