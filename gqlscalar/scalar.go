// Package gqlscalar marshals procoregraph's custom GraphQL scalars and binds the
// adapter's enums to the schema's, so the adapter stays free of GraphQL.
//
// Unmarshalers return errors whose messages are safe to show to clients; the
// error presenter turns them into BAD_USER_INPUT.
package gqlscalar

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/shopspring/decimal"

	"procoregraph/adapter"
)

// MarshalID64 writes a Procore int64 id as a GraphQL ID (a JSON string, so
// JavaScript clients never lose precision above 2^53).
func MarshalID64(id int64) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		io.WriteString(w, strconv.Quote(strconv.FormatInt(id, 10)))
	})
}

// short quotes a client value for an error message, cut to 40 bytes so
// that no message repeats a large input.
func short(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}

// Decimal bounds: money and percentages, never astronomical numbers (whose
// exponent would make their text gigabytes long).
const (
	maxDecimalText     = 64
	maxDecimalExponent = 30
)

// UnmarshalID64 reads an ID given as a string or an integer.
func UnmarshalID64(v any) (int64, error) {
	switch v := v.(type) {
	case string:
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return 0, fmt.Errorf("invalid ID %s: want a positive integer id", short(v))
		}
		return id, nil
	case json.Number:
		return UnmarshalID64(string(v))
	case int64:
		if v <= 0 {
			return 0, fmt.Errorf("invalid ID %d: want a positive integer id", v)
		}
		return v, nil
	case int:
		return UnmarshalID64(int64(v))
	default:
		return 0, fmt.Errorf("invalid ID of type %T: want a string", v)
	}
}

// MarshalDecimal writes an exact decimal as a JSON string.
func MarshalDecimal(d decimal.Decimal) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		io.WriteString(w, strconv.Quote(d.String()))
	})
}

// UnmarshalDecimal reads a decimal from a string (preferred) or an integer.
// Floats are refused: they cannot carry money exactly.
func UnmarshalDecimal(v any) (decimal.Decimal, error) {
	switch v := v.(type) {
	case string:
		if len(v) > maxDecimalText {
			return decimal.Decimal{}, fmt.Errorf("invalid Decimal %s: longer than %d characters", short(v), maxDecimalText)
		}
		d, err := decimal.NewFromString(v)
		if err != nil {
			return decimal.Decimal{}, fmt.Errorf("invalid Decimal %s: want a decimal string such as \"1234.50\"", short(v))
		}
		if e := d.Exponent(); e > maxDecimalExponent || e < -maxDecimalExponent {
			return decimal.Decimal{}, fmt.Errorf("invalid Decimal %s: out of range", short(v))
		}
		if len(d.String()) > maxDecimalText {
			// Accepted values can be written back: "1e20"-style input must
			// not expand past the bound its written form is read with.
			return decimal.Decimal{}, fmt.Errorf("invalid Decimal %s: out of range (more than %d characters written out)", short(v), maxDecimalText)
		}
		return d, nil
	case json.Number:
		return UnmarshalDecimal(string(v))
	case int64:
		return decimal.NewFromInt(v), nil
	case int:
		return decimal.NewFromInt(int64(v)), nil
	default:
		return decimal.Decimal{}, fmt.Errorf("invalid Decimal of type %T: want a decimal string such as \"1234.50\"", v)
	}
}

// MarshalDate writes YYYY-MM-DD.
func MarshalDate(d adapter.Date) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		io.WriteString(w, strconv.Quote(d.String()))
	})
}

// UnmarshalDate reads YYYY-MM-DD.
func UnmarshalDate(v any) (adapter.Date, error) {
	s, ok := v.(string)
	if !ok {
		return adapter.Date{}, fmt.Errorf("invalid Date of type %T: want YYYY-MM-DD", v)
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return adapter.Date{}, fmt.Errorf("invalid Date %s: want YYYY-MM-DD", short(s))
	}
	return adapter.DateOf(d), nil
}

// MarshalDateTime writes an RFC 3339 UTC timestamp.
func MarshalDateTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		io.WriteString(w, strconv.Quote(t.UTC().Format(time.RFC3339)))
	})
}

// UnmarshalDateTime reads an RFC 3339 timestamp (any offset) and returns it in UTC.
func UnmarshalDateTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("invalid DateTime of type %T: want ISO 8601 such as 2026-01-02T03:04:05Z", v)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid DateTime %s: want ISO 8601 such as 2026-01-02T03:04:05Z", short(s))
	}
	return t.UTC(), nil
}

// The Append functions below append exactly what the Marshal function of
// the same name writes, without its allocations (plaintree writes answers
// with them; TestAppendersWriteWhatTheirMarshalersWrite holds them to it).

// AppendID64 appends id as MarshalID64 writes it.
func AppendID64(b []byte, id int64) []byte {
	b = append(b, '"')
	b = strconv.AppendInt(b, id, 10)
	return append(b, '"')
}

// AppendDecimal appends d as MarshalDecimal writes it. A decimal whose
// coefficient has at most 18 digits and whose exponent is not positive
// (money, quantities) is written in place, by the steps of the decimal's
// String (its integer part, then its fraction without trailing zeros);
// any other, or any while the package's TrimTrailingZeros or
// UseScientificNotation is changed from its default, by String itself.
func AppendDecimal(b []byte, d decimal.Decimal) []byte {
	exp := d.Exponent()
	if !decimal.TrimTrailingZeros || decimal.UseScientificNotation || exp > 0 || exp < -18 || d.NumDigits() > 18 {
		return strconv.AppendQuote(b, d.String())
	}
	v := d.CoefficientInt64()
	b = append(b, '"')
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	var buf [20]byte
	digits := strconv.AppendUint(buf[:0], uint64(v), 10)
	n := int(-exp) // digits after the point
	if n == 0 {
		b = append(b, digits...)
		return append(b, '"')
	}
	var whole, frac []byte
	lead := 0 // zeros between the point and the coefficient's digits
	if len(digits) > n {
		whole, frac = digits[:len(digits)-n], digits[len(digits)-n:]
	} else {
		whole, frac, lead = []byte{'0'}, digits, n-len(digits)
	}
	for len(frac) > 0 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	b = append(b, whole...)
	if len(frac) > 0 {
		b = append(b, '.')
		for range lead {
			b = append(b, '0')
		}
		b = append(b, frac...)
	}
	return append(b, '"')
}

// AppendDate appends d as MarshalDate writes it: digits written in place
// for the dates that have four-digit years (adapter.Date.String's
// "%04d-%02d-%02d"), that String's text for any other.
func AppendDate(b []byte, d adapter.Date) []byte {
	if d.Year < 0 || d.Year > 9999 || d.Month < 0 || d.Month > 99 || d.Day < 0 || d.Day > 99 {
		return strconv.AppendQuote(b, d.String())
	}
	y, m := d.Year, int(d.Month)
	return append(b, '"',
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-',
		byte('0'+d.Day/10), byte('0'+d.Day%10), '"')
}

// AppendDateTime appends t as MarshalDateTime writes it (RFC 3339 text is
// printable ASCII: quoting it adds only the quotes).
func AppendDateTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339)
	return append(b, '"')
}
