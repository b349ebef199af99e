package gqlscalar

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/shopspring/decimal"

	"procoregraph/adapter"
)

// checkAppend fails when appendTo(v) is not what marshal(v) writes.
func checkAppend[T any](t *testing.T, name string, marshal func(T) graphql.Marshaler, appendTo func([]byte, T) []byte, v T) {
	t.Helper()
	var want bytes.Buffer
	marshal(v).MarshalGQL(&want)
	if got := appendTo([]byte("prefix"), v); string(got) != "prefix"+want.String() {
		t.Errorf("%s(%v) appended %q, marshal writes %q", name, v, got[len("prefix"):], want.String())
	}
}

func TestAppendersWriteWhatTheirMarshalersWrite(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, id := range []int64{0, 1, -1, 562949953421312, math.MaxInt64, math.MinInt64} {
		checkAppend(t, "AppendID64", MarshalID64, AppendID64, id)
	}
	for _, s := range []string{"0", "-0.5", "1234.50", "1e20", "-12345678901234567890.123456789", "0.000001",
		"0.00", "-100.00", "-0.005", "999999999999999999", "-999999999999999999.5", "0.999999999999999999", "123e-18", "5e-19",
		"9223372036854775807", "-9223372036854775808", "-9223372036854775808e-4", "1e1", "1500"} {
		checkAppend(t, "AppendDecimal", MarshalDecimal, AppendDecimal, decimal.RequireFromString(s))
	}
	for _, d := range []adapter.Date{{Year: 2026, Month: 12, Day: 7}, {Year: 1, Month: 1, Day: 1}, {}, {Year: 12026, Month: 2, Day: 29},
		{Year: 9999, Month: 99, Day: 99}, {Year: 10000, Month: 1, Day: 1}, {Year: -1, Month: 6, Day: 1}, {Year: 2026, Month: 100, Day: 1},
		{Year: 2026, Month: -1, Day: 1}, {Year: 2026, Month: 1, Day: 100}, {Year: 2026, Month: 1, Day: -5}, {Year: 7, Month: 0, Day: 0}} {
		checkAppend(t, "AppendDate", MarshalDate, AppendDate, d)
	}
	berlin := time.FixedZone("CET", 3600)
	for _, tm := range []time.Time{{}, time.Date(2026, 12, 7, 5, 30, 1, 999_999_999, berlin), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC)} {
		checkAppend(t, "AppendDateTime", MarshalDateTime, AppendDateTime, tm)
	}
	for range 10_000 {
		checkAppend(t, "AppendID64", MarshalID64, AppendID64, int64(rng.Uint64()))
		checkAppend(t, "AppendDecimal", MarshalDecimal, AppendDecimal, decimal.New(rng.Int64N(1e12)-5e11, int32(rng.IntN(20)-10)))
		checkAppend(t, "AppendDecimal", MarshalDecimal, AppendDecimal, decimal.New(int64(rng.Uint64()), int32(rng.IntN(44)-40)))
		checkAppend(t, "AppendDecimal", MarshalDecimal, AppendDecimal, decimal.New(rng.Int64N(2000)-1000, int32(-rng.IntN(6))).Mul(decimal.New(100, -2)))
		checkAppend(t, "AppendDate", MarshalDate, AppendDate, adapter.Date{Year: rng.IntN(12000), Month: time.Month(rng.IntN(12) + 1), Day: rng.IntN(31) + 1})
		checkAppend(t, "AppendDate", MarshalDate, AppendDate, adapter.Date{Year: rng.IntN(24000) - 12000, Month: time.Month(rng.IntN(240) - 120), Day: rng.IntN(240) - 120})
		checkAppend(t, "AppendDateTime", MarshalDateTime, AppendDateTime, time.Unix(rng.Int64N(1<<40)-1<<39, rng.Int64N(1e9)).In(berlin))
	}
}

// TestAppendersDoNotAllocate: into a buffer with room, the appenders of IDs,
// money-sized decimals, dates (four-digit years) and timestamps allocate
// nothing.
func TestAppendersDoNotAllocate(t *testing.T) {
	b := make([]byte, 0, 256)
	berlin := time.FixedZone("CET", 3600)
	tm := time.Date(2026, 12, 7, 5, 30, 1, 0, berlin)
	money := decimal.RequireFromString("-1234567.8900")
	for name, f := range map[string]func(){
		"AppendID64":     func() { b = AppendID64(b[:0], 562949953421312) },
		"AppendDate":     func() { b = AppendDate(b[:0], adapter.Date{Year: 2026, Month: 12, Day: 7}) },
		"AppendDateTime": func() { b = AppendDateTime(b[:0], tm) },
		"AppendDecimal":  func() { b = AppendDecimal(b[:0], money) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations per call, want none", name, n)
		}
	}
}
