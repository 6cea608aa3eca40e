// Package latency builds the latency report that the schedule, a mention,
// `/slackbot latency [window] [route]` and the report's buttons show: per
// route and in total, p50/p90/p95/p99, max and the mean of the slowest 1%,
// the share of 4xx and 5xx responses, the change against the window before,
// and the shape as a histogram, with buttons and a route menu that ask for
// another report. It reads a sketchstore.Store and holds no state of its
// own; the numbers are the sketches' (within 1%), the counts exact.
package latency
