package rest

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"procoregraph/adapter"
)

// maxPages bounds one list walk, whatever the Link headers say.
const maxPages = 10000

// idChunk is how many ids go into one filters[id][] request, to keep URLs short.
const idChunk = 100

// listSpec describes a list endpoint.
type listSpec struct {
	what    string
	path    string
	query   url.Values
	perPage int   // the endpoint's maximum per_page; 0 for unpaginated lists
	company int64 // explicit Procore-Company-Id, 0 for the connection's
	// sortable: the endpoint takes sort[attribute] and sort[direction] (RFIs),
	// so ListOptions.Order can be sent; other endpoints refuse an Order.
	sortable bool
}

// fetchList walks a list: the first page with the largest per_page the
// endpoint allows (or less when limit is smaller), then the page Link
// rel="next" names, so every filter stays fixed across pages. It stops after
// limit items (0: all). Total is the Total header, or the count when Procore
// sends none. Lists without pagination are fetched whole; a Link rel="next" is
// still followed if one comes. Items repeated across pages (a record deleted
// mid-walk shifts the pages) are kept once, by id.
func fetchList[W any](ctx context.Context, c *Client, s listSpec, limit int, id func(W) int64) ([]W, int, error) {
	out, total, _, err := walkList(ctx, c, s, limit, id, nil)
	return out, total, err
}

// walkList is fetchList with a stop condition: after each page, stop (when
// not nil) sees the items so far and the Total header (-1 when none) and
// ends the walk early by returning true. stopped reports that it did.
//
// A next page is always the original request with only page and per_page
// taken from Link rel="next": Procore's documented next links may omit the
// request's filters, and a link never moves the call off our API host or
// path.
func walkList[W any](ctx context.Context, c *Client, s listSpec, limit int, id func(W) int64, stop func(items []W, total int) bool) (out []W, total int, stopped bool, err error) {
	q := cloneValues(s.query)
	perPage := s.perPage
	if perPage > 0 {
		if limit > 0 && limit < perPage {
			perPage = limit
		}
		q.Set("page", "1")
		q.Set("per_page", strconv.Itoa(perPage))
	}
	k := call{what: s.what, method: http.MethodGet, path: s.path, query: q, company: s.company}
	var seen map[int64]bool
	total = -1
	visited := map[string]bool{q.Encode(): true}
	for page := 1; page <= maxPages; page++ {
		resp, err := c.doBorrowed(ctx, k)
		if err != nil {
			return nil, 0, false, err
		}
		if t, err := strconv.Atoi(strings.TrimSpace(resp.header.Get("Total"))); err == nil && t >= 0 {
			total = t
		}
		items, err := decodePage[W](s.what, resp.body, pageSizeHint(perPage, total, len(out)))
		c.release(resp) // items hold copies: nothing refers to the body now
		if err != nil {
			return nil, 0, false, err
		}
		if seen == nil {
			seen = make(map[int64]bool, len(items))
		}
		// Drop repeats in place: the first page (usually the only one)
		// becomes out without copying its items.
		kept := items[:0]
		for _, it := range items {
			if key := id(it); key != 0 {
				if seen[key] {
					continue
				}
				seen[key] = true
			}
			kept = append(kept, it)
		}
		if out == nil && len(kept) > 0 {
			out = kept
		} else {
			out = append(out, kept...)
		}
		if limit > 0 && len(out) >= limit {
			out = out[:limit]
			break
		}
		if len(items) == 0 {
			break
		}
		if stop != nil && stop(out, total) {
			stopped = true
			break
		}
		next := c.nextQuery(resp.header, k.query, page, len(items), perPage, total, len(out))
		if next == nil || visited[next.Encode()] {
			break
		}
		visited[next.Encode()] = true
		k.query = next
	}
	if total < len(out) {
		// No Total header: the count (a lower bound when limit cut the walk).
		total = len(out)
	}
	return out, total, stopped, nil
}

// decodePage decodes a list page with the generated decoders, or with
// decodeBody when W has none or the body is not an array, into a slice of
// capacity size.
func decodePage[W any](what string, body []byte, size int) ([]W, error) {
	items := make([]W, 0, size)
	easy, err := decodeListEasy(body, &items)
	if !easy {
		if err := decodeInto(what, body, &items); err != nil {
			return nil, err
		}
		return items, nil
	}
	if err != nil {
		return nil, &adapter.Error{Code: adapter.CodeInternal, Message: what + ": could not decode Procore's response", Err: err}
	}
	return items, nil
}

// pageSizeHint is the capacity to decode a page into: what the Total header
// says is left, at most perPage (16 when neither is known). It only saves
// the slice's regrowth; a page of any size still decodes.
func pageSizeHint(perPage, total, have int) int {
	n := perPage
	if total >= 0 && (n <= 0 || total-have < n) {
		n = total - have
	}
	if n <= 0 || n > maxPerPage {
		return 16
	}
	return n
}

// maxPerPage is the largest per_page any endpoint allows (perPageProjects).
const maxPerPage = perPageProjects

// nextQuery returns the query of the next page, or nil when there is none:
// the current query with page (and per_page, when the link has it) from
// Link rel="next" when present, else, when Procore sent no Link at all but the
// page was full and Total says more remain, the current query with page+1.
// Every other parameter of the current query (the original request's) is
// kept: what else the link carries is ignored.
func (c *Client) nextQuery(h http.Header, cur url.Values, page, got, perPage, total, have int) url.Values {
	links := parseLinks(h.Values("Link"))
	if link, ok := links["next"]; ok {
		u, err := url.Parse(link)
		if err != nil {
			return nil
		}
		lq := u.Query()
		next := cloneValues(cur)
		if p, err := strconv.Atoi(strings.TrimSpace(lq.Get("page"))); err == nil && p > 0 {
			next.Set("page", strconv.Itoa(p))
		} else {
			next.Set("page", strconv.Itoa(page+1))
		}
		if pp, err := strconv.Atoi(strings.TrimSpace(lq.Get("per_page"))); err == nil && pp > 0 {
			next.Set("per_page", strconv.Itoa(pp))
		}
		return next
	}
	if len(links) > 0 || perPage == 0 {
		return nil
	}
	if pp, err := strconv.Atoi(strings.TrimSpace(h.Get("Per-Page"))); err == nil && pp > 0 {
		perPage = pp // Procore may cap lower than we asked
	}
	if got < perPage || total >= 0 && have >= total {
		return nil
	}
	next := cloneValues(cur)
	next.Set("page", strconv.Itoa(page+1))
	return next
}

// parseLinks parses RFC 8288 Link header values into rel -> URL. URLs may
// contain commas (sort=a,b), so it scans for <...> rather than splitting.
func parseLinks(values []string) map[string]string {
	out := map[string]string{}
	for _, v := range values {
		for {
			start := strings.IndexByte(v, '<')
			if start < 0 {
				break
			}
			end := strings.IndexByte(v[start:], '>')
			if end < 0 {
				break
			}
			target := v[start+1 : start+end]
			rest := v[start+end+1:]
			params := rest
			if i := strings.IndexByte(rest, '<'); i >= 0 {
				params = rest[:i]
			}
			for p := range strings.SplitSeq(params, ";") {
				name, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(name), "rel") {
					continue
				}
				for rel := range strings.FieldsSeq(strings.Trim(strings.TrimRight(strings.TrimSpace(val), ", "), `"`)) {
					rel = strings.ToLower(rel)
					if _, dup := out[rel]; !dup {
						out[rel] = target
					}
				}
			}
			v = rest
		}
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// updatedRangeFloor is the lower end sent with only an upper bound
// (Procore wants both ends of a range).
var updatedRangeFloor = time.Unix(0, 0).UTC()

// listOptions adds ListOptions' filters to q: filters[updated_at]=since...until
// (since defaulting to the Unix epoch and until to a minute past now,
// tolerating clock skew; Procore wants both ends; both in whole seconds, the
// lower end rounded down and the upper end rounded up so the range never
// narrows) and filters[id][] for the ids of one chunk.
func (c *Client) listOptions(q url.Values, opt adapter.ListOptions, ids []int64) url.Values {
	q = cloneValues(q)
	if opt.UpdatedSince != nil || opt.UpdatedBefore != nil {
		since, until := updatedRangeFloor, c.clock.Now().Add(time.Minute).UTC()
		if opt.UpdatedSince != nil {
			since = opt.UpdatedSince.UTC().Truncate(time.Second)
		}
		if opt.UpdatedBefore != nil {
			b := opt.UpdatedBefore.UTC()
			until = b.Truncate(time.Second)
			if until.Before(b) {
				until = until.Add(time.Second)
			}
		}
		q.Set("filters[updated_at]", since.Format(time.RFC3339)+"..."+until.Format(time.RFC3339))
	}
	for _, id := range ids {
		q.Add("filters[id][]", strconv.FormatInt(id, 10))
	}
	return q
}

// list runs fetchList with ListOptions, in chunks of ids when opt.IDs is
// long, and converts the wire items.
func list[W, T any](ctx context.Context, c *Client, s listSpec, opt adapter.ListOptions, id func(W) int64, conv func(W) T) (adapter.Page[T], error) {
	if opt.IDs != nil && len(opt.IDs) == 0 {
		return adapter.Page[T]{Items: []T{}}, nil // nothing can match an empty id set
	}
	if opt.Order != adapter.OrderDefault {
		attr, dir, ok := sortParams(opt.Order)
		if !ok || !s.sortable {
			return adapter.Page[T]{}, badInput([]string{"orderBy"}, "%s cannot be sorted by %q", s.what, opt.Order)
		}
		s.query = cloneValues(s.query)
		s.query.Set("sort[attribute]", attr)
		s.query.Set("sort[direction]", dir)
	}
	chunks := [][]int64{nil}
	if len(opt.IDs) > 0 {
		chunks = slices.Collect(slices.Chunk(dedupeIDs(opt.IDs), idChunk))
	}
	page := adapter.Page[T]{Items: []T{}}
	for _, ids := range chunks {
		remaining := 0
		if opt.Limit > 0 {
			remaining = opt.Limit - len(page.Items)
			if remaining <= 0 {
				break
			}
		}
		spec := s
		spec.query = c.listOptions(s.query, opt, ids)
		items, total, err := fetchList(ctx, c, spec, remaining, id)
		if err != nil {
			return adapter.Page[T]{}, err
		}
		page.Items = slices.Grow(page.Items, len(items))
		for _, it := range items {
			page.Items = append(page.Items, conv(it))
		}
		page.Total += total
	}
	return page, nil
}

// sortParams maps an order to sort[attribute] and sort[direction].
func sortParams(o adapter.ListSort) (attr, dir string, ok bool) {
	switch o {
	case adapter.OrderIDDesc:
		return "id", "desc", true
	case adapter.OrderUpdatedAsc:
		return "updated_at", "asc", true
	case adapter.OrderUpdatedDesc:
		return "updated_at", "desc", true
	}
	return "", "", false
}

// listSince is list for endpoints that have no filters[updated_at] (project
// vendors and cost codes: Procore ignores filters it does not know, so
// sending one would return the whole list as if it were filtered). It sends
// no such filter and keeps, itself, the items updated at or after
// opt.UpdatedSince and at or before opt.UpdatedBefore (and those whose
// updated_at Procore did not send: they cannot be proved outside). Keeping
// them here needs the whole list: it is walked to its end, Limit applies
// afterwards, and Total is the count of the kept items. Without either bound
// it is list.
func listSince[W, T any](ctx context.Context, c *Client, s listSpec, opt adapter.ListOptions, id func(W) int64,
	updated func(W) time.Time, conv func(W) T) (adapter.Page[T], error) {
	if opt.UpdatedSince == nil && opt.UpdatedBefore == nil {
		return list(ctx, c, s, opt, id, conv)
	}
	whole := opt
	whole.UpdatedSince, whole.UpdatedBefore, whole.Limit = nil, nil, 0
	all, err := list(ctx, c, s, whole, id, func(w W) W { return w })
	if err != nil {
		return adapter.Page[T]{}, err
	}
	out := adapter.Page[T]{Items: []T{}}
	for _, w := range all.Items {
		if !updatedWithin(updated(w), opt) {
			continue
		}
		out.Total++
		if opt.Limit <= 0 || len(out.Items) < opt.Limit {
			out.Items = append(out.Items, conv(w))
		}
	}
	return out, nil
}

// idLookup finds items by id where the list endpoint cannot filter by a set
// of ids (company users: no id filter at all; project users: filters[id]
// takes a single id). one fetches a single id (a show endpoint, or the list
// filtered by that one id) and reports false when there is no such item (or
// it is not visible, or not updated since opt.UpdatedSince).
//
// One id is fetched alone. More walk the list once (filtered by
// opt.UpdatedSince when the endpoint can, see listOptions) and keep the ids
// asked for: the walk stops as soon as every id is found, and as soon as the
// ids still missing are fewer than the pages still to read (known from the
// Total header), those are fetched one by one instead. So a lookup costs at
// most min(pages of the list, 1 + ids) calls. Items come in id order, Total
// is how many were found, and Limit applies afterwards.
func idLookup[W, T any](ctx context.Context, c *Client, s listSpec, opt adapter.ListOptions, id func(W) int64,
	one func(ctx context.Context, id int64) (W, bool, error), conv func(W) T) (adapter.Page[T], error) {
	want := dedupeIDs(opt.IDs)
	found := map[int64]W{}
	missing := want
	if len(want) > 1 {
		spec := s
		spec.query = c.listOptions(s.query, adapter.ListOptions{UpdatedSince: opt.UpdatedSince, UpdatedBefore: opt.UpdatedBefore}, nil)
		per := max(s.perPage, 1)
		read := 0
		items, _, stopped, err := walkList(ctx, c, spec, 0, id, func(items []W, total int) bool {
			for _, it := range items[read:] {
				if k := id(it); slices.Contains(want, k) {
					found[k] = it
				}
			}
			read = len(items)
			left := len(want) - len(found)
			if left == 0 {
				return true
			}
			return total >= 0 && left < (total-read+per-1)/per
		})
		if err != nil {
			return adapter.Page[T]{}, err
		}
		for _, it := range items[read:] { // the last page, when no stop check ran on it
			if k := id(it); slices.Contains(want, k) {
				found[k] = it
			}
		}
		missing = nil
		if stopped {
			for _, k := range want {
				if _, ok := found[k]; !ok {
					missing = append(missing, k)
				}
			}
		}
	}
	for _, k := range missing {
		w, ok, err := one(ctx, k)
		if err != nil {
			return adapter.Page[T]{}, err
		}
		if ok {
			found[k] = w
		}
	}
	out := adapter.Page[T]{Items: []T{}}
	for _, k := range want {
		w, ok := found[k]
		if !ok {
			continue
		}
		out.Total++
		if opt.Limit <= 0 || len(out.Items) < opt.Limit {
			out.Items = append(out.Items, conv(w))
		}
	}
	return out, nil
}

// fetchAll fetches an unpaginated list whole.
func fetchAll[W any](ctx context.Context, c *Client, s listSpec) ([]W, error) {
	s.perPage = 0
	items, _, err := fetchList(ctx, c, s, 0, func(W) int64 { return 0 })
	return items, err
}

func dedupeIDs(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
