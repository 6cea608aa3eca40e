package accesslog

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

var batchTime = time.Date(2025, 11, 25, 13, 0, 0, 0, time.UTC)

// asData is e as the delivery's fields, for comparing with encoding/json.
// A message the scanner parsed in place is still escaped; encoding/json
// decodes it for the comparison.
func asData(t *testing.T, e *delivery) events.CloudwatchLogsData {
	t.Helper()
	d := events.CloudwatchLogsData{
		MessageType: string(e.messageType),
		Owner:       string(e.owner),
		LogGroup:    string(e.logGroup),
		LogStream:   string(e.logStream),
	}
	for _, ev := range e.events {
		m := string(ev.message)
		if ev.escaped {
			if err := json.Unmarshal([]byte(`"`+m+`"`), &m); err != nil {
				t.Fatalf("a message parsed in place is not a valid JSON string: %v", err)
			}
		}
		d.LogEvents = append(d.LogEvents, events.CloudwatchLogsLogEvent{ID: string(ev.id), Timestamp: ev.timestamp, Message: m})
	}
	return d
}

func sameData(a, b events.CloudwatchLogsData) bool {
	if a.MessageType != b.MessageType || a.Owner != b.Owner || a.LogGroup != b.LogGroup || a.LogStream != b.LogStream || len(a.LogEvents) != len(b.LogEvents) {
		return false
	}
	for i := range a.LogEvents {
		if a.LogEvents[i] != b.LogEvents[i] {
			return false
		}
	}
	return true
}

func TestDecodeDeliveryMatchesEncodingJSON(t *testing.T) {
	real := batchOf(t, DataMessage, []string{commonLine, `not json at all`, "tab\tand \u2028 and <&>"}, batchTime)
	for _, c := range []struct {
		name string
		json string
		fast bool // whether the hand-written scanner should handle it alone
	}{
		{"as CloudWatch Logs sends it", string(real), true},
		{"control message", `{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1700000000000,"message":"CWL CONTROL MESSAGE: Checking health of destination Lambda."}]}`, true},
		{"unknown keys and whitespace", " {\"policyLevel\": \"ACCOUNT_LEVEL_POLICY\", \"x\": [1, -2.5e3, {\"y\": null}, true, false],\n\"messageType\":\"DATA_MESSAGE\", \"logEvents\": [ {\"extractedFields\":{}, \"id\":\"1\",\"timestamp\":-5,\"message\":\"\\ud83d\\ude00 \\ud800 \\u0041\"} ] } ", true},
		{"invalid UTF-8 becomes U+FFFD", "{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":[{\"id\":\"1\",\"timestamp\":1,\"message\":\"a\xffb\"}]}", true},
		{"keys in another case", `{"MessageType":"DATA_MESSAGE","LOGEVENTS":[{"ID":"1","Timestamp":2,"Message":"m"}]}`, false},
		{"null fields", `{"messageType":null,"owner":"o","logEvents":null}`, false},
		{"repeated logEvents", `{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":1,"message":"a"}],"logEvents":[{"id":"2"}]}`, false},
		{"escaped key", `{"message\u0054ype":"DATA_MESSAGE","logEvents":[]}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var want events.CloudwatchLogsData
			if err := json.Unmarshal([]byte(c.json), &want); err != nil {
				t.Fatalf("encoding/json: %v", err)
			}
			var e delivery
			if err := decodeDelivery([]byte(c.json), &e); err != nil {
				t.Fatalf("decodeDelivery: %v", err)
			}
			if got := asData(t, &e); !sameData(got, want) {
				t.Errorf("decodeDelivery = %+v\nencoding/json gives %+v", got, want)
			}
			var fe delivery
			fast := (&deliveryScanner{b: []byte(c.json), e: &fe}).top() == nil
			if fast != c.fast {
				t.Errorf("fast scanner handled it: %v, want %v", fast, c.fast)
			}
		})
	}
}

func TestDecodeMalformedDeliveries(t *testing.T) {
	gz := func(s string) []byte { return compress(t, []byte(s)) }
	var plainGzip bytes.Buffer
	w := gzip.NewWriter(&plainGzip)
	w.Write(bytes.Repeat([]byte{' '}, maxDecompressed+1))
	w.Close()
	for _, c := range []struct {
		name, want string
		data       []byte
	}{
		{"not base64", "not base64", []byte("%%%")},
		{"not gzip", "not gzip", []byte(base64.StdEncoding.EncodeToString([]byte("plain text")))},
		{"truncated gzip", "gunzip", halfOf(gz(strings.Repeat(`{"a":1}`, 1000)))},
		{"gzip of not JSON", "invalid character", gz("hello")},
		{"gzip of an array", "cannot unmarshal array", gz("[]")},
		{"a decompression bomb", "MiB after gunzip", []byte(base64.StdEncoding.EncodeToString(plainGzip.Bytes()))},
	} {
		t.Run(c.name, func(t *testing.T) {
			var d decoder
			_, err := d.decode(c.data, nil)
			if !errors.Is(err, ErrMalformedDelivery) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("decode error = %v, want ErrMalformedDelivery saying %q", err, c.want)
			}
		})
	}
}

// halfOf cuts base64 in half on a 4-byte boundary, so it stays base64.
func halfOf(b []byte) []byte { return b[:len(b)/2&^3] }

func TestDecoderReusesBuffers(t *testing.T) {
	var d decoder
	a := compress(t, batchOf(t, DataMessage, []string{commonLine, commonLine}, batchTime))
	b := compress(t, batchOf(t, DataMessage, []string{"x"}, batchTime.Add(time.Minute)))
	for i, c := range []struct {
		data   []byte
		events int
	}{{a, 2}, {b, 1}, {a, 2}} {
		env, err := d.decode(c.data, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(env.events) != c.events {
			t.Errorf("decode %d: %d events, want %d (left over from the batch before?)", i, len(env.events), c.events)
		}
	}
}

// FuzzDecodeDelivery holds the hand-written delivery scanner to
// encoding/json: decodeDelivery succeeds exactly when encoding/json does, and
// with the same fields.
func FuzzDecodeDelivery(f *testing.F) {
	f.Add(batchOf(f, DataMessage, []string{commonLine, "x"}, batchTime))
	f.Add([]byte(`{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1700000000000,"message":"CWL CONTROL MESSAGE: Checking health of destination Lambda."}]}`))
	f.Add([]byte(" {\"policyLevel\": \"X\", \"x\": [1, -2.5e3, {\"y\": null}, true, false],\n\"logEvents\": [ {\"id\":\"1\",\"timestamp\":-5,\"message\":\"\\ud83d\\ude00 \\ud800 \\u0041\"} ] } "))
	f.Add([]byte("{\"logEvents\":[{\"message\":\"a\xffb\\u00e9\\/\"}]}"))
	f.Add([]byte(`{"MessageType":"DATA_MESSAGE","LOGEVENTS":[{"ID":"1","Timestamp":2,"Message":"m"}]}`))
	f.Add([]byte(`{"logEvents":[{"timestamp":12345678901234567890}]}`))
	f.Add([]byte(`{"logEvents":[{"timestamp":1.5}],"owner":"\u0000"}`))
	f.Add(groupBatch(f, "/aws/apigateway/orders-prod", sourceLines(f, "apigateway-http.log"), batchTime))
	f.Add(groupBatch(f, "/aws/lambda/billing", sourceLines(f, "lambda-report.json"), batchTime))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e delivery
		err := decodeDelivery(b, &e)
		var want events.CloudwatchLogsData
		wantErr := json.Unmarshal(b, &want)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("decodeDelivery(%q): error %v, encoding/json says %v", b, err, wantErr)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformedDelivery) {
				t.Fatalf("decodeDelivery(%q): error %v is not ErrMalformedDelivery", b, err)
			}
			return
		}
		if got := asData(t, &e); !sameData(got, want) {
			t.Fatalf("decodeDelivery(%q) = %+v\nencoding/json gives %+v", b, got, want)
		}
		// A line read in place must read as ParseLine reads the message.
		for i, ev := range e.events {
			if !ev.parsed {
				continue
			}
			got, gotErr := ev.line()
			wantRec, wantErr := ParseLine([]byte(want.LogEvents[i].Message))
			if !sameErr(gotErr, wantErr) || !sameRecord(got, wantRec) {
				t.Fatalf("event %d read in place: %s, %v; ParseLine: %s, %v", i, show(got), gotErr, show(wantRec), wantErr)
			}
		}
		// A source's batch, its messages left escaped or read in place by
		// its parser, decodes to the same, and reads as the decoded
		// message does; counted as it is scanned, the lines counted and
		// the events kept are the batch's, in order.
		g := newGatewayFormat(nil)
		for _, mode := range []struct {
			name   string
			inline inlineFunc
			parse  func(msg []byte, escaped bool) (hit, error)
		}{
			{"escaped", nil, nil},
			{"gateway", g.inline, func(m []byte, esc bool) (hit, error) { return g.parse(m, esc, new([]byte)) }},
			{"report", reportInline, func(m []byte, esc bool) (hit, error) { return parseReport(m, esc, new([]byte)) }},
		} {
			for _, counting := range []bool{false, true} {
				name := mode.name
				var counted []logEvent
				var count countFunc
				if counting {
					name += " counted"
					take := len(b)%3 + 1 // lines count takes before it has the rest kept
					count = func(ts int64, msg []byte, h hit, err error) bool {
						if len(counted) == take {
							return false
						}
						counted = append(counted, logEvent{timestamp: ts, message: msg, escaped: true, inline: true, h: h, err: err})
						return true
					}
				}
				var e delivery
				read := func([]byte, []byte) (bool, inlineFunc, countFunc) { return true, mode.inline, count }
				if err := decodeDeliveryOf(b, &e, read); err != nil {
					t.Fatalf("%s: error %v, encoding/json read it", name, err)
				}
				if e.counted == 0 {
					counted = nil // void: the scanner left the batch to encoding/json
				} else if e.counted != len(counted) {
					t.Fatalf("%s: delivery says %d counted, count took %d", name, e.counted, len(counted))
				}
				if e.size() != len(want.LogEvents) {
					t.Fatalf("%s: %d events, encoding/json gives %d", name, e.size(), len(want.LogEvents))
				}
				if n := e.size(); n > 0 {
					first, last := e.ends()
					if string(first) != want.LogEvents[0].ID || string(last) != want.LogEvents[n-1].ID {
						t.Fatalf("%s: first and last ids %q, %q; encoding/json gives %q, %q", name, first, last, want.LogEvents[0].ID, want.LogEvents[n-1].ID)
					}
				}
				for i := range counted {
					counted[i].id = []byte(want.LogEvents[i].ID) // count is not given ids; the ends are checked above
				}
				all := e
				all.events = append(counted, e.events...)
				if got := asData(t, &all); !sameData(got, want) {
					t.Fatalf("%s: %+v\nencoding/json gives %+v", name, got, want)
				}
				for i, ev := range all.events {
					if ev.inline {
						h, err := mode.parse([]byte(want.LogEvents[i].Message), false)
						agree(t, name+" in place", ev.h, ev.err, h, err)
					}
				}
			}
		}
	})
}
