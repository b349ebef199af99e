package sandbox

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pageSpec is an endpoint's paging: default and maximum per_page; def 0 means
// the endpoint is not paginated (the whole list, no paging headers).
type pageSpec struct{ def, max int }

var (
	pageProjects    = pageSpec{100, 300}
	pageStandard    = pageSpec{100, 100}
	pageRequisition = pageSpec{30, 100}
	pageWhole       = pageSpec{}
)

// params reads a request's query with Procore's filter grammar.
type params struct{ v url.Values }

func paramsOf(r *http.Request) params { return params{r.URL.Query()} }

// list returns every value of name given as name[] or name (a scalar may also be
// comma-separated).
func (p params) list(name string) []string {
	var out []string
	for _, k := range []string{name + "[]", name} {
		for _, v := range p.v[k] {
			for _, part := range strings.Split(v, ",") {
				if part = strings.TrimSpace(part); part != "" {
					out = append(out, part)
				}
			}
		}
	}
	return out
}

// ids parses name[] / name as int64s; ok is false when the filter is absent.
func (p params) ids(name string) (ids []int64, ok bool, err error) {
	vals := p.list(name)
	if len(vals) == 0 {
		return nil, false, nil
	}
	for _, v := range vals {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, true, fmt.Errorf("%s: %q is not an id", name, v)
		}
		ids = append(ids, id)
	}
	return ids, true, nil
}

// timeRange parses "A...B" (RFC 3339 timestamps or YYYY-MM-DD dates, either
// side may be empty). A date as the upper bound includes its whole day.
type timeRange struct {
	from, to time.Time // zero = open
	on       bool
}

func (t timeRange) has(v time.Time) bool {
	if !t.on {
		return true
	}
	if !t.from.IsZero() && v.Before(t.from) {
		return false
	}
	if !t.to.IsZero() && v.After(t.to) {
		return false
	}
	return true
}

func (p params) timeRange(name string) (timeRange, error) {
	raw := p.v.Get(name)
	if raw == "" {
		return timeRange{}, nil
	}
	a, b, ok := strings.Cut(raw, "...")
	if !ok {
		// A single instant or date: that day or instant exactly.
		a, b = raw, raw
	}
	var tr timeRange
	var err error
	tr.on = true
	if tr.from, err = parseInstant(a, false); err != nil {
		return tr, fmt.Errorf("%s: %w", name, err)
	}
	if tr.to, err = parseInstant(b, true); err != nil {
		return tr, fmt.Errorf("%s: %w", name, err)
	}
	return tr, nil
}

func parseInstant(s string, end bool) (time.Time, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "+") // an unescaped "+" offset arrives as a space
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if end {
			return t.Add(24*time.Hour - time.Nanosecond), nil
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 timestamp or date", s)
}

// intParam parses a scalar int64 query parameter; ok is false when absent.
func (p params) intParam(name string) (int64, bool, error) {
	v := strings.TrimSpace(p.v.Get(name))
	if v == "" {
		return 0, false, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, true, fmt.Errorf("%s: %q is not an id", name, v)
	}
	return id, true, nil
}

// sortKeys returns the requested sort as (field, descending) pairs, from
// sort=f1,-f2 or sort[attribute]=f&sort[direction]=asc|desc.
func (p params) sortKeys() [][2]string {
	var out [][2]string
	if a := p.v.Get("sort[attribute]"); a != "" {
		dir := "asc"
		if strings.EqualFold(p.v.Get("sort[direction]"), "desc") {
			dir = "desc"
		}
		return append(out, [2]string{a, dir})
	}
	for _, f := range strings.Split(p.v.Get("sort"), ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
		case strings.HasPrefix(f, "-"):
			out = append(out, [2]string{f[1:], "desc"})
		default:
			out = append(out, [2]string{f, "asc"})
		}
	}
	return out
}

// sorter maps sortable field names to comparisons.
type sorter[T any] map[string]func(a, b T) int

// sortItems sorts items by the request's sort keys, then by id (the default
// order); unknown fields are ignored.
func sortItems[T any](items []T, p params, fields sorter[T], id func(T) int64) {
	keys := p.sortKeys()
	slices.SortStableFunc(items, func(a, b T) int {
		for _, k := range keys {
			f, ok := fields[k[0]]
			if !ok {
				continue
			}
			c := f(a, b)
			if k[1] == "desc" {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return cmp.Compare(id(a), id(b))
	})
}

func filterItems[T any](items []T, keep func(T) bool) []T {
	out := make([]T, 0, len(items))
	for _, it := range items {
		if keep(it) {
			out = append(out, it)
		}
	}
	return out
}

// idSet returns a membership test for an optional id filter.
func idSet(ids []int64, on bool) func(int64) bool {
	if !on {
		return func(int64) bool { return true }
	}
	return func(id int64) bool { return slices.Contains(ids, id) }
}

// page computes the window for a list of n items and sets Total, Per-Page and
// Link. It returns the [lo, hi) slice bounds.
func page(w http.ResponseWriter, r *http.Request, n int, spec pageSpec) (int, int) {
	if spec.def == 0 {
		return 0, n
	}
	q := r.URL.Query()
	per := spec.def
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		per = min(v, spec.max)
	}
	pg := 1
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		pg = v
	}
	last := max(1, (n+per-1)/per)
	h := w.Header()
	h.Set("Total", strconv.Itoa(n))
	h.Set("Per-Page", strconv.Itoa(per))
	links := []string{pageLink(r, 1, "first")}
	if pg >= 2 {
		links = append(links, pageLink(r, min(pg-1, last), "prev"))
	}
	if pg < last {
		links = append(links, pageLink(r, pg+1, "next"))
	}
	links = append(links, pageLink(r, last, "last"))
	h.Set("Link", strings.Join(links, ", "))
	if pg > last {
		return n, n
	}
	lo := (pg - 1) * per
	return lo, min(lo+per, n)
}

// pageLink is the request's absolute URL with page=n, every other query
// parameter kept verbatim and in order.
func pageLink(r *http.Request, n int, rel string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	var parts []string
	for _, kv := range strings.Split(r.URL.RawQuery, "&") {
		if kv == "" || kv == "page" || strings.HasPrefix(kv, "page=") {
			continue
		}
		parts = append(parts, kv)
	}
	parts = append(parts, "page="+strconv.Itoa(n))
	return fmt.Sprintf("<%s://%s%s?%s>; rel=%q", scheme, r.Host, r.URL.EscapedPath(), strings.Join(parts, "&"), rel)
}

// writeList renders items[lo:hi] as a bare JSON array with paging headers.
func writeList[T any](s *Server, w http.ResponseWriter, r *http.Request, items []T, spec pageSpec, render func(*enc, T)) {
	lo, hi := page(w, r, len(items), spec)
	e := s.newEnc()
	e.b = append(e.b, '[')
	for _, it := range items[lo:hi] {
		render(e, it)
	}
	e.b = append(e.b, ']')
	writeJSONBytes(w, http.StatusOK, e.b)
	s.putEnc(e)
}

func (s *Server) newEnc() *enc {
	f, _ := s.currentFaults()
	if b, ok := s.bufs.Get().(*[]byte); ok {
		return &enc{b: (*b)[:0], drift: f.Drift}
	}
	return &enc{b: make([]byte, 0, 64<<10), drift: f.Drift}
}

// putEnc returns an encoder's buffer for reuse (not the huge ones).
func (s *Server) putEnc(e *enc) {
	if cap(e.b) <= 4<<20 {
		b := e.b[:0]
		s.bufs.Put(&b)
	}
}

// writeOne renders one object with status.
func (s *Server) writeOne(w http.ResponseWriter, status int, render func(*enc)) {
	e := s.newEnc()
	render(e)
	writeJSONBytes(w, status, e.b)
	s.putEnc(e)
}
