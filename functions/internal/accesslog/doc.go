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
// CPU-second, median of interleaved runs against the code without it):
//   - an API Gateway line whose keys are all the last line's, in order, with
//     plain string and number values, is read by scanAsShaped, a loop
//     without scanShaped's closures: +3% for BenchmarkIngestGateway (8
//     paired 2 s runs, 7 won). About half of that ingest's time is base64
//     and gunzip, which alone read ~4.5 M lines a CPU-second here.
//   - an ALB line's parser slices only the five fields it reads of the
//     twelve before the request: -5.5% ns a line in
//     BenchmarkALBStages/parse (132 -> 125 ns, 6 interleaved runs).
//
// A source keeps at most its maxRoutes routes: new ones are asked of the
// store (sketchstore.Store.Admit) a few at a time, and the requests of any
// route it refuses count under contract.OtherRoute, so totals stay exact
// while a client spraying invented paths costs one route.
package accesslog
