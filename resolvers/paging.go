package resolvers

import (
	"encoding/base64"
	"strconv"
	"strings"

	"procoregraph/adapter"
	"procoregraph/graph/model"
)

// MaxFirst is the largest page a connection serves in one request.
const MaxFirst = 1000

// window is a Relay page: skip offset items, take first.
type window struct{ offset, first int }

// limit is how many leading items the upstream list must provide.
func (w window) limit() int { return w.offset + w.first }

const cursorPrefix = "cursor:"

// encodeCursor makes the opaque cursor of the item at offset i.
func encodeCursor(i int) string {
	return base64.StdEncoding.EncodeToString([]byte(cursorPrefix + strconv.Itoa(i)))
}

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
		raw, err := base64.StdEncoding.DecodeString(*after)
		s, ok := strings.CutPrefix(string(raw), cursorPrefix)
		n, aerr := strconv.Atoi(s)
		if err != nil || !ok || aerr != nil || n < 0 {
			return w, &adapter.Error{Code: adapter.CodeBadUserInput, Message: "invalid cursor in after: " + strconv.Quote(*after)}
		}
		w.offset = n + 1
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
