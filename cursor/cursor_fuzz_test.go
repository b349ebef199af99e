package cursor

import (
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzDecode: no input makes Decode or Parse panic or name a position it
// cannot give back; every offset below MaxOffset and every keyset cursor it
// accepts round-trips.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"", Encode(0), Encode(199), Encode(MaxOffset), "Y3Vyc29yOjkyMjMzNzIwMzY4NTQ3NzU4MDc=", "Y3Vyc29yOi0x", "!!", "Y3Vyc29yOg==",
		EncodeKey(Key{Order: ByID, ID: 7, Pos: 3}), EncodeKey(Key{Order: ByUpdatedAt, Desc: true, UpdatedAt: 1_700_000_000_000_000_000, ID: 9_223_372_036_854_775_807, Pos: MaxOffset})} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if c, err := Parse(s); err == nil && c.Key != nil {
			k := *c.Key
			if k.ID <= 0 || k.Pos < 0 || k.Pos > MaxOffset || k.UpdatedAt < 0 || (k.Order != ByID && k.Order != ByUpdatedAt) {
				t.Fatalf("Parse(%q) accepted %+v", s, k)
			}
			if again, err := Parse(EncodeKey(k)); err != nil || again.Key == nil || *again.Key != k {
				t.Fatalf("round trip of %+v: %+v %v", k, again, err)
			}
		}
		pos, beyond, err := Decode(s)
		if err != nil {
			return
		}
		if pos < 0 || pos > MaxOffset {
			t.Fatalf("Decode(%q) = %d outside [0, %d]", s, pos, MaxOffset)
		}
		if beyond {
			return
		}
		if again, _, err := Decode(Encode(pos)); err != nil || again != pos {
			t.Fatalf("round trip of %d: %d %v", pos, again, err)
		}
	})
}

func TestDecode(t *testing.T) {
	for _, c := range []struct {
		name   string
		in     string
		pos    int
		beyond bool
		bad    bool
	}{
		{"EncodedPositionDecodes", Encode(42), 42, false, false},
		{"HugePositionIsBeyond", "Y3Vyc29yOjkyMjMzNzIwMzY4NTQ3NzU4MDc=", MaxOffset, true, false},
		{"NegativeIsInvalid", "Y3Vyc29yOi0x", 0, false, true},
		{"OtherPrefixIsInvalid", "b3RoZXI6MQ==", 0, false, true},
		{"NotBase64IsInvalid", "!!", 0, false, true},
		{"EmptyPositionIsInvalid", "Y3Vyc29yOg==", 0, false, true},
		{"KeysetCursorIsNotAnOffset", EncodeKey(Key{Order: ByID, ID: 5}), 0, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			pos, beyond, err := Decode(c.in)
			if (err != nil) != c.bad || pos != c.pos || beyond != c.beyond {
				t.Fatalf("Decode(%q) = %d, %v, %v", c.in, pos, beyond, err)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	b := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, c := range []struct {
		name string
		in   string
		want *Key
	}{
		{"IDOrderRoundTrips", EncodeKey(Key{Order: ByID, ID: 42, Pos: 9}), &Key{Order: ByID, ID: 42, Pos: 9}},
		{"UpdatedAtDescRoundTrips", EncodeKey(Key{Order: ByUpdatedAt, Desc: true, UpdatedAt: 1e18, ID: 3}), &Key{Order: ByUpdatedAt, Desc: true, UpdatedAt: 1e18, ID: 3}},
		{"PositionIsClampedOnEncode", EncodeKey(Key{Order: ByID, ID: 1, Pos: MaxOffset * 3}), &Key{Order: ByID, ID: 1, Pos: MaxOffset}},
		{"UnknownOrderIsInvalid", b("k1:xa:0:1:0"), nil},
		{"UnknownDirectionIsInvalid", b("k1:iz:0:1:0"), nil},
		{"ZeroIDIsInvalid", b("k1:ia:0:0:0"), nil},
		{"NegativeIDIsInvalid", b("k1:ia:0:-1:0"), nil},
		{"PositionPastMaxIsInvalid", b("k1:ia:0:1:100001"), nil},
		{"UpdatedAtInIDOrderIsInvalid", b("k1:ia:5:1:0"), nil},
		{"MissingFieldIsInvalid", b("k1:ua:5:1"), nil},
		{"OverflowIsInvalid", b("k1:ua:99999999999999999999:1:0"), nil},
		{"TooLongIsInvalid", b("k1:ua:1:1:0" + strings.Repeat("0", 80)), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(c.in)
			if c.want == nil {
				if err == nil {
					t.Fatalf("Parse(%q) = %+v, want ErrInvalid", c.in, got)
				}
				return
			}
			if err != nil || got.Key == nil || *got.Key != *c.want {
				t.Fatalf("Parse(%q) = %+v, %v; want %+v", c.in, got, err, *c.want)
			}
		})
	}
}
