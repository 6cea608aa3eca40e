package gunzip

import (
	"bytes"
	stdgzip "compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"
)

// reportText is about size bytes of a batch of Lambda REPORT lines, which
// compress better than access logs.
func reportText(size int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 4))
	var b strings.Builder
	b.WriteString(`{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/lambda/billing","logStream":"abc","subscriptionFilters":["f"],"logEvents":[`)
	ms := int64(1796396400000)
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		ms += int64(r.IntN(40))
		d := 3 + r.Float64()*200
		fmt.Fprintf(&b, `{"id":"%d%020d","timestamp":%d,"message":"REPORT RequestId: %08x-e9a3-11e6-939a-%012x\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: 128 MB\tMax Memory Used: %d MB\t\n"}`,
			ms, i, ms, i, i*7919, d, int(d)+1, 60+r.IntN(20))
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkDecode decodes 1 MiB batches, as the Lambda event carries them
// once base64 is undone, with this package and with the streaming readers
// used the way accesslog used them (Reset, then bytes.Buffer.ReadFrom).
// MB/s counts decompressed bytes. Compare with interleaved runs, e.g.
// -bench 'BenchmarkDecode/gateway' -count 8.
func BenchmarkDecode(b *testing.B) {
	gateway, report := batchJSON(1<<20, 21), reportText(1<<20, 22)
	payloads := []struct {
		name  string
		plain []byte
		src   []byte
	}{
		{"gateway-std6", gateway, gz(b, gateway, 6)},
		{"gateway-klauspost", gateway, kgz(b, gateway, kgzip.DefaultCompression)},
		{"report-std6", report, gz(b, report, 6)},
	}
	for _, p := range payloads {
		b.Run(p.name+"/gunzip", func(b *testing.B) {
			var d Decoder
			dst := make([]byte, 0, len(p.plain)+slack)
			b.SetBytes(int64(len(p.plain)))
			for b.Loop() {
				if _, err := d.Append(dst[:0], p.src, 32<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(p.name+"/klauspost", func(b *testing.B) {
			zr, _ := kgzip.NewReader(bytes.NewReader(p.src))
			var out bytes.Buffer
			out.Grow(len(p.plain) + 1)
			b.SetBytes(int64(len(p.plain)))
			for b.Loop() {
				zr.Reset(bytes.NewReader(p.src))
				out.Reset()
				if _, err := out.ReadFrom(io.LimitReader(zr, 32<<20)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(p.name+"/stdlib", func(b *testing.B) {
			zr, _ := stdgzip.NewReader(bytes.NewReader(p.src))
			var out bytes.Buffer
			out.Grow(len(p.plain) + 1)
			b.SetBytes(int64(len(p.plain)))
			for b.Loop() {
				zr.Reset(bytes.NewReader(p.src))
				out.Reset()
				if _, err := out.ReadFrom(io.LimitReader(zr, 32<<20)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
