// Package sketchstore keeps latency sketches and status counts per source,
// route and span of time, and reads any window of them back at a cost that
// does not grow with its length.
//
// A DDSketch (Masson, Rim and Lee, "DDSketch: a fast and fully-mergeable
// quantile sketch with relative-error guarantees", VLDB 2019; the
// github.com/DataDog/sketches-go implementation) keeps counts in buckets
// whose bounds grow geometrically, so every quantile it reports is within 1%
// of the true value, in a few hundred bytes, and two sketches merge into the
// sketch of their union. That last property is what makes the store work:
// minutes merge into hours and days, routes into the total, and concurrent
// invocations into the same item, all losslessly
// (TestMergedMinutesEqualOneSketch, TestRollupsEqualOneSketch).
//
// Each route has items at three levels (see Level): minutes, kept 15 days;
// hours, kept 190; days, kept 400. A window is read from the whole days
// inside it, the whole hours beside them and the minutes at its edges
// (cover), so a 30-day report reads under 200 items per route, and no
// request is counted twice.
//
// The rollups are merged by the ingest, in the same Merge as the minutes,
// not by a compaction on the schedule. A compaction would have to know
// which hours are complete, while CloudWatch Logs delivers a line up to a
// day late; it would leave a gap, or a double count, whenever it ran late,
// failed or raced a late batch; and a report would have to find out which
// rollups exist before choosing what to read. Merging at ingest costs two
// more conditional writes per route and batch (a batch's minutes are merged
// per hour and day first), and keeps every level exact at every moment: a
// retried batch skips each item that already took it, whatever level.
//
// A source is a service whose latency is kept (contract.LatencySource); the
// bot's own API is contract.DefaultSource, and "" names it too. Admit bounds
// the routes a source may have, across containers, so a client spraying
// invented paths costs one route, contract.OtherRoute, not one item each.
//
// MemoryStore serves the dev server and tests; DynamoStore keeps the items
// in the sketch table, with optimistic locking.
package sketchstore
