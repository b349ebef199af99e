package cache

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"procoregraph/adapter"
)

func TestJSONHelpers(t *testing.T) {
	ctx := context.Background()
	for _, sk := range storeKinds() {
		t.Run(sk.name, func(t *testing.T) {
			t.Run("AdapterTypesRoundTripExactly", func(t *testing.T) {
				clock := newFakeClock()
				c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
				want := sampleCommitment(t)
				k := Key{Conn: "A", User: "u1", Kind: "commitment", Scope: "project:9007199254740993:commitments", Params: "id=9007199254740995"}
				var fetches atomic.Int32
				fetch := func(context.Context, []Key) (map[Key]adapter.Commitment, error) {
					fetches.Add(1)
					return map[Key]adapter.Commitment{k: want}, nil
				}
				for _, pass := range []string{"fetched", "decoded from the cache"} {
					got, err := GetOrFetchManyJSON(ctx, c, []Key{k}, fetch)
					if err != nil {
						t.Fatal(err)
					}
					assertSameCommitment(t, pass, got[k], want)
				}
				if fetches.Load() != 1 {
					t.Fatalf("fetches = %d, want 1", fetches.Load())
				}
			})

			t.Run("UndecodableCachedValueIsDroppedAndRefetched", func(t *testing.T) {
				clock := newFakeClock()
				c, reg := newTestCache(t, sk.open(t, clock), clock, Options{})
				k := Key{Conn: "A", User: "u1", Kind: "invoice", Scope: "project:1:invoices", Params: "id=5"}
				type oldShape struct{ Total string }
				type newShape struct{ Total decimal.Decimal }
				if _, err := GetOrFetchJSON(ctx, c, k, func(context.Context) (oldShape, error) { return oldShape{Total: "not a number"}, nil }); err != nil {
					t.Fatal(err)
				}
				got, err := GetOrFetchJSON(ctx, c, k, func(context.Context) (newShape, error) {
					return newShape{Total: decimal.RequireFromString("12.50")}, nil
				})
				if err != nil || got.Total.String() != "12.5" {
					t.Fatalf("got %v, %v; want the refetched 12.50", got.Total, err)
				}
				if n := counterValue(t, reg, "procoregraph_cache_errors_total", map[string]string{"op": "decode"}); n != 1 {
					t.Fatalf("errors_total{op=decode} = %v, want 1", n)
				}
			})

			t.Run("SingleKeyReturnsFetchErrorAsIs", func(t *testing.T) {
				clock := newFakeClock()
				c, _ := newTestCache(t, sk.open(t, clock), clock, Options{})
				k := Key{Conn: "A", Kind: "project", Scope: "project:1", Params: "1"}
				notFound := &adapter.Error{Code: adapter.CodeNotFound, Message: "no such project"}
				_, err := GetOrFetchJSON(ctx, c, k, func(context.Context) (adapter.Project, error) { return adapter.Project{}, notFound })
				if !errors.Is(err, notFound) {
					t.Fatalf("err = %v, want the adapter's NOT_FOUND", err)
				}
			})
		})
	}
}

func sampleCommitment(t *testing.T) adapter.Commitment {
	t.Helper()
	d := decimal.RequireFromString
	vendor := int64(1<<53 + 7)
	return adapter.Commitment{
		ID: 1<<53 + 5, ProjectID: 1<<53 + 1, Kind: adapter.CommitmentSubcontract, Number: "SC-001", Title: "Concrete",
		Status: adapter.CommitmentApproved, Executed: true, VendorID: &vendor, VendorName: "Acme",
		RetainagePercent: ptr(d("10.0000")),
		GrandTotal:       d("99999999999999999999.99"), // beyond float64 precision
		RevisedContract:  d("0.1"),
		TotalPayments:    d("-1234567.8900"),
		ContractDate:     &adapter.Date{Year: 2026, Month: time.February, Day: 28},
		LineItems: []adapter.CommitmentLineItem{{
			ID: 1<<40 + 3, Description: "Footings", Amount: d("333.33"), Quantity: ptr(d("3")), UnitCost: ptr(d("111.11")), UOM: "ea",
		}},
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC),
		UpdatedAt: time.Date(2026, 1, 3, 3, 4, 5, 0, time.UTC),
	}
}

func ptr[T any](v T) *T { return &v }

func assertSameCommitment(t *testing.T, pass string, got, want adapter.Commitment) {
	t.Helper()
	decs := []struct {
		name      string
		got, want decimal.Decimal
	}{
		{"RetainagePercent", *got.RetainagePercent, *want.RetainagePercent},
		{"GrandTotal", got.GrandTotal, want.GrandTotal},
		{"RevisedContract", got.RevisedContract, want.RevisedContract},
		{"TotalPayments", got.TotalPayments, want.TotalPayments},
		{"LineItems[0].Amount", got.LineItems[0].Amount, want.LineItems[0].Amount},
		{"LineItems[0].UnitCost", *got.LineItems[0].UnitCost, *want.LineItems[0].UnitCost},
	}
	for _, d := range decs {
		if !d.got.Equal(d.want) || d.got.String() != d.want.String() {
			t.Errorf("%s: %s = %s, want %s", pass, d.name, d.got, d.want)
		}
	}
	if got.ID != want.ID || got.ProjectID != want.ProjectID || *got.VendorID != *want.VendorID || got.LineItems[0].ID != want.LineItems[0].ID {
		t.Errorf("%s: ids = %d/%d/%d/%d, want %d/%d/%d/%d", pass, got.ID, got.ProjectID, *got.VendorID, got.LineItems[0].ID,
			want.ID, want.ProjectID, *want.VendorID, want.LineItems[0].ID)
	}
	if got.Status != want.Status || got.Kind != want.Kind || *got.ContractDate != *want.ContractDate ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) || got.Title != want.Title {
		t.Errorf("%s: got %+v, want %+v", pass, got, want)
	}
}
