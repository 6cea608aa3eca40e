// Package accesslog ingests the logs whose latencies the bot keeps, into
// one sketch pair per source, route and minute, merged into a
// sketchstore.Store once per delivery, so a retried delivery counts once.
//
// The bot's own API Gateway access log, and the latency sources' logs
// (contract.LatencySource), arrive as CloudWatch Logs delivers them to a
// Lambda subscription: base64 of gzip of a JSON batch. Ingest dispatches a
// batch by its log group: the bot's own (SetSources' ownGroup), a source's
// (an apigateway stage's access log, a lambda function's log), or anything
// else, which is dropped with a warning. An alb source's access logs are S3
// objects, read as a gzip stream by IngestALB, never whole in memory.
//
// Each format has its parser, reading a line where it lies, inside the JSON
// string of the batch, because unescaping and scanning each line again cost
// more than gunzip:
//   - the bot's own lines (scanEscapedLine, for contract.AccessLogFormat's
//     key order);
//   - another stage's JSON access log, REST or HTTP API, keys in any order
//     and named by the source's fields (gatewayFormat);
//   - Lambda's REPORT lines, text or platform.report JSON, and every other
//     line of a function's log skipped (parseReport, reportInline);
//   - an ALB's space-separated lines, the route templated by the source's
//     patterns and then by ids in its path (albParser, templater).
//
// Every hand-written reader falls back to a plain one (decoding the string,
// encoding/json) for input it does not handle, and a fuzz target holds it to
// a reference parser written the obvious way (FuzzParseLine,
// FuzzGatewayLine, FuzzReportLine, FuzzALBLine, FuzzDecodeDelivery,
// FuzzScanEscapedLine).
//
// Fast paths, each measured by the BenchmarkIngest* benchmarks (records per
// CPU-second, median of interleaved runs against the code without it), and
// by BenchmarkSourceCount, the same ingest after gunzip (package gunzip,
// which alone reads ~4.5 M API Gateway lines a CPU-second here, about half
// of that ingest's time):
//   - an API Gateway line laid out as the last one, keys in the same order
//     and values of the same kinds, is read by scanAsShaped, which matches
//     the line as seams, each the previous value's closing quote, the comma,
//     the key and the next value's opening quote in one literal, and a
//     number as digits: +6.5% for BenchmarkSourceCount/gateway (6 paired
//     runs) over the loop that matched each key and then its punctuation.
//   - a source's lines are counted as the batch is scanned (countFunc),
//     not kept as a 248-byte logEvent each and read back: +2-3%
//     BenchmarkSourceCount/gateway and gateway-wide; with every line of a
//     function's log read in place (reportInline), +13% lambda-log.
//   - eightDigits reads a millisecond time's first eight digits at once:
//     +2.7% gateway, +4.6% report-json (10 paired runs).
//   - reportField passes over the REPORT fields it does not read with one
//     comparison (+35% report-text), and reportAsWritten checks a number
//     as it passes its digits (+12% report-json).
//   - an ALB line's parser slices only the five fields it reads of the
//     twelve before the request: -5.5% ns a line in
//     BenchmarkALBStages/parse (132 -> 125 ns, 6 interleaved runs).
//
// A source keeps at most its maxRoutes routes: new ones are asked of the
// store (sketchstore.Store.Admit) a few at a time, and the requests of any
// route it refuses count under contract.OtherRoute, so totals stay exact
// while a client spraying invented paths costs one route.
package accesslog
