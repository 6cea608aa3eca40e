package accesslog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/bits"
	"strings"
	"time"
)

// An Application Load Balancer access-log line is space separated, some
// fields quoted:
//
//	type time elb client:port target:port request_processing_time target_processing_time response_processing_time elb_status_code target_status_code received_bytes sent_bytes "request" "user_agent" …
//
// The ingest reads the first thirteen; AWS appends fields over the years,
// and whatever follows the request is ignored.

// albFields is how many space-separated fields come before the request.
const albFields = 12

var (
	errALBShort   = errors.New("fewer fields than an ALB access-log line has")
	errALBTime    = errors.New("time is not an ISO 8601 UTC time")
	errALBLatency = errors.New("a processing time is neither seconds nor -1")
	errALBStatus  = errors.New("elb_status_code is neither an HTTP status nor -")
	errALBRequest = errors.New(`request is not a quoted "METHOD URL PROTOCOL"`)
)

// albParser reads ALB lines. It keeps the hour of the last line it read,
// since a file's lines share it, so is not safe for concurrent use.
type albParser struct {
	hour   [13]byte // "2006-01-02T15" of the last line
	hourMs int64
	// elb is the load balancer field of the last line, which the lines of
	// a file share: a line that has it is not scanned for spaces there.
	elb  [64]byte
	elbN int
	// origin is the scheme and host of the last line's absolute URL,
	// which most lines of a file share, as elb.
	origin  [64]byte
	originN int
}

// parse reads one line (without its newline) into h, which is not copied
// back: a copy costs a line a few ns. The hit's route is "METHOD /path",
// the request's URL without scheme, host, port or query, written into
// route; empty for a request without a method or path.
func (p *albParser) parse(b []byte, route *[]byte, h *hit) error {
	var pos [albFields]int
	*h = hit{init: -1}
	known := p.known(b, &pos, &h.ms)
	if spaces(b, pos[:], known) < albFields {
		return errALBShort
	}
	// field is the k-th field; only five of the twelve are read.
	field := func(k int) []byte { return b[pos[k-1]+1 : pos[k]] }
	i := pos[albFields-1] + 1
	if known < 2 {
		var err error
		if h.ms, err = p.time(field(1)); err != nil {
			return err
		}
	}
	// The next line is likely to have this line's load balancer.
	if elb := field(2); known < 3 && len(elb) <= len(p.elb) {
		p.elbN = copy(p.elb[:], elb)
	}
	h.latency = 0
	for _, v := range [3][]byte{field(5), field(6), field(7)} {
		if string(v) == "-1" {
			h.latency = -1
			continue
		}
		ms, ok := albMillis(v)
		if !ok {
			return errALBLatency
		}
		if h.latency >= 0 {
			h.latency += ms
		}
	}
	if h.latency >= maxLatencyMillis {
		return errALBLatency
	}
	if s := field(8); string(s) != "-" {
		if len(s) != 3 || s[0] < '1' || s[0] > '5' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9' {
			return errALBStatus
		}
		h.status = int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0')
	}
	// "METHOD URL PROTOCOL", quoted.
	if i >= len(b) || b[i] != '"' {
		return errALBRequest
	}
	// The method runs to a space, the URL to another or the closing quote,
	// which must come.
	req := b[i+1:]
	sp := 0
	for sp < len(req) && req[sp] != ' ' && req[sp] != '"' {
		sp++
	}
	if sp == 0 || sp >= len(req) || req[sp] != ' ' {
		return errALBRequest
	}
	method, rest := req[:sp], req[sp+1:]
	// The closing quote must come; the URL runs to it or to a space first.
	q := bytes.IndexByte(rest, '"')
	if q < 0 {
		return errALBRequest
	}
	if path := p.urlPath(rest[:q]); len(path) > 0 && string(method) != "-" {
		*route = append(append(append((*route)[:0], method...), ' '), path...)
		h.route = *route
	}
	return nil
}

// known finds the first spaces of a line shaped as ALB writes them, without
// a scan: the type (up to seven bytes), a space, the time with microseconds
// (27 bytes: if it reads as a time it holds no space), read into ms, a
// space, the last line's load balancer and a space. It says how many it
// found, for spaces to go on from: 0 when the line is shaped otherwise,
// and the time is then read as a field.
func (p *albParser) known(b []byte, pos *[albFields]int, ms *int64) int {
	if len(b) < 8 {
		return 0
	}
	m := zeros(binary.LittleEndian.Uint64(b) ^ (' ' * ones))
	if m == 0 {
		return 0
	}
	s := bits.TrailingZeros64(m) / 8
	t := s + 28
	if t >= len(b) || b[t] != ' ' {
		return 0
	}
	v, err := p.time(b[s+1 : t])
	if err != nil {
		return 0
	}
	*ms, pos[0], pos[1] = v, s, t
	elb := p.elb[:p.elbN]
	e := t + 1 + len(elb)
	if p.elbN == 0 || e >= len(b) || b[e] != ' ' || string(b[t+1:e]) != string(elb) {
		return 2
	}
	pos[2] = e
	return 3
}

// albMillis reads seconds as the ALB writes them, with three decimals,
// into milliseconds: exactly, without a division, in the usual case.
func albMillis(v []byte) (float64, bool) {
	if len(v) == 5 && v[1] == '.' {
		d := [4]byte{v[0], v[2], v[3], v[4]}
		if d[0]-'0' <= 9 && d[1]-'0' <= 9 && d[2]-'0' <= 9 && d[3]-'0' <= 9 {
			return float64(int(d[0]-'0')*1000 + int(d[1]-'0')*100 + int(d[2]-'0')*10 + int(d[3]-'0')), true
		}
	}
	s, ok := decimal(v)
	return s * 1000, ok
}

// zeros has the high bit set of exactly the zero bytes of y: no carry
// crosses a byte. With y = x ^ (c * ones) they are where x has c.
func zeros(y uint64) uint64 { return ^(((y & low7) + low7) | y | low7) }

// indexAny2 is the index of b's first c1 or c2, or len(b), found eight
// bytes at a time.
func indexAny2(b []byte, c1, c2 byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if m := zeros(x^(uint64(c1)*ones)) | zeros(x^(uint64(c2)*ones)); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if b[i] == c1 || b[i] == c2 {
			return i
		}
	}
	return i
}

// indexAny3 is indexAny2 with a third byte.
func indexAny3(b []byte, c1, c2, c3 byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if m := zeros(x^(uint64(c1)*ones)) | zeros(x^(uint64(c2)*ones)) | zeros(x^(uint64(c3)*ones)); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if b[i] == c1 || b[i] == c2 || b[i] == c3 {
			return i
		}
	}
	return i
}

func letters(b []byte) bool {
	for _, c := range b {
		if (c|0x20) < 'a' || (c|0x20) > 'z' {
			return false
		}
	}
	return true
}

const low7 = 0x7f7f7f7f7f7f7f7f

// spaces finds the first len(pos) spaces of b, eight bytes at a time, and
// says how many it found; the first n are known.
func spaces(b []byte, pos []int, n int) int {
	i := 0
	if n > 0 {
		i = pos[n-1] + 1
	}
	for ; i+8 <= len(b) && n < len(pos); i += 8 {
		y := binary.LittleEndian.Uint64(b[i:]) ^ (' ' * ones)
		for m := zeros(y); m != 0 && n < len(pos); m &= m - 1 {
			pos[n] = i + bits.TrailingZeros64(m)/8
			n++
		}
	}
	for ; i < len(b) && n < len(pos); i++ {
		if b[i] == ' ' {
			pos[n] = i
			n++
		}
	}
	return n
}

// urlPath is the path of the URL that b starts with, which runs to b's
// first space or its end: an absolute URL (http://host:port/path?query) or
// a path with a query; empty when there is none. The URL is scanned once,
// never past the path, since a query can be long.
func (p *albParser) urlPath(b []byte) []byte {
	// Most lines of a file have the last one's origin: its path follows.
	if o := p.origin[:p.originN]; p.originN > 0 && len(b) > len(o) && b[len(o)] == '/' && string(b[:len(o)]) == string(o) {
		return b[len(o):][:indexAny3(b[len(o):], '?', '#', ' ')]
	}
	// A scheme of letters (http, https, ws, wss) cannot hold an earlier
	// "://", nor a space.
	k := -1
	switch {
	case len(b) > 7 && string(b[4:7]) == "://" && letters(b[:4]):
		k = 4
	case len(b) > 8 && string(b[5:8]) == "://" && letters(b[:5]):
		k = 5
	default:
		if sp := bytes.IndexByte(b, ' '); sp >= 0 {
			b = b[:sp]
		}
		k = bytes.Index(b, []byte("://"))
	}
	if k >= 0 {
		// The host runs to the path, or to the URL's end: path "/".
		i := k + 3 + indexAny2(b[k+3:], '/', ' ')
		if i == len(b) || b[i] == ' ' {
			return []byte("/")
		}
		if i <= len(p.origin) {
			p.originN = copy(p.origin[:], b[:i])
		}
		b = b[i:]
	}
	if len(b) == 0 || b[0] != '/' {
		return nil
	}
	return b[:indexAny3(b, '?', '#', ' ')]
}

// time reads 2006-01-02T15:04:05.999999Z into ms since the epoch.
func (p *albParser) time(b []byte) (int64, error) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return 0, errALBTime
	}
	if string(b[:13]) != string(p.hour[:]) || p.hourMs == 0 {
		t, err := time.Parse("2006-01-02T15", string(b[:13]))
		if err != nil {
			return 0, errALBTime
		}
		copy(p.hour[:], b[:13])
		p.hourMs = t.UnixMilli()
	}
	mm, ss := b[14:16], b[17:19]
	if mm[0] < '0' || mm[0] > '5' || mm[1] < '0' || mm[1] > '9' || ss[0] < '0' || ss[0] > '5' || ss[1] < '0' || ss[1] > '9' {
		return 0, errALBTime
	}
	ms := p.hourMs + int64((mm[0]-'0')*10+mm[1]-'0')*60000 + int64((ss[0]-'0')*10+ss[1]-'0')*1000
	if len(b) > 20 && (b[19] != '.' || !allDigits(b[20:len(b)-1])) {
		return 0, errALBTime
	}
	return ms, nil
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// templater turns a request's path into a route: the first of a source's
// patterns that matches it, else the path with every segment that is an
// id (all digits, a UUID, or 16 or more hex digits) as {id}, so a route
// names an endpoint, not a resource.
type templater struct {
	patterns [][]string // each split at "/"
}

func newTemplater(patterns []string) *templater {
	t := &templater{}
	for _, p := range patterns {
		t.patterns = append(t.patterns, strings.Split(p, "/"))
	}
	return t
}

// route writes "METHOD template" for route ("METHOD /path") into dst.
func (t *templater) route(dst, route []byte) []byte {
	sp := bytes.IndexByte(route, ' ')
	method, path := route[:sp+1], route[sp+1:]
	dst = append(dst[:0], method...)
	for _, p := range t.patterns {
		if matchPattern(p, path) {
			for i, seg := range p {
				if i > 0 {
					dst = append(dst, '/')
				}
				dst = append(dst, seg...)
			}
			return dst
		}
	}
	for i := 0; i < len(path); {
		j := bytes.IndexByte(path[i:], '/')
		if j < 0 {
			j = len(path) - i
		}
		seg := path[i : i+j]
		if isID(seg) {
			dst = append(dst, "{id}"...)
		} else {
			dst = append(dst, seg...)
		}
		i += j
		if i < len(path) {
			dst = append(dst, '/')
			i++
		}
	}
	return dst
}

// matchPattern reports whether path has pattern's segments: each literal
// equal, each {name} any one non-empty segment.
func matchPattern(pattern []string, path []byte) bool {
	for i, seg := range pattern {
		cur, rest, more := bytes.Cut(path, []byte("/"))
		if len(seg) > 1 && seg[0] == '{' && seg[len(seg)-1] == '}' {
			if len(cur) == 0 {
				return false
			}
		} else if seg != string(cur) {
			return false
		}
		if last := i == len(pattern)-1; last || !more {
			return last && !more
		}
		path = rest
	}
	return false
}

// isID reports whether a path segment names a resource: all digits, a UUID
// (8-4-4-4-12 hex), or 16 or more hex digits.
func isID(seg []byte) bool {
	if len(seg) == 0 {
		return false
	}
	digits, hex := true, true
	for _, c := range seg {
		isDigit := c >= '0' && c <= '9'
		digits = digits && isDigit
		hex = hex && (isDigit || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')
	}
	if digits || hex && len(seg) >= 16 {
		return true
	}
	if len(seg) != 36 {
		return false
	}
	for i, c := range seg {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
