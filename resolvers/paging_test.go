package resolvers

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"procoregraph/adapter"
	"procoregraph/cursor"
)

type item struct {
	id int64
	at time.Time
}

var itemKeys = keyFns[item]{func(x *item) int64 { return x.id }, func(x *item) time.Time { return x.at }}

// procoreSorted is a fake Procore list sorted by updated_at with ties in
// descending id order (Procore promises no tie order), filtered by the
// bounds, the first limit items; calls counts the reads.
func procoreSorted(all []item, calls *int) loadFn[item] {
	return func(limit int, since, before *time.Time, order adapter.ListSort) (adapter.Page[item], error) {
		*calls++
		var out []item
		for _, x := range all {
			if within(x.at, adapter.ListOptions{UpdatedSince: since, UpdatedBefore: before}) {
				out = append(out, x)
			}
		}
		slices.SortFunc(out, func(a, b item) int {
			c := a.at.Compare(b.at)
			if order == adapter.OrderUpdatedDesc {
				c = -c
			}
			return cmp.Or(c, -cmp.Compare(a.id, b.id))
		})
		total := len(out)
		if limit > 0 && len(out) > limit {
			out = out[:limit]
		}
		return adapter.Page[item]{Items: out, Total: total}, nil
	}
}

// TestUpdatedAtPagingWithTies pages lists whose updated_at values tie in
// groups (up to the whole list) with first 1 to 4, in both directions: every
// item comes exactly once, in (updated_at, id) order, whatever order Procore
// gives ties in; a tie group larger than the re-reads allow is refused.
func TestUpdatedAtPagingWithTies(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(n, group int) []item {
		out := make([]item, n)
		for i := range out {
			out[i] = item{id: int64(i + 1), at: base.Add(time.Duration(i/group) * time.Second)}
		}
		return out
	}
	for _, c := range []struct {
		name     string
		n, group int
	}{{"DistinctTimes", 30, 1}, {"PairsTie", 30, 2}, {"GroupsOfSevenTie", 30, 7}, {"AllTie", 30, 30}} {
		for _, desc := range []bool{false, true} {
			for first := 1; first <= 4; first++ {
				all := mk(c.n, c.group)
				want := slices.Clone(all)
				var calls int
				var got []item
				var after *string
				for pages := 0; ; pages++ {
					if pages > 2*c.n {
						t.Fatalf("%s desc=%v first=%d: no end", c.name, desc, first)
					}
					a, err := parsePage(&first, after, 50, listOrder{field: cursor.ByUpdatedAt, desc: desc}, nil, nil)
					if err != nil {
						t.Fatal(err)
					}
					out, err := keysetPage(a, itemKeys, procoreSorted(all, &calls))
					if err != nil {
						t.Fatalf("%s desc=%v first=%d: %v", c.name, desc, first, err)
					}
					got = append(got, out.items...)
					if !out.info.HasNextPage {
						break
					}
					after = out.info.EndCursor
				}
				ids := func(xs []item) []int64 {
					out := make([]int64, len(xs))
					for i, x := range xs {
						out[i] = x.id
					}
					return out
				}
				sortedWant := slices.Clone(want)
				slices.SortStableFunc(sortedWant, func(a, b item) int {
					c := cmp.Or(a.at.Compare(b.at), cmp.Compare(a.id, b.id))
					if desc {
						return -c
					}
					return c
				})
				if !slices.Equal(ids(got), ids(sortedWant)) {
					t.Fatalf("%s desc=%v first=%d: got %v, want %v", c.name, desc, first, ids(got), ids(sortedWant))
				}
			}
		}
	}
}

func TestUpdatedAtPagingRefusesATieGroupTooLargeToRead(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	all := make([]item, 600) // more than (first+2)·4³ items share one instant
	for i := range all {
		all[i] = item{id: int64(i + 1), at: base}
	}
	first := 1
	a, err := parsePage(&first, nil, 50, listOrder{field: cursor.ByUpdatedAt}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var calls int
	_, err = keysetPage(a, itemKeys, procoreSorted(all, &calls))
	if e, ok := err.(*adapter.Error); !ok || e.Code != adapter.CodeBadUserInput {
		t.Fatalf("err %v, want BAD_USER_INPUT", err)
	}
	if calls != 1+maxTieReads {
		t.Fatalf("%d reads, want %d", calls, 1+maxTieReads)
	}
}

// TestIDPagingSurvivesDeletionsBeforeTheCursor: deleting items before the
// cursor shifts no page, though the cursor's position hint is now past the
// cursor's item.
func TestIDPagingSurvivesDeletionsBeforeTheCursor(t *testing.T) {
	all := make([]item, 20)
	for i := range all {
		all[i] = item{id: int64(i + 1)}
	}
	load := func(limit int, since, before *time.Time, order adapter.ListSort) (adapter.Page[item], error) {
		return wholeLoad(all, itemKeys)(limit, since, before, order)
	}
	first := 5
	a, _ := parsePage(&first, nil, 50, defaultOrder, nil, nil)
	p1, err := keysetPage(a, itemKeys, load)
	if err != nil {
		t.Fatal(err)
	}
	all = slices.Delete(all, 0, 3) // ids 1-3 go
	a, _ = parsePage(&first, p1.info.EndCursor, 50, defaultOrder, nil, nil)
	p2, err := keysetPage(a, itemKeys, load)
	if err != nil {
		t.Fatal(err)
	}
	if p2.items[0].id != 6 || len(p2.items) != 5 {
		t.Fatalf("page 2 starts at %d (%d items), want 6 (5)", p2.items[0].id, len(p2.items))
	}
}

// TestSortStableOrdersAsTheStandardLibrary: sortStable leaves every list
// as slices.SortStableFunc does (ties in their first order), whether the
// list came sorted, reversed, shuffled with ties, empty or single.
func TestSortStableOrdersAsTheStandardLibrary(t *testing.T) {
	type entry struct{ key, seq int }
	byKey := func(x, y entry) int { return cmp.Compare(x.key, y.key) }
	rng := rand.New(rand.NewPCG(1, 2))
	lists := map[string][]entry{"empty": {}, "single": {{1, 0}}}
	for _, n := range []int{2, 7, 40, 300} {
		sorted, reversed, shuffled := make([]entry, n), make([]entry, n), make([]entry, n)
		for i := range n {
			sorted[i] = entry{i, i}
			reversed[i] = entry{n - i, i}
			shuffled[i] = entry{rng.IntN(n/2 + 1), i}
		}
		lists[fmt.Sprintf("sorted %d", n)] = sorted
		lists[fmt.Sprintf("reversed %d", n)] = reversed
		lists[fmt.Sprintf("shuffled with ties %d", n)] = shuffled
	}
	for name, l := range lists {
		t.Run(name, func(t *testing.T) {
			want := slices.Clone(l)
			slices.SortStableFunc(want, byKey)
			got := slices.Clone(l)
			sortStable(got, func(x, y *entry) int { return byKey(*x, *y) })
			if !slices.Equal(got, want) {
				t.Fatalf("got %v\nwant %v", got, want)
			}
		})
	}
}
