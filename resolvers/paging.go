package resolvers

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"procoregraph/adapter"
	"procoregraph/cursor"
	"procoregraph/graph/model"
)

// MaxFirst is the largest page a connection serves in one request.
const MaxFirst = 1000

// shiftAllowance is how many items the id-order walk reads beyond its
// cursor's position hint before serving a short page: room for items that
// moved ahead of the cursor since it was issued (an item updated into an
// updatedSince window; in descending order, new items).
const shiftAllowance = 100

// maxTieReads bounds the re-reads of an updated_at-ordered page whose items
// all share one updated_at: each reads four times as many items.
const maxTieReads = 3

// listOrder is a connection's order: by id (Procore's own order) or by
// (updated_at, id).
type listOrder struct {
	field cursor.Order
	desc  bool
}

// defaultOrder is Procore's own order, ID ascending.
var defaultOrder = listOrder{field: cursor.ByID}

// orderOf maps the orderBy argument (nil: the default) to a listOrder.
func orderOf(o *model.ListOrder) listOrder {
	if o == nil {
		return defaultOrder
	}
	lo := listOrder{field: cursor.ByID, desc: o.Direction != nil && *o.Direction == model.OrderDirectionDesc}
	if o.Field == model.ListOrderFieldUpdatedAt {
		lo.field = cursor.ByUpdatedAt
	}
	return lo
}

// adapterOrder is the order asked of Procore.
func (o listOrder) adapterOrder() adapter.ListSort {
	switch {
	case o.field == cursor.ByUpdatedAt && o.desc:
		return adapter.OrderUpdatedDesc
	case o.field == cursor.ByUpdatedAt:
		return adapter.OrderUpdatedAsc
	case o.desc:
		return adapter.OrderIDDesc
	}
	return adapter.OrderDefault
}

func (o listOrder) String() string {
	f, d := "ID", "ASC"
	if o.field == cursor.ByUpdatedAt {
		f = "UPDATED_AT"
	}
	if o.desc {
		d = "DESC"
	}
	return "{field: " + f + ", direction: " + d + "}"
}

// pageArgs are a connection's validated paging arguments.
type pageArgs struct {
	first         int
	order         listOrder
	key           *cursor.Key // keyset position to start after; nil: the start
	offset        int         // an offset cursor's next position (default order only)
	beyond        bool        // an offset cursor past the end of any list
	since, before *time.Time
	// skipCursors leaves the page's items without cursors (forSelection).
	skipCursors bool
}

// forSelection returns a set to skip the cursors when the current field's
// selection asks for none (neither edges nor pageInfo's start or end
// cursor): a cursor is encoded for every item of a page otherwise, and
// most queries (a dashboard's nested lists) select nodes alone.
func (a pageArgs) forSelection(ctx context.Context) pageArgs {
	fc := graphql.GetFieldContext(ctx)
	oc := graphql.GetOperationContext(ctx)
	if fc == nil || oc == nil {
		a.skipCursors = true
		return a
	}
	return a.forFields(oc, fc.Field.Selections)
}

// forFields is forSelection for the selection sel of a connection field.
func (a pageArgs) forFields(oc *graphql.OperationContext, sel ast.SelectionSet) pageArgs {
	a.skipCursors = !selectsIn(oc, sel, []string{"edges"}, []string{"pageInfo", "startCursor"}, []string{"pageInfo", "endCursor"})
	return a
}

// hasOffset reports whether the page continues an offset cursor.
func (a pageArgs) hasOffset() bool { return a.key == nil && (a.offset > 0 || a.beyond) }

func badInput(format string, args ...any) error {
	return adapter.Errorf(adapter.CodeBadUserInput, format, args...)
}

// parsePage validates first, after, the order and the updated_at bounds.
// def applies when first is nil. An offset cursor (from before keyset
// paging) still pages the default order; with another order it is refused.
// A keyset cursor must have been issued for the same order.
func parsePage(first *int, after *string, def int, order listOrder, since, before *time.Time) (pageArgs, error) {
	a := pageArgs{first: def, order: order, since: since, before: before}
	if first != nil {
		if *first < 0 || *first > MaxFirst {
			return a, &adapter.Error{Code: adapter.CodeBadUserInput,
				Message: "first must be between 0 and " + strconv.Itoa(MaxFirst)}
		}
		a.first = *first
	}
	if since != nil && before != nil && before.Before(*since) {
		return a, badInput("updatedBefore (%s) is before updatedSince (%s)", before.Format(time.RFC3339), since.Format(time.RFC3339))
	}
	if after == nil || *after == "" {
		return a, nil
	}
	c, err := cursor.Parse(*after)
	if err != nil {
		q := *after
		if len(q) > 64 {
			q = q[:64] + "…"
		}
		return a, &adapter.Error{Code: adapter.CodeBadUserInput, Message: "invalid cursor in after: " + strconv.Quote(q)}
	}
	if c.Key == nil {
		if order != defaultOrder {
			return a, badInput("an offset cursor (issued before keyset paging) pages only the default order %s; start again without after", defaultOrder)
		}
		a.offset, a.beyond = c.Offset+1, c.Beyond
		return a, nil
	}
	if (listOrder{field: c.Key.Order, desc: c.Key.Desc}) != order {
		return a, badInput("the cursor in after was issued for orderBy %s, not %s", listOrder{field: c.Key.Order, desc: c.Key.Desc}, order)
	}
	a.key = c.Key
	return a, nil
}

// keyFns tell an item's id and updated_at.
type keyFns[T any] struct {
	id      func(*T) int64
	updated func(*T) time.Time
}

// loadFn reads the first limit items (0: all) of a list in order, within
// [since, before] (nil: unbounded), with Procore's Total header.
type loadFn[T any] func(limit int, since, before *time.Time, order adapter.ListSort) (adapter.Page[T], error)

// pageOut is a served page: its items, one cursor each, its PageInfo and
// the list's total.
type pageOut[T any] struct {
	items   []T
	cursors []string
	info    *model.PageInfo
	total   int
}

// keysetPage serves one page of a list read through load.
//
// ID order: Procore cannot filter by an id range, so the list is read from
// its start up to the cursor's position hint plus the page (what offset
// paging read), and the page is the items after the cursor's id. Items
// inserted or deleted before the cursor shift no position: nothing is
// skipped or repeated. When fewer items than the page follow the cursor and
// the list goes on (items moved ahead of it), shiftAllowance more are read
// once; a page still short is served short, with an endCursor that moves on.
//
// UPDATED_AT order (lists Procore can sort by updated_at): Procore is asked
// for filters[updated_at] from the cursor's updated_at (to it, descending),
// sorted, first+2 items. The page is the items after the cursor's
// (updated_at, id) whose updated_at differs from the last item read (so no
// item sharing that updated_at is left unread); when there are too few, up
// to maxTieReads re-reads take four times as many.
func keysetPage[T any](a pageArgs, k keyFns[T], load loadFn[T]) (pageOut[T], error) {
	if a.hasOffset() {
		return offsetPage(a, k, load)
	}
	if a.order.field == cursor.ByUpdatedAt {
		return updatedPage(a, k, load)
	}
	return idPage(a, k, load)
}

// offsetPage serves the page after an offset cursor as offset paging did,
// with keyset cursors from there on.
func offsetPage[T any](a pageArgs, k keyFns[T], load loadFn[T]) (pageOut[T], error) {
	limit := a.offset + a.first
	if a.beyond {
		limit = 1
	}
	res, err := load(max(limit, 1), a.since, a.before, adapter.OrderDefault)
	if err != nil {
		return pageOut[T]{}, err
	}
	start := min(a.offset, len(res.Items))
	if a.beyond {
		start = len(res.Items)
	}
	page := res.Items[start:min(start+a.first, len(res.Items))]
	total := max(res.Total, len(res.Items))
	return build(page, start, a.order, k, a.offset+len(page) < total, start > 0, total, a.skipCursors), nil
}

// idPage serves a page in id order.
func idPage[T any](a pageArgs, k keyFns[T], load loadFn[T]) (pageOut[T], error) {
	limit := a.first
	if a.key != nil {
		limit = a.key.Pos + 1 + a.first
	}
	limit = max(limit, 1) // even first: 0 reads one item: totalCount needs Total
	after := func(it *T) bool {
		if a.key == nil {
			return true
		}
		if a.order.desc {
			return k.id(it) < a.key.ID
		}
		return k.id(it) > a.key.ID
	}
	var res adapter.Page[T]
	var start int
	for read := 0; read < 2; read++ {
		var err error
		if res, err = load(limit, a.since, a.before, a.order.adapterOrder()); err != nil {
			return pageOut[T]{}, err
		}
		start = len(res.Items)
		for i := range res.Items {
			if after(&res.Items[i]) {
				start = i
				break
			}
		}
		if len(res.Items)-start >= a.first || len(res.Items) < limit || a.key == nil {
			break
		}
		limit += a.first + shiftAllowance
	}
	page := res.Items[start:min(start+a.first, len(res.Items))]
	total := max(res.Total, len(res.Items))
	more := len(res.Items) > start+len(page) || total > start+len(page)
	out := build(page, start, a.order, k, more, start > 0, total, a.skipCursors)
	if len(page) == 0 && more && a.key != nil {
		// Nothing after the cursor within what was read, but the list goes on
		// (the cursor's position hint was far off): a cursor at the end of
		// the read lets the client continue.
		end := cursor.EncodeKey(cursor.Key{Order: cursor.ByID, Desc: a.order.desc, ID: a.key.ID, Pos: len(res.Items) - 1})
		out.info.EndCursor = &end
	}
	return out, nil
}

// updatedPage serves a page in (updated_at, id) order.
func updatedPage[T any](a pageArgs, k keyFns[T], load loadFn[T]) (pageOut[T], error) {
	since, before := a.since, a.before
	if a.key != nil {
		u := time.Unix(0, a.key.UpdatedAt).UTC()
		if a.order.desc && (before == nil || u.Before(*before)) {
			before = &u
		}
		if !a.order.desc && (since == nil || u.After(*since)) {
			since = &u
		}
	}
	less := func(x, y *T) int { // list order
		c := cmp.Or(k.updated(x).Compare(k.updated(y)), cmp.Compare(k.id(x), k.id(y)))
		if a.order.desc {
			return -c
		}
		return c
	}
	after := func(it *T) bool {
		if a.key == nil {
			return true
		}
		c := cmp.Or(cmp.Compare(k.updated(it).UnixNano(), a.key.UpdatedAt), cmp.Compare(k.id(it), a.key.ID))
		if a.order.desc {
			return c < 0
		}
		return c > 0
	}
	limit := a.first + 2 // the cursor's item, the page, one more
	for read := 0; ; read++ {
		res, err := load(limit, since, before, a.order.adapterOrder())
		if err != nil {
			return pageOut[T]{}, err
		}
		items := slices.Clone(res.Items)
		exhausted := len(items) < limit
		var boundary time.Time // updated_at of the last item read, in Procore's order
		if len(items) > 0 {
			boundary = k.updated(&items[len(items)-1])
		}
		sortStable(items, less)
		rest := slices.DeleteFunc(items, func(it T) bool { return !after(&it) })
		complete := rest
		if !exhausted {
			n := 0
			for n < len(rest) && !k.updated(&rest[n]).Equal(boundary) {
				n++
			}
			complete = rest[:n]
		}
		if len(complete) >= a.first || exhausted || read == maxTieReads {
			if len(complete) == 0 && !exhausted && a.first > 0 {
				return pageOut[T]{}, badInput("more than %d items share updated_at %s: page this list with orderBy {field: ID}", limit, boundary.Format(time.RFC3339Nano))
			}
			page := complete[:min(a.first, len(complete))]
			pos := 0
			if a.key != nil {
				pos = a.key.Pos + 1
			}
			return build(page, pos, a.order, k, len(rest) > len(page) || !exhausted, a.key != nil, max(res.Total, len(res.Items)), a.skipCursors), nil
		}
		limit = min(limit*4, 4*MaxFirst)
	}
}

// build makes the page's cursors (none with skipCursors) and PageInfo; pos
// is the page's first position (a hint carried by the cursors).
func build[T any](page []T, pos int, o listOrder, k keyFns[T], hasNext, hasPrev bool, total int, skipCursors bool) pageOut[T] {
	out := pageOut[T]{items: page, total: total,
		info: &model.PageInfo{HasNextPage: hasNext, HasPreviousPage: hasPrev}}
	if skipCursors {
		return out
	}
	out.cursors = make([]string, len(page))
	for i := range page {
		key := cursor.Key{Order: o.field, Desc: o.desc, ID: k.id(&page[i]), Pos: pos + i}
		if o.field == cursor.ByUpdatedAt {
			key.UpdatedAt = max(k.updated(&page[i]).UnixNano(), 0)
		}
		out.cursors[i] = cursor.EncodeKey(key)
	}
	if len(page) > 0 {
		out.info.StartCursor, out.info.EndCursor = &out.cursors[0], &out.cursors[len(page)-1]
	}
	return out
}

// wholeLoad is a loadFn over a list already read whole: it keeps the items
// within the updated_at bounds (compared in whole seconds, as Procore does)
// and sorts them in order.
func wholeLoad[T any](all []T, k keyFns[T]) loadFn[T] {
	return wholeLoadWhere(all, k, nil)
}

// wholeLoadWhere is wholeLoad over the items of all that keep accepts (nil:
// every item), copied once into a slice of their exact number.
func wholeLoadWhere[T any](all []T, k keyFns[T], keep func(*T) bool) loadFn[T] {
	return func(limit int, since, before *time.Time, order adapter.ListSort) (adapter.Page[T], error) {
		opt := adapter.ListOptions{UpdatedSince: since, UpdatedBefore: before}
		in := func(it *T) bool { return (keep == nil || keep(it)) && within(k.updated(it), opt) }
		n := 0
		for i := range all {
			if in(&all[i]) {
				n++
			}
		}
		items := make([]T, 0, n)
		for i := range all {
			if in(&all[i]) {
				items = append(items, all[i])
			}
		}
		sortStable(items, func(x, y *T) int {
			c := cmp.Compare(k.id(x), k.id(y))
			if order == adapter.OrderIDDesc {
				return -c
			}
			return c
		})
		total := len(items)
		if limit > 0 && limit < len(items) {
			items = items[:limit]
		}
		return adapter.Page[T]{Items: items, Total: total}, nil
	}
}

// within reports whether updated_at u passes opt's bounds in whole seconds;
// an unknown updated_at passes.
func within(u time.Time, opt adapter.ListOptions) bool {
	if u.IsZero() {
		return true
	}
	if opt.UpdatedSince != nil && u.Before(opt.UpdatedSince.Truncate(time.Second)) {
		return false
	}
	return opt.UpdatedBefore == nil || !u.Truncate(time.Second).After(*opt.UpdatedBefore)
}

// edgesOf builds a page's edges from its cursors; none when the page has
// no cursors (its edges were not asked for).
func edgesOf[T any, E any](out pageOut[T], mk func(cursor string, node *T) E) []E {
	if out.cursors == nil {
		return nil
	}
	edges := make([]E, len(out.items))
	for i := range out.items {
		edges[i] = mk(out.cursors[i], &out.items[i])
	}
	return edges
}

// sortStable sorts items stably by compare, which gets pointers: list
// items are large structs, which slices.SortStableFunc would copy for every
// comparison (and its frames, sized for two of them, grew the stacks of
// the goroutines gqlgen resolves list elements on). A list already in
// order, as Procore returns most, is only checked; otherwise positions are
// sorted and the items moved once.
func sortStable[T any](items []T, compare func(x, y *T) int) {
	i := 1
	for i < len(items) && compare(&items[i-1], &items[i]) <= 0 {
		i++
	}
	if i >= len(items) {
		return
	}
	idx := make([]int, len(items))
	for j := range idx {
		idx[j] = j
	}
	slices.SortStableFunc(idx, func(a, b int) int { return compare(&items[a], &items[b]) })
	sorted := make([]T, len(items))
	for j, from := range idx {
		sorted[j] = items[from]
	}
	copy(items, sorted)
}
