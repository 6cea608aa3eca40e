package accesslog

import (
	"errors"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// A hit is one request, invocation or cold start a source's log line tells
// of, as its parser read it. Slices point into the line.
type hit struct {
	// route as logged: "GET /pets/{id}" or "$default" (API Gateway), the
	// function's name (Lambda), "GET /files/a.txt" (ALB, before templating).
	// Empty: the request matched no route of its API. When method is set
	// the route is method, a space and route: a REST line's httpMethod and
	// resourcePath, as they lie in the line.
	route   []byte
	method  []byte
	ms      int64   // when, ms since the epoch; 0: when CloudWatch Logs received the line
	latency float64 // ms; negative: the line has none (an ALB -1)
	status  int     // HTTP status, 0: unknown; Lambda: 200, or 500 for a timeout or error
	init    float64 // Lambda: the init duration of a cold start, ms; negative: none
}

// Outcomes of a source's line other than a hit.
var (
	// errNotARequest is a line a source logs beside its requests: START
	// and END lines, a function's own output. It is skipped, not counted.
	errNotARequest = errors.New("not a request line")
	// errLacksLatency is a request line with no latency field at all, as
	// API Gateway's console default format writes: counted as unusable and
	// noted, so the source's listing can say what to add to the format.
	errLacksLatency = errors.New("the line has no latency field")
	errBadRoute     = errors.New("route is not a string")
	errBadTimeField = errors.New("time is neither epoch milliseconds nor a date")
)

// unescapeString decodes the content of a JSON string that simpleString
// accepted (printable ASCII and valid escapes) into dst, as encoding/json
// would: an unpaired surrogate becomes U+FFFD.
func unescapeString(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		j := i + plainPrefix(b[i:])
		dst = append(dst, b[i:j]...)
		if i = j; i >= len(b) {
			break
		}
		if b[i] != '\\' || i+1 >= len(b) {
			// Not from simpleString; keep the byte rather than lose it.
			dst = append(dst, b[i])
			i++
			continue
		}
		if e := b[i+1]; e != 'u' {
			dst = append(dst, unescape[e])
			i += 2
			continue
		}
		r := getu4(b[i:])
		if r < 0 {
			dst = append(dst, b[i])
			i++
			continue
		}
		i += 6
		if utf16.IsSurrogate(r) {
			if dec := utf16.DecodeRune(r, getu4(b[i:])); dec != unicode.ReplacementChar {
				dst = utf8.AppendRune(dst, dec)
				i += 6
				continue
			}
			r = unicode.ReplacementChar
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}
