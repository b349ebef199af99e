package rest

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"procoregraph/adapter"
)

// TestScalarFastPathsAgreeWithTheGeneralParse: the in-place readers of ids,
// dates and timestamps give what strconv, adapter.ParseDate and
// parseTimestamp give whenever they accept a text, accept the usual shapes,
// and leave every other text to those general parsers.
func TestScalarFastPathsAgreeWithTheGeneralParse(t *testing.T) {
	usual := []string{"2025-01-14", "2024-02-29", "2000-02-29", "0001-01-01", "9999-12-31",
		"2024-12-24T18:17:48Z", "2024-02-29T23:59:59Z", "1970-01-01T00:00:00Z", "12300000001", "0", "007", "999999999999999999"}
	odd := []string{"", "2025-1-14", "2025-01-1", "2023-02-29", "1900-02-29", "2025-04-31", "2025-00-10", "2025-13-01",
		"2025-01-00", "2025-01-32", "2025/01/14", "+025-01-14", "2025-01-14 ", "2024-12-24T24:00:00Z", "2024-12-24T18:60:48Z",
		"2024-12-24T18:17:60Z", "2024-12-24t18:17:48Z", "2024-12-24T18:17:48z", "2024-12-24T18:17:48.5Z",
		"2024-12-24T18:17:48+01:00", "2024-12-24 18:17:48Z", "2024-12-24T18:17:4Z", "1000000000000000000", "-1", "+1",
		"1e3", "12.0", "١٢", "0x10", "1_000"}
	check := func(t *testing.T, s string) (fastAccepted bool) {
		t.Helper()
		b := []byte(s)
		if d, ok := dateOnly(b); ok {
			fastAccepted = true
			if want, err := adapter.ParseDate(s); err != nil || d != want {
				t.Errorf("dateOnly(%q) = %v; ParseDate: %v, %v", s, d, want, err)
			}
		} else if len(s) == 10 {
			if _, err := time.Parse(time.DateOnly, s); err == nil {
				t.Errorf("dateOnly(%q) refused a date time.Parse reads", s)
			}
		}
		if ts, ok := utcSeconds(b); ok {
			fastAccepted = true
			if want, ok := parseTimestamp(s); !ok || ts != want {
				t.Errorf("utcSeconds(%q) = %v; parseTimestamp: %v, %v", s, ts, want, ok)
			}
		}
		if n, ok := digits(b, 18); ok {
			fastAccepted = true
			if want, err := strconv.ParseInt(s, 10, 64); err != nil || n != want {
				t.Errorf("digits(%q) = %d; ParseInt: %d, %v", s, n, want, err)
			}
		}
		return fastAccepted
	}
	for _, s := range usual {
		if !check(t, s) {
			t.Errorf("%q took the general path", s)
		}
	}
	for _, s := range odd {
		check(t, s)
	}
	// Random texts of the usual shapes, digits anywhere in range or out.
	r := rand.New(rand.NewPCG(1, 2))
	two := func(max int) string { return fmt.Sprintf("%02d", r.IntN(max)) }
	for range 20000 {
		date := fmt.Sprintf("%04d-%s-%s", r.IntN(10000), two(14), two(33))
		check(t, date)
		check(t, date+"T"+two(26)+":"+two(62)+":"+two(62)+"Z")
	}
}

// TestFlexBoolReadsSpellingsInAnyCase: the in-place lower-casing of short
// ASCII texts reads what strings.ToLower did; other texts still go through
// it (U+017F, long s, is not an "s").
func TestFlexBoolReadsSpellingsInAnyCase(t *testing.T) {
	for in, want := range map[string]flexBool{`true`: {true, true}, `"TRUE"`: {true, true}, `"Yes"`: {true, true},
		`"y"`: {true, true}, `1`: {true, true}, `"1"`: {true, true}, `false`: {false, true}, `"No"`: {false, true},
		`"F"`: {false, true}, `0`: {false, true}, `null`: {}, `""`: {}, `"maybe"`: {}, `"TRUE "`: {true, true},
		`"ye\u017f"`: {}, `"YEſ"`: {}, `"truthy"`: {}, `2`: {}} {
		var v flexBool
		if err := v.UnmarshalJSON([]byte(in)); err != nil || v != want {
			t.Errorf("%s -> %+v, %v; want %+v", in, v, err, want)
		}
	}
}

// TestFlexScalarsReadEscapedAndSpacedText: strings with escapes or spaces
// around the value still read as their text.
func TestFlexScalarsReadEscapedAndSpacedText(t *testing.T) {
	var id flexID
	if err := id.UnmarshalJSON([]byte(`" 12\u0033 "`)); err != nil || id != 123 {
		t.Errorf("id: %d, %v", id, err)
	}
	var d flexDate
	if err := d.UnmarshalJSON([]byte(`"2025-01-1\u0034"`)); err != nil || !d.Set || d.V != (adapter.Date{Year: 2025, Month: 1, Day: 14}) {
		t.Errorf("date: %+v, %v", d, err)
	}
	var ts flexTime
	if err := ts.UnmarshalJSON([]byte(` "2024-12-24T18:17:48Z" `)); err != nil || !ts.Set || !ts.V.Equal(time.Date(2024, 12, 24, 18, 17, 48, 0, time.UTC)) {
		t.Errorf("time: %+v, %v", ts, err)
	}
	var n flexInt
	if err := n.UnmarshalJSON([]byte(`"` + strings.Repeat("9", 18) + `"`)); err != nil || n != 999999999999999999 {
		t.Errorf("int: %d, %v", n, err)
	}
}
