package accesslog

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Record is one access-log line (contract.AccessLogFormat) as the ingest uses
// it. Method and Path may point into the parsed line's bytes.
type Record struct {
	Method, Path []byte
	RequestTime  int64   // ms since the epoch; 0 when the line has none
	Response     float64 // responseLatency in ms; negative when the line has none
	Integration  float64 // integrationLatency in ms; negative when the line has none
	Status       int     // the HTTP status API Gateway answered; 0 when the line has none
}

// Reasons a line is not used. They name the problem for the log without
// quoting the line.
var (
	errNotJSON    = errors.New("not a JSON object")
	errNoMethod   = errors.New("httpMethod missing or not a string")
	errNoPath     = errors.New("resourcePath missing or not a string")
	errUnrouted   = errors.New("resourcePath is - (a request that matched no route)")
	errBadTime    = errors.New("requestTimeEpoch is not a millisecond timestamp")
	errBadLatency = errors.New("not a non-negative number of milliseconds")
	errNoLatency  = errors.New("neither responseLatency nor integrationLatency has a value")
	errBadStatus  = errors.New("status is not an HTTP status code")

	// errUnusual sends a line from the fast scanner to encoding/json; it
	// never leaves ParseLine.
	errUnusual = errors.New("unusual input for the fast scanner")
)

const (
	maxLatencyMillis = 1e9  // 11.6 days: anything more is a broken line, not a slow request
	maxEpochMillis   = 1e14 // the year 5138
	maxExactDigits   = 15   // a float64 holds every integer of up to 15 digits exactly
)

// The access-log fields the ingest reads, indexes into a [fieldCount]rawField.
const (
	fieldRequestTime = iota
	fieldMethod
	fieldPath
	fieldResponse
	fieldIntegration
	fieldStatus
	fieldCount
)

var fieldNames = [fieldCount]string{"requestTimeEpoch", "httpMethod", "resourcePath", "responseLatency", "integrationLatency", "status"}

// value kinds of a raw field.
const (
	kindAbsent = iota
	kindString
	kindNumber
	kindNull
	kindOther // true, false, objects, arrays: present but of no use
)

type rawField struct {
	kind int
	text []byte // a string's decoded content or a number's text
}

// ParseLine parses one access-log line. Numbers may be JSON numbers or strings
// holding one; "-" or null means the value is missing, as API Gateway writes
// it. The common shape — a flat object of ASCII strings and integers without
// escapes — goes through a hand-written scanner that does not allocate;
// anything else is decoded by encoding/json, so both give the same answer for
// any input (FuzzParseLine holds them to that).
func ParseLine(line []byte) (Record, error) {
	var f [fieldCount]rawField
	if err := scanLine(line, &f); err != nil {
		if err != errUnusual {
			return Record{}, err
		}
		f = [fieldCount]rawField{}
		if err := decodeLineJSON(line, &f); err != nil {
			return Record{}, err
		}
	}
	return interpret(&f)
}

// decodeLineJSON is the reference decoder: slow, general, and what the fast
// scanner must agree with.
func decodeLineJSON(line []byte, f *[fieldCount]rawField) error {
	return decodeFlatJSON(line, fieldNames[:], f[:])
}

// decodeFlatJSON reads the keys names lists (a "" is not read) of a JSON
// object into the same slots of f with encoding/json: the plain reading
// beside each fast scanner.
func decodeFlatJSON(line []byte, names []string, f []rawField) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil || m == nil {
		return errNotJSON
	}
	for i, name := range names {
		raw, ok := m[name]
		if name == "" || !ok {
			continue
		}
		switch c := raw[0]; {
		case c == '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return errNotJSON
			}
			f[i] = rawField{kindString, []byte(s)}
		case c == '-' || (c >= '0' && c <= '9'):
			f[i] = rawField{kindNumber, raw}
		case c == 'n':
			f[i] = rawField{kind: kindNull}
		default:
			f[i] = rawField{kind: kindOther}
		}
	}
	return nil
}

// scanLine fills f from a flat JSON object, or returns errUnusual for anything
// it does not handle itself (escapes, non-ASCII, nested values, number forms
// other than plain integers) and errNotJSON only for what is certainly not a
// JSON object.
func scanLine(b []byte, f *[fieldCount]rawField) error {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errUnusual
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
		if skipWS(b, i) != len(b) {
			return errUnusual
		}
		return nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return errUnusual
		}
		key, next, ok := scanPlainString(b, i+1)
		if !ok {
			return errUnusual
		}
		i = skipWS(b, next)
		if i >= len(b) || b[i] != ':' {
			return errUnusual
		}
		i = skipWS(b, i+1)
		if i >= len(b) {
			return errUnusual
		}
		var v rawField
		switch c := b[i]; {
		case c == '"':
			s, next, ok := scanPlainString(b, i+1)
			if !ok {
				return errUnusual
			}
			v, i = rawField{kindString, s}, next
		case c >= '0' && c <= '9':
			j := i
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			// A leading zero is only valid alone, and fractions or exponents
			// are for encoding/json.
			if (b[i] == '0' && j-i > 1) || (j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E')) {
				return errUnusual
			}
			v, i = rawField{kindNumber, b[i:j]}, j
		case c == 'n' && bytes.HasPrefix(b[i:], []byte("null")):
			v, i = rawField{kind: kindNull}, i+4
		case c == 't' && bytes.HasPrefix(b[i:], []byte("true")):
			v, i = rawField{kind: kindOther}, i+4
		case c == 'f' && bytes.HasPrefix(b[i:], []byte("false")):
			v, i = rawField{kind: kindOther}, i+5
		default:
			return errUnusual
		}
		if k := fieldIndex(key); k >= 0 {
			f[k] = v // the last of duplicate keys wins, as with encoding/json
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return errUnusual
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			if skipWS(b, i+1) != len(b) {
				return errUnusual
			}
			return nil
		default:
			return errUnusual
		}
	}
}

// fieldIndex maps a key to its field. A switch on string(key) neither
// allocates nor compares more than the keys of the same length.
func fieldIndex(key []byte) int {
	switch string(key) {
	case "requestTimeEpoch":
		return fieldRequestTime
	case "httpMethod":
		return fieldMethod
	case "resourcePath":
		return fieldPath
	case "responseLatency":
		return fieldResponse
	case "integrationLatency":
		return fieldIntegration
	case "status":
		return fieldStatus
	}
	return -1
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanPlainString returns the content of a string starting after its opening
// quote, when it holds only printable ASCII without escapes.
func scanPlainString(b []byte, i int) (s []byte, next int, ok bool) {
	for j := i; j < len(b); j++ {
		c := b[j]
		if c == '"' {
			return b[i:j], j + 1, true
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// interpret turns the raw fields into a Record. Both decoders end here, so
// they cannot differ in what they accept.
func interpret(f *[fieldCount]rawField) (Record, error) {
	var r Record
	m := f[fieldMethod]
	if m.kind != kindString || len(m.text) == 0 || string(m.text) == "-" {
		return Record{}, errNoMethod
	}
	r.Method = m.text
	p := f[fieldPath]
	switch {
	case p.kind != kindString:
		return Record{}, errNoPath
	case len(p.text) == 0 || string(p.text) == "-":
		// API Gateway's answer to a path it has no resource for (scanners
		// probing the API): real traffic, but no route to count it under.
		return Record{}, errUnrouted
	}
	r.Path = p.text

	switch t, missing, err := number(f[fieldRequestTime]); {
	case err != nil || (!missing && (t < 0 || t >= maxEpochMillis || t != float64(int64(t)))):
		return Record{}, errBadTime
	case !missing:
		r.RequestTime = int64(t)
	}

	var err error
	if r.Response, err = latencyField(f[fieldResponse]); err != nil {
		return Record{}, fmt.Errorf("responseLatency: %w", err)
	}
	if r.Integration, err = latencyField(f[fieldIntegration]); err != nil {
		return Record{}, fmt.Errorf("integrationLatency: %w", err)
	}
	if r.Response < 0 && r.Integration < 0 {
		return Record{}, errNoLatency
	}
	// A line without a status still has its latency; one with a status
	// that is no HTTP code is broken.
	switch code, missing, err := number(f[fieldStatus]); {
	case err != nil || (!missing && !(code >= 100 && code <= 599 && code == math.Trunc(code))):
		return Record{}, errBadStatus
	case !missing:
		r.Status = int(code)
	}
	return r, nil
}

func latencyField(f rawField) (float64, error) {
	v, missing, err := number(f)
	switch {
	case err != nil || (!missing && !(v >= 0 && v < maxLatencyMillis)):
		return 0, errBadLatency
	case missing:
		return -1, nil
	}
	return v, nil
}

// number reads a number from a JSON number or a string holding one. Absent,
// null and "-" are missing; anything else that is not a JSON number is an
// error (strconv alone would take "Inf", "0x1p3" or "1_0").
func number(f rawField) (v float64, missing bool, err error) {
	switch f.kind {
	case kindAbsent, kindNull:
		return 0, true, nil
	case kindString:
		if len(f.text) == 1 && f.text[0] == '-' {
			return 0, true, nil
		}
	case kindNumber:
	default:
		return 0, false, errBadLatency
	}
	t := f.text
	if len(t) > 0 && len(t) <= maxExactDigits {
		// The hot path: a plain integer, exact in a float64.
		var n int64
		i := 0
		if len(t) >= 8 {
			if v, ok := eightDigits(t); ok {
				n, i = int64(v), 8
			}
		}
		for ; i < len(t) && t[i] >= '0' && t[i] <= '9'; i++ {
			n = n*10 + int64(t[i]-'0')
		}
		if i == len(t) && (t[0] != '0' || len(t) == 1) {
			return float64(n), false, nil
		}
		// Next most common: digits, a point, digits, as Lambda's
		// durationMs; exact as strconv.ParseFloat, see decimal.
		if i < len(t) && t[i] == '.' && i > 0 && (t[0] != '0' || i == 1) {
			if v, ok := decimal(t); ok {
				return v, false, nil
			}
		}
	}
	if !isJSONNumber(t) {
		return 0, false, errBadLatency
	}
	v, err = strconv.ParseFloat(string(t), 64)
	if err != nil {
		return 0, false, errBadLatency
	}
	return v, false, nil
}

// isJSONNumber reports whether t is a number by RFC 8259's grammar.
func isJSONNumber(t []byte) bool {
	i := 0
	if i < len(t) && t[i] == '-' {
		i++
	}
	switch {
	case i < len(t) && t[i] == '0':
		i++
	case i < len(t) && t[i] >= '1' && t[i] <= '9':
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(t) && t[i] == '.' {
		i++
		start := i
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(t) && (t[i] == 'e' || t[i] == 'E') {
		i++
		if i < len(t) && (t[i] == '+' || t[i] == '-') {
			i++
		}
		start := i
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(t)
}

// eightDigits reads the first eight bytes of b as a decimal number, when
// they are all digits: a millisecond time's first eight, in a few
// operations instead of eight dependent steps (as simdjson does).
func eightDigits(b []byte) (uint64, bool) {
	x := binary.LittleEndian.Uint64(b)
	// Each byte is 0x30-0x39: its high nibble is 3, before and after
	// adding 6.
	if (x&0xF0F0F0F0F0F0F0F0)|((x+0x0606060606060606)&0xF0F0F0F0F0F0F0F0)>>4 != 0x3333333333333333 {
		return 0, false
	}
	// Pairs of digits, then fours, then the eight; the first byte loaded
	// is the most significant digit.
	x = (x & 0x0F0F0F0F0F0F0F0F) * (10<<8 + 1) >> 8
	x = (x & 0x00FF00FF00FF00FF) * (100<<16 + 1) >> 16
	return (x & 0x0000FFFF0000FFFF) * (10000<<32 + 1) >> 32, true
}
