package latency

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackutilsx"

	"github.com/lambda-slackbot/slackbot/contract"
	"github.com/lambda-slackbot/slackbot/functions/internal/notify"
	"github.com/lambda-slackbot/slackbot/functions/internal/sketchstore"
)

// MetadataEventType is the event_type of the report's message metadata (docs/design.md).
const MetadataEventType = "latency_report"

// maxReportRoutes bounds the routes a report lists one by one, to stay well
// inside Slack's 50 blocks and keep the message readable; the total still
// counts them all.
const maxReportRoutes = 12

// knownRoutes are the routes the API has by design, so a user asking for
// "events" gets "POST /slack/events" even in a window without traffic.
var knownRoutes = []string{
	"POST " + contract.EventsPath,
	"POST " + contract.CommandsPath,
}

// Builder builds latency reports from a sketch store. Its Report method is
// what the mention, the slash command and the report buttons ask for.
type Builder struct {
	store   sketchstore.Store
	sources []contract.LatencySource
	now     func() time.Time
}

// NewBuilder returns a Builder reading store, which holds the bot's own
// API and sources; now is the clock (time.Now when nil).
func NewBuilder(store sketchstore.Store, sources []contract.LatencySource, now func() time.Time) *Builder {
	if now == nil {
		now = time.Now
	}
	return &Builder{store: store, sources: sources, now: now}
}

// ParseRequest is the package's ParseRequest with b's sources.
func (b *Builder) ParseRequest(text string, defaultWindow time.Duration) (Request, error) {
	return ParseRequest(text, b.sources, defaultWindow)
}

// Sources are the names of every source in the order reports list them:
// the default source first, then the others as configured, the bot's own
// last (unless it is the default).
func (b *Builder) Sources() []string {
	names := make([]string, 0, len(b.sources)+1)
	for _, s := range b.sources {
		names = append(names, s.Name)
	}
	return append(names, contract.DefaultSource)
}

// source is req's source with the default filled in.
func (b *Builder) source(name string) string {
	return cmp.Or(name, contract.DefaultSourceOf(b.sources))
}

// kind is what a source's latencies are, for the report to say.
func (b *Builder) kind(name string) string {
	for _, s := range b.sources {
		if s.Name == name {
			return s.Kind
		}
	}
	return contract.SourceAPIGateway
}

// Report is the report of the last window up to now, the current minute
// included, so a request made a moment ago shows up; or the list of
// sources, when req asks for it. req.Route "" means all routes; otherwise
// it may be "POST /slack/events", "/slack/events" or "events". The Message
// has no Channel: the caller knows where it goes.
func (b *Builder) Report(ctx context.Context, req Request) (notify.Message, error) {
	if req.ListSources {
		return b.SourceList(ctx)
	}
	end := time.Unix(sketchstore.MinuteOf(b.now())+60, 0)
	return b.ReportEnding(ctx, end, req)
}

// ReportEnding is the report of the window that ends at end, rounded down to
// the minute. A schedule passes its event's time, so the hour it reports is
// whole and a retried invocation reports the same one.
func (b *Builder) ReportEnding(ctx context.Context, end time.Time, req Request) (notify.Message, error) {
	start, end, err := span(end, req.Window)
	if err != nil {
		return notify.Message{}, err
	}
	source := b.source(req.Source)
	if !isSource(source, b.sources) {
		// A click on a report of a source since removed from the config.
		return unknownSource(source), nil
	}
	cur, err := sketchstore.Range(ctx, b.store, source, start, end)
	if err != nil {
		return notify.Message{}, fmt.Errorf("read latencies of %s %s to %s: %w", source, start.Format(time.RFC3339), end.Format(time.RFC3339), err)
	}
	return b.reportOf(ctx, start, end, req, cur)
}

// ReportOfSeries is ReportEnding for a caller that has already read the
// window ending at end as series, of req's source (the scheduled report,
// whose chart draws the same window): only the window before it is read
// again.
func (b *Builder) ReportOfSeries(ctx context.Context, end time.Time, req Request, series *sketchstore.Series) (notify.Message, error) {
	start, end, err := span(end, req.Window)
	if err != nil {
		return notify.Message{}, err
	}
	cur, err := series.Totals()
	if err != nil {
		return notify.Message{}, fmt.Errorf("latencies %s to %s: %w", start.Format(time.RFC3339), end.Format(time.RFC3339), err)
	}
	return b.reportOf(ctx, start, end, req, cur)
}

// unknownSource answers a request for a source that is not configured.
func unknownSource(name string) notify.Message {
	text := escape(fmt.Sprintf("There is no latency source named %q here: `latency sources` lists them.", name))
	return notify.Message{Text: text, Blocks: []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}}
}

// span checks window and returns the report's [start, end), end rounded
// down to the minute.
func span(end time.Time, window time.Duration) (time.Time, time.Time, error) {
	if window < contract.MinWindow || window > contract.MaxWindow || window%time.Minute != 0 {
		return time.Time{}, time.Time{}, fmt.Errorf("report window %s: want whole minutes from %s to %s",
			window, contract.FormatWindow(contract.MinWindow), contract.FormatWindow(contract.MaxWindow))
	}
	end = time.Unix(sketchstore.MinuteOf(end), 0).UTC()
	return end.Add(-window), end, nil
}

// reportOf reads the window before [start, end) and builds the report of
// cur against it.
func (b *Builder) reportOf(ctx context.Context, start, end time.Time, req Request, cur map[string]*sketchstore.Sketches) (notify.Message, error) {
	window, source := req.Window, b.source(req.Source)
	prev, err := sketchstore.Range(ctx, b.store, source, start.Add(-window), start)
	if err != nil {
		return notify.Message{}, fmt.Errorf("read latencies of %s %s to %s: %w", source, start.Add(-window).Format(time.RFC3339), start.Format(time.RFC3339), err)
	}
	rep := report{Start: start, End: end, Window: window, Query: strings.TrimSpace(req.Route),
		Source: source, Kind: b.kind(source), Named: len(b.sources) > 0}
	return rep.build(cur, prev), nil
}

// report is one report's numbers before they become a message.
type report struct {
	// Source is the source reported, of Kind; Named says whether the
	// report names it: only when there are sources besides the bot's.
	Source, Kind string
	Named        bool
	Start, End   time.Time
	Window       time.Duration
	Query        string   // the route the user asked for, or ""
	Matched      []string // routes the query matched
	Routes       []routeStats
	Total        routeStats
	Others       int      // routes with traffic beyond maxReportRoutes
	Active       []string // every route with traffic, for the route menu
	TimeInFunc   sketchstore.Summary
}

type routeStats struct {
	Route     string
	Cur, Prev sketchstore.Summary
	// Requests, Status4xx and Status5xx count the window's responses.
	Requests, Status4xx, Status5xx int64
}

func (rs *routeStats) count(s *sketchstore.Sketches) {
	rs.Requests += s.Requests
	rs.Status4xx += s.Status4xx
	rs.Status5xx += s.Status5xx
}

func (rep *report) build(cur, prev map[string]*sketchstore.Sketches) notify.Message {
	selected := func(string) bool { return true }
	if rep.Query != "" {
		candidates := make([]string, 0, len(cur)+len(prev)+len(knownRoutes))
		if rep.Source == contract.DefaultSource {
			candidates = append(candidates, knownRoutes...)
		}
		for k := range cur {
			candidates = append(candidates, k)
		}
		for k := range prev {
			candidates = append(candidates, k)
		}
		rep.Matched = MatchRoutes(rep.Query, candidates)
		if len(rep.Matched) == 0 {
			return rep.noSuchRoute(cur)
		}
		selected = func(route string) bool { return slices.Contains(rep.Matched, route) }
	}

	total, totalPrev, inFunc := sketchstore.NewSketch(), sketchstore.NewSketch(), sketchstore.NewSketch()
	rep.Total = routeStats{Route: "*"}
	for route, s := range cur {
		// A route may have responses but no latency: an ALB line with -1
		// counts, and its status, without a sample.
		if !selected(route) || (s.Response.IsEmpty() && s.Requests == 0) {
			continue
		}
		rs := routeStats{Route: route, Cur: sketchstore.Summarize(s.Response)}
		rs.count(s)
		if p := prev[route]; p != nil {
			rs.Prev = sketchstore.Summarize(p.Response)
		}
		rep.Routes = append(rep.Routes, rs)
		rep.Total.count(s)
		_ = total.MergeWith(s.Response) // one mapping for all sketches: cannot fail
		_ = inFunc.MergeWith(s.Integration)
	}
	for route, s := range prev {
		if selected(route) {
			_ = totalPrev.MergeWith(s.Response)
		}
	}
	rep.Total.Cur, rep.Total.Prev = sketchstore.Summarize(total), sketchstore.Summarize(totalPrev)
	// The menu offers every route with traffic, whatever was asked.
	for route, s := range cur {
		if !s.Response.IsEmpty() {
			rep.Active = append(rep.Active, route)
		}
	}
	slices.SortFunc(rep.Active, func(a, b string) int {
		return cmp.Or(cmp.Compare(cur[b].Response.GetCount(), cur[a].Response.GetCount()), strings.Compare(a, b))
	})
	rep.TimeInFunc = sketchstore.Summarize(inFunc)
	// Busiest first; the name settles ties so the order is stable.
	slices.SortFunc(rep.Routes, func(a, b routeStats) int {
		return cmp.Or(cmp.Compare(b.Cur.Count, a.Cur.Count), strings.Compare(a.Route, b.Route))
	})
	if len(rep.Routes) > maxReportRoutes {
		rep.Others = len(rep.Routes) - maxReportRoutes
	}
	if rep.Total.Cur.Count == 0 && rep.Total.Requests == 0 {
		return rep.noTraffic()
	}
	return notify.Message{Text: rep.fallbackText(), Blocks: rep.blocks(), Metadata: rep.metadata()}
}

// MatchRoutes finds the routes among candidates that a person meant by q,
// forgivingly: "POST /slack/events" (method in any case), "/slack/events"
// (any method), "slack/events", or a piece of the path such as "events". It
// tries the strictest reading first and returns the distinct matches sorted.
func MatchRoutes(q string, candidates []string) []string {
	q = strings.TrimSpace(q)
	if q == "" {
		return nil
	}
	method, path, hasMethod := strings.Cut(q, " ")
	if !hasMethod {
		method, path = "", q
	}
	path = strings.TrimSpace(path)
	norm := func(p string) string {
		p = strings.ToLower(strings.Trim(p, "/"))
		return p
	}
	want := norm(path)
	var exact, segment, partial []string
	for _, c := range candidates {
		cm, cp, ok := strings.Cut(c, " ")
		if !ok {
			cm, cp = "", c
		}
		if method != "" && !strings.EqualFold(method, cm) {
			continue
		}
		have := norm(cp)
		switch {
		case have == want:
			exact = append(exact, c)
		case want != "" && slices.Contains(strings.Split(have, "/"), want):
			segment = append(segment, c)
		case want != "" && strings.Contains(have, want):
			partial = append(partial, c)
		}
	}
	for _, m := range [][]string{exact, segment, partial} {
		if len(m) > 0 {
			slices.Sort(m)
			return slices.Compact(m)
		}
	}
	return nil
}

func (rep *report) span() string {
	const clock = "15:04"
	const day = "Jan 2 15:04"
	if rep.Window < 24*time.Hour && rep.Start.YearDay() == rep.End.Add(-time.Nanosecond).YearDay() {
		return rep.Start.Format(clock) + "–" + rep.End.Format(clock) + " UTC"
	}
	return rep.Start.Format(day) + " – " + rep.End.Format(day) + " UTC"
}

func (rep *report) subject() string {
	var s string
	switch len(rep.Matched) {
	case 0:
		s = "all routes"
	case 1:
		s = rep.Matched[0]
	default:
		s = strings.Join(rep.Matched, ", ")
	}
	if rep.Named {
		return rep.Source + ": " + s
	}
	return s
}

// measured says what the latencies are, for the report's context line.
func (rep *report) measured() string {
	switch rep.Kind {
	case contract.SourceLambda:
		return "Lambda REPORT Duration in ms (init: Init Duration)"
	case contract.SourceALB:
		return "ALB request + target + response processing time in ms"
	}
	return "API Gateway responseLatency in ms"
}

func (rep *report) noSuchRoute(cur map[string]*sketchstore.Sketches) notify.Message {
	active := make([]string, 0, len(cur))
	for k, s := range cur {
		if !s.Response.IsEmpty() {
			active = append(active, k)
		}
	}
	slices.Sort(active)
	text := fmt.Sprintf("I don't know a route matching %q.", rep.Query)
	if rep.Named {
		text = fmt.Sprintf("I don't know a route of %s matching %q.", rep.Source, rep.Query)
	}
	if len(active) > 0 {
		text += fmt.Sprintf(" Routes with traffic in the last %s: %s.", contract.FormatWindow(rep.Window), strings.Join(active, ", "))
	} else {
		text += fmt.Sprintf(" No route had traffic in the last %s.", contract.FormatWindow(rep.Window))
	}
	return notify.Message{
		Text:   escape(text),
		Blocks: []slack.Block{slack.NewSectionBlock(mrkdwn(escape(text)), nil, nil)},
	}
}

func (rep *report) noTraffic() notify.Message {
	var text string
	if rep.Query != "" {
		text = fmt.Sprintf("No requests to %s in the last %s (%s).", rep.subject(), contract.FormatWindow(rep.Window), rep.span())
	} else if rep.Named {
		text = fmt.Sprintf("No traffic to %s in the last %s (%s).", rep.Source, contract.FormatWindow(rep.Window), rep.span())
	} else {
		text = fmt.Sprintf("No API traffic in the last %s (%s).", contract.FormatWindow(rep.Window), rep.span())
	}
	if c := rep.Total.Prev.Count; c > 0 {
		text += fmt.Sprintf(" The %s before had %s.", contract.FormatWindow(rep.Window), plural(c, "request"))
	}
	return notify.Message{
		Text:     escape(text),
		Blocks:   []slack.Block{slack.NewSectionBlock(mrkdwn(escape(text)), nil, nil), rep.actions()},
		Metadata: rep.metadata(),
	}
}

// fallbackText is the message's text: the notification, and what clients
// without blocks show. Slack reads it as mrkdwn too, and route names come
// from access logs, so it is escaped like the blocks.
func (rep *report) fallbackText() string {
	t := rep.Total
	return escape(fmt.Sprintf("Latency of %s, last %s: %s, p50 %s ms, p90 %s ms, p95 %s ms, p99 %s ms (%s), max %s ms; 5xx %s, 4xx %s.",
		rep.subject(), contract.FormatWindow(rep.Window), plural(max(t.Cur.Count, t.Requests), "request"),
		formatMs(t.Cur.P50), formatMs(t.Cur.P90), formatMs(t.Cur.P95), formatMs(t.Cur.P99),
		change(t.Cur.P99, t.Prev.P99, t.Prev.Count > 0), formatMs(t.Cur.Max),
		rate(t.Status5xx, t.Requests), rate(t.Status4xx, t.Requests)))
}

func (rep *report) blocks() []slack.Block {
	title := "Latency: last " + contract.FormatWindow(rep.Window)
	switch {
	case rep.Query != "":
		title = "Latency of " + rep.subject() + ": last " + contract.FormatWindow(rep.Window)
	case rep.Named:
		title = "Latency of " + rep.Source + ": last " + contract.FormatWindow(rep.Window)
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, truncateRunes(title, 150), false, false)),
		slack.NewContextBlock("", mrkdwn(fmt.Sprintf(
			"%s, compared with the %s before · %s · DDSketch, ±1%%",
			rep.span(), contract.FormatWindow(rep.Window), rep.measured()))),
	}
	shown := rep.Routes[:len(rep.Routes)-rep.Others]
	if len(rep.Routes) != 1 {
		name := "All routes"
		if rep.Query != "" {
			name = "All matching routes"
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(section(name, rep.Total)), nil, nil))
		if len(shown) > 0 {
			blocks = append(blocks, slack.NewDividerBlock())
		}
	}
	for _, rs := range shown {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(section(escape(rs.Route), rs)), nil, nil))
	}
	var notes []string
	if rep.Others > 0 {
		notes = append(notes, fmt.Sprintf("%s more not shown, counted in the total", plural(int64(rep.Others), "route")))
	}
	if f := rep.TimeInFunc; f.Count > 0 {
		notes = append(notes, fmt.Sprintf("time in the function (integrationLatency): p50 %s ms, p99 %s ms", formatMs(f.P50), formatMs(f.P99)))
	}
	notes = append(notes,
		"tail = mean of the slowest 1%",
		"▲ up, ▼ down against the previous "+contract.FormatWindow(rep.Window),
		"shape = requests per latency bucket, 1-2-5 steps on a log scale")
	blocks = append(blocks, slack.NewContextBlock("", mrkdwn(strings.Join(notes, " · "))))
	return append(blocks, rep.actions())
}

// section is one route's part of the report: a title line and a monospace
// table, which lines up the numbers in every Slack client.
func section(name string, rs routeStats) string {
	c, p := rs.Cur, rs.Prev
	had := p.Count > 0
	var b strings.Builder
	fmt.Fprintf(&b, "*%s* · %s", name, plural(max(c.Count, rs.Requests), "request"))
	if had {
		fmt.Fprintf(&b, " (%s)", change(float64(c.Count), float64(p.Count), true))
	}
	if rs.Requests > 0 {
		fmt.Fprintf(&b, " · 5xx %s · 4xx %s", rate(rs.Status5xx, rs.Requests), rate(rs.Status4xx, rs.Requests))
	}
	if c.Count == 0 {
		b.WriteString(" · no latency in these lines")
		return b.String()
	}
	b.WriteString("\n```\n")
	cols := []struct {
		name      string
		cur, prev float64
	}{
		{"p50", c.P50, p.P50}, {"p90", c.P90, p.P90}, {"p95", c.P95, p.P95},
		{"p99", c.P99, p.P99}, {"max", c.Max, p.Max}, {"tail", c.TailMean, p.TailMean},
	}
	row := func(label string, cell func(i int) string) {
		fmt.Fprintf(&b, "%-6s", label)
		for i := range cols {
			fmt.Fprintf(&b, " %6s", cell(i))
		}
		b.WriteString("\n")
	}
	row("", func(i int) string { return cols[i].name })
	row("ms", func(i int) string { return formatMs(cols[i].cur) })
	row("change", func(i int) string { return change(cols[i].cur, cols[i].prev, had) })
	fmt.Fprintf(&b, "%-6s %s\n", "shape", Sparkline(c.Histogram))
	fmt.Fprintf(&b, "%-6s %s\n", "", sparkAxis)
	b.WriteString("```")
	return b.String()
}

// sparkBars are the eight heights of a sparkline bar.
var sparkBars = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws a histogram two characters per bucket, each bucket's bar
// as high as its share of the fullest bucket (any request at all shows as
// the lowest bar; an empty bucket is blank).
func Sparkline(h []float64) string {
	peak := slices.Max(append([]float64{0}, h...))
	var b strings.Builder
	for _, c := range h {
		r := ' '
		if c > 0 {
			level := int(math.Ceil(c/peak*float64(len(sparkBars)))) - 1
			r = sparkBars[min(max(level, 0), len(sparkBars)-1)]
		}
		b.WriteRune(r)
		b.WriteRune(r)
	}
	return strings.TrimRight(b.String(), " ")
}

// sparkAxis labels Sparkline's columns: each decade starts at bucket 1, 4,
// 7, 10 and 13 of sketchstore.HistogramEdges' 14, two characters per bucket.
const sparkAxis = "  1ms   10ms  100ms 1s    10s+"

// rate is n of total as a percentage, with the digits it deserves, and the
// count when there is any: "0%", "0.42% (3)", "12% (1,204)".
func rate(n, total int64) string {
	if n == 0 || total == 0 {
		return "0%"
	}
	pct := float64(n) / float64(total) * 100
	var p string
	switch {
	case pct < 1:
		p = strconv.FormatFloat(pct, 'f', 2, 64)
	case pct < 10:
		p = strconv.FormatFloat(pct, 'f', 1, 64)
	default:
		p = strconv.FormatFloat(pct, 'f', 0, 64)
	}
	return p + "% (" + groupThousands(n) + ")"
}

// change is the relative change from prev to cur as the report shows it.
func change(cur, prev float64, had bool) string {
	switch {
	case !had:
		return "new"
	case prev == 0 && cur == 0:
		return "±0%"
	case prev == 0:
		return "▲"
	}
	pct := (cur - prev) / prev * 100
	switch r := math.Round(pct); {
	case r == 0:
		return "±0%"
	case r > 0:
		return "▲" + strconv.FormatFloat(r, 'f', 0, 64) + "%"
	default:
		return "▼" + strconv.FormatFloat(-r, 'f', 0, 64) + "%"
	}
}

// roundMs keeps the digits a 1%-accurate value has: three significant ones
// below 100 ms, whole milliseconds above.
func roundMs(v float64) float64 {
	switch {
	case v < 10:
		return math.Round(v*100) / 100
	case v < 100:
		return math.Round(v*10) / 10
	}
	return math.Round(v)
}

func formatMs(v float64) string {
	switch v = roundMs(v); {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func plural(n int64, noun string) string {
	s := groupThousands(n) + " " + noun
	if n != 1 {
		s += "s"
	}
	return s
}

func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return "-" + groupThousands(-n)
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// metadata is the latency_report message metadata of docs/design.md, plus the window's
// start and end (unix seconds) so a reader needs no clock of its own.
func (rep *report) metadata() *slack.SlackMetadata {
	routes := make([]any, 0, len(rep.Routes))
	for _, rs := range rep.Routes {
		routes = append(routes, metaRoute(rs))
	}
	return &slack.SlackMetadata{
		EventType: MetadataEventType,
		EventPayload: map[string]any{
			"source":         rep.Source,
			"window_seconds": int64(rep.Window / time.Second),
			"start":          rep.Start.Unix(),
			"end":            rep.End.Unix(),
			"routes":         routes,
			"total":          metaRoute(rep.Total),
		},
	}
}

// metaRoute gives a route's numbers in milliseconds, and its 4xx and 5xx
// responses; a route without requests has only its counts, as there is no
// latency to give.
func metaRoute(rs routeStats) map[string]any {
	s := rs.Cur
	m := map[string]any{"route": rs.Route, "count": s.Count, "status_4xx": rs.Status4xx, "status_5xx": rs.Status5xx}
	if s.Count > 0 {
		m["p50"] = roundMs(s.P50)
		m["p90"] = roundMs(s.P90)
		m["p95"] = roundMs(s.P95)
		m["p99"] = roundMs(s.P99)
		m["max"] = roundMs(s.Max)
		m["tail_mean_p99"] = roundMs(s.TailMean)
	}
	return m
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

// escape makes s literal in mrkdwn: Slack reads &, < and > as markup.
func escape(s string) string { return slackutilsx.EscapeMessage(s) }

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
