package cursor

import "testing"

// FuzzDecode: no input makes Decode panic or name a position it cannot
// give back; every position it accepts below MaxOffset round-trips.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"", Encode(0), Encode(199), Encode(MaxOffset), "Y3Vyc29yOjkyMjMzNzIwMzY4NTQ3NzU4MDc=", "Y3Vyc29yOi0x", "!!", "Y3Vyc29yOg=="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
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
	} {
		t.Run(c.name, func(t *testing.T) {
			pos, beyond, err := Decode(c.in)
			if (err != nil) != c.bad || pos != c.pos || beyond != c.beyond {
				t.Fatalf("Decode(%q) = %d, %v, %v", c.in, pos, beyond, err)
			}
		})
	}
}
