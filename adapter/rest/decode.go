package rest

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

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
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, jsonNull) {
		return "", true, nil
	}
	if b[0] == '"' {
		s, err := quotedText(b)
		if err != nil {
			return "", false, err
		}
		s = strings.TrimSpace(s)
		return s, s == "", nil
	}
	if b[0] == '{' || b[0] == '[' {
		return "", false, fmt.Errorf("want a scalar, got %.20s", b)
	}
	return string(b), false, nil
}

// quotedText returns the text of the JSON string literal b. Without escapes
// (the common case) it is the bytes between the quotes, with no second
// validation pass; otherwise the literal is decoded.
func quotedText(b []byte) (string, error) {
	if len(b) >= 2 && b[len(b)-1] == '"' && bytes.IndexByte(b[1:len(b)-1], '\\') < 0 && bytes.IndexByte(b[1:len(b)-1], '"') < 0 {
		return string(b[1 : len(b)-1]), nil
	}
	u, err := jsontext.AppendUnquote(nil, b)
	return string(u), err
}

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
	s, empty, err := scalarText(b)
	if err != nil {
		return err
	}
	if empty {
		*v = 0
		return nil
	}
	n, err := parseID(s)
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
	s, empty, err := scalarText(b)
	if err != nil || empty {
		return nil
	}
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
	s, empty, err := scalarText(b)
	if err != nil || empty {
		return nil
	}
	switch strings.ToLower(s) {
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
	s, empty, err := scalarText(b)
	if err != nil || empty {
		return nil
	}
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
	s, empty, err := scalarText(b)
	if err != nil || empty {
		return nil
	}
	if t, ok := parseTimestamp(s); ok {
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
