package accesslog

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/lambda-slackbot/slackbot/internal/testenv"
)

var commonLine = accessLine("c6af9ac6-7b61-11e6-9a41-93e8deadbeef", 1700000000123, "POST", "/slack/events", "200", "123", "110")

func TestParseLine(t *testing.T) {
	for _, c := range []struct {
		name string
		line string
		want Record
		err  error
	}{
		{name: "as API Gateway writes it", line: commonLine,
			want: Record{Method: []byte("POST"), Path: []byte("/slack/events"), RequestTime: 1700000000123, Response: 123, Integration: 110, Status: 200}},
		{name: "numbers as JSON numbers",
			line: `{"requestId":"x","requestTimeEpoch":1700000000123,"httpMethod":"POST","resourcePath":"/slack/commands","status":200,"responseLatency":45,"integrationLatency":40}`,
			want: Record{Method: []byte("POST"), Path: []byte("/slack/commands"), RequestTime: 1700000000123, Response: 45, Integration: 40, Status: 200}},
		{name: "throttled: integrationLatency is -", line: accessLine("x", 1700000000123, "POST", "/slack/events", "429", "2", "-"),
			want: Record{Method: []byte("POST"), Path: []byte("/slack/events"), RequestTime: 1700000000123, Response: 2, Integration: -1, Status: 429}},
		{name: "fractions and exponents", line: `{"httpMethod":"GET","resourcePath":"/a","responseLatency":"12.5","integrationLatency":1.5e1}`,
			want: Record{Method: []byte("GET"), Path: []byte("/a"), Response: 12.5, Integration: 15}},
		{name: "zero latency", line: `{"httpMethod":"GET","resourcePath":"/a","responseLatency":"0","integrationLatency":0}`,
			want: Record{Method: []byte("GET"), Path: []byte("/a"), Response: 0, Integration: 0}},
		{name: "null and missing values", line: `{"httpMethod":"GET","resourcePath":"/a","responseLatency":7,"integrationLatency":null}`,
			want: Record{Method: []byte("GET"), Path: []byte("/a"), Response: 7, Integration: -1}},
		{name: "whitespace, unknown keys of every kind, other order",
			line: " {\n\t\"extra\" : {\"nested\":[1,2,{\"a\":null}]}, \"responseLatency\" : \"9\" , \"flag\":true, \"resourcePath\":\"/a\",\"httpMethod\":\"PUT\" } \n",
			want: Record{Method: []byte("PUT"), Path: []byte("/a"), Response: 9, Integration: -1}},
		{name: "escapes in a path", line: `{"httpMethod":"GET","resourcePath":"/caf\u00e9\/x","responseLatency":"1"}`,
			want: Record{Method: []byte("GET"), Path: []byte("/café/x"), Response: 1, Integration: -1}},
		{name: "duplicate keys: the last wins", line: `{"httpMethod":"GET","resourcePath":"/a","responseLatency":"bad","responseLatency":"3"}`,
			want: Record{Method: []byte("GET"), Path: []byte("/a"), Response: 3, Integration: -1}},

		{name: "a 5xx", line: accessLine("x", 1700000000123, "POST", "/slack/events", "502", "29000", "29000"),
			want: Record{Method: []byte("POST"), Path: []byte("/slack/events"), RequestTime: 1700000000123, Response: 29000, Integration: 29000, Status: 502}},
		{name: "status -", line: accessLine("x", 1700000000123, "POST", "/slack/events", "-", "3", "2"),
			want: Record{Method: []byte("POST"), Path: []byte("/slack/events"), RequestTime: 1700000000123, Response: 3, Integration: 2}},
		{name: "status not a code", line: accessLine("x", 1700000000123, "POST", "/slack/events", "OK", "3", "2"), err: errBadStatus},
		{name: "status out of range", line: `{"httpMethod":"GET","resourcePath":"/a","status":"600","responseLatency":"1"}`, err: errBadStatus},
		{name: "status fractional", line: `{"httpMethod":"GET","resourcePath":"/a","status":200.5,"responseLatency":"1"}`, err: errBadStatus},
		{name: "no resource: unrouted", line: accessLine("x", 1700000000123, "GET", "-", "403", "1", "-"), err: errUnrouted},
		{name: "no resourcePath", line: `{"httpMethod":"GET","responseLatency":"1"}`, err: errNoPath},
		{name: "no method", line: `{"resourcePath":"/a","responseLatency":"1"}`, err: errNoMethod},
		{name: "method is a number", line: `{"httpMethod":1,"resourcePath":"/a","responseLatency":"1"}`, err: errNoMethod},
		{name: "no latency at all", line: accessLine("x", 1700000000123, "GET", "/a", "200", "-", "-"), err: errNoLatency},
		{name: "latency not a number", line: `{"httpMethod":"GET","resourcePath":"/a","responseLatency":"fast"}`, err: errBadLatency},
		{name: "latency Inf", line: `{"httpMethod":"GET","resourcePath":"/a","responseLatency":"Inf"}`, err: errBadLatency},
		{name: "latency hex float", line: `{"httpMethod":"GET","resourcePath":"/a","responseLatency":"0x1p3"}`, err: errBadLatency},
		{name: "latency negative", line: `{"httpMethod":"GET","resourcePath":"/a","responseLatency":-1}`, err: errBadLatency},
		{name: "latency absurd", line: `{"httpMethod":"GET","resourcePath":"/a","responseLatency":1e12}`, err: errBadLatency},
		{name: "latency a boolean", line: `{"httpMethod":"GET","resourcePath":"/a","responseLatency":true}`, err: errBadLatency},
		{name: "time not a number", line: `{"httpMethod":"GET","resourcePath":"/a","requestTimeEpoch":"soon","responseLatency":1}`, err: errBadTime},
		{name: "time fractional", line: `{"httpMethod":"GET","resourcePath":"/a","requestTimeEpoch":"1.5","responseLatency":1}`, err: errBadTime},
		{name: "leading zero number is not JSON", line: `{"httpMethod":"GET","resourcePath":"/a","responseLatency":012}`, err: errNotJSON},
		{name: "trailing garbage", line: commonLine + "x", err: errNotJSON},
		{name: "truncated", line: commonLine[:len(commonLine)-10], err: errNotJSON},
		{name: "array", line: `[1,2]`, err: errNotJSON},
		{name: "null", line: `null`, err: errNotJSON},
		{name: "plain text", line: `START RequestId: 123`, err: errNotJSON},
		{name: "empty", line: ``, err: errNotJSON},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseLine([]byte(c.line))
			if !errors.Is(err, c.err) {
				t.Fatalf("ParseLine error = %v, want %v", err, c.err)
			}
			if c.err != nil {
				return
			}
			if !sameRecord(got, c.want) {
				t.Errorf("ParseLine = %s, want %s", show(got), show(c.want))
			}
		})
	}
}

func sameRecord(a, b Record) bool {
	return bytes.Equal(a.Method, b.Method) && bytes.Equal(a.Path, b.Path) && a.RequestTime == b.RequestTime &&
		a.Response == b.Response && a.Integration == b.Integration && a.Status == b.Status
}

// sameErr compares errors by what they say: ParseLine wraps its reasons
// with the field's name, so equal answers are not the same value.
func sameErr(a, b error) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Error() == b.Error())
}

func show(r Record) string {
	return fmt.Sprintf("%s %s t=%d resp=%g integ=%g status=%d", r.Method, r.Path, r.RequestTime, r.Response, r.Integration, r.Status)
}

// The line API Gateway writes must take the fast path: no allocation.
func TestParseLineCommonShapeDoesNotAllocate(t *testing.T) {
	line := []byte(commonLine)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := ParseLine(line); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("ParseLine allocated %v times per line, want 0 (did it fall back to encoding/json?)", n)
	}
}

// parseLineReference is ParseLine with only the encoding/json decoder.
func parseLineReference(line []byte) (Record, error) {
	var f [fieldCount]rawField
	if err := decodeLineJSON(line, &f); err != nil {
		return Record{}, err
	}
	return interpret(&f)
}

// FuzzParseLine holds the hand-written scanner to encoding/json: for any
// input, ParseLine and the encoding/json reference give the same record or
// the same error.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		commonLine,
		accessLine("x", 1700000000123, "GET", "-", "403", "1", "-"),
		`{"requestId":"x","requestTimeEpoch":1700000000123,"httpMethod":"POST","resourcePath":"/slack/commands","status":200,"responseLatency":45,"integrationLatency":40}`,
		`{"httpMethod":"GET","resourcePath":"/a","responseLatency":"12.5","integrationLatency":1.5e1}`,
		`{"httpMethod":"GET","resourcePath":"/caf\u00e9\/x","responseLatency":"1"}`,
		`{"httpMethod":"GET","resourcePath":"/a","responseLatency":"bad","responseLatency":"3"}`,
		` {"extra" : {"nested":[1,2,{"a":null}]}, "responseLatency" : "9" , "flag":true, "resourcePath":"/a","httpMethod":"PUT" } `,
		`{"httpMethod":"GET","resourcePath":"/a","responseLatency":012}`,
		`{"httpMethod":"GET","resourcePath":"/a","requestTimeEpoch":"99999999999999999","responseLatency":1}`,
		`{}`, `[]`, `null`, ``, `{"a":"\ud800"}`, "{\"httpMethod\":\"G\xffT\",\"resourcePath\":\"/a\",\"responseLatency\":1}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		got, gotErr := ParseLine(line)
		want, wantErr := parseLineReference(line)
		if !sameErr(gotErr, wantErr) {
			t.Fatalf("ParseLine(%q): error %v, encoding/json says %v", line, gotErr, wantErr)
		}
		if gotErr == nil && !sameRecord(got, want) {
			t.Fatalf("ParseLine(%q) = %s, encoding/json says %s", line, show(got), show(want))
		}
	})
}

func BenchmarkParseLine(b *testing.B) {
	line := []byte(commonLine)
	b.SetBytes(int64(len(line)))
	start := testenv.CPUTime()
	for b.Loop() {
		if _, err := ParseLine(line); err != nil {
			b.Fatal(err)
		}
	}
	testenv.ReportCPU(b, start)
}

// eightDigits reads what strconv reads, and refuses any byte but a digit
// in any place.
func TestEightDigits(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 8))
	for range 100000 {
		s := fmt.Sprintf("%08d", r.IntN(1e8))
		b := []byte(s)
		want, _ := strconv.ParseUint(s, 10, 64)
		if got, ok := eightDigits(b); !ok || got != want {
			t.Fatalf("eightDigits(%q) = %d, %v; want %d", s, got, ok, want)
		}
		for c := range 256 {
			if c >= '0' && c <= '9' {
				continue
			}
			b := []byte(s)
			b[r.IntN(8)] = byte(c)
			if got, ok := eightDigits(b); ok {
				t.Fatalf("eightDigits(%q) = %d, true; want false", b, got)
			}
		}
	}
}
