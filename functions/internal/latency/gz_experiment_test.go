package latency

import (
	"bytes"
	"encoding/base64"
	"io"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"
)

func BenchmarkGzVariants(b *testing.B) {
	plain, _ := realisticBatch(b, 1<<20, batchTime, 42)
	data := compress(b, plain)
	comp, _ := base64.StdEncoding.DecodeString(string(data))
	var out bytes.Buffer
	out.Grow(2 << 20)
	zr, _ := kgzip.NewReader(bytes.NewReader(comp))
	b.Run("readfrom", func(b *testing.B) {
		b.SetBytes(int64(len(plain)))
		start := cpuTime()
		for b.Loop() {
			zr.Reset(bytes.NewReader(comp))
			out.Reset()
			out.ReadFrom(zr)
		}
		reportCPU(b, start)
	})
	b.Run("writeto", func(b *testing.B) {
		b.SetBytes(int64(len(plain)))
		start := cpuTime()
		for b.Loop() {
			zr.Reset(bytes.NewReader(comp))
			out.Reset()
			zr.WriteTo(&out)
		}
		reportCPU(b, start)
	})
	b.Run("nocrc-discard", func(b *testing.B) {
		b.SetBytes(int64(len(plain)))
		start := cpuTime()
		for b.Loop() {
			zr.Reset(bytes.NewReader(comp))
			io.Copy(io.Discard, zr)
		}
		reportCPU(b, start)
	})
	b.Run("base64", func(b *testing.B) {
		b.SetBytes(int64(len(plain)))
		buf := make([]byte, len(data))
		start := cpuTime()
		for b.Loop() {
			base64.StdEncoding.Decode(buf, data)
		}
		reportCPU(b, start)
	})
}
