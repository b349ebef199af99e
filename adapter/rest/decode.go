package rest

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/shopspring/decimal"

	"procoregraph/adapter"
)

// Tolerant JSON scalars. Procore's v1 payloads are inconsistent across
// endpoints and versions: ids arrive as numbers or strings (v2 always uses
// strings, and may exceed 2^53), money as strings or numbers, dates as dates
// or timestamps, nulls where fields are usually set. These types accept all of
// those; a value of a shape they cannot read is left unset rather than
// failing a whole list, except for ids, which are essential.

var jsonNull = []byte("null")

// scalarText returns the text of a JSON string or number literal, and
// whether the value was null or an empty string.
func scalarText(b []byte) (text string, empty bool, err error) {
	t, empty, err := scalarBytes(b)
	return string(t), empty, err
}

// scalarBytes is scalarText without the copy: the text is a slice of b (or,
// for a string with escapes, of its decoded copy), valid while b is. The
// numeric, date and boolean scalars parse it in place, so that reading one
// allocates nothing.
func scalarBytes(b []byte) (text []byte, empty bool, err error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, jsonNull) {
		return nil, true, nil
	}
	if b[0] == '"' {
		t, err := quotedBytes(b)
		if err != nil {
			return nil, false, err
		}
		t = bytes.TrimSpace(t)
		return t, len(t) == 0, nil
	}
	if b[0] == '{' || b[0] == '[' {
		return nil, false, fmt.Errorf("want a scalar, got %.20s", b)
	}
	return b, false, nil
}

// quotedText returns the text of the JSON string literal b. Without escapes
// (the common case) it is the bytes between the quotes, with no second
// validation pass; otherwise the literal is decoded.
func quotedText(b []byte) (string, error) {
	t, err := quotedBytes(b)
	return string(t), err
}

// quotedBytes is quotedText as a slice of b when the literal has no escapes.
func quotedBytes(b []byte) ([]byte, error) {
	if len(b) >= 2 && b[len(b)-1] == '"' && bytes.IndexByte(b[1:len(b)-1], '\\') < 0 && bytes.IndexByte(b[1:len(b)-1], '"') < 0 {
		return b[1 : len(b)-1], nil
	}
	return jsontext.AppendUnquote(nil, b)
}

// digits returns the value of b when it is 1 to maxDigits ASCII digits and
// nothing else (what strconv.ParseInt and Atoi read the same way without
// overflow), and false for anything else, which the caller then parses the
// general way.
func digits(b []byte, maxDigits int) (int64, bool) {
	if len(b) == 0 || len(b) > maxDigits {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// maxIntDigits is how many decimal digits always fit in an int.
const maxIntDigits = 18*(strconv.IntSize/64) + 9*(1-strconv.IntSize/64)

// parseID parses an int64 id from a number or string ("123", 123, 1.23e5).
func parseID(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	d, err := decimal.NewFromString(s)
	if err != nil || !d.IsInteger() {
		return 0, fmt.Errorf("invalid id %q", s)
	}
	return d.IntPart(), nil
}

// flexID is an int64 id from a JSON number or string; null is 0.
type flexID int64

func (v *flexID) UnmarshalJSON(b []byte) error {
	s, empty, err := scalarBytes(b)
	if err != nil {
		return err
	}
	if empty {
		*v = 0
		return nil
	}
	if n, ok := digits(s, 18); ok {
		*v = flexID(n)
		return nil
	}
	n, err := parseID(string(s))
	if err != nil {
		return err
	}
	*v = flexID(n)
	return nil
}

// ptr returns nil for 0, else a pointer to the id.
func (v flexID) ptr() *int64 {
	if v == 0 {
		return nil
	}
	n := int64(v)
	return &n
}

// flexIDs is a list of ids; a single id or null is accepted too.
type flexIDs []int64

func (v *flexIDs) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var raw []flexID
		if err := unmarshal(b, &raw); err != nil {
			return err
		}
		v.set(raw)
		return nil
	}
	var one flexID
	if err := one.UnmarshalJSON(b); err != nil {
		return err
	}
	*v = nil
	if one != 0 {
		*v = []int64{int64(one)}
	}
	return nil
}

// flexString is text from a JSON string, number or bool; null is "".
type flexString string

func (v *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, jsonNull) {
		*v = ""
		return nil
	}
	switch b[0] {
	case '"':
		s, err := quotedText(b)
		if err != nil {
			return err
		}
		*v = flexString(s)
	case '{', '[':
		*v = "" // an object where text was expected: drift, not fatal
	default:
		*v = flexString(b)
	}
	return nil
}

// flexInt is an int from a JSON number or string; anything else is 0.
type flexInt int

func (v *flexInt) UnmarshalJSON(b []byte) error {
	*v = 0
	t, empty, err := scalarBytes(b)
	if err != nil || empty {
		return nil
	}
	if n, ok := digits(t, maxIntDigits); ok {
		*v = flexInt(n)
		return nil
	}
	s := string(t)
	if n, err := strconv.Atoi(s); err == nil {
		*v = flexInt(n)
	} else if d, err := decimal.NewFromString(s); err == nil {
		*v = flexInt(d.IntPart())
	}
	return nil
}

// flexBool is a bool from true/false, "true"/"false"/"yes"/"no", 1/0; null
// or missing is unset (Set false).
type flexBool struct {
	V   bool
	Set bool
}

func (v *flexBool) UnmarshalJSON(b []byte) error {
	*v = flexBool{}
	t, empty, err := scalarBytes(b)
	if err != nil || empty {
		return nil
	}
	var lower [5]byte
	s := ""
	if ascii := len(t) <= len(lower); ascii {
		for i, c := range t {
			if c >= utf8.RuneSelf {
				ascii = false
				break
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			lower[i] = c
		}
		if ascii {
			s = string(lower[:len(t)]) // short-lived: compared below, not kept
		}
	}
	if s == "" {
		s = strings.ToLower(string(t))
	}
	switch s {
	case "true", "t", "yes", "y", "1":
		*v = flexBool{V: true, Set: true}
	case "false", "f", "no", "n", "0":
		*v = flexBool{V: false, Set: true}
	}
	return nil
}

// or returns the value, or def when unset.
func (v flexBool) or(def bool) bool {
	if !v.Set {
		return def
	}
	return v.V
}

// flexDecimal is an exact decimal from a JSON string or number, read from
// the literal text (never through float64). Unset on null, "" or garbage.
// Thousands separators and a leading currency sign are tolerated.
type flexDecimal struct {
	V   decimal.Decimal
	Set bool
}

// moneyNoise strips thousands separators, currency signs and spaces from a
// decimal's text. A Replacer is immutable and safe for concurrent use.
var moneyNoise = strings.NewReplacer(",", "", "$", "", " ", "")

func (v *flexDecimal) UnmarshalJSON(b []byte) error {
	*v = flexDecimal{}
	s, empty, err := scalarText(b)
	if err != nil || empty {
		return nil
	}
	s = moneyNoise.Replace(s)
	if strings.HasSuffix(s, "%") {
		s = strings.TrimSuffix(s, "%")
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return nil
	}
	*v = flexDecimal{V: d, Set: true}
	return nil
}

// ptr returns nil when unset.
func (v flexDecimal) ptr() *decimal.Decimal {
	if !v.Set {
		return nil
	}
	d := v.V
	return &d
}

// flexDate is a calendar date from "YYYY-MM-DD" or a timestamp.
type flexDate struct {
	V   adapter.Date
	Set bool
}

func (v *flexDate) UnmarshalJSON(b []byte) error {
	*v = flexDate{}
	t, empty, err := scalarBytes(b)
	if err != nil || empty {
		return nil
	}
	if d, ok := dateOnly(t); ok {
		*v = flexDate{V: d, Set: true}
		return nil
	}
	if ts, ok := utcSeconds(t); ok {
		*v = flexDate{V: adapter.DateOf(ts), Set: true}
		return nil
	}
	s := string(t)
	if d, err := adapter.ParseDate(s); err == nil {
		*v = flexDate{V: d, Set: true}
		return nil
	}
	if t, ok := parseTimestamp(s); ok {
		*v = flexDate{V: adapter.DateOf(t), Set: true}
	}
	return nil
}

func (v flexDate) ptr() *adapter.Date {
	if !v.Set {
		return nil
	}
	d := v.V
	return &d
}

// flexTime is an instant from RFC 3339 (with or without fractions or zone),
// a date (midnight UTC) or Unix seconds. Always UTC.
type flexTime struct {
	V   time.Time
	Set bool
}

func (v *flexTime) UnmarshalJSON(b []byte) error {
	*v = flexTime{}
	s, empty, err := scalarBytes(b)
	if err != nil || empty {
		return nil
	}
	if t, ok := utcSeconds(s); ok {
		*v = flexTime{V: t, Set: true}
		return nil
	}
	if t, ok := parseTimestamp(string(s)); ok {
		*v = flexTime{V: t, Set: true}
	}
	return nil
}

func (v flexTime) ptr() *time.Time {
	if !v.Set {
		return nil
	}
	t := v.V
	return &t
}

var timestampLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999 -0700",
	"2006-01-02 15:04:05.999999999 MST",
	"2006-01-02 15:04:05.999999999",
	time.DateOnly,
}

// dateOnly reads YYYY-MM-DD, the usual shape of a Procore date, as
// adapter.ParseDate does, without a string. Anything else (other shapes, a
// day the month does not have) is false, and the caller parses it the
// general way.
func dateOnly(b []byte) (adapter.Date, bool) {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return adapter.Date{}, false
	}
	y, ok1 := digits(b[0:4], 4)
	m, ok2 := digits(b[5:7], 2)
	d, ok3 := digits(b[8:10], 2)
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || int(d) > daysIn(time.Month(m), int(y)) {
		return adapter.Date{}, false
	}
	return adapter.Date{Year: int(y), Month: time.Month(m), Day: int(d)}, true
}

// utcSeconds reads YYYY-MM-DDTHH:MM:SSZ, the usual shape of a Procore
// timestamp, as parseTimestamp (time.Parse with RFC 3339) does, without a
// string. Anything else is false, and the caller parses it the general way.
func utcSeconds(b []byte) (time.Time, bool) {
	if len(b) != 20 || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[19] != 'Z' {
		return time.Time{}, false
	}
	d, ok := dateOnly(b[:10])
	if !ok {
		return time.Time{}, false
	}
	hh, ok1 := digits(b[11:13], 2)
	mm, ok2 := digits(b[14:16], 2)
	ss, ok3 := digits(b[17:19], 2)
	if !ok1 || !ok2 || !ok3 || hh > 23 || mm > 59 || ss > 59 {
		return time.Time{}, false
	}
	return time.Date(d.Year, d.Month, d.Day, int(hh), int(mm), int(ss), 0, time.UTC), true
}

// daysIn is the number of days of month m in year y (proleptic Gregorian,
// as package time counts them).
func daysIn(m time.Month, y int) int {
	if m == time.February {
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	}
	return 31 - int((m-1)%7%2)
}

func parseTimestamp(s string) (time.Time, bool) {
	for _, l := range timestampLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 1e8 {
		return time.Unix(int64(f), 0).UTC(), true
	}
	return time.Time{}, false
}

// normEnum normalizes an enum spelling: "Out For Bid", "out_for_bid",
// "out-for-bid" and "OUT FOR BID" all become "OUT_FOR_BID"; "n/a" becomes "N_A".
func normEnum(s string) string {
	var b strings.Builder
	underscore := false
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
			underscore = false
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
			underscore = false
		default:
			if !underscore && b.Len() > 0 {
				b.WriteByte('_')
				underscore = true
			}
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}

// enumOf maps a Procore spelling to one of known, or unknown.
func enumOf[T ~string](s string, unknown T, known ...T) T {
	n := normEnum(s)
	for _, k := range known {
		if string(k) == n {
			return k
		}
	}
	return unknown
}

// decodeBody decodes a show or list body into out, unwrapping a v2-style
// {"data": ...} envelope. A body of null leaves out untouched.
func decodeBody(body []byte, out any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || bytes.Equal(body, jsonNull) {
		return nil
	}
	if body[0] == '{' {
		var env map[string]jsontext.Value
		if err := unmarshal(body, &env); err == nil {
			if data, ok := env["data"]; ok {
				if _, hasID := env["id"]; !hasID {
					body = data
				}
			}
		}
	}
	return unmarshal(body, out)
}
