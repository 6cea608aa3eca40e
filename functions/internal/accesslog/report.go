package accesslog

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Lambda writes one REPORT line per invocation, as text,
//
//	REPORT RequestId: 3604209a-…	Duration: 2.56 ms	Billed Duration: 3 ms	Memory Size: 128 MB	Max Memory Used: 62 MB	Init Duration: 148.23 ms
//
// (tab separated; Init Duration on a cold start; Status: timeout or error
// when the invocation failed), or, in the JSON log format, as a
// platform.report record:
//
//	{"time":"…","type":"platform.report","record":{"requestId":"…","metrics":{"durationMs":2.56,"initDurationMs":148.23,…},"status":"success"}}
//
// Every other line (START, END, the function's own output) is
// errNotARequest. parseReport reads a line where it lies, escaped inside
// the batch's JSON string or decoded; text is scratch space.
func parseReport(msg []byte, escaped bool, text *[]byte) (hit, error) {
	if bytes.HasPrefix(msg, reportPrefix) {
		if h, err := reportText(msg, escaped); err != errUnusual {
			return h, err
		}
		*text = unescapeString((*text)[:0], msg)
		return reportText(*text, false)
	}
	if len(msg) == 0 || msg[0] != '{' && msg[0] != ' ' && msg[0] != '\\' && msg[0] != '\t' && msg[0] != '\n' && msg[0] != '\r' {
		return hit{}, errNotARequest
	}
	// A platform.report record names its type: without the name, or an
	// escape that could spell it, the line is something else.
	if !bytes.Contains(msg, platformReport) && !bytes.Contains(msg, []byte(`\u`)) {
		return hit{}, errNotARequest
	}
	if escaped {
		if h, err := reportJSON(msg, true); err != errUnusual {
			return h, err
		}
		*text = unescapeString((*text)[:0], msg)
		msg = *text
	}
	if h, err := reportJSON(msg, false); err != errUnusual {
		return h, err
	}
	return reportJSONReference(msg)
}

var (
	reportPrefix   = []byte("REPORT RequestId: ")
	platformReport = []byte("platform.report")
)

// reportText reads a text REPORT line. Escaped, a tab is the two bytes \t
// and other escapes are passed over in pairs; only an escape inside a
// value it reads is errUnusual.
func reportText(b []byte, escaped bool) (hit, error) {
	h := hit{latency: -1, init: -1, status: 200}
	sawDuration := false
	for i, first := len(reportPrefix), true; i < len(b); first = false {
		// The field runs to the next tab.
		j := i
		for j < len(b) {
			if !escaped && b[j] == '\t' {
				break
			}
			if escaped && b[j] == '\\' {
				if j+1 < len(b) && b[j+1] == 't' {
					break
				}
				j += 2
				continue
			}
			j++
		}
		field := b[i:min(j, len(b))]
		if escaped {
			i = j + 2
		} else {
			i = j + 1
		}
		if first {
			continue // the request id
		}
		if err := reportField(&h, field, escaped, &sawDuration); err != nil {
			return hit{}, err
		}
	}
	if !sawDuration {
		return hit{}, errLacksLatency
	}
	return h, nil
}

// reportInline reads a REPORT line, text or JSON, where it lies in the
// batch (see inlineFunc), checking its escapes as simpleString does, and
// finds any other line that cannot be one. Anything unusual it leaves to be
// found and read later.
func reportInline(b []byte, ev *logEvent) (int, bool) {
	if len(b) > 0 && b[0] == '{' {
		if end, ok := reportAsWritten(b, ev); ok {
			return end, true
		}
		h, end, err := reportJSONAt(b, true)
		if err == errUnusual {
			return 0, false
		}
		ev.h, ev.err = h, err
		return end, true
	}
	if !bytes.HasPrefix(b, reportPrefix) {
		if len(b) > 0 && (b[0] == ' ' || b[0] == '\\') {
			return 0, false // space or an escape, perhaps before a '{'
		}
		// START, END, the function's own output: parseReport's
		// errNotARequest, for a line starting with anything else.
		end, ok := simpleString(b)
		if ok {
			ev.h, ev.err = hit{}, errNotARequest
		}
		return end, ok
	}
	h := hit{latency: -1, init: -1, status: 200}
	sawDuration, first := false, true
	start := len(reportPrefix)
	for i := start; ; {
		j := i + plainPrefix(b[i:])
		if j+1 >= len(b) {
			return 0, false
		}
		if b[j] == '"' || b[j] == '\\' && b[j+1] == 't' {
			if !first {
				if err := reportField(&h, b[start:j], true, &sawDuration); err == errUnusual {
					return 0, false
				} else if err != nil {
					ev.h, ev.err = hit{}, err
					return stringEnd(b, j)
				}
			}
			if b[j] == '"' {
				ev.h, ev.err = h, nil
				if !sawDuration {
					ev.h, ev.err = hit{}, errLacksLatency
				}
				return j, true
			}
			first, i, start = false, j+2, j+2
			continue
		}
		if b[j] != '\\' {
			return 0, false // a control byte or raw UTF-8: simpleString's to refuse
		}
		switch b[j+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r':
			i = j + 2
		case 'u':
			if getu4(b[j:]) < 0 {
				return 0, false
			}
			i = j + 6
		default:
			return 0, false
		}
	}
}

// The platform.report record as Lambda writes it, escaped in the batch.
var (
	prTime     = []byte(`{\"time\":\"`)
	prRecord   = []byte(`\",\"type\":\"platform.report\",\"record\":{\"requestId\":\"`)
	prDuration = []byte(`\",\"metrics\":{\"durationMs\":`)
	prBilled   = []byte(`,\"billedDurationMs\":`)
	prMemory   = []byte(`,\"memorySizeMB\":`)
	prMaxUsed  = []byte(`,\"maxMemoryUsedMB\":`)
	prInit     = []byte(`,\"initDurationMs\":`)
	prStatus   = []byte(`},\"status\":\"`)
	prEnd      = []byte(`\"}}"`)
)

// reportAsWritten reads a platform.report record laid out exactly as
// Lambda writes one, {"time":…,"type":"platform.report","record":
// {"requestId":…,"metrics":{"durationMs":…,"billedDurationMs":…,
// "memorySizeMB":…,"maxMemoryUsedMB":…[,"initDurationMs":…]},"status":…}},
// and reports false, having read nothing, for anything else: a subset of
// what reportJSONAt reads, with the same answer.
func reportAsWritten(b []byte, ev *logEvent) (int, bool) {
	i := 0
	lit := func(l []byte) bool {
		if !bytes.HasPrefix(b[i:], l) {
			return false
		}
		i += len(l)
		return true
	}
	// str passes a plain string value up to its closing \".
	str := func() ([]byte, bool) {
		j := i + plainPrefix(b[i:])
		if j+1 >= len(b) || b[j] != '\\' || b[j+1] != '"' {
			return nil, false
		}
		v := b[i:j]
		i = j
		return v, true
	}
	// num passes a number of digits and perhaps a fraction, checking it as
	// isJSONNumber would as it goes. A second point or an exponent after
	// it is no literal's start, so fails the line there.
	num := func() ([]byte, bool) {
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == i || b[i] == '0' && j > i+1 {
			return nil, false
		}
		if j < len(b) && b[j] == '.' {
			k := j + 1
			for k < len(b) && b[k] >= '0' && b[k] <= '9' {
				k++
			}
			if k == j+1 {
				return nil, false
			}
			j = k
		}
		v := b[i:j]
		i = j
		return v, true
	}
	var duration, initDuration, status []byte
	if !lit(prTime) {
		return 0, false
	}
	if _, ok := str(); !ok || !lit(prRecord) {
		return 0, false
	}
	if _, ok := str(); !ok || !lit(prDuration) {
		return 0, false
	}
	var ok bool
	if duration, ok = num(); !ok {
		return 0, false
	}
	for _, l := range [][]byte{prBilled, prMemory, prMaxUsed} {
		if !lit(l) {
			return 0, false
		}
		if _, ok := num(); !ok {
			return 0, false
		}
	}
	if lit(prInit) {
		if initDuration, ok = num(); !ok {
			return 0, false
		}
	}
	if !lit(prStatus) {
		return 0, false
	}
	if status, ok = str(); !ok || !lit(prEnd) {
		return 0, false
	}
	init := rawField{}
	if initDuration != nil {
		init = rawField{kindNumber, initDuration}
	}
	ev.h, ev.err = interpretReport(rawField{kindString, platformReport}, rawField{kindString, status}, rawField{kindNumber, duration}, init)
	return i - 1, true
}

// stringEnd finds the end of the string whose content starts b, from j on,
// as simpleString does.
func stringEnd(b []byte, j int) (int, bool) {
	end, ok := simpleString(b[j:])
	return j + end, ok
}

// reportField reads one field of a text REPORT line into h.
func reportField(h *hit, field []byte, escaped bool, sawDuration *bool) error {
	if len(field) == 0 || field[0] != 'D' && field[0] != 'I' && field[0] != 'S' {
		// Not one of those read below: Billed Duration, Memory Size, Max
		// Memory Used, and what Lambda may add.
		return nil
	}
	// The last field ends the line.
	for {
		if escaped && (bytes.HasSuffix(field, []byte(`\n`)) || bytes.HasSuffix(field, []byte(`\r`))) {
			field = field[:len(field)-2]
		} else if !escaped && (bytes.HasSuffix(field, []byte("\n")) || bytes.HasSuffix(field, []byte("\r"))) {
			field = field[:len(field)-1]
		} else {
			break
		}
	}
	var dst *float64
	var v []byte
	switch {
	case bytes.HasPrefix(field, []byte("Duration: ")):
		dst, v, *sawDuration = &h.latency, field[len("Duration: "):], true
	case bytes.HasPrefix(field, []byte("Init Duration: ")):
		dst, v = &h.init, field[len("Init Duration: "):]
	case bytes.HasPrefix(field, []byte("Status: ")):
		if escaped && bytes.IndexByte(field, '\\') >= 0 {
			return errUnusual
		}
		switch string(field[len("Status: "):]) {
		case "timeout", "error":
			h.status = 500
		}
		return nil
	default:
		return nil
	}
	if escaped && bytes.IndexByte(v, '\\') >= 0 {
		return errUnusual
	}
	v, ok := bytes.CutSuffix(v, []byte(" ms"))
	if !ok {
		return errBadLatency
	}
	ms, ok := decimal(v)
	if !ok {
		return errBadLatency
	}
	*dst = ms
	return nil
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// decimal reads digits with an optional fraction, as Lambda writes
// durations, below maxLatencyMillis. Up to 15 digits it divides two exact
// float64s, which IEEE rounds correctly: strconv.ParseFloat's answer.
func decimal(b []byte) (float64, bool) {
	var n int64
	digits, frac, dot := 0, 0, false
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			n = n*10 + int64(c-'0')
			digits++
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			return 0, false
		}
	}
	if digits == 0 || (dot && frac == 0) || b[0] == '.' {
		return 0, false
	}
	var v float64
	if digits <= 15 {
		v = float64(n) / pow10[frac]
	} else {
		var err error
		if v, err = strconv.ParseFloat(string(b), 64); err != nil {
			return 0, false
		}
	}
	return v, v < maxLatencyMillis
}

// reportJSON reads a platform.report record from compact JSON (escaped:
// each quote is \"), walking it once; anything it does not handle is
// errUnusual.
func reportJSON(b []byte, escaped bool) (hit, error) {
	h, _, err := reportJSONAt(b, escaped)
	return h, err
}

// reportJSONAt is reportJSON for a record that ends at the end of b or,
// escaped, at its string's closing quote, whose index is end.
func reportJSONAt(b []byte, escaped bool) (h hit, end int, err error) {
	w := jsonWalker{b: b, escaped: escaped}
	var typ, status, duration, initDuration rawField
	err = w.object(func(k []byte) error {
		switch string(k) {
		case "type":
			return w.value(&typ)
		case "record":
			// The last of repeated keys wins whole, as with encoding/json.
			status, duration, initDuration = rawField{}, rawField{}, rawField{}
			if w.peek() != '{' {
				return w.skip()
			}
			return w.object(func(k []byte) error {
				switch string(k) {
				case "status":
					return w.value(&status)
				case "metrics":
					duration, initDuration = rawField{}, rawField{}
					if w.peek() != '{' {
						return w.skip()
					}
					return w.object(func(k []byte) error {
						switch string(k) {
						case "durationMs":
							return w.value(&duration)
						case "initDurationMs":
							return w.value(&initDuration)
						}
						return w.skip()
					})
				}
				return w.skip()
			})
		}
		return w.skip()
	})
	if err == nil {
		if end = w.ws(); end != len(b) && !(escaped && b[end] == '"') {
			err = errUnusual
		}
	}
	if err != nil {
		return hit{}, 0, err
	}
	h, err = interpretReport(typ, status, duration, initDuration)
	return h, end, err
}

// reportJSONReference is reportJSON by encoding/json, for what the walker
// does not handle, and what FuzzReportLine holds it to.
func reportJSONReference(b []byte) (hit, error) {
	field := func(m map[string]json.RawMessage, k string) rawField {
		raw, ok := m[k]
		if !ok {
			return rawField{}
		}
		switch c := raw[0]; {
		case c == '"':
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return rawField{kind: kindOther}
			}
			return rawField{kindString, []byte(s)}
		case c == '-' || c >= '0' && c <= '9':
			return rawField{kindNumber, raw}
		case c == 'n':
			return rawField{kind: kindNull}
		}
		return rawField{kind: kindOther}
	}
	object := func(m map[string]json.RawMessage, k string) map[string]json.RawMessage {
		var o map[string]json.RawMessage
		if raw, ok := m[k]; ok && raw[0] == '{' {
			_ = json.Unmarshal(raw, &o)
		}
		return o
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil || top == nil {
		return hit{}, errNotARequest
	}
	record := object(top, "record")
	metrics := object(record, "metrics")
	return interpretReport(field(top, "type"), field(record, "status"), field(metrics, "durationMs"), field(metrics, "initDurationMs"))
}

func interpretReport(typ, status, duration, initDuration rawField) (hit, error) {
	if typ.kind != kindString || string(typ.text) != "platform.report" {
		return hit{}, errNotARequest
	}
	h := hit{status: 200, init: -1}
	if status.kind == kindString {
		switch string(status.text) {
		case "timeout", "error", "failure":
			h.status = 500
		}
	}
	if duration.kind != kindNumber {
		return hit{}, errLacksLatency
	}
	var err error
	if h.latency, err = latencyField(duration); err != nil || h.latency < 0 {
		return hit{}, errBadLatency
	}
	if initDuration.kind == kindNumber {
		if h.init, err = latencyField(initDuration); err != nil {
			return hit{}, errBadLatency
		}
	}
	return h, nil
}

// jsonWalker reads compact JSON, plain or escaped inside a JSON string
// (where each quote is \"), for the few values a parser wants. Strings with
// escapes, whitespace in the escaped form, deep nesting and anything
// invalid are errUnusual.
type jsonWalker struct {
	b       []byte
	i       int
	escaped bool
	depth   int
}

func (w *jsonWalker) ws() int {
	if w.escaped {
		// A tab or newline is escaped too, and so unusual here.
		for w.i < len(w.b) && w.b[w.i] == ' ' {
			w.i++
		}
		return w.i
	}
	w.i = skipWS(w.b, w.i)
	return w.i
}

func (w *jsonWalker) peek() byte {
	if w.ws() < len(w.b) {
		return w.b[w.i]
	}
	return 0
}

func (w *jsonWalker) quote() bool {
	if w.escaped {
		return w.i+1 < len(w.b) && w.b[w.i] == '\\' && w.b[w.i+1] == '"'
	}
	return w.i < len(w.b) && w.b[w.i] == '"'
}

func (w *jsonWalker) str() ([]byte, bool) {
	if !w.quote() {
		return nil, false
	}
	q := 1
	if w.escaped {
		q = 2
	}
	start := w.i + q
	j := start + plainPrefix(w.b[start:])
	w.i = j
	if !w.quote() {
		return nil, false
	}
	w.i += q
	return w.b[start:j], true
}

func (w *jsonWalker) object(field func(key []byte) error) error {
	if w.peek() != '{' {
		return errUnusual
	}
	if w.depth++; w.depth > maxSkipDepth {
		return errUnusual
	}
	defer func() { w.depth-- }()
	w.i++
	if w.peek() == '}' {
		w.i++
		return nil
	}
	for {
		w.ws()
		key, ok := w.str()
		if !ok || w.peek() != ':' {
			return errUnusual
		}
		w.i++
		w.ws()
		if err := field(key); err != nil {
			return err
		}
		switch w.peek() {
		case ',':
			w.i++
		case '}':
			w.i++
			return nil
		default:
			return errUnusual
		}
	}
}

// value reads a scalar into f; the last of repeated keys wins, as with
// encoding/json.
func (w *jsonWalker) value(f *rawField) error {
	switch c := w.peek(); {
	case c == '{' || c == '[':
		*f = rawField{kind: kindOther}
		return w.skip()
	case w.quote():
		s, ok := w.str()
		if !ok {
			return errUnusual
		}
		*f = rawField{kindString, s}
		return nil
	case c == '-' || c >= '0' && c <= '9':
		j := w.i + 1
		for j < len(w.b) && (w.b[j] >= '0' && w.b[j] <= '9' || w.b[j] == '.' || w.b[j] == 'e' || w.b[j] == 'E' || w.b[j] == '+' || w.b[j] == '-') {
			j++
		}
		if !isJSONNumber(w.b[w.i:j]) {
			return errUnusual
		}
		*f, w.i = rawField{kindNumber, w.b[w.i:j]}, j
		return nil
	case hasLit(w.b[w.i:], "null"):
		*f = rawField{kind: kindNull}
		w.i += 4
		return nil
	case hasLit(w.b[w.i:], "true"):
		*f = rawField{kind: kindOther}
		w.i += 4
		return nil
	case hasLit(w.b[w.i:], "false"):
		*f = rawField{kind: kindOther}
		w.i += 5
		return nil
	}
	return errUnusual
}

func (w *jsonWalker) skip() error {
	switch w.peek() {
	case '{':
		return w.object(func([]byte) error { return w.skip() })
	case '[':
		if w.depth++; w.depth > maxSkipDepth {
			return errUnusual
		}
		defer func() { w.depth-- }()
		w.i++
		if w.peek() == ']' {
			w.i++
			return nil
		}
		for {
			if err := w.skip(); err != nil {
				return err
			}
			switch w.peek() {
			case ',':
				w.i++
			case ']':
				w.i++
				return nil
			default:
				return errUnusual
			}
		}
	}
	var f rawField
	return w.value(&f)
}
