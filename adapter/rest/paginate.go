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
}

// fetchList walks a list: the first page with the largest per_page the
// endpoint allows (or less when limit is smaller), then Link rel="next"
// verbatim, so every filter stays fixed across pages. It stops after limit
// items (0: all). Total is the Total header, or the count when Procore sends
// none. Lists without pagination are fetched whole; a Link rel="next" is
// still followed if one comes. Items repeated across pages (a record deleted
// mid-walk shifts the pages) are kept once, by id.
func fetchList[W any](ctx context.Context, c *Client, s listSpec, limit int, id func(W) int64) ([]W, int, error) {
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
	var out []W
	seen := map[int64]bool{}
	total := -1
	visited := map[string]bool{}
	for page := 1; page <= maxPages; page++ {
		resp, err := c.do(ctx, k)
		if err != nil {
			return nil, 0, err
		}
		var items []W
		if easy, err := decodeListEasy(resp.body, &items); !easy {
			if err := decodeInto(s.what, resp.body, &items); err != nil {
				return nil, 0, err
			}
		} else if err != nil {
			return nil, 0, &adapter.Error{Code: adapter.CodeInternal, Message: s.what + ": could not decode Procore's response", Err: err}
		}
		if t, err := strconv.Atoi(strings.TrimSpace(resp.header.Get("Total"))); err == nil && t >= 0 {
			total = t
		}
		for _, it := range items {
			if key := id(it); key != 0 {
				if seen[key] {
					continue
				}
				seen[key] = true
			}
			out = append(out, it)
		}
		if limit > 0 && len(out) >= limit {
			out = out[:limit]
			break
		}
		if len(items) == 0 {
			break
		}
		next := c.nextPage(resp.header, k, page, len(items), perPage, total, len(out))
		if next == "" || visited[next] {
			break
		}
		visited[next] = true
		k = call{what: s.what, method: http.MethodGet, rawURL: next, company: s.company}
	}
	if total < len(out) {
		// No Total header: the count (a lower bound when limit cut the walk).
		total = len(out)
	}
	return out, total, nil
}

// nextPage returns the URL of the next page: Link rel="next" when present
// (kept on our API host), else, when Procore sent no Link at all but the page
// was full and Total says more remain, the same URL with page+1.
func (c *Client) nextPage(h http.Header, k call, page, got, perPage, total, have int) string {
	links := parseLinks(h.Values("Link"))
	if next, ok := links["next"]; ok {
		return c.onAPIHost(next)
	}
	if len(links) > 0 || perPage == 0 {
		return ""
	}
	if pp, err := strconv.Atoi(strings.TrimSpace(h.Get("Per-Page"))); err == nil && pp > 0 {
		perPage = pp // Procore may cap lower than we asked
	}
	if got < perPage || total >= 0 && have >= total {
		return ""
	}
	var u *url.URL
	if k.rawURL != "" {
		u, _ = url.Parse(k.rawURL)
	} else {
		u = c.api.JoinPath(k.path)
		u.RawQuery = k.query.Encode()
	}
	if u == nil {
		return ""
	}
	q := u.Query()
	q.Set("page", strconv.Itoa(page+1))
	u.RawQuery = q.Encode()
	return u.String()
}

// onAPIHost keeps a pagination link on the configured API host: a link to
// another host keeps its path and query but is sent to ours, so the bearer
// token never leaves for a host we were not configured with.
func (c *Client) onAPIHost(link string) string {
	u, err := c.api.Parse(link)
	if err != nil {
		return ""
	}
	if u.Scheme != c.api.Scheme || u.Host != c.api.Host {
		u.Scheme, u.Host, u.User = c.api.Scheme, c.api.Host, nil
	}
	return u.String()
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

// listOptions adds ListOptions' filters to q: filters[updated_at]=since...until
// (until a minute past now, tolerating clock skew; Procore wants both ends)
// and filters[id][] for the ids of one chunk.
func (c *Client) listOptions(q url.Values, opt adapter.ListOptions, ids []int64) url.Values {
	q = cloneValues(q)
	if opt.UpdatedSince != nil {
		until := c.clock.Now().Add(time.Minute).UTC()
		q.Set("filters[updated_at]", opt.UpdatedSince.UTC().Format(time.RFC3339)+"..."+until.Format(time.RFC3339))
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
		for _, it := range items {
			page.Items = append(page.Items, conv(it))
		}
		page.Total += total
	}
	return page, nil
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
