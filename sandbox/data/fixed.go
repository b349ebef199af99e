package data

import (
	"fmt"
	"strconv"

	"github.com/shopspring/decimal"
)

// Fixed is an exact decimal with two fractional digits, stored as hundredths:
// money in cents, percentages in hundredths of a percent, hours and quantities
// in hundredths. It keeps the dataset compact (one int64 instead of a big.Int)
// and exact; on the wire it is a string such as "1234.50".
type Fixed int64

// FixedFromInt returns n units (n * 100 hundredths).
func FixedFromInt(n int64) Fixed { return Fixed(n * 100) }

// String formats f as a decimal string with exactly two fractional digits.
func (f Fixed) String() string { return string(f.Append(nil)) }

// Append appends f formatted as String does.
func (f Fixed) Append(b []byte) []byte {
	v := int64(f)
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	b = strconv.AppendInt(b, v/100, 10)
	b = append(b, '.')
	c := v % 100
	b = append(b, byte('0'+c/10), byte('0'+c%10))
	return b
}

// Decimal returns f as a shopspring decimal.
func (f Fixed) Decimal() decimal.Decimal { return decimal.New(int64(f), -2) }

// ParseFixed parses a decimal string (or JSON number text) with at most two
// fractional digits. More digits are an error rather than silently rounded,
// because money must round-trip exactly.
func ParseFixed(s string) (Fixed, error) {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return FixedFromDecimal(d)
}

// FixedFromDecimal converts d, refusing more than two fractional digits or
// values beyond ±10^15.
func FixedFromDecimal(d decimal.Decimal) (Fixed, error) {
	scaled := d.Shift(2)
	if !scaled.Equal(scaled.Truncate(0)) {
		return 0, fmt.Errorf("%s has more than two decimal places", d.String())
	}
	if scaled.Abs().GreaterThan(decimal.New(1, 17)) {
		return 0, fmt.Errorf("%s is out of range", d.String())
	}
	return Fixed(scaled.IntPart()), nil
}

// PercentOf returns f * pct / 100 rounded half away from zero to hundredths,
// where pct is itself a Fixed percentage (10.00% = Fixed(1000)). This is how
// retainage is computed from an amount and a retainage percent.
func (f Fixed) PercentOf(pct Fixed) Fixed {
	return Fixed(roundDiv(int64(f)*int64(pct), 10000))
}

// Ratio returns num/den as a percentage in hundredths (num=1, den=4 → 25.00),
// rounded half away from zero; 0 when den is 0.
func Ratio(num, den Fixed) Fixed {
	if den == 0 {
		return 0
	}
	return Fixed(roundDiv(int64(num)*10000, int64(den)))
}

// roundDiv divides a by b (b > 0) rounding half away from zero.
func roundDiv(a, b int64) int64 {
	if b < 0 {
		a, b = -a, -b
	}
	if a >= 0 {
		return (a + b/2) / b
	}
	return -((-a + b/2) / b)
}
