package accesslog

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// escapeString is s as CloudWatch Logs writes it inside a JSON string.
func escapeString(s []byte) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(string(s))
	out := bytes.TrimSpace(b.Bytes())
	return out[1 : len(out)-1]
}

func TestScanEscapedLineTakesTheContractShape(t *testing.T) {
	for _, line := range []string{
		commonLine,
		accessLine("x", 1700000000123, "POST", "/slack/events", "429", "2", "-"),
		accessLine("x", 1700000000123, "GET", "-", "403", "1", "-"),
	} {
		esc := escapeString([]byte(line))
		end, f, ok := scanEscapedLine(append(esc, `"}`...))
		if !ok || end != len(esc) {
			t.Errorf("%s: ok %v, end %d; want the fast path to take it whole (%d bytes)", line, ok, end, len(esc))
			continue
		}
		got, gotErr := interpret(&f)
		want, wantErr := ParseLine([]byte(line))
		if !sameErr(gotErr, wantErr) || !sameRecord(got, want) {
			t.Errorf("%s: %s, %v; ParseLine says %s, %v", line, show(got), gotErr, show(want), wantErr)
		}
	}
}

func TestRealisticBatchTakesTheFastPath(t *testing.T) {
	plain, n := realisticBatch(t, 50_000, batchTime, 5)
	var e delivery
	if err := (&deliveryScanner{b: plain, e: &e}).top(); err != nil {
		t.Fatalf("the delivery scanner fell back to encoding/json: %v", err)
	}
	parsed := 0
	for _, ev := range e.events {
		if ev.parsed {
			parsed++
		}
	}
	if len(e.events) != n || parsed != n {
		t.Errorf("%d events, %d parsed in place; want all %d", len(e.events), parsed, n)
	}
}

func TestPlainPrefix(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(0x20 + r.IntN(0x5f)) // printable ASCII
			if r.IntN(30) == 0 {
				b[i] = byte(r.IntN(256))
			}
		}
		want := 0
		for want < len(b) && b[want] >= 0x20 && b[want] < 0x80 && b[want] != '"' && b[want] != '\\' {
			want++
		}
		if got := plainPrefix(b); got != want {
			t.Fatalf("plainPrefix(%q) = %d, want %d", b, got, want)
		}
	}
}

// FuzzScanEscapedLine holds the in-place scanner to ParseLine: whenever it
// takes an input, what it consumed is a JSON string whose decoded text
// ParseLine reads the same way. Each input is tried as is and escaped as
// CloudWatch Logs would escape it.
func FuzzScanEscapedLine(f *testing.F) {
	for _, s := range []string{
		commonLine,
		accessLine("x", 1700000000123, "POST", "/slack/events", "429", "2", "-"),
		`{"requestId":"x","requestTimeEpoch":1700000000123,"httpMethod":"POST","resourcePath":"/a","status":200,"responseLatency":0,"integrationLatency":null}`,
		`{"requestId":"x","requestTimeEpoch":"01","httpMethod":"POST","resourcePath":"/a","status":"200","responseLatency":"1.5","integrationLatency":"-"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, b := range [][]byte{in, append(escapeString(in), '"')} {
			end, fields, ok := scanEscapedLine(b)
			if !ok {
				continue
			}
			var decoded string
			if err := json.Unmarshal(append(append([]byte{'"'}, b[:end]...), '"'), &decoded); err != nil {
				t.Fatalf("scanEscapedLine(%q) took %q, which is not JSON string content: %v", b, b[:end], err)
			}
			got, gotErr := interpret(&fields)
			want, wantErr := ParseLine([]byte(decoded))
			if !sameErr(gotErr, wantErr) || !sameRecord(got, want) {
				t.Fatalf("scanEscapedLine(%q) = %s, %v; ParseLine(%q) = %s, %v", b, show(got), gotErr, decoded, show(want), wantErr)
			}
		}
	})
}
