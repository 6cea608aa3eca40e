package gunzip

import (
	"bytes"
	stdgzip "compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"
)

// reference is compress/gzip reading src to EOF, as the decoder must.
func reference(src []byte) ([]byte, error) {
	zr, err := stdgzip.NewReader(bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// agree checks Append against compress/gzip on src, with no limit in the
// way, and returns the output.
func agree(t testing.TB, src []byte) []byte {
	t.Helper()
	want, wantErr := reference(src)
	var d Decoder
	got, err := d.Append(nil, src, math.MaxInt)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("Append error = %v, compress/gzip's = %v (input %d bytes)", err, wantErr, len(src))
	}
	if err != nil {
		if !errors.Is(err, ErrNotGzip) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) {
			t.Fatalf("Append error %v is none of the package's", err)
		}
		return nil
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Append gave %d bytes, compress/gzip %d; they differ", len(got), len(want))
	}
	// Appending to something keeps it, and a second decode with the
	// same tables gives the same bytes.
	prefix := []byte("prefix")
	got2, err := d.Append(prefix, src, len(want))
	if err != nil || !bytes.Equal(got2[:len(prefix)], prefix) || !bytes.Equal(got2[len(prefix):], want) {
		t.Fatalf("Append after a prefix: %d bytes, %v", len(got2), err)
	}
	return got
}

// gz compresses b with compress/gzip at level.
func gz(t testing.TB, b []byte, level int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := stdgzip.NewWriterLevel(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// kgz compresses b with klauspost's writer at level.
func kgz(t testing.TB, b []byte, level int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := kgzip.NewWriterLevel(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// batchJSON is a CloudWatch Logs batch of API Gateway access-log lines of
// about size bytes, with random request ids as API Gateway writes them.
func batchJSON(size int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	routes := []string{"GET /pets", "GET /pets/{petId}", "POST /pets", "DELETE /pets/{petId}", "GET /orders", "POST /orders", "GET /health"}
	var b strings.Builder
	b.WriteString(`{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/apigateway/orders-prod","logStream":"abc","subscriptionFilters":["f"],"logEvents":[`)
	ms := int64(1796396400000)
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		method, path, _ := strings.Cut(routes[r.IntN(len(routes))], " ")
		u, v := r.Uint64(), r.Uint64()
		id := fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", u>>32, u>>16&0xffff, u&0xfff, 0x8000|v>>48&0x3fff, v&0xffffffffffff)
		ms += int64(r.IntN(40))
		line := fmt.Sprintf(`{\"requestId\":\"%s\",\"requestTimeEpoch\":\"%d\",\"httpMethod\":\"%s\",\"resourcePath\":\"%s\",\"status\":\"200\",\"responseLatency\":\"%d\"}`,
			id, ms, method, path, 3+r.IntN(200))
		fmt.Fprintf(&b, `{"id":"%d%020d","timestamp":%d,"message":"%s"}`, ms, i, ms, line)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func TestLevelsAgree(t *testing.T) {
	inputs := map[string][]byte{
		"empty":  nil,
		"byte":   {'x'},
		"batch":  batchJSON(300<<10, 1),
		"random": randomBytes(70000, 2),
		"runs":   bytes.Repeat([]byte("abcabcabcabcabcx"), 5000),
	}
	for name, in := range inputs {
		for _, level := range []int{stdgzip.NoCompression, stdgzip.BestSpeed, 6, stdgzip.BestCompression, stdgzip.HuffmanOnly} {
			t.Run(fmt.Sprintf("%s/std%d", name, level), func(t *testing.T) {
				if got := agree(t, gz(t, in, level)); !bytes.Equal(got, in) {
					t.Fatal("output is not the input")
				}
			})
		}
		for _, level := range []int{kgzip.NoCompression, kgzip.BestSpeed, 5, kgzip.BestCompression, kgzip.HuffmanOnly, kgzip.ConstantCompression} {
			t.Run(fmt.Sprintf("%s/klauspost%d", name, level), func(t *testing.T) {
				if got := agree(t, kgz(t, in, level)); !bytes.Equal(got, in) {
					t.Fatal("output is not the input")
				}
			})
		}
	}
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 3))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// withHeader is a member with the given header flags and fields around
// deflate data.
func withHeader(t testing.TB, plain []byte, h stdgzip.Header, hcrc bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := stdgzip.NewWriter(&buf)
	w.Header = h
	w.Write(plain)
	w.Close()
	b := buf.Bytes()
	if !hcrc {
		return b
	}
	// compress/gzip does not write FHCRC: insert it after the header.
	n, err := header(b)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte{}, b[:n]...)
	out[3] |= fhcrc
	out = binary.LittleEndian.AppendUint16(out, uint16(crc32.ChecksumIEEE(out)))
	return append(out, b[n:]...)
}

func TestHeaderFlags(t *testing.T) {
	plain := []byte("hello, hello, hello")
	for _, c := range []struct {
		name string
		h    stdgzip.Header
		hcrc bool
	}{
		{"none", stdgzip.Header{}, false},
		{"FEXTRA", stdgzip.Header{Extra: []byte("ab\x03\x00xyz")}, false},
		{"FNAME", stdgzip.Header{Name: "access.log"}, false},
		{"FCOMMENT", stdgzip.Header{Comment: "a comment"}, false},
		{"FHCRC", stdgzip.Header{}, true},
		{"all", stdgzip.Header{Extra: []byte("ab\x00\x00"), Name: "n", Comment: "c"}, true},
		{"longest name", stdgzip.Header{Name: strings.Repeat("n", 511)}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := withHeader(t, plain, c.h, c.hcrc)
			if got := agree(t, src); !bytes.Equal(got, plain) {
				t.Fatalf("got %q", got)
			}
			// Cut anywhere in the header: refused as not gzip.
			n, _ := header(src)
			for i := range n {
				if _, err := Append(nil, src[:i], 1<<20); !errors.Is(err, ErrNotGzip) {
					t.Fatalf("header cut at %d: %v", i, err)
				}
			}
		})
	}
	t.Run("bad FHCRC", func(t *testing.T) {
		src := withHeader(t, plain, stdgzip.Header{Name: "x"}, true)
		n, _ := header(src)
		src[n-1] ^= 1
		agree(t, src)
		if _, err := Append(nil, src, 1<<20); !errors.Is(err, ErrNotGzip) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("name of 512 bytes", func(t *testing.T) {
		src := withHeader(t, plain, stdgzip.Header{Name: strings.Repeat("n", 512)}, false)
		agree(t, src) // compress/gzip refuses it
		if _, err := Append(nil, src, 1<<20); err == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("reserved flag bits", func(t *testing.T) {
		src := gz(t, plain, 6)
		src[3] |= 0xe0 // compress/gzip ignores them
		agree(t, src)
	})
	t.Run("not gzip", func(t *testing.T) {
		for _, src := range []string{"", "plain text", "\x1f\x8b\x07\x00\x00\x00\x00\x00\x00\xff"} {
			agree(t, []byte(src))
			if _, err := Append(nil, []byte(src), 1<<20); !errors.Is(err, ErrNotGzip) {
				t.Errorf("%q: %v", src, err)
			}
		}
	})
}

// deflate writes a raw deflate stream bit by bit, for blocks no compressor
// writes on request.
type bitWriter struct {
	b    []byte
	nbit uint
}

func (w *bitWriter) bits(v uint32, n uint) {
	for i := range n {
		if w.nbit%8 == 0 {
			w.b = append(w.b, 0)
		}
		w.b[len(w.b)-1] |= byte(v>>i&1) << (w.nbit % 8)
		w.nbit++
	}
}

// huff writes a Huffman code, most significant bit first.
func (w *bitWriter) huff(code uint32, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		w.bits(code>>uint(i)&1, 1)
	}
}

// fixedLit writes symbol sym of the fixed literal/length code.
func (w *bitWriter) fixedLit(sym int) {
	switch {
	case sym < 144:
		w.huff(uint32(0x30+sym), 8)
	case sym < 256:
		w.huff(uint32(0x190+sym-144), 9)
	case sym < 280:
		w.huff(uint32(sym-256), 7)
	default:
		w.huff(uint32(0xc0+sym-280), 8)
	}
}

// member wraps a raw deflate stream in a gzip header and a trailer for
// plain.
func member(deflate, plain []byte) []byte {
	b := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}
	b = append(b, deflate...)
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(plain))
	return binary.LittleEndian.AppendUint32(b, uint32(len(plain)))
}

func TestBlocks(t *testing.T) {
	t.Run("stored", func(t *testing.T) {
		plain := randomBytes(200000, 5) // several stored blocks of 65535
		agree(t, gz(t, plain, 0))
	})
	t.Run("empty stored", func(t *testing.T) {
		agree(t, member([]byte{1, 0, 0, 0xff, 0xff}, nil))
	})
	t.Run("stored length check", func(t *testing.T) {
		agree(t, member([]byte{1, 1, 0, 0xff, 0xff, 'x'}, []byte("x")))
	})
	t.Run("fixed", func(t *testing.T) {
		var w bitWriter
		w.bits(1, 1) // final
		w.bits(1, 2) // fixed
		for _, c := range []byte("ab") {
			w.fixedLit(int(c))
		}
		w.fixedLit(285) // length 258
		w.bits(0, 5)    // distance code 0: 1 back, a run of b
		w.fixedLit(265) // length 11 + 1 extra bit
		w.bits(1, 1)    // 12
		w.huff(1, 5)    // distance 2
		w.fixedLit(256)
		want := append([]byte("ab"), bytes.Repeat([]byte("b"), 258)...)
		want = append(want, bytes.Repeat([]byte("bb"), 6)...)
		if got := agree(t, member(w.b, want)); !bytes.Equal(got, want) {
			t.Fatalf("got %q", got)
		}
	})
	for _, sym := range []int{286, 287} {
		t.Run(fmt.Sprintf("fixed length code %d", sym), func(t *testing.T) {
			var w bitWriter
			w.bits(1, 1)
			w.bits(1, 2)
			w.fixedLit('a')
			w.fixedLit(sym)
			w.bits(0, 5)
			w.fixedLit(256)
			agree(t, member(w.b, []byte("aa")))
		})
	}
	for _, dist := range []uint32{30, 31} {
		t.Run(fmt.Sprintf("fixed distance code %d", dist), func(t *testing.T) {
			var w bitWriter
			w.bits(1, 1)
			w.bits(1, 2)
			w.fixedLit('a')
			w.fixedLit(257)
			w.huff(dist, 5)
			w.fixedLit(256)
			agree(t, member(w.b, []byte("aaaa")))
		})
	}
	t.Run("reserved block type", func(t *testing.T) {
		agree(t, member([]byte{7, 0}, nil))
	})
	t.Run("dynamic", func(t *testing.T) {
		agree(t, gz(t, batchJSON(100<<10, 7), 9))
	})
	t.Run("distance before the start", func(t *testing.T) {
		var w bitWriter
		w.bits(1, 1)
		w.bits(1, 2)
		w.fixedLit('a')
		w.fixedLit(257)
		w.huff(1, 5) // 2 back, with 1 byte out
		w.fixedLit(256)
		agree(t, member(w.b, []byte("aaaa")))
	})
	t.Run("long matches", func(t *testing.T) {
		agree(t, gz(t, bytes.Repeat(randomBytes(300, 8), 1000), 9))
	})
	t.Run("distance 1 runs", func(t *testing.T) {
		in := append(bytes.Repeat([]byte{'a'}, 100000), bytes.Repeat([]byte{'b'}, 3)...)
		agree(t, gz(t, in, 6))
		agree(t, kgz(t, in, 1))
	})
	t.Run("32 KiB distance", func(t *testing.T) {
		chunk := randomBytes(32768, 9)
		in := append(append([]byte{}, chunk...), chunk...)
		src := gz(t, in, 9)
		if got := agree(t, src); !bytes.Equal(got, in) {
			t.Fatal("output is not the input")
		}
		// compress/flate's window is 32 KiB: the second copy is made of
		// matches 32768 back.
		var w bitWriter
		w.bits(0, 1)
		w.bits(0, 2)
		w.b = append(w.b, 0xff, 0x7f, 0, 0x80) // stored, 32767 bytes
		w.b = append(w.b, chunk[:32767]...)
		w.nbit = uint(len(w.b)) * 8
		w.bits(0, 1)
		w.b = append(w.b, 1, 0, 0xfe, 0xff, chunk[32767])
		w.nbit = uint(len(w.b)) * 8
		w.bits(1, 1)
		w.bits(1, 2)
		w.fixedLit(284)  // length 227 + 5 bits
		w.bits(31, 5)    // 258
		w.huff(29, 5)    // distance 24577 + 13 bits
		w.bits(8191, 13) // 32768
		w.fixedLit(256)
		want := append(append([]byte{}, chunk...), chunk[:258]...)
		if got := agree(t, member(w.b, want)); !bytes.Equal(got, want) {
			t.Fatal("wrong output")
		}
	})
}

// TestDeepCodes decodes Huffman codes up to 15 bits long, which go
// through subtables: symbol k of 15 is 2^-k of the input, shuffled, in
// one block.
func TestDeepCodes(t *testing.T) {
	var in []byte
	for k := range 15 {
		in = append(in, bytes.Repeat([]byte{'a' + byte(k)}, 1<<(14-k))...)
	}
	r := rand.New(rand.NewPCG(13, 13))
	r.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
	// (klauspost's writer ends with a fixed block, whose table has no
	// subtables.)
	for _, src := range [][]byte{gz(t, in, stdgzip.HuffmanOnly), gz(t, in, 9)} {
		var d Decoder
		got, err := d.Append(nil, src, len(in))
		if err != nil || !bytes.Equal(got, in) {
			t.Fatalf("%d bytes, %v", len(got), err)
		}
		agree(t, src)
		subtables := 0
		for _, e := range d.litlen[:1<<litlenBits] {
			if e&flagSub != 0 {
				subtables++
			}
		}
		if subtables == 0 {
			t.Error("no code went through a subtable")
		}
	}
}

func TestChecksums(t *testing.T) {
	src := gz(t, []byte("some log lines\n"), 6)
	for _, c := range []struct {
		name string
		at   int
	}{{"CRC-32", len(src) - 8}, {"ISIZE", len(src) - 4}} {
		t.Run(c.name, func(t *testing.T) {
			bad := append([]byte{}, src...)
			bad[c.at] ^= 0x10
			agree(t, bad)
			if _, err := Append(nil, bad, 1<<20); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.name) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestMembers(t *testing.T) {
	a, b := gz(t, []byte("first "), 6), kgz(t, []byte("second"), 1)
	two := append(append([]byte{}, a...), b...)
	if got := agree(t, two); string(got) != "first second" {
		t.Fatalf("got %q", got)
	}
	// compress/gzip reads another header after each member: anything
	// after one is an error, even zeros (a padded tape block), except
	// nothing at all.
	for _, tail := range []string{"\x00", "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", "garbage after the member", "\x1f\x8b"} {
		src := append(append([]byte{}, two...), tail...)
		agree(t, src)
		if _, err := Append(nil, src, 1<<20); err == nil {
			t.Errorf("tail %q accepted", tail)
		}
	}
	// A distance cannot reach into the previous member.
	var w bitWriter
	w.bits(1, 1)
	w.bits(1, 2)
	w.fixedLit(257)
	w.huff(0, 5)
	w.fixedLit(256)
	agree(t, append(append([]byte{}, a...), member(w.b, []byte("   "))...))
}

func TestTruncated(t *testing.T) {
	src := gz(t, batchJSON(20000, 4), 6)
	// Every cut in the header, the first blocks' codes and the trailer;
	// every seventh byte between.
	for i := 0; i < len(src); i++ {
		if i > 300 && i < len(src)-20 && i%7 != 0 {
			continue
		}
		agree(t, src[:i])
		_, err := Append(nil, src[:i], 1<<20)
		if i < 10 && !errors.Is(err, ErrNotGzip) || i >= 10 && !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut at %d of %d: %v", i, len(src), err)
		}
	}
}

func TestLimit(t *testing.T) {
	for _, c := range []struct {
		name string
		src  func([]byte) []byte
	}{
		{"deflate", func(b []byte) []byte { return gz(t, b, 6) }},
		{"stored", func(b []byte) []byte { return gz(t, b, 0) }},
		{"two members", func(b []byte) []byte {
			return append(gz(t, b[:len(b)/2], 6), gz(t, b[len(b)/2:], 1)...)
		}},
	} {
		for _, n := range []int{0, 1, 100, 70000, 1 << 20} {
			plain := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
			src := c.src(plain)
			t.Run(fmt.Sprintf("%s/%d", c.name, n), func(t *testing.T) {
				got, err := Append([]byte("x"), src, n)
				if err != nil || string(got[1:]) != string(plain) {
					t.Fatalf("at the limit: %v", err)
				}
				if n == 0 {
					return
				}
				got, err = Append([]byte("x"), src, n-1)
				if !errors.Is(err, ErrTooLarge) || string(got) != "x" {
					t.Fatalf("one past the limit: %q, %v", got, err)
				}
			})
		}
	}
	t.Run("bomb stops early", func(t *testing.T) {
		// 1 GiB of zeros in about 1 MB, stopped at 1 MiB: the output
		// never grows far past the limit.
		var buf bytes.Buffer
		w, _ := stdgzip.NewWriterLevel(&buf, 9)
		zeros := make([]byte, 1<<20)
		for range 64 {
			w.Write(zeros)
		}
		w.Close()
		dst := make([]byte, 0, 2<<20)
		got, err := Append(dst, buf.Bytes(), 1<<20)
		if !errors.Is(err, ErrTooLarge) || len(got) != 0 {
			t.Fatalf("%d bytes, %v", len(got), err)
		}
		// With room in dst, nothing the size of the output is allocated.
		var d Decoder
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		d.Append(dst, buf.Bytes(), 1<<20)
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 4096 {
			t.Errorf("%d bytes allocated with room in dst", n)
		}
	})
}

func TestNoAllocationsWithRoom(t *testing.T) {
	src := gz(t, batchJSON(200<<10, 11), 6)
	var d Decoder
	dst := make([]byte, 0, 300<<10)
	if allocs := testing.AllocsPerRun(10, func() {
		if _, err := d.Append(dst, src, 1<<20); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("%v allocations a decode", allocs)
	}
}

// FuzzAppend holds Append to compress/gzip on any input: the same bytes,
// and an error exactly when compress/gzip's reader errors.
func FuzzAppend(f *testing.F) {
	plain := batchJSON(4000, 12)
	for _, level := range []int{0, 1, 6, 9, stdgzip.HuffmanOnly} {
		f.Add(gz(f, plain, level))
	}
	f.Add(kgz(f, plain, 1))
	f.Add(kgz(f, plain, 9))
	f.Add(kgz(f, bytes.Repeat([]byte("ab"), 500), kgzip.ConstantCompression))
	f.Add([]byte{})
	f.Add(gz(f, nil, 6))
	two := append(gz(f, []byte("one"), 6), gz(f, []byte("two"), 1)...)
	f.Add(two)
	full := gz(f, plain, 6)
	f.Add(full[:len(full)/2])
	f.Add(full[:len(full)-3])
	for _, bit := range []int{90, 700, 3001, 8 * (len(full) - 6)} {
		b := append([]byte{}, full...)
		b[bit/8] ^= 1 << (bit % 8)
		f.Add(b)
	}
	f.Add(withHeader(f, []byte("x"), stdgzip.Header{Extra: []byte{1, 2, 0, 0}, Name: "n", Comment: "c"}, true))
	f.Fuzz(func(t *testing.T, src []byte) {
		want, wantErr := reference(src)
		got, err := Append(nil, src, 1<<22)
		if errors.Is(err, ErrTooLarge) && (wantErr != nil || len(want) > 1<<22) {
			return
		}
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("Append error = %v, compress/gzip's = %v", err, wantErr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("Append gave %d bytes, compress/gzip %d; they differ", len(got), len(want))
		}
	})
}
