// Package latency computes latency percentiles of the bot's own API without
// keeping every value.
//
// A DDSketch (Masson, Rim and Lee, "DDSketch: a fast and fully-mergeable
// quantile sketch with relative-error guarantees", VLDB 2019; the
// github.com/DataDog/sketches-go implementation) keeps counts in buckets
// whose bounds grow geometrically, so every quantile it reports is within 1%
// of the true value, in a few hundred bytes, and two sketches merge into the
// sketch of their union. That last property is what makes the design work:
//
//	API Gateway access log ──CloudWatch Logs subscription──> Ingester
//	    one DDSketch pair per route and minute, merged into the Store
//	    (DynamoDB: one item per route-minute, optimistic locking, 15-day TTL)
//	Reporter: merge a window's minutes per route and over all routes,
//	    read p50/p90/p95/p99, max and the mean of the slowest 1%,
//	    compare with the window before, and draw the shape
//
// Nothing ever holds a raw sample after its batch: minutes merge into
// windows, routes into the total, and invocations into the same item, all
// losslessly (TestMergedMinutesEqualOneSketch).
//
// The ingest reads each access-log line where it lies, inside the JSON string
// of the subscription batch (scanEscapedLine), because unescaping and
// scanning it again cost more than gunzip. Every hand-written scanner falls
// back to encoding/json for input it does not handle, and a fuzz target holds
// it to encoding/json's answer.
package latency
