package loaders

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"testing"

	"github.com/cespare/xxhash/v2"

	"procoregraph/adapter"
)

func TestDecodeCache(t *testing.T) {
	t.Run("TenantsNeverShareADecodedValue", func(t *testing.T) {
		dc, err := NewDecodeCache(0)
		if err != nil {
			t.Fatal(err)
		}
		payload := []byte(`[{"id":9300000001,"project_id":7300000001,"subject":"Footing depth","status":"open"}]`)
		a1, err := decode[[]adapter.RFI](dc, "conn-a\x00user", payload, false)
		if err != nil {
			t.Fatal(err)
		}
		a2, _ := decode[[]adapter.RFI](dc, "conn-a\x00user", payload, false)
		b, _ := decode[[]adapter.RFI](dc, "conn-b\x00user", payload, false)
		if len(a1) != 1 || len(a2) != 1 || len(b) != 1 || a1[0].ID != 9300000001 || b[0].ID != 9300000001 {
			t.Fatalf("decoded %+v, %+v, %+v", a1, a2, b)
		}
		if &a1[0] != &a2[0] {
			t.Fatal("the same scope decoded the same bytes twice: the cache missed")
		}
		if &a1[0] == &b[0] {
			t.Fatal("two connections got the same decoded value for the same payload")
		}
	})

	t.Run("TheStoresOwnBytesAreFoundByAddressAndOnlyThem", func(t *testing.T) {
		dc, err := NewDecodeCache(0)
		if err != nil {
			t.Fatal(err)
		}
		type item struct{ ID int64 }
		stored := []byte(`{"ID":41}`)
		a1, err := decode[*item](dc, "conn", stored, true)
		if err != nil || a1.ID != 41 {
			t.Fatalf("decode = %+v, %v", a1, err)
		}
		if a2, _ := decode[*item](dc, "conn", stored, true); a2 != a1 {
			t.Fatal("the same stored bytes were decoded twice: the entry by address missed")
		}
		copied := bytes.Clone(stored)
		if c, _ := decode[*item](dc, "conn", copied, true); c == a1 || c.ID != 41 {
			t.Fatalf("bytes at another address got %p (%+v), want a decode of their own", c, c)
		}
		other := []byte(`{"ID":42}`) // as long as stored, elsewhere
		if o, _ := decode[*item](dc, "conn", other, true); o.ID != 42 {
			t.Fatalf("other bytes decoded to %+v", o)
		}
		if b, _ := decode[*item](dc, "conn-b", stored, true); b == a1 {
			t.Fatal("two connections got the same decoded value for the same stored bytes")
		}
		if h, _ := decode[*item](dc, "conn", stored, false); h == a1 || h.ID != 41 {
			t.Fatalf("a read by hash found the entry by address: %p (%+v)", h, h)
		}
	})

	t.Run("A64BitHashCollisionNeverReturnsAnotherPayloadsValue", func(t *testing.T) {
		first := []byte(`{"ID":123456789}`) // 16 bytes: two xxhash lanes
		second := xxhash64Collision(first, []byte("notjson!"))
		if xxhash.Sum64(first) != xxhash.Sum64(second) || len(first) != len(second) || string(first) == string(second) {
			t.Fatalf("test setup: %q and %q are not a 64-bit collision", first, second)
		}
		dc, err := NewDecodeCache(0)
		if err != nil {
			t.Fatal(err)
		}
		type item struct{ ID int64 }
		if v, err := decode[item](dc, "conn", first, false); err != nil || v.ID != 123456789 {
			t.Fatalf("decode(first) = %+v, %v", v, err)
		}
		if v, err := decode[item](dc, "conn", second, false); err == nil {
			t.Fatalf("decode of the colliding payload %q = %+v, want its own decode error, not the first payload's value", second, v)
		}
	})
}

// xxhash64Collision returns a 16-byte input with the same XXH64 (seed 0) as
// the 16-byte input a and the first 8 bytes lane: XXH64 of a short input
// mixes each 8-byte lane into the state with invertible steps, so the
// second lane can be solved for.
func xxhash64Collision(a, lane []byte) []byte {
	const (
		p1 uint64 = 11400714785074694791
		p2 uint64 = 14029467366897019727
		p4 uint64 = 9650029242287828579
		p5 uint64 = 2870177450012600261
	)
	round := func(x uint64) uint64 { return bits.RotateLeft64(x*p2, 31) * p1 }
	inverse := func(p uint64) uint64 { // of an odd number mod 2^64, by Newton's method
		x := p
		for range 6 {
			x *= 2 - p*x
		}
		return x
	}
	unround := func(r uint64) uint64 { return bits.RotateLeft64(r*inverse(p1), -31) * inverse(p2) }
	mix := func(h, k uint64) uint64 { return bits.RotateLeft64(h^round(k), 27)*p1 + p4 }
	h0 := p5 + 16
	target := mix(mix(h0, binary.LittleEndian.Uint64(a[:8])), binary.LittleEndian.Uint64(a[8:]))
	h1 := mix(h0, binary.LittleEndian.Uint64(lane))
	// target = rotl(h1 ^ round(k2), 27)*p1 + p4, solved for k2.
	k2 := unround(h1 ^ bits.RotateLeft64((target-p4)*inverse(p1), -27))
	out := append([]byte(nil), lane[:8]...)
	return binary.LittleEndian.AppendUint64(out, k2)
}
