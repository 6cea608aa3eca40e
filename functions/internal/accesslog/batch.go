package accesslog

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/klauspost/compress/gzip"

	"github.com/lambda-slackbot/slackbot/functions/internal/gunzip"
)

// CloudWatch Logs subscription message types.
const (
	DataMessage    = "DATA_MESSAGE"
	ControlMessage = "CONTROL_MESSAGE" // sent once when a subscription is created, to check the destination
)

// maxDecompressed bounds a payload after gunzip. Lambda accepts at most 1 MB
// of event (base64 of gzip), and access logs compress perhaps 10:1, so 32 MiB
// is far beyond any real batch and stops a decompression bomb early.
const maxDecompressed = 32 << 20

// ErrMalformedDelivery marks a subscription event that cannot be read. The
// handler returns it, so Lambda retries the delivery twice and then sends it
// to the percentiles function's failure queue (its on-failure destination,
// which raises an alarm), rather than losing it quietly.
var ErrMalformedDelivery = errors.New("malformed CloudWatch Logs subscription event")

// logEvent is one event of a subscription batch. Its byte slices point into
// the decompressed payload or into delivery.text, and live until the next
// batch.
type logEvent struct {
	id        []byte
	timestamp int64 // ms since the epoch, when CloudWatch Logs received the event
	// message is the event's text. When escaped is set it is still as it
	// lies in the batch, inside a JSON string, holding only printable ASCII
	// and escapes; otherwise it is decoded. When parsed is set (and so
	// escaped), the scanner already read the bot's access-log line from it
	// (see scanEscapedLine), and rec and err are ParseLine's answer.
	message []byte
	escaped bool
	parsed  bool
	rec     Record
	err     error
	// inline says a source's parser read the message in place as the
	// batch was scanned, and h and err are its answer.
	inline bool
	h      hit
}

// line returns ParseLine's answer for the event's message.
func (ev *logEvent) line() (Record, error) {
	if ev.parsed {
		return ev.rec, ev.err
	}
	return ParseLine(ev.message)
}

// delivery is a decoded subscription batch: events.CloudwatchLogsData
// without a string per field, so decoding a batch allocates nothing per
// event once the buffers have grown.
type delivery struct {
	messageType, owner, logGroup, logStream []byte
	// The batch's first counted events were counted as they were scanned
	// (see countFunc) and not kept; events are the rest.
	counted     int
	first, last []byte // the ids of the first and last counted events
	events      []logEvent
	text        []byte // decoded strings that had escapes
}

// size is how many events the batch held, counted ones included.
func (e *delivery) size() int { return e.counted + len(e.events) }

// ends returns the ids of the batch's first and last events.
func (e *delivery) ends() (first, last []byte) {
	first, last = e.first, e.last
	if n := len(e.events); n > 0 {
		if e.counted == 0 {
			first = e.events[0].id
		}
		last = e.events[n-1].id
	}
	return first, last
}

func (e *delivery) reset() {
	clear(e.events) // drop references into the previous payload
	*e = delivery{events: e.events[:0], text: e.text[:0]}
}

// decoder turns the "data" field of an "awslogs" event into an delivery. It
// keeps its buffers between batches; it is not safe for concurrent use.
type decoder struct {
	compressed []byte
	plain      []byte
	whole      gunzip.Decoder // a delivery's gzip, which arrives whole
	gz         *gzip.Reader   // an ALB object's, read as a stream (gunzip)

	env delivery
}

// reader says how the scanner reads a log group's messages: the bot's own
// lines it parses as it goes (raw false); any other group's it leaves
// escaped for their source's parser, or reads them in place with inline
// when that is given, and then, with count, counts them there and then.
// messageType is what the batch said before its events ("" for nothing).
type reader func(messageType, logGroup []byte) (raw bool, inline inlineFunc, count countFunc)

// inlineFunc reads the message at the start of b, just after its opening
// quote, into ev.h and ev.err, and returns the index of its closing quote;
// ok false means "find the end and read it later".
type inlineFunc func(b []byte, ev *logEvent) (end int, ok bool)

// countFunc counts an event inline read (message is still escaped), so the
// scanner need not keep it; false means "keep it": the scanner then keeps it
// and every later event, so the caller counts those after the scan, in
// order. Only the events of a batch whose delivery says it counted some
// (delivery.counted > 0) were counted: when the scanner gives up on a batch
// for encoding/json, which counts nothing, whatever it passed to count
// before is void.
type countFunc func(timestamp int64, message []byte, h hit, err error) bool

// decode base64-decodes and gunzips data, then parses the batch, reading
// each group's messages as read says (nil: all are the bot's own).
func (d *decoder) decode(data []byte, read reader) (*delivery, error) {
	plain, err := d.decompress(data)
	if err != nil {
		return nil, err
	}
	if err := decodeDeliveryOf(plain, &d.env, read); err != nil {
		return nil, err
	}
	return &d.env, nil
}

// decompress base64-decodes and gunzips data into d's buffer.
func (d *decoder) decompress(data []byte) ([]byte, error) {
	n := base64.StdEncoding.DecodedLen(len(data))
	if cap(d.compressed) < n {
		d.compressed = make([]byte, n)
	}
	n, err := base64.StdEncoding.Decode(d.compressed[:n], data)
	if err != nil {
		return nil, fmt.Errorf("%w: data is not base64: %w", ErrMalformedDelivery, err)
	}
	// The whole gzip is in memory: a decoder that reads it so (with the
	// whole output in one buffer) is 1.8-2x klauspost's streaming
	// reader here (gunzip's BenchmarkDecode).
	plain, err := d.whole.Append(d.plain[:0], d.compressed[:n], maxDecompressed)
	switch {
	case errors.Is(err, gunzip.ErrNotGzip):
		return nil, fmt.Errorf("%w: data is not gzip: %w", ErrMalformedDelivery, err)
	case errors.Is(err, gunzip.ErrTooLarge):
		return nil, fmt.Errorf("%w: more than %d MiB after gunzip", ErrMalformedDelivery, maxDecompressed>>20)
	case err != nil:
		return nil, fmt.Errorf("%w: gunzip: %w", ErrMalformedDelivery, err)
	}
	d.plain = plain
	return plain, nil
}

// decodeDeliveryOf parses the JSON of a subscription batch into e. The
// common shape goes through a hand-written scanner; whatever it does not
// handle is decoded by encoding/json into events.CloudwatchLogsData, so the
// two agree on every input (FuzzDecodeDelivery holds them to that). read is
// as decoder.decode's.
func decodeDeliveryOf(b []byte, e *delivery, read reader) error {
	e.reset()
	s := deliveryScanner{b: b, e: e, read: read}
	err := s.top()
	if err == nil {
		return nil
	}
	if err != errUnusual {
		return err
	}
	e.reset()
	var d events.CloudwatchLogsData
	if err := json.Unmarshal(b, &d); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformedDelivery, err)
	}
	e.messageType, e.owner, e.logGroup, e.logStream = []byte(d.MessageType), []byte(d.Owner), []byte(d.LogGroup), []byte(d.LogStream)
	for _, ev := range d.LogEvents {
		e.events = append(e.events, logEvent{id: []byte(ev.ID), timestamp: ev.Timestamp, message: []byte(ev.Message)})
	}
	return nil
}

// deliveryScanner reads the JSON of a subscription batch. Its methods return
// errUnusual for anything where encoding/json should decide instead: keys in
// another case (encoding/json matches struct fields case-insensitively),
// nulls, repeated logEvents, deep nesting, and every kind of invalid JSON.
type deliveryScanner struct {
	b       []byte
	i       int
	e       *delivery
	depth   int
	read    reader
	raw     bool       // messages are kept escaped, not parsed as the bot's lines
	inline  inlineFunc // and, when set, read in place by their source's parser
	count   countFunc  // and, when set, counted as they are read
	decided bool       // read said how to read the events, which a later group or type could change
	ev      logEvent   // scratch for inline
}

// maxSkipDepth bounds the nesting of values the scanner skips; encoding/json
// takes deeper ones.
const maxSkipDepth = 64

var envelopeKeys = []string{"messageType", "owner", "logGroup", "logStream", "subscriptionFilters", "logEvents"}
var eventKeys = []string{"id", "timestamp", "message"}

func (s *deliveryScanner) ws() {
	// Compact JSON has no whitespace: one comparison settles the usual case.
	for s.i < len(s.b) && s.b[s.i] <= ' ' {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next reports whether the next non-space byte is c, and consumes it if so.
func (s *deliveryScanner) next(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *deliveryScanner) top() error {
	if err := s.object(s.topField); err != nil {
		return err
	}
	s.ws()
	if s.i != len(s.b) {
		return errUnusual
	}
	return nil
}

// object reads {"key": value, ...}, calling field for each key with the
// scanner at the value.
func (s *deliveryScanner) object(field func(key []byte) error) error {
	if !s.next('{') {
		return errUnusual
	}
	if s.next('}') {
		return nil
	}
	for {
		s.ws()
		key, ok := s.key()
		if !ok || !s.next(':') {
			return errUnusual
		}
		s.ws()
		if err := field(key); err != nil {
			return err
		}
		if s.next(',') {
			continue
		}
		if s.next('}') {
			return nil
		}
		return errUnusual
	}
}

// key reads an object key that is plain ASCII without escapes.
func (s *deliveryScanner) key() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	k, next, ok := scanPlainString(s.b, s.i+1)
	if !ok {
		return nil, false
	}
	s.i = next
	return k, true
}

// known reports whether key is exactly one of keys; a key equal to one but for
// case is errUnusual.
func known(key []byte, keys []string) (string, error) {
	for _, k := range keys {
		if string(key) == k {
			return k, nil
		}
	}
	for _, k := range keys {
		if bytes.EqualFold(key, []byte(k)) {
			return "", errUnusual
		}
	}
	return "", nil
}

func (s *deliveryScanner) topField(key []byte) error {
	k, err := known(key, envelopeKeys)
	if err != nil {
		return err
	}
	if s.decided && (k == "messageType" || k == "logGroup") {
		// encoding/json takes the last value, which could change how
		// the events should have been read.
		return errUnusual
	}
	switch k {
	case "messageType":
		return s.str(&s.e.messageType)
	case "owner":
		return s.str(&s.e.owner)
	case "logGroup":
		return s.str(&s.e.logGroup)
	case "logStream":
		return s.str(&s.e.logStream)
	case "subscriptionFilters":
		var sf []byte
		return s.array(func() error { return s.str(&sf) })
	case "logEvents":
		if s.e.size() > 0 {
			// encoding/json decodes a repeated array over the first one's
			// elements; let it.
			return errUnusual
		}
		// CloudWatch Logs writes the group before the events; when it
		// does not, every message is tried as the bot's, which costs a
		// little and changes nothing.
		if s.read != nil && len(s.e.logGroup) > 0 {
			s.raw, s.inline, s.count = s.read(s.e.messageType, s.e.logGroup)
			s.decided = true
		}
		return s.array(s.event)
	}
	return s.skip()
}

func (s *deliveryScanner) event() error {
	if s.eventAsSent() {
		return nil
	}
	var ev logEvent
	err := s.object(func(key []byte) error {
		k, err := known(key, eventKeys)
		if err != nil {
			return err
		}
		switch k {
		case "id":
			return s.str(&ev.id)
		case "timestamp":
			return s.int64(&ev.timestamp)
		case "message":
			return s.message(&ev)
		}
		return s.skip()
	})
	if err != nil {
		return err
	}
	s.e.events = append(s.e.events, ev)
	return nil
}

// Event keys as CloudWatch Logs writes them, in its order.
var (
	eventID        = []byte(`{"id":"`)
	eventTimestamp = []byte(`","timestamp":`)
	eventMessage   = []byte(`,"message":"`)
)

// eventAsSent reads an event written exactly as CloudWatch Logs writes one,
// {"id":"…","timestamp":…,"message":"…"} with an access-log line as the
// message, and reports false, having read nothing, for anything else. It
// accepts a subset of what the general path does and yields the same event.
func (s *deliveryScanner) eventAsSent() bool {
	b := s.b[s.i:]
	if !bytes.HasPrefix(b, eventID) {
		return false
	}
	i := len(eventID)
	j := i + plainPrefix(b[i:])
	if j >= len(b) || b[j] != '"' {
		return false
	}
	id := b[i:j]
	if !bytes.HasPrefix(b[j:], eventTimestamp) {
		return false
	}
	i = j + len(eventTimestamp)
	ts, n, ok := parseInt64(b[i:])
	if !ok {
		return false
	}
	i += n
	if !bytes.HasPrefix(b[i:], eventMessage) {
		return false
	}
	i += len(eventMessage)
	if s.raw {
		ev := &s.ev
		end, ok := 0, false
		if s.inline != nil {
			end, ok = s.inline(b[i:], ev)
		}
		inline := ok
		if !ok {
			end, ok = simpleString(b[i:])
		}
		if !ok || i+end+1 >= len(b) || b[i+end+1] != '}' {
			return false
		}
		msg := b[i : i+end]
		s.i += i + end + 2
		// Events are counted only until one is kept, so the counted ones
		// are the batch's first, in order.
		if inline && s.count != nil && len(s.e.events) == 0 && s.count(ts, msg, ev.h, ev.err) {
			if s.e.counted == 0 {
				s.e.first = id
			}
			s.e.counted++
			s.e.last = id
			return true
		}
		s.e.events = append(s.e.events, logEvent{id: id, timestamp: ts, message: msg, escaped: true, inline: inline})
		if inline {
			kept := &s.e.events[len(s.e.events)-1]
			kept.h, kept.err = ev.h, ev.err
		}
		return true
	}
	end, f, ok := scanEscapedLine(b[i:])
	if !ok || i+end+1 >= len(b) || b[i+end+1] != '}' {
		return false
	}
	rec, err := interpret(&f)
	s.e.events = append(s.e.events, logEvent{id: id, timestamp: ts, message: b[i : i+end], escaped: true, parsed: true, rec: rec, err: err})
	s.i += i + end + 2
	return true
}

// array reads [elem, ...], or errUnusual for anything else (null included).
func (s *deliveryScanner) array(elem func() error) error {
	if !s.next('[') {
		return errUnusual
	}
	if s.next(']') {
		return nil
	}
	for {
		s.ws()
		if err := elem(); err != nil {
			return err
		}
		if s.next(',') {
			continue
		}
		if s.next(']') {
			return nil
		}
		return errUnusual
	}
}

// int64 reads an integer into v; see parseInt64.
func (s *deliveryScanner) int64(v *int64) error {
	n, size, ok := parseInt64(s.b[s.i:])
	if !ok {
		return errUnusual
	}
	*v, s.i = n, s.i+size
	return nil
}

// parseInt64 reads an integer at the start of b the way encoding/json reads
// one into an int64: no fraction, no exponent. It leaves more than 18 digits
// (which may overflow) to encoding/json.
func parseInt64(b []byte) (v int64, size int, ok bool) {
	i := 0
	neg := i < len(b) && b[i] == '-'
	if neg {
		i++
	}
	start := i
	var n int64
	if len(b)-i >= 8 {
		if v, ok := eightDigits(b[i:]); ok {
			n, i = int64(v), i+8
		}
	}
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int64(b[i]-'0')
		i++
	}
	digits := i - start
	if digits == 0 || digits > 18 || (b[start] == '0' && digits > 1) {
		return 0, 0, false
	}
	if i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E') {
		return 0, 0, false
	}
	if neg {
		n = -n
	}
	return n, i, true
}

// message reads an event's message: first as the access-log line it
// should be, straight from its JSON-escaped form, and failing that as any
// string.
func (s *deliveryScanner) message(ev *logEvent) error {
	if s.i < len(s.b) && s.b[s.i] == '"' {
		if s.raw {
			ev.parsed, ev.rec, ev.err, ev.inline, ev.h = false, Record{}, nil, false, hit{}
			end, ok := 0, false
			if s.inline != nil {
				end, ok = s.inline(s.b[s.i+1:], ev)
				ev.inline = ok
			}
			if !ok {
				end, ok = simpleString(s.b[s.i+1:])
			}
			if ok {
				ev.message, ev.escaped = s.b[s.i+1:s.i+1+end], true
				s.i += end + 2
				return nil
			}
			ev.inline, ev.h, ev.err = false, hit{}, nil
		} else if end, f, ok := scanEscapedLine(s.b[s.i+1:]); ok {
			ev.message = s.b[s.i+1 : s.i+1+end]
			ev.escaped, ev.parsed = true, true
			ev.rec, ev.err = interpret(&f)
			s.i += end + 2
			return nil
		}
	}
	ev.escaped, ev.parsed, ev.rec, ev.err, ev.inline = false, false, Record{}, nil, false
	return s.str(&ev.message)
}

// simpleString finds the closing quote of the JSON string whose content
// starts b, when that content is printable ASCII and valid escapes: what a
// source's parser can read in place. Anything else (raw UTF-8 among it) is
// decoded by str, as encoding/json would.
func simpleString(b []byte) (end int, ok bool) {
	i := 0
	for {
		i += plainPrefix(b[i:])
		if i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case '"':
			return i, true
		case '\\':
			if i+1 >= len(b) {
				return 0, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if getu4(b[i:]) < 0 {
					return 0, false
				}
				i += 6
			default:
				return 0, false
			}
		default:
			return 0, false
		}
	}
}

// str reads a JSON string exactly as encoding/json would: invalid UTF-8
// and unpaired surrogates become U+FFFD. A string without escapes is a slice
// of the input; one with escapes is decoded into e.text.
func (s *deliveryScanner) str(v *[]byte) error {
	b := s.b
	if s.i >= len(b) || b[s.i] != '"' {
		return errUnusual
	}
	i := s.i + 1
	if j := i + plainPrefix(b[i:]); j < len(b) && b[j] == '"' {
		*v, s.i = b[i:j], j+1
		return nil
	}
	text := s.e.text
	from := len(text)
	for {
		j := i + plainPrefix(b[i:])
		text = append(text, b[i:j]...)
		i = j
		if i >= len(b) {
			return errUnusual
		}
		switch c := b[i]; {
		case c == '"':
			s.e.text = text
			*v = text[from:len(text):len(text)]
			s.i = i + 1
			return nil
		case c == '\\':
			if i+1 >= len(b) {
				return errUnusual
			}
			switch e := b[i+1]; e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				text = append(text, unescape[e])
				i += 2
			case 'u':
				r := getu4(b[i:])
				if r < 0 {
					return errUnusual
				}
				i += 6
				if utf16.IsSurrogate(r) {
					r2 := getu4(b[i:])
					if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
						text = utf8.AppendRune(text, dec)
						i += 6
						continue
					}
					r = unicode.ReplacementChar
				}
				text = utf8.AppendRune(text, r)
			default:
				return errUnusual
			}
		case c < 0x20:
			return errUnusual
		default:
			r, size := utf8.DecodeRune(b[i:])
			text = utf8.AppendRune(text, r) // RuneError for invalid UTF-8, as encoding/json
			i += size
		}
	}
}

// getu4 decodes \uXXXX at the start of b, or returns -1.
func getu4(b []byte) rune {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range b[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c = c - '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// skip passes over any JSON value, checking it is valid.
func (s *deliveryScanner) skip() error {
	if s.i >= len(s.b) {
		return errUnusual
	}
	switch c := s.b[s.i]; {
	case c == '{':
		if s.depth++; s.depth > maxSkipDepth {
			return errUnusual
		}
		defer func() { s.depth-- }()
		return s.object(func([]byte) error { return s.skip() })
	case c == '[':
		if s.depth++; s.depth > maxSkipDepth {
			return errUnusual
		}
		defer func() { s.depth-- }()
		return s.array(s.skip)
	case c == '"':
		// Decode into text and drop it: the check is the same, and a
		// skipped string is rare.
		mark := len(s.e.text)
		var v []byte
		err := s.str(&v)
		s.e.text = s.e.text[:mark]
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		j := s.i
		for j < len(s.b) && (s.b[j] == '-' || s.b[j] == '+' || s.b[j] == '.' || s.b[j] == 'e' || s.b[j] == 'E' || (s.b[j] >= '0' && s.b[j] <= '9')) {
			j++
		}
		if !isJSONNumber(s.b[s.i:j]) {
			return errUnusual
		}
		s.i = j
		return nil
	}
	return errUnusual
}

func (s *deliveryScanner) literal(lit string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return errUnusual
	}
	s.i += len(lit)
	return nil
}

// unescape is what each one-letter JSON escape stands for.
var unescape = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}
