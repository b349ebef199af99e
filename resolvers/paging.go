package resolvers

import (
	"strconv"

	"procoregraph/adapter"
	"procoregraph/cursor"
	"procoregraph/graph/model"
)

// MaxFirst is the largest page a connection serves in one request.
const MaxFirst = 1000

// window is a Relay page: skip offset items, take first. beyond marks a
// cursor past the end of any list (cursor.MaxOffset): its page is empty and
// needs no Procore call.
type window struct {
	offset, first int
	beyond        bool
}

// limit is how many leading items the upstream list must provide: for a
// cursor past the end of any list only one, for the list's total.
func (w window) limit() int {
	if w.beyond {
		return 1
	}
	return w.offset + w.first
}

// encodeCursor makes the opaque cursor of the item at offset i.
func encodeCursor(i int) string { return cursor.Encode(i) }

// parseWindow validates first/after. def applies when first is nil.
func parseWindow(first *int, after *string, def int) (window, error) {
	w := window{first: def}
	if first != nil {
		if *first < 0 || *first > MaxFirst {
			return w, &adapter.Error{Code: adapter.CodeBadUserInput,
				Message: "first must be between 0 and " + strconv.Itoa(MaxFirst)}
		}
		w.first = *first
	}
	if after != nil && *after != "" {
		n, beyond, err := cursor.Decode(*after)
		if err != nil {
			q := *after
			if len(q) > 64 {
				q = q[:64] + "…"
			}
			return w, &adapter.Error{Code: adapter.CodeBadUserInput, Message: "invalid cursor in after: " + strconv.Quote(q)}
		}
		w.offset, w.beyond = n+1, beyond
	}
	return w, nil
}

// slice returns the page of items (items hold the list from index 0) and its
// PageInfo; total is the whole list's size.
func slice[T any](items []T, total int, w window) ([]T, *model.PageInfo, int) {
	start := min(w.offset, len(items))
	end := min(start+w.first, len(items))
	page := items[start:end]
	if total < len(items) {
		total = len(items)
	}
	pi := &model.PageInfo{
		HasNextPage:     w.offset+len(page) < total,
		HasPreviousPage: start > 0,
	}
	if len(page) > 0 {
		s, e := encodeCursor(start), encodeCursor(end-1)
		pi.StartCursor, pi.EndCursor = &s, &e
	}
	return page, pi, total
}

// edgesOf builds edges for a page starting at offset start.
func edgesOf[T any, E any](page []T, start int, mk func(cursor string, node *T) E) []E {
	out := make([]E, len(page))
	for i := range page {
		out[i] = mk(encodeCursor(start+i), &page[i])
	}
	return out
}
