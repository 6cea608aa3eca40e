package accesslog

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"strings"

	"github.com/lambda-slackbot/slackbot/contract"
)

// An access-log line reaches the ingest as a JSON string inside the
// subscription batch: {\"requestId\":\"…\",…}. Unescaping every line and
// scanning it again costs more than everything else the ingest does, so
// scanEscapedLine reads the line where it lies, for the one shape API Gateway
// writes: contract.AccessLogFormat's keys in its order, plain values, no
// whitespace. Anything else falls back to decoding the string and ParseLine.

// escapedKey is one key of the format as it appears escaped, with its field.
type escapedKey struct {
	lit   []byte // `\"name\":`
	field int    // index into [fieldCount]rawField, or -1 for a key the ingest does not read
}

// escapedKeys follow contract.AccessLogFormat, so the fast path follows the
// format when it changes.
var escapedKeys = func() []escapedKey {
	keys, err := formatKeys(contract.AccessLogFormat)
	if err != nil {
		panic(fmt.Sprintf("latency: contract.AccessLogFormat: %v", err))
	}
	out := make([]escapedKey, len(keys))
	for i, k := range keys {
		out[i] = escapedKey{lit: []byte(`\"` + k + `\":`), field: -1}
		for f, name := range fieldNames {
			if name == k {
				out[i].field = f
			}
		}
	}
	return out
}()

// formatKeys lists the top-level keys of an access-log format in order.
func formatKeys(format string) ([]string, error) {
	dec := json.NewDecoder(strings.NewReader(format))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := t.(string)
		keys = append(keys, k)
		if _, err := dec.Token(); err != nil { // the value: a flat format has no nested ones
			return nil, err
		}
	}
	return keys, nil
}

// scanEscapedLine reads the access-log line at the start of b, the content
// of a JSON string just after its opening quote. On success end is the index
// of the closing quote and f holds the line's fields, exactly as scanLine
// would find them in the decoded string; ok false means "decode it instead".
func scanEscapedLine(b []byte) (end int, f [fieldCount]rawField, ok bool) {
	if len(b) == 0 || b[0] != '{' {
		return 0, f, false
	}
	i := 1
	for k := range escapedKeys {
		key := &escapedKeys[k]
		if k > 0 {
			if i >= len(b) || b[i] != ',' {
				return 0, f, false
			}
			i++
		}
		if !bytes.HasPrefix(b[i:], key.lit) {
			return 0, f, false
		}
		i += len(key.lit)
		if i+1 >= len(b) {
			return 0, f, false
		}
		var v rawField
		switch c := b[i]; {
		case c == '\\' && b[i+1] == '"':
			i += 2
			j := i + plainPrefix(b[i:])
			if j+1 >= len(b) || b[j] != '\\' || b[j+1] != '"' {
				return 0, f, false
			}
			v = rawField{kindString, b[i:j]}
			i = j + 2
		case c >= '1' && c <= '9' || c == '0' && (b[i+1] < '0' || b[i+1] > '9'):
			j := i + 1
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			if j >= len(b) || b[j] == '.' || b[j] == 'e' || b[j] == 'E' {
				return 0, f, false
			}
			v = rawField{kindNumber, b[i:j]}
			i = j
		case bytes.HasPrefix(b[i:], []byte("null")):
			v = rawField{kind: kindNull}
			i += 4
		default:
			return 0, f, false
		}
		if key.field >= 0 {
			f[key.field] = v
		}
	}
	if i+1 >= len(b) || b[i] != '}' || b[i+1] != '"' {
		return 0, f, false
	}
	return i + 1, f, true
}

// plainPrefix is the length of b's leading run of bytes that stand for
// themselves in a JSON string: printable ASCII other than '"' and '\'. It
// tests eight bytes at a time.
func plainPrefix(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if m := special(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			// The lowest flagged byte is the first special one: the
			// subtractions borrow only upward, past a byte already flagged.
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return i
		}
	}
	return i
}

const (
	ones = 0x0101010101010101
	high = 0x8080808080808080
)

// special has a high bit set in some byte when any byte of x is below 0x20,
// at or above 0x80, '"' or '\'. ((x - n·ones) & ^x & high) is non-zero
// exactly when some byte is below n (for n <= 0x80); a byte equal to c is a
// zero byte of x ^ c·ones.
func special(x uint64) uint64 {
	ctl := (x - 0x20*ones) & ^x
	q := x ^ '"'*ones
	bs := x ^ '\\'*ones
	return (ctl | (q-ones)&^q | (bs-ones)&^bs | x) & high
}
