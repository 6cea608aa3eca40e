// Package accesslog ingests API Gateway's access log as CloudWatch Logs
// delivers it to a Lambda subscription: base64 of gzip of a JSON batch of
// lines in contract.AccessLogFormat. Each line's latencies and status go
// into one sketch pair per route-minute, merged into a sketchstore.Store
// once per batch, so a retried delivery counts once.
//
// The ingest reads each access-log line where it lies, inside the JSON
// string of the batch (scanEscapedLine), because unescaping and scanning it
// again cost more than gunzip. Every hand-written scanner falls back to
// encoding/json for input it does not handle, and a fuzz target holds it to
// encoding/json's answer (FuzzParseLine, FuzzDecodeDelivery,
// FuzzScanEscapedLine).
package accesslog
