package persisted_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"procoregraph/graph"
	"procoregraph/persisted"
	"procoregraph/resolvers"
)

// Documents the tests run: none of them reaches Procore (the root's
// __typename, introspection, federation's _service and an _entities call
// without representations).
const (
	qTypename = `query Typename { __typename }`
	qAgain    = `query TypenameAgain { again: __typename }`
	qService  = `query Service { _service { sdl } }`
	qEntities = `query Entities { _entities(representations: []) { __typename } }`
	qSchema   = `query Schema { __schema { queryType { name } } }`
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// newServer returns the project's schema behind a gqlgen server shaped like
// the gateway's (GET and POST, a query cache, extension.Introspection), with
// exts Used in order, behind persisted.DocumentIDs.
func newServer(t *testing.T, exts ...graphql.HandlerExtension) *httptest.Server {
	t.Helper()
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: resolvers.New()}))
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](100))
	srv.Use(extension.Introspection{})
	for _, e := range exts {
		srv.Use(e)
	}
	ts := httptest.NewServer(persisted.DocumentIDs(srv))
	t.Cleanup(ts.Close)
	return ts
}

// request is one GraphQL-over-HTTP request.
type request struct {
	get           bool // GET with URL parameters, else POST with a JSON body
	query         string
	operationName string
	extensions    map[string]any
	documentID    any // top-level documentId
	header        http.Header
}

func apq(hash string) map[string]any {
	return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
}

func pqID(id string) map[string]any {
	return map[string]any{"persistedQuery": map[string]any{"id": id}}
}

type response struct {
	status int
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// code returns the first error's extensions.code, or "" without errors.
func (r response) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

func (r response) message() string {
	if len(r.Errors) == 0 {
		return ""
	}
	return r.Errors[0].Message
}

func do(t *testing.T, ts *httptest.Server, rq request) response {
	t.Helper()
	var req *http.Request
	var err error
	if rq.get {
		v := url.Values{}
		if rq.query != "" {
			v.Set("query", rq.query)
		}
		if rq.operationName != "" {
			v.Set("operationName", rq.operationName)
		}
		if rq.extensions != nil {
			b, _ := json.Marshal(rq.extensions)
			v.Set("extensions", string(b))
		}
		if rq.documentID != nil {
			v.Set("documentId", rq.documentID.(string))
		}
		req, err = http.NewRequest(http.MethodGet, ts.URL+"?"+v.Encode(), nil)
	} else {
		body := map[string]any{}
		if rq.query != "" {
			body["query"] = rq.query
		}
		if rq.operationName != "" {
			body["operationName"] = rq.operationName
		}
		if rq.extensions != nil {
			body["extensions"] = rq.extensions
		}
		if rq.documentID != nil {
			body["documentId"] = rq.documentID
		}
		b, _ := json.Marshal(body)
		req, err = http.NewRequest(http.MethodPost, ts.URL, bytes.NewReader(b))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range rq.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out response
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("response %d is not JSON: %s", res.StatusCode, b)
	}
	out.status = res.StatusCode
	return out
}

// wantData fails unless r has no errors and data[field] is want (JSON).
func wantData(t *testing.T, r response, field, want string) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
	if got := string(r.Data[field]); got != want {
		t.Fatalf("data.%s = %s, want %s", field, got, want)
	}
}

// wantCode fails unless r's first error has extensions.code code and no data.
func wantCode(t *testing.T, r response, code string) {
	t.Helper()
	if r.code() != code {
		t.Fatalf("code = %q (message %q), want %q", r.code(), r.message(), code)
	}
	if len(r.Data) > 0 {
		t.Fatalf("a refused operation answered data %v", r.Data)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
