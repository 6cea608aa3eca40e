package accesslog

import (
	"bytes"
	"time"

	"github.com/lambda-slackbot/slackbot/contract"
)

// The slots of an API Gateway line the ingest reads.
const (
	gwRoute   = iota // routeKey (HTTP APIs), or the fields.route key
	gwMethod         // httpMethod (REST APIs)
	gwPath           // resourcePath (REST APIs)
	gwLatency        // responseLatency, or fields.latency
	gwStatus         // status, or fields.status
	gwEpoch          // requestTimeEpoch
	gwTime           // requestTime (CLF), or fields.time
	gwCount
)

// gatewayFormat reads the JSON access log of another API Gateway stage, REST
// or HTTP API, keys in any order, with the keys a source's fields name.
type gatewayFormat struct {
	names [gwCount]string // "" for a slot not read
	// byLen lists the slots whose key has each length (longer keys are
	// under maxKeyLen), so a key costs one comparison, not one per slot.
	byLen [maxKeyLen + 1][]int
}

const maxKeyLen = 32

func newGatewayFormat(fields map[string]string) *gatewayFormat {
	g := &gatewayFormat{names: [gwCount]string{
		gwRoute: "routeKey", gwMethod: "httpMethod", gwPath: "resourcePath",
		gwLatency: "responseLatency", gwStatus: "status", gwEpoch: "requestTimeEpoch", gwTime: "requestTime",
	}}
	if k := fields[contract.FieldRoute]; k != "" {
		g.names[gwRoute], g.names[gwMethod], g.names[gwPath] = k, "", ""
	}
	if k := fields[contract.FieldLatency]; k != "" {
		g.names[gwLatency] = k
	}
	if k := fields[contract.FieldStatus]; k != "" {
		g.names[gwStatus] = k
	}
	if k := fields[contract.FieldTime]; k != "" {
		g.names[gwEpoch], g.names[gwTime] = "", k
	}
	for slot, n := range g.names {
		if n != "" {
			l := min(len(n), maxKeyLen)
			g.byLen[l] = append(g.byLen[l], slot)
		}
	}
	return g
}

// slots returns the slots key fills: usually none or one.
func (g *gatewayFormat) slots(key []byte) (a, b int) {
	a, b = -1, -1
	for _, s := range g.byLen[min(len(key), maxKeyLen)] {
		if string(key) == g.names[s] {
			if a < 0 {
				a = s
			} else {
				b = s
			}
		}
	}
	return a, b
}

// parse reads one line. msg is escaped when it still lies inside the
// batch's JSON string; text is scratch space for its decoded form.
func (g *gatewayFormat) parse(msg []byte, escaped bool, text *[]byte) (hit, error) {
	var f [gwCount]rawField
	_, err := g.scan(msg, escaped, &f)
	if err == errUnusual && escaped {
		*text = unescapeString((*text)[:0], msg)
		msg = *text
		f = [gwCount]rawField{}
		_, err = g.scan(msg, false, &f)
	}
	if err == errUnusual {
		f = [gwCount]rawField{}
		err = g.reference(msg, &f)
	}
	if err != nil {
		return hit{}, err
	}
	return g.interpret(&f)
}

// gwShape is the keys of the last line a format read, each as it lay from
// its opening quote to its value, with the slots it fills: a stage writes
// every line with the same keys in the same order, so the next line's keys
// are matched whole, not read.
type gwShape struct {
	g    *gatewayFormat
	keys []keyShape
	// seams are the same line cut at its values, for scanAsShaped: each
	// runs from the end of a value (or the line's '{') to the start of the
	// next, the previous value's closing quote, the comma, the key and the
	// value's opening quote in one; tail closes the last value, the object
	// and the message. Empty: the last line had a value of another kind
	// than a plain string or number, or whitespace between a value and its
	// comma.
	seams []seam
	tail  []byte
	buf   []byte // holds the seams' and the tail's bytes
}

type keyShape struct {
	lit    []byte
	s1, s2 int
	kind   int // of the value the last line had here
}

type seam struct {
	lit    []byte
	s1, s2 int
	str    bool // the value is a string, whose opening quote ends lit
}

// learnSeams cuts the n keys of a line scanShaped just read, to the closing
// quote of the message, into seams.
func (shape *gwShape) learnSeams(n int, spaced bool) {
	shape.seams, shape.tail, shape.buf = shape.seams[:0], nil, shape.buf[:0]
	if spaced || n == 0 {
		return
	}
	keys := shape.keys[:n]
	for _, k := range keys {
		if k.kind != kindString && k.kind != kindNumber {
			return
		}
	}
	// Two passes: the first sizes buf, so the seams' slices into it stay
	// valid as it is filled.
	size := 4
	for _, k := range keys {
		size += 1 + 2 + len(k.lit) + 2
	}
	if cap(shape.buf) < size {
		shape.buf = make([]byte, 0, size)
	}
	buf := shape.buf
	open := "{"
	for _, k := range keys {
		start := len(buf)
		buf = append(append(buf, open...), k.lit...)
		if k.kind == kindString {
			buf = append(buf, '\\', '"')
			open = `\",`
		} else {
			open = ","
		}
		shape.seams = append(shape.seams, seam{buf[start:len(buf):len(buf)], k.s1, k.s2, k.kind == kindString})
	}
	start := len(buf)
	buf = append(append(buf, open[:len(open)-1]...), '}', '"')
	shape.tail, shape.buf = buf[start:], buf
}

// maxShapeKeys bounds a shape; keys past it are read.
const maxShapeKeys = 64

// inlineShaped reads a line where it lies in the batch (see inlineFunc),
// with the shape of the last line (nil: none).
func (g *gatewayFormat) inlineShaped(b []byte, ev *logEvent, shape *gwShape) (int, bool) {
	var f [gwCount]rawField
	end, ok := g.scanAsShaped(b, &f, shape)
	if !ok {
		f = [gwCount]rawField{}
		var err error
		if end, err = g.scanShaped(b, true, &f, shape); err != nil {
			return 0, false
		}
	}
	ev.h, ev.err = g.interpret(&f)
	return end, true
}

// scan fills f from a flat JSON object: the line itself, or (escaped) the
// line as it lies inside a JSON string, where each quote is \". Anything
// else (nested values, escapes inside strings, non-ASCII, whitespace other
// than spaces in the escaped form) is errUnusual, for the decoded line or
// encoding/json. It accepts only valid JSON, and reads it as encoding/json
// does (FuzzGatewayLine holds it to reference). The line ends at the end of
// b or, escaped, at the string's closing quote, whose index is end.
func (g *gatewayFormat) scan(b []byte, escaped bool, f *[gwCount]rawField) (end int, err error) {
	return g.scanShaped(b, escaped, f, nil)
}

// scanShaped is scan, matching keys against shape and learning it.
func (g *gatewayFormat) scanShaped(b []byte, escaped bool, f *[gwCount]rawField, shape *gwShape) (end int, err error) {
	if shape != nil && shape.g != g {
		shape.g, shape.keys, shape.seams = g, shape.keys[:0], shape.seams[:0]
	}
	q := 1 // the length of a quote: " or \"
	if escaped {
		q = 2
	}
	quote := func(i int) bool {
		if escaped {
			return i+1 < len(b) && b[i] == '\\' && b[i+1] == '"'
		}
		return i < len(b) && b[i] == '"'
	}
	// str reads a string whose opening quote ends at i; it returns its
	// content and the index after its closing quote.
	str := func(i int) ([]byte, int, bool) {
		j := i + plainPrefix(b[i:])
		if !quote(j) {
			return nil, 0, false
		}
		return b[i:j], j + q, true
	}
	ws := func(i int) int {
		if escaped {
			// A tab or newline is escaped too, and so unusual here.
			for i < len(b) && b[i] == ' ' {
				i++
			}
			return i
		}
		return skipWS(b, i)
	}
	// done reports whether the line ends at i.
	done := func(i int) (int, bool) {
		i = ws(i)
		if i == len(b) || escaped && b[i] == '"' {
			return i, true
		}
		return 0, false
	}
	// spaced says the line has whitespace outside its keys, which the
	// seams do not hold.
	i := ws(0)
	spaced := i != 0
	if i >= len(b) || b[i] != '{' {
		return 0, errUnusual
	}
	i = ws(i + 1)
	spaced = spaced || b[i-1] != '{'
	if i < len(b) && b[i] == '}' {
		if end, ok := done(i + 1); ok {
			return end, nil
		}
		return 0, errUnusual
	}
	for k := 0; ; k++ {
		var s1, s2 int
		if shape != nil && k < len(shape.keys) && bytes.HasPrefix(b[i:], shape.keys[k].lit) {
			sk := &shape.keys[k]
			i += len(sk.lit)
			s1, s2 = sk.s1, sk.s2
		} else {
			start := i
			if !quote(i) {
				return 0, errUnusual
			}
			key, next, ok := str(i + q)
			if !ok {
				return 0, errUnusual
			}
			i = ws(next)
			if i >= len(b) || b[i] != ':' {
				return 0, errUnusual
			}
			i = ws(i + 1)
			s1, s2 = g.slots(key)
			if shape != nil && k <= len(shape.keys) && k < maxShapeKeys {
				ks := keyShape{lit: append([]byte(nil), b[start:i]...), s1: s1, s2: s2}
				if k < len(shape.keys) {
					shape.keys[k] = ks
				} else {
					shape.keys = append(shape.keys, ks)
				}
			}
		}
		if i >= len(b) {
			return 0, errUnusual
		}
		var v rawField
		switch c := b[i]; {
		case quote(i):
			s, next, ok := str(i + q)
			if !ok {
				return 0, errUnusual
			}
			v, i = rawField{kindString, s}, next
		case c == '-' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] == '+' || b[j] == '-') {
				j++
			}
			if !isJSONNumber(b[i:j]) {
				return 0, errUnusual
			}
			v, i = rawField{kindNumber, b[i:j]}, j
		case c == 'n' && hasLit(b[i:], "null"):
			v, i = rawField{kind: kindNull}, i+4
		case c == 't' && hasLit(b[i:], "true"):
			v, i = rawField{kind: kindOther}, i+4
		case c == 'f' && hasLit(b[i:], "false"):
			v, i = rawField{kind: kindOther}, i+5
		default:
			return 0, errUnusual
		}
		// The last of repeated keys wins, as with encoding/json.
		if s1 >= 0 {
			f[s1] = v
			if s2 >= 0 {
				f[s2] = v
			}
		}
		if shape != nil && k < len(shape.keys) {
			shape.keys[k].kind = v.kind
		}
		next := ws(i)
		spaced = spaced || next != i
		if i = next; i >= len(b) {
			return 0, errUnusual
		}
		switch b[i] {
		case ',':
			i = ws(i + 1)
			spaced = spaced || b[i-1] != ','
		case '}':
			if end, ok := done(i + 1); ok {
				if shape != nil && escaped {
					// Every key of the line is in the shape when there
					// are no more than maxShapeKeys.
					shape.learnSeams(k+1, spaced || end != i+1 || k >= maxShapeKeys)
				}
				return end, nil
			}
			return 0, errUnusual
		default:
			return 0, errUnusual
		}
	}
}

// scanAsShaped reads, in place, a line laid out exactly as the last line
// scanShaped read: the shape's seams with, between them, a string without
// escapes where that line had a string, and digits where it had a number.
// It reports false, having learnt nothing, for any other line, which
// scanShaped reads instead; what it accepts it reads as scanShaped does
// (FuzzGatewayLine). A string value ends at its first special byte
// (plainPrefix), where the next seam must start with its closing \"; a
// number is a run of digits without a leading zero, which is a JSON number,
// and ends where the next seam's comma or brace starts.
func (g *gatewayFormat) scanAsShaped(b []byte, f *[gwCount]rawField, shape *gwShape) (end int, ok bool) {
	if shape == nil || shape.g != g || len(shape.seams) == 0 {
		return 0, false
	}
	i := 0
	for k := range shape.seams {
		sm := &shape.seams[k]
		if !bytes.HasPrefix(b[i:], sm.lit) {
			return 0, false
		}
		i += len(sm.lit)
		j := i
		if sm.str {
			j += plainPrefix(b[i:])
		} else {
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			// A fraction, an exponent, a sign or a leading zero is
			// scanShaped's to read.
			if j == i || b[i] == '0' && j > i+1 || j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] == '+' || b[j] == '-') {
				return 0, false
			}
		}
		if sm.s1 >= 0 {
			kind := kindNumber
			if sm.str {
				kind = kindString
			}
			f[sm.s1] = rawField{kind, b[i:j]}
			if sm.s2 >= 0 {
				f[sm.s2] = f[sm.s1]
			}
		}
		i = j
	}
	if !bytes.HasPrefix(b[i:], shape.tail) {
		return 0, false
	}
	return i + len(shape.tail) - 1, true
}

func hasLit(b []byte, lit string) bool { return len(b) >= len(lit) && string(b[:len(lit)]) == lit }

// reference reads a decoded line with encoding/json: slow, general, and
// what scan must agree with.
func (g *gatewayFormat) reference(line []byte, f *[gwCount]rawField) error {
	return decodeFlatJSON(line, g.names[:], f[:])
}

// interpret turns the slots into a hit; both readers end here.
func (g *gatewayFormat) interpret(f *[gwCount]rawField) (hit, error) {
	var h hit
	if r := f[gwRoute]; r.kind == kindString && len(r.text) > 0 && string(r.text) != "-" {
		h.route = r.text
	} else if m, p := f[gwMethod], f[gwPath]; m.kind == kindString && p.kind == kindString &&
		len(m.text) > 0 && string(m.text) != "-" && len(p.text) > 0 && string(p.text) != "-" {
		h.method, h.route = m.text, p.text
	}
	// A route of "-" or none: a request that matched no route, counted
	// under contract.OtherRoute.

	if f[gwLatency].kind == kindAbsent {
		return hit{}, errLacksLatency
	}
	var err error
	if h.latency, err = latencyField(f[gwLatency]); err != nil {
		return hit{}, err
	}
	switch code, missing, err := number(f[gwStatus]); {
	case err != nil || (!missing && !(code >= 100 && code <= 599 && code == float64(int(code)))):
		return hit{}, errBadStatus
	case !missing:
		h.status = int(code)
	}
	switch t, missing, err := number(f[gwEpoch]); {
	case err != nil || (!missing && (t < 0 || t >= maxEpochMillis || t != float64(int64(t)))):
		return hit{}, errBadTime
	case !missing:
		h.ms = int64(t)
		return h, nil
	}
	if h.ms, err = timeField(f[gwTime]); err != nil {
		return hit{}, err
	}
	return h, nil
}

// timeField reads a time as epoch milliseconds (a number, or a string of
// digits), API Gateway's requestTime (02/Jan/2006:15:04:05 -0700) or
// RFC 3339; absent, null and "-" are 0.
func timeField(f rawField) (int64, error) {
	switch f.kind {
	case kindAbsent, kindNull:
		return 0, nil
	case kindNumber:
	case kindString:
		if len(f.text) == 1 && f.text[0] == '-' {
			return 0, nil
		}
		if ms, ok := clfMillis(f.text); ok {
			return ms, nil
		}
		if len(f.text) > 0 && (f.text[0] < '0' || f.text[0] > '9' || len(f.text) > 10 && f.text[4] == '-') {
			t, err := time.Parse(time.RFC3339Nano, string(f.text))
			if err != nil {
				return 0, errBadTimeField
			}
			return t.UnixMilli(), nil
		}
	default:
		return 0, errBadTimeField
	}
	t, missing, err := number(f)
	if err != nil || missing || t < 0 || t >= maxEpochMillis || t != float64(int64(t)) {
		return 0, errBadTimeField
	}
	return int64(t), nil
}

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// clfMillis reads 02/Jan/2006:15:04:05 -0700, the common log format's time
// that API Gateway's $context.requestTime writes.
func clfMillis(b []byte) (int64, bool) {
	if len(b) != 26 || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' || b[17] != ':' || b[20] != ' ' || (b[21] != '+' && b[21] != '-') {
		return 0, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	month := 0
	for i, m := range months {
		if string(b[3:6]) == m {
			month = i + 1
		}
	}
	day, ok1 := num(b[0:2])
	year, ok2 := num(b[7:11])
	hour, ok3 := num(b[12:14])
	minute, ok4 := num(b[15:17])
	sec, ok5 := num(b[18:20])
	zh, ok6 := num(b[22:24])
	zm, ok7 := num(b[24:26])
	if month == 0 || !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 || zm > 59 {
		return 0, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	if t.Day() != day {
		return 0, false // 31/Feb
	}
	off := time.Duration(zh)*time.Hour + time.Duration(zm)*time.Minute
	if b[21] == '+' {
		off = -off
	}
	return t.Add(off).UnixMilli(), true
}
