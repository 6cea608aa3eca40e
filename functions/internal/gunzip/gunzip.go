// Package gunzip decompresses a gzip input held whole in memory, appending
// the output to a byte slice.
//
// A CloudWatch Logs subscription batch arrives whole (at most 1 MB of
// base64), so a streaming reader's costs buy nothing: reading the input a
// byte at a time, decoding into a 32 KiB window and copying it out. This
// decoder follows libdeflate's design instead: a 64-bit bit buffer refilled
// by one 8-byte load, Huffman table entries that carry a length's or a
// distance's base and extra bits so one lookup decodes both, and matches
// copied from the output itself eight bytes at a time.
//
// It accepts exactly what compress/gzip reads to EOF without error (the
// fuzz target FuzzAppend holds it to that) and yields the same bytes:
// RFC 1952 members, one after another as compress/gzip's multistream
// default reads them, each with its CRC-32 and ISIZE checked, holding an
// RFC 1951 stream. Like compress/flate, it refuses a Huffman code that is
// over-subscribed or incomplete, except a single code of length 1.
package gunzip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/bits"
	"sync"
)

// Errors, wrapped with where they were found, so a caller can tell input that
// is not gzip at all from gzip that is damaged or cut short, or too big.
var (
	// ErrNotGzip: the input does not start with a gzip header (empty
	// input included), where compress/gzip.NewReader fails.
	ErrNotGzip = errors.New("gunzip: not gzip")
	// ErrCorrupt: invalid compressed data, a checksum or size that does not
	// match, or bytes after a member that are not another one.
	ErrCorrupt = errors.New("gunzip: corrupt input")
	// ErrTruncated: the input ends inside a member. It wraps
	// io.ErrUnexpectedEOF, as compress/gzip's error does.
	ErrTruncated = fmt.Errorf("gunzip: truncated input: %w", io.ErrUnexpectedEOF)
	// ErrTooLarge: the output would be longer than the limit.
	ErrTooLarge = errors.New("gunzip: output over the limit")
)

// Append decompresses the gzip input src, appending at most limit bytes to
// dst, with a Decoder from a pool. See Decoder.Append.
func Append(dst, src []byte, limit int) ([]byte, error) {
	d := pool.Get().(*Decoder)
	defer pool.Put(d)
	return d.Append(dst, src, limit)
}

var pool = sync.Pool{New: func() any { return new(Decoder) }}

// A Decoder holds the Huffman tables of the block being decoded (about
// 11 KB), so that decoding allocates nothing when dst has room. Its zero
// value is ready; it is not safe for concurrent use.
type Decoder struct {
	litlen  [litlenTableSize]uint32
	dist    [distTableSize]uint32
	precode [1 << precodeBits]uint32
	lens    [maxLitlen + maxDist]uint8
	fixed   bool // litlen and dist hold the fixed codes of RFC 1951 3.2.6
}

// Table sizes: the main table is indexed by the next tableBits bits; longer
// codes go through a subtable. A literal/length table of 10 bits decoded a
// batch 4% faster than one of 11 (libdeflate's) and 5% faster than one of
// 9 (6 paired runs each): a table is built for each block of a few
// thousand symbols, and pairLiterals goes over its main part. litlenTableSize and distTableSize are powers
// of two above zlib's "enough" bounds (1334 and 402 entries for these root
// sizes), so the decode loop indexes them through a mask, which the compiler
// knows is in range.
const (
	litlenBits      = 10
	distBits        = 8
	precodeBits     = 7 // the longest precode is 7 bits: no subtables
	litlenTableSize = 2048
	distTableSize   = 512
	maxLitlen       = 288 // 286 and 287 exist only in the fixed code, and are invalid
	maxDist         = 32  // likewise 30 and 31
	maxCodeLen      = 15
)

// A table entry:
//
//	bits 0-7   bits to consume: the codeword's (within this table) plus
//	           the extra bits that follow it
//	bits 8-11  the codeword's length within this table, where the extra
//	           bits start
//	bits 12-15 flags
//	bits 16-31 the literal byte, the length or distance base, the
//	           precode symbol, or a subtable's start
//
// A subtable pointer holds tableBits in bits 0-7 and the subtable's index
// bits in bits 8-11.
const (
	flagLiteral = 1 << 12
	flagEOB     = 1 << 13
	flagSub     = 1 << 14
	flagInvalid = 1 << 15
)

// slack is the room the decode loop wants past the output: the longest
// match and the overshoot of its 16-byte steps.
const slack = 258 + 16

// Append decompresses the gzip input src and appends the output to dst,
// returning the extended slice. It fails with ErrTooLarge as soon as more
// than limit bytes would be appended (a negative limit counts as 0), so a
// decompression bomb stops early. On error it returns dst unchanged but for
// the bytes past its length, which it may have written.
func (d *Decoder) Append(dst, src []byte, limit int) ([]byte, error) {
	limit = max(limit, 0)
	start := len(dst)
	maxLen := math.MaxInt
	if limit < math.MaxInt-start-slack {
		maxLen = start + limit + slack
	}
	pos, err := header(src)
	if err != nil {
		return dst, fmt.Errorf("%w: %w", ErrNotGzip, err)
	}
	out := dst[:min(cap(dst), maxLen)]
	// The last member's ISIZE is usually the whole output's size: grow once.
	// It is only a hint (a liar costs at most limit bytes, as any input may)
	// and deflate expands at most 1032:1.
	if len(src) >= 18 {
		hint := int(binary.LittleEndian.Uint32(src[len(src)-4:]))
		hint = min(hint, 1032*len(src), limit) + slack
		if len(out)-start < hint {
			out = grow(out, start, hint, maxLen)
		}
	}
	op := start
	for {
		mstart := op
		out, op, pos, err = d.inflate(out, op, src, pos, maxLen)
		if err != nil {
			if err == ErrTooLarge {
				return dst, fmt.Errorf("%w of %d bytes", ErrTooLarge, limit)
			}
			return dst, err
		}
		if op-start > limit {
			return dst, fmt.Errorf("%w of %d bytes", ErrTooLarge, limit)
		}
		if len(src)-pos < 8 {
			return dst, fmt.Errorf("%w: in the trailer at byte %d", ErrTruncated, pos)
		}
		sum, size := binary.LittleEndian.Uint32(src[pos:]), binary.LittleEndian.Uint32(src[pos+4:])
		if crc32.ChecksumIEEE(out[mstart:op]) != sum {
			return dst, fmt.Errorf("%w: CRC-32 mismatch at byte %d", ErrCorrupt, pos)
		}
		if uint32(op-mstart) != size {
			return dst, fmt.Errorf("%w: ISIZE mismatch at byte %d", ErrCorrupt, pos+4)
		}
		pos += 8
		if pos == len(src) {
			return out[:op], nil
		}
		// compress/gzip reads another member after each one, so anything
		// after a member must be a whole member.
		n, err := header(src[pos:])
		if err != nil {
			if errors.Is(err, ErrTruncated) {
				return dst, fmt.Errorf("%w at byte %d", err, pos)
			}
			return dst, fmt.Errorf("%w: another member at byte %d: %w", ErrCorrupt, pos, err)
		}
		pos += n
	}
}

// grow returns out, of length at most maxLen, with at least need bytes after
// op, keeping out[:op].
func grow(out []byte, op, need, maxLen int) []byte {
	n := max(2*len(out), op+need, 4096)
	if n > maxLen || n < 0 {
		n = maxLen
	}
	if n <= len(out) {
		return out
	}
	b := make([]byte, n)
	copy(b, out[:op])
	return b
}

// header flags (RFC 1952 2.3.1). compress/gzip ignores the reserved bits.
const (
	fhcrc    = 1 << 1
	fextra   = 1 << 2
	fname    = 1 << 3
	fcomment = 1 << 4
)

var errBadHeader = errors.New("invalid header")

// header checks the gzip header at the start of b as compress/gzip reads it,
// returning its length.
func header(b []byte) (int, error) {
	if len(b) < 10 {
		return 0, ErrTruncated
	}
	if b[0] != 0x1f || b[1] != 0x8b || b[2] != 8 {
		return 0, errBadHeader
	}
	flg := b[3]
	i := 10
	if flg&fextra != 0 {
		if len(b)-i < 2 {
			return 0, ErrTruncated
		}
		n := int(binary.LittleEndian.Uint16(b[i:]))
		i += 2
		if len(b)-i < n {
			return 0, ErrTruncated
		}
		i += n
	}
	for _, f := range []byte{fname, fcomment} {
		if flg&f == 0 {
			continue
		}
		// compress/gzip reads these strings into a 512-byte buffer,
		// NUL included, and refuses a longer one.
		j := i
		for ; j < len(b) && b[j] != 0; j++ {
			if j-i >= 511 {
				return 0, errBadHeader
			}
		}
		if j == len(b) {
			return 0, ErrTruncated
		}
		i = j + 1
	}
	if flg&fhcrc != 0 {
		if len(b)-i < 2 {
			return 0, ErrTruncated
		}
		if binary.LittleEndian.Uint16(b[i:]) != uint16(crc32.ChecksumIEEE(b[:i])) {
			return 0, errBadHeader
		}
		i += 2
	}
	return i, nil
}

// bitReader reads the deflate stream from in[ip:], least significant bit
// first. Past the end it reads zeros, counting them in ip, so that
// overrun can tell a stream that ran past its end.
type bitReader struct {
	in   []byte
	ip   int    // the next byte to load, possibly past the end
	buf  uint64 // bits loaded and not consumed, the next one lowest
	nbit uint   // how many; at most 63
}

// refill loads bytes until at least 56 bits are buffered.
func (r *bitReader) refill() {
	if r.ip+8 <= len(r.in) {
		r.buf |= binary.LittleEndian.Uint64(r.in[r.ip:]) << r.nbit
		r.ip += int((63 - r.nbit) >> 3)
		r.nbit |= 56
		return
	}
	for r.nbit < 56 {
		if r.ip < len(r.in) {
			r.buf |= uint64(r.in[r.ip]) << r.nbit
		}
		r.ip++
		r.nbit += 8
	}
}

// overrun reports whether more bits were consumed than the input holds.
func (r *bitReader) overrun() bool {
	return uint64(r.ip)*8-uint64(r.nbit) > uint64(len(r.in))*8
}

// bits consumes n (at most 32) bits.
func (r *bitReader) bits(n uint) uint32 {
	if r.nbit < n {
		r.refill()
	}
	v := uint32(r.buf & (1<<n - 1))
	r.buf >>= n
	r.nbit -= n
	return v
}

// corrupt is the error for invalid data found at the reader's position: a
// truncated input when the bits it was read from lie past the end (where
// compress/flate would have stopped for want of input first).
func (r *bitReader) corrupt(what string) error {
	if r.overrun() {
		return fmt.Errorf("%w: in the deflate stream", ErrTruncated)
	}
	return fmt.Errorf("%w: %s near byte %d", ErrCorrupt, what, r.ip-int(r.nbit/8))
}

// inflate decodes the deflate stream at src[pos:] into out[op:], returning
// the output and the position of the byte after the stream.
func (d *Decoder) inflate(out []byte, op int, src []byte, pos, maxLen int) ([]byte, int, int, error) {
	r := bitReader{in: src, ip: pos}
	mstart := op
	for {
		r.refill()
		final := r.bits(1)
		var err error
		switch r.bits(2) {
		case 0:
			out, op, err = d.stored(&r, out, op, maxLen)
		case 1:
			if !d.fixed {
				d.loadFixed()
			}
			out, op, err = d.huffman(&r, out, op, mstart, maxLen)
		case 2:
			d.fixed = false
			if err = d.readCodes(&r); err == nil {
				out, op, err = d.huffman(&r, out, op, mstart, maxLen)
			}
		default:
			err = r.corrupt("reserved block type")
		}
		if err != nil {
			return out, op, 0, err
		}
		if r.overrun() {
			return out, op, 0, fmt.Errorf("%w: in the deflate stream", ErrTruncated)
		}
		if final == 1 {
			// The stream ends at the byte holding its last bit.
			used := uint64(r.ip)*8 - uint64(r.nbit)
			return out, op, int((used + 7) / 8), nil
		}
	}
}

// stored copies a stored block (RFC 1951 3.2.4).
func (d *Decoder) stored(r *bitReader, out []byte, op, maxLen int) ([]byte, int, error) {
	// Drop the bits up to the byte boundary, and give back whole bytes
	// loaded but not consumed.
	r.nbit -= r.nbit & 7
	p := r.ip - int(r.nbit/8)
	r.buf, r.nbit = 0, 0
	if p > len(r.in)-4 {
		return out, op, fmt.Errorf("%w: in a stored block's length", ErrTruncated)
	}
	n := int(binary.LittleEndian.Uint16(r.in[p:]))
	if uint16(n) != ^binary.LittleEndian.Uint16(r.in[p+2:]) {
		return out, op, fmt.Errorf("%w: stored block length check at byte %d", ErrCorrupt, p)
	}
	p += 4
	if op+n > maxLen-slack {
		return out, op, ErrTooLarge
	}
	if len(r.in)-p < n {
		return out, op, fmt.Errorf("%w: in a stored block", ErrTruncated)
	}
	if len(out)-op < n+slack {
		out = grow(out, op, n+slack, maxLen)
	}
	op += copy(out[op:], r.in[p:p+n])
	r.ip = p + n
	return out, op, nil
}

// The lengths and distances of RFC 1951 3.2.5, as table entry templates:
// the base in bits 16-31 and the number of extra bits in bits 0-7, to
// which building a table adds the codeword's length.
var litlenTmpl, distTmpl, precodeTmpl = func() (l [maxLitlen]uint32, d [maxDist]uint32, p [19]uint32) {
	for i := range 256 {
		l[i] = flagLiteral | uint32(i)<<16
	}
	l[256] = flagEOB
	base := uint32(3)
	for i := 257; i < 285; i++ {
		extra := uint32(0)
		if i >= 265 {
			extra = uint32(i-261) / 4
		}
		l[i] = base<<16 | extra
		base += 1 << extra
	}
	l[285] = 258 << 16
	l[286], l[287] = flagInvalid, flagInvalid
	base = 1
	for i := range 30 {
		extra := uint32(0)
		if i >= 4 {
			extra = uint32(i-2) / 2
		}
		d[i] = base<<16 | extra
		base += 1 << extra
	}
	d[30], d[31] = flagInvalid, flagInvalid
	for i := range p {
		p[i] = uint32(i) << 16
	}
	return
}()

func (d *Decoder) loadFixed() {
	for i := range 288 {
		switch {
		case i < 144:
			d.lens[i] = 8
		case i < 256:
			d.lens[i] = 9
		case i < 280:
			d.lens[i] = 7
		default:
			d.lens[i] = 8
		}
	}
	for i := range maxDist {
		d.lens[maxLitlen+i] = 5
	}
	build(d.litlen[:], d.lens[:maxLitlen], litlenTmpl[:], litlenBits)
	pairLiterals(d.litlen[:])
	build(d.dist[:], d.lens[maxLitlen:maxLitlen+maxDist], distTmpl[:], distBits)
	d.fixed = true
}

// precodeOrder is the order of the code length code lengths (RFC 1951 3.2.7).
var precodeOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

// readCodes reads a dynamic block's Huffman codes (RFC 1951 3.2.7) into
// the litlen and dist tables, refusing what compress/flate refuses.
func (d *Decoder) readCodes(r *bitReader) error {
	r.refill()
	nlit := int(r.bits(5)) + 257
	ndist := int(r.bits(5)) + 1
	nclen := int(r.bits(4)) + 4
	if nlit > 286 || ndist > 30 {
		return r.corrupt("too many codes")
	}
	var plens [19]uint8
	for i := range nclen {
		plens[precodeOrder[i]] = uint8(r.bits(3))
	}
	if !build(d.precode[:], plens[:], precodeTmpl[:], precodeBits) {
		return r.corrupt("invalid code length code")
	}
	lens := d.lens[:nlit+ndist]
	for i := 0; i < len(lens); {
		r.refill()
		e := d.precode[r.buf&(1<<precodeBits-1)]
		if e&flagInvalid != 0 {
			return r.corrupt("invalid code length")
		}
		n := uint(e & 0xff)
		r.buf >>= n
		r.nbit -= n
		sym := e >> 16
		if sym < 16 {
			lens[i] = uint8(sym)
			i++
			continue
		}
		var v uint8
		var rep int
		switch sym {
		case 16:
			if i == 0 {
				return r.corrupt("repeat with no previous length")
			}
			v, rep = lens[i-1], 3+int(r.bits(2))
		case 17:
			rep = 3 + int(r.bits(3))
		default:
			rep = 11 + int(r.bits(7))
		}
		if i+rep > len(lens) {
			return r.corrupt("code lengths overflow")
		}
		for range rep {
			lens[i] = v
			i++
		}
	}
	if !build(d.litlen[:], lens[:nlit], litlenTmpl[:], litlenBits) ||
		!build(d.dist[:], lens[nlit:], distTmpl[:], distBits) {
		return r.corrupt("invalid Huffman code")
	}
	pairLiterals(d.litlen[:])
	return nil
}

// build fills table with the canonical Huffman code whose lengths are lens,
// each symbol's entry being its template plus its length, and reports false
// for a code compress/flate refuses: over-subscribed, or incomplete but for
// the single code of length 1 zlib writes. An empty code is accepted, and
// every bit pattern in it is invalid, as is the unused one of a single code.
func build(table []uint32, lens []uint8, tmpl []uint32, tableBits uint) bool {
	var count [maxCodeLen + 1]int
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	maxLen := uint(maxCodeLen)
	for maxLen > 0 && count[maxLen] == 0 {
		maxLen--
	}
	mainSize := 1 << tableBits
	if maxLen == 0 {
		for i := range table[:mainSize] {
			table[i] = flagInvalid
		}
		return true
	}
	space := 0
	for l := uint(1); l <= maxLen; l++ {
		space = space<<1 + count[l]
	}
	if space == 1 && maxLen == 1 {
		for sym, l := range lens {
			if l != 0 {
				for i := range table[:mainSize] {
					table[i] = flagInvalid | 1<<8 | 1
					if i%2 == 0 {
						table[i] = entry(tmpl[sym], 1)
					}
				}
			}
		}
		return true
	}
	if space != 1<<maxLen {
		return false
	}

	// Symbols sorted by length, then value: the canonical order.
	var offs [maxCodeLen + 2]int
	for l := 1; l <= maxCodeLen; l++ {
		offs[l+1] = offs[l] + count[l]
	}
	var sorted [maxLitlen]uint16
	for sym, l := range lens {
		if l != 0 {
			sorted[offs[l]] = uint16(sym)
			offs[l]++
		}
	}
	remaining := count
	code, i := 0, 0
	next := mainSize // where the next subtable goes
	prefix, subStart, subBits := -1, 0, uint(0)
	for l := uint(1); l <= maxLen; l++ {
		for range count[l] {
			sym := sorted[i]
			i++
			rev := int(bits.Reverse16(uint16(code)) >> (16 - l))
			if l <= tableBits {
				e := entry(tmpl[sym], l)
				for j := rev; j < mainSize; j += 1 << l {
					table[j] = e
				}
			} else {
				if p := rev & (mainSize - 1); p != prefix {
					// A new subtable, as big as the codes that
					// share this prefix need (zlib's and
					// libdeflate's method: the codes are
					// complete, so it fills up exactly).
					prefix = p
					subBits = l - tableBits
					used := remaining[l]
					for used < 1<<subBits && tableBits+subBits < maxCodeLen {
						subBits++
						used = used<<1 + remaining[tableBits+subBits]
					}
					subStart = next
					next += 1 << subBits
					if next > len(table) {
						return false // not for a complete code
					}
					table[p] = flagSub | uint32(subStart)<<16 | uint32(subBits)<<8 | uint32(tableBits)
				}
				sl := l - tableBits
				e := entry(tmpl[sym], sl)
				for j := rev >> tableBits; j < 1<<subBits; j += 1 << sl {
					table[subStart+j] = e
				}
			}
			remaining[l]--
			code++
		}
		code <<= 1
	}
	return true
}

// entry is the table entry of a codeword of l bits (within its table) for
// a symbol of template t.
func entry(t uint32, l uint) uint32 {
	if t&flagLiteral != 0 {
		return t + uint32(l) // no extra bits, so no codeword length
	}
	return t + uint32(l)<<8 + uint32(l)
}

// pairLiterals makes each main-table entry of a literal whose bits also
// hold the whole codeword of a second literal decode both: bit 8 set, the
// second byte in bits 24-31. Two literals then cost one lookup, the step
// on which decoding a run of them waits.
func pairLiterals(table []uint32) {
	const mask = 1<<litlenBits - 1
	// Downwards: the entry for the bits after the first codeword, i>>l,
	// lies below i, so it is still a single symbol's.
	for i := mask; i >= 0; i-- {
		e := table[i]
		if e&flagLiteral == 0 {
			continue
		}
		l := uint(e & 0xff)
		e2 := table[(i>>l)&mask]
		l2 := uint(e2 & 0xff)
		if e2&flagLiteral == 0 || l+l2 > litlenBits {
			continue
		}
		table[i] = flagLiteral | 1<<8 | (e>>16&0xff|(e2>>16&0xff)<<8)<<16 | uint32(l+l2)
	}
}

// huffman decodes a block's symbols (RFC 1951 3.2.5) with d's tables, until
// its end-of-block code. Its bit reader lives in locals, which the compiler
// keeps in registers, and goes back to r on return.
//
// The next symbol's table entry is looked up before the refill that
// precedes its decoding (a refill adds bits above those the lookup reads,
// when at least litlenBits are left), so the two loads overlap instead of
// one waiting on the other.
func (d *Decoder) huffman(r *bitReader, out []byte, op, mstart, maxLen int) ([]byte, int, error) {
	in, ip, buf, nbit := r.in, r.ip, r.buf, r.nbit
	lt, dt := &d.litlen, &d.dist
	if ip+8 <= len(in) {
		buf |= binary.LittleEndian.Uint64(in[ip:]) << nbit
		ip += int((63 - nbit) >> 3)
		nbit |= 56
	} else {
		ip, buf, nbit = refillSlow(in, ip, buf, nbit)
	}
	e := lt[buf&(1<<litlenBits-1)]
	for {
		if len(out)-op < slack {
			if len(out) >= maxLen {
				return out, op, ErrTooLarge
			}
			out = grow(out, op, slack, maxLen)
			if len(out)-op < slack {
				return out, op, ErrTooLarge
			}
		}
		// At least 56 bits: enough for a length and a distance with their
		// extra bits (20 + 28).
		if ip+8 <= len(in) {
			buf |= binary.LittleEndian.Uint64(in[ip:]) << nbit
			ip += int((63 - nbit) >> 3)
			nbit |= 56
		} else {
			ip, buf, nbit = refillSlow(in, ip, buf, nbit)
			if ip > len(in)+8 {
				// More than the buffer's worth of zeros read: the
				// stream has run past the end.
				r.ip, r.buf, r.nbit = ip, buf, nbit
				return out, op, fmt.Errorf("%w: in the deflate stream", ErrTruncated)
			}
		}
		if e&flagSub != 0 {
			buf >>= litlenBits
			nbit -= litlenBits
			e = lt[(e>>16+uint32(buf)&(1<<(e>>8&15)-1))&(litlenTableSize-1)]
		}
		saved := buf
		n := uint(e & 0xff)
		buf >>= n
		nbit -= n
		if e&flagLiteral != 0 {
			// One literal or two (pairLiterals); writing two bytes
			// either way is safe in the slack, and the second is
			// overwritten when it is not one.
			binary.LittleEndian.PutUint16(out[op:], uint16(e>>16))
			op += 1 + int(e>>8&1)
			// Random ids make runs of literals. An entry of the
			// main table takes at most 10 bits: two more fit in the
			// 56 bits (15+10+10), leaving litlenBits for the next
			// lookup.
			e = lt[buf&(1<<litlenBits-1)]
			if e&flagLiteral == 0 {
				continue
			}
			n = uint(e & 0xff)
			buf >>= n
			nbit -= n
			binary.LittleEndian.PutUint16(out[op:], uint16(e>>16))
			op += 1 + int(e>>8&1)
			e = lt[buf&(1<<litlenBits-1)]
			if e&flagLiteral == 0 {
				continue
			}
			n = uint(e & 0xff)
			buf >>= n
			nbit -= n
			binary.LittleEndian.PutUint16(out[op:], uint16(e>>16))
			op += 1 + int(e>>8&1)
			e = lt[buf&(1<<litlenBits-1)]
			continue
		}
		if e&(flagEOB|flagInvalid) != 0 {
			r.ip, r.buf, r.nbit = ip, buf, nbit
			if e&flagEOB != 0 {
				return out, op, nil
			}
			return out, op, r.corrupt("invalid literal/length code")
		}
		length := int(e>>16) + int(saved&(1<<n-1)>>(e>>8&15))

		e = dt[buf&(1<<distBits-1)]
		if e&flagSub != 0 {
			buf >>= distBits
			nbit -= distBits
			e = dt[(e>>16+uint32(buf)&(1<<(e>>8&15)-1))&(distTableSize-1)]
		}
		saved = buf
		n = uint(e & 0xff)
		buf >>= n
		nbit -= n
		if e&flagInvalid != 0 {
			r.ip, r.buf, r.nbit = ip, buf, nbit
			return out, op, r.corrupt("invalid distance code")
		}
		dist := int(e>>16) + int(saved&(1<<n-1)>>(e>>8&15))
		if dist > op-mstart {
			r.ip, r.buf, r.nbit = ip, buf, nbit
			return out, op, r.corrupt("distance too far back")
		}

		// As few as 8 bits may be left: refill before the next
		// lookup, which then overlaps the copy.
		if ip+8 <= len(in) {
			buf |= binary.LittleEndian.Uint64(in[ip:]) << nbit
			ip += int((63 - nbit) >> 3)
			nbit |= 56
		} else {
			ip, buf, nbit = refillSlow(in, ip, buf, nbit)
		}
		e = lt[buf&(1<<litlenBits-1)]

		// len(out)-op >= slack, so the copies may run up to 15 bytes
		// past the match: they write over nothing yet decoded.
		from := op - dist
		end := op + length
		switch {
		case dist >= 8:
			// Most matches in a batch are a key or two, under 16
			// bytes: two words without a loop.
			w := out[op : op+16]
			binary.LittleEndian.PutUint64(w[:8], binary.LittleEndian.Uint64(out[from:]))
			binary.LittleEndian.PutUint64(w[8:], binary.LittleEndian.Uint64(out[from+8:]))
			if length <= 16 {
				break
			}
			// Then 16 bytes a step: the last may end 15 bytes past
			// the match, 16+256+15 < slack.
			op += 16
			from += 16
			for op < end {
				w := out[op : op+16]
				binary.LittleEndian.PutUint64(w[:8], binary.LittleEndian.Uint64(out[from:]))
				binary.LittleEndian.PutUint64(w[8:], binary.LittleEndian.Uint64(out[from+8:]))
				op += 16
				from += 16
			}
		case dist == 1:
			v := uint64(out[from]) * 0x0101010101010101
			for op < end {
				binary.LittleEndian.PutUint64(out[op:], v)
				op += 8
			}
		default:
			for ; op < end; op++ {
				out[op] = out[from]
				from++
			}
		}
		op = end
	}
}

// refillSlow is the refill near the end of the input, where it reads zeros
// past the end, counting them in ip.
func refillSlow(in []byte, ip int, buf uint64, nbit uint) (int, uint64, uint) {
	for nbit < 56 {
		if ip < len(in) {
			buf |= uint64(in[ip]) << nbit
		}
		ip++
		nbit += 8
	}
	return ip, buf, nbit
}
