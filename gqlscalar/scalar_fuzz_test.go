package gqlscalar

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func written(f func(w *bytes.Buffer)) string {
	var b bytes.Buffer
	f(&b)
	var s string
	_ = json.Unmarshal(b.Bytes(), &s)
	return s
}

// FuzzScalars: no client string makes a scalar panic, repeat more than 40
// bytes of itself in an error, or accept a value that does not round-trip.
func FuzzScalars(f *testing.F) {
	for _, s := range []string{"1", "9223372036854775807", "-1", "0", "1234.50", "1e30", "1e31", "1e-31", "NaN", "2026-02-29", "2024-02-29",
		"2026-01-02T03:04:05Z", "2026-01-02T03:04:05+02:00", "", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		check := func(kind string, err error) {
			if err != nil && len(err.Error()) > 400 { // bounded whatever the input's length
				t.Fatalf("%s error of %d bytes for a %d-byte input", kind, len(err.Error()), len(s))
			}
		}
		if id, err := UnmarshalID64(s); err == nil {
			back := written(func(b *bytes.Buffer) { MarshalID64(id).MarshalGQL(b) })
			if again, err := UnmarshalID64(back); err != nil || again != id || id <= 0 {
				t.Fatalf("ID %q → %d → %q → %d %v", s, id, back, again, err)
			}
		} else {
			check("ID", err)
		}
		if d, err := UnmarshalDecimal(s); err == nil {
			back := written(func(b *bytes.Buffer) { MarshalDecimal(d).MarshalGQL(b) })
			if len(back) > 200 {
				t.Fatalf("Decimal %q prints %d characters", s, len(back))
			}
			if again, err := UnmarshalDecimal(back); err != nil || !again.Equal(d) {
				t.Fatalf("Decimal %q → %s → %v %v", s, back, again, err)
			}
		} else {
			check("Decimal", err)
		}
		if d, err := UnmarshalDate(s); err == nil {
			back := written(func(b *bytes.Buffer) { MarshalDate(d).MarshalGQL(b) })
			if again, err := UnmarshalDate(back); err != nil || again != d {
				t.Fatalf("Date %q → %s → %v %v", s, back, again, err)
			}
		} else {
			check("Date", err)
		}
		if tm, err := UnmarshalDateTime(s); err == nil {
			back := written(func(b *bytes.Buffer) { MarshalDateTime(tm).MarshalGQL(b) })
			if again, err := UnmarshalDateTime(back); err != nil || !again.Equal(tm.Truncate(time.Second)) {
				t.Fatalf("DateTime %q → %s → %v %v", s, back, again, err)
			}
		} else {
			check("DateTime", err)
		}
	})
}
