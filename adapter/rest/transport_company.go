package rest

import (
	"context"
	"net/http"
	"strconv"
)

// companyHeader is Procore's company selector header.
const companyHeader = "Procore-Company-Id"

// companyTransport sets Procore-Company-Id on requests that do not carry it
// yet. Procore requires it everywhere except GET /rest/v1.0/me and
// /rest/v1.0/companies, and on those too for client-credentials tokens, so
// it is sent there whenever the company is known, but never discovered for
// them (discovery itself calls /rest/v1.0/companies).
type companyTransport struct {
	// known returns the company when it is already known, without calls.
	known func() (int64, bool)
	// resolve returns the company, discovering it when needed.
	resolve func(ctx context.Context) (int64, error)
	next    http.RoundTripper
}

func (t *companyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get(companyHeader) != "" {
		return t.next.RoundTrip(req)
	}
	var id int64
	if companyOptional(req.URL.Path) {
		id, _ = t.known()
	} else {
		var err error
		if id, err = t.resolve(req.Context()); err != nil {
			closeRequestBody(req)
			return nil, err
		}
	}
	if id == 0 {
		return t.next.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.Header.Set(companyHeader, strconv.FormatInt(id, 10))
	return t.next.RoundTrip(r)
}

// companyOptional reports whether path is one of the two routes Procore
// serves without a company header for user tokens.
func companyOptional(path string) bool {
	return hasSuffixPath(path, "/rest/v1.0/me") || hasSuffixPath(path, "/rest/v1.0/companies")
}

func hasSuffixPath(path, suffix string) bool {
	return len(path) >= len(suffix) && path[len(path)-len(suffix):] == suffix
}
