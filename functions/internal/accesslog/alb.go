package accesslog

import (
	"bytes"
	"errors"
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
}

// parse reads one line (without its newline). The hit's route is
// "METHOD /path", the request's URL without scheme, host, port or query,
// written into route; empty for a request without a method or path.
func (p *albParser) parse(b []byte, route *[]byte) (hit, error) {
	var f [albFields][]byte
	i := 0
	for k := range albFields {
		j := bytes.IndexByte(b[i:], ' ')
		if j < 0 {
			return hit{}, errALBShort
		}
		f[k] = b[i : i+j]
		i += j + 1
	}
	h := hit{init: -1}
	var err error
	if h.ms, err = p.time(f[1]); err != nil {
		return hit{}, err
	}
	h.latency = 0
	for _, v := range f[5:8] {
		if string(v) == "-1" {
			h.latency = -1
			continue
		}
		s, ok := decimal(v)
		if !ok {
			return hit{}, errALBLatency
		}
		if h.latency >= 0 {
			h.latency += s * 1000
		}
	}
	if h.latency >= maxLatencyMillis {
		return hit{}, errALBLatency
	}
	if s := f[8]; string(s) != "-" {
		if len(s) != 3 || s[0] < '1' || s[0] > '5' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9' {
			return hit{}, errALBStatus
		}
		h.status = int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0')
	}
	// "METHOD URL PROTOCOL", quoted.
	if i >= len(b) || b[i] != '"' {
		return hit{}, errALBRequest
	}
	req := b[i+1:]
	end := bytes.IndexByte(req, '"')
	if end < 0 {
		return hit{}, errALBRequest
	}
	req = req[:end]
	sp := bytes.IndexByte(req, ' ')
	if sp <= 0 {
		return hit{}, errALBRequest
	}
	method, rest := req[:sp], req[sp+1:]
	url := rest
	if sp := bytes.IndexByte(rest, ' '); sp >= 0 {
		url = rest[:sp]
	}
	if path := urlPath(url); len(path) > 0 && string(method) != "-" {
		*route = append(append(append((*route)[:0], method...), ' '), path...)
		h.route = *route
	}
	return h, nil
}

// urlPath is the path of an absolute URL (http://host:port/path?query) or
// of a path with a query; empty when there is none.
func urlPath(url []byte) []byte {
	if k := bytes.Index(url, []byte("://")); k >= 0 {
		rest := url[k+3:]
		s := bytes.IndexByte(rest, '/')
		if s < 0 {
			return []byte("/")
		}
		url = rest[s:]
	}
	if len(url) == 0 || url[0] != '/' {
		return nil
	}
	if q := bytes.IndexAny(url, "?#"); q >= 0 {
		url = url[:q]
	}
	return url
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
