package persisted_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"

	"procoregraph/persisted"
)

// trustedManifest is a codegen manifest with qTypename under its sha256 and
// qAgain under the opaque id "doc-2".
func trustedManifest(t *testing.T) *persisted.Manifest {
	t.Helper()
	m, err := persisted.LoadManifest(writeFile(t, "persisted-documents.json",
		mustJSON(t, map[string]string{sha(qTypename): qTypename, "doc-2": qAgain})))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type trustedCase struct {
	name string
	rq   request
	// wantField/wantValue: the data expected; else wantCode.
	wantField, wantValue string
	wantCode             string
	wantMessage          string // exact, when set
}

// extensionFunc is an OperationInterceptor for tests.
type extensionFunc func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler

func (extensionFunc) ExtensionName() string                   { return "TestInterceptor" }
func (extensionFunc) Validate(graphql.ExecutableSchema) error { return nil }
func (f extensionFunc) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	return f(ctx, next)
}

func TestTrustedOnlyRunsManifestDocuments(t *testing.T) {
	apqCache, err := persisted.NewMemoryCache(persisted.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The gateway's order: Trusted, then APQ (which Only makes moot, and
	// which must then never store anything).
	ts := newServer(t,
		persisted.Trusted{Manifest: trustedManifest(t), Only: true},
		extension.AutomaticPersistedQuery{Cache: apqCache})
	unknown := `query Unknown { __typename }`
	cases := []trustedCase{
		{name: "known sha256Hash over POST runs", rq: request{extensions: apq(sha(qTypename))},
			wantField: "__typename", wantValue: `"Query"`},
		{name: "known sha256Hash over GET runs", rq: request{get: true, extensions: apq(sha(qTypename))},
			wantField: "__typename", wantValue: `"Query"`},
		{name: "known sha256Hash in upper case runs", rq: request{extensions: apq(strings.ToUpper(sha(qTypename)))},
			wantField: "__typename", wantValue: `"Query"`},
		{name: "known opaque persistedQuery.id runs", rq: request{extensions: pqID("doc-2")},
			wantField: "again", wantValue: `"Query"`},
		{name: "known top-level documentId in a POST body runs", rq: request{documentID: "doc-2"},
			wantField: "again", wantValue: `"Query"`},
		{name: "known documentId GET parameter runs", rq: request{get: true, documentID: sha(qTypename)},
			wantField: "__typename", wantValue: `"Query"`},
		{name: "sha256Hash of a document filed under an opaque id runs", rq: request{get: true, extensions: apq(sha(qAgain))},
			wantField: "again", wantValue: `"Query"`},
		{name: "known id sent with its exact text runs (APQ links send both)", rq: request{query: qTypename, extensions: apq(sha(qTypename))},
			wantField: "__typename", wantValue: `"Query"`},
		{name: "the same id twice (documentId and persistedQuery) runs", rq: request{documentID: "doc-2", extensions: pqID("doc-2")},
			wantField: "again", wantValue: `"Query"`},
		{name: "raw text equal to a manifest document runs", rq: request{query: qTypename},
			wantField: "__typename", wantValue: `"Query"`},
		{name: "raw text of an opaque-id document runs", rq: request{get: true, query: qAgain},
			wantField: "again", wantValue: `"Query"`},

		{name: "raw text outside the manifest is PERSISTED_QUERY_REQUIRED", rq: request{query: unknown},
			wantCode: "PERSISTED_QUERY_REQUIRED"},
		{name: "raw text differing only in whitespace is PERSISTED_QUERY_REQUIRED", rq: request{query: qTypename + "\n"},
			wantCode: "PERSISTED_QUERY_REQUIRED"},
		{name: "introspection outside the manifest is PERSISTED_QUERY_REQUIRED", rq: request{get: true, query: qSchema},
			wantCode: "PERSISTED_QUERY_REQUIRED"},
		{name: "APQ registration of a new document is PERSISTED_QUERY_REQUIRED", rq: request{query: unknown, extensions: apq(sha(unknown))},
			wantCode: "PERSISTED_QUERY_REQUIRED"},
		{name: "the refused registration stored nothing: its hash is PERSISTED_QUERY_NOT_FOUND", rq: request{get: true, extensions: apq(sha(unknown))},
			wantCode: "PERSISTED_QUERY_NOT_FOUND"},
		{name: "unknown persistedQuery.id is PERSISTED_QUERY_NOT_FOUND", rq: request{extensions: pqID("doc-404")},
			wantCode: "PERSISTED_QUERY_NOT_FOUND"},
		{name: "unknown documentId is PERSISTED_QUERY_NOT_FOUND", rq: request{documentID: "doc-404"},
			wantCode: "PERSISTED_QUERY_NOT_FOUND"},
		{name: "known id sent with another text is PERSISTED_QUERY_INVALID", rq: request{query: unknown, documentID: "doc-2"},
			wantCode: "PERSISTED_QUERY_INVALID"},
		{name: "two different ids are PERSISTED_QUERY_INVALID", rq: request{documentID: "doc-2", extensions: apq(sha(qTypename))},
			wantCode: "PERSISTED_QUERY_INVALID"},
		{name: "persistedQuery that is not an object is PERSISTED_QUERY_INVALID", rq: request{extensions: map[string]any{"persistedQuery": "doc-2"}},
			wantCode: "PERSISTED_QUERY_INVALID"},
		{name: "a sha256Hash that is not a string is PERSISTED_QUERY_INVALID", rq: request{extensions: map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": 7}}},
			wantCode: "PERSISTED_QUERY_INVALID"},
		{name: "an unsupported persistedQuery version is PERSISTED_QUERY_INVALID", rq: request{extensions: map[string]any{"persistedQuery": map[string]any{"version": 2, "sha256Hash": sha(qTypename)}}},
			wantCode: "PERSISTED_QUERY_INVALID"},
		{name: "a documentId that is not a string is PERSISTED_QUERY_INVALID", rq: request{documentID: map[string]any{"id": "doc-2"}},
			wantCode: "PERSISTED_QUERY_INVALID"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, ts, tc.rq)
			if tc.wantCode != "" {
				wantCode(t, r, tc.wantCode)
				if tc.wantMessage != "" && r.message() != tc.wantMessage {
					t.Fatalf("message %q, want %q", r.message(), tc.wantMessage)
				}
				return
			}
			wantData(t, r, tc.wantField, tc.wantValue)
		})
	}
	if n := apqCache.Len(); n != 0 {
		t.Fatalf("APQ stored %d documents behind Trusted{Only: true}", n)
	}
}

func TestTrustedWithoutOnlyResolvesIDsAndLeavesTheRestToAPQ(t *testing.T) {
	apqCache, err := persisted.NewMemoryCache(persisted.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ts := newServer(t,
		persisted.Trusted{Manifest: trustedManifest(t)},
		extension.AutomaticPersistedQuery{Cache: apqCache})
	other := `query Other { other: __typename }`
	steps := []trustedCase{
		{name: "manifest sha256Hash runs", rq: request{get: true, extensions: apq(sha(qTypename))},
			wantField: "__typename", wantValue: `"Query"`},
		{name: "manifest documentId runs", rq: request{documentID: "doc-2"},
			wantField: "again", wantValue: `"Query"`},
		{name: "raw text outside the manifest runs", rq: request{query: other},
			wantField: "other", wantValue: `"Query"`},
		{name: "unknown sha256Hash is APQ's PersistedQueryNotFound", rq: request{get: true, extensions: apq(sha(other))},
			wantCode: "PERSISTED_QUERY_NOT_FOUND", wantMessage: "PersistedQueryNotFound"},
		{name: "APQ registration of a document outside the manifest runs", rq: request{query: other, extensions: apq(sha(other))},
			wantField: "other", wantValue: `"Query"`},
		{name: "its hash alone then runs from APQ", rq: request{get: true, extensions: apq(sha(other))},
			wantField: "other", wantValue: `"Query"`},
		{name: "unknown documentId is PERSISTED_QUERY_NOT_FOUND", rq: request{documentID: "doc-404"},
			wantCode: "PERSISTED_QUERY_NOT_FOUND"},
	}
	for _, tc := range steps {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, ts, tc.rq)
			if tc.wantCode != "" {
				wantCode(t, r, tc.wantCode)
				if tc.wantMessage != "" && r.message() != tc.wantMessage {
					t.Fatalf("message %q, want %q", r.message(), tc.wantMessage)
				}
				return
			}
			wantData(t, r, tc.wantField, tc.wantValue)
		})
	}
	// Only the registered document is in APQ: manifest documents never are.
	if n := apqCache.Len(); n != 1 {
		t.Fatalf("APQ holds %d documents, want 1", n)
	}
	if _, ok := apqCache.Get(context.Background(), sha(qTypename)); ok {
		t.Fatal("a manifest document was stored in APQ")
	}
}

// Why Trusted must be Used before APQ: after it, APQ answers a manifest
// hash it has never seen with PersistedQueryNotFound before Trusted runs.
func TestTrustedAfterAPQMissesManifestHashes(t *testing.T) {
	apqCache, err := persisted.NewMemoryCache(persisted.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := trustedManifest(t)
	rq := request{get: true, extensions: apq(sha(qTypename))}

	wrong := newServer(t, extension.AutomaticPersistedQuery{Cache: apqCache}, persisted.Trusted{Manifest: m, Only: true})
	wantCode(t, do(t, wrong, rq), "PERSISTED_QUERY_NOT_FOUND")

	right := newServer(t, persisted.Trusted{Manifest: m, Only: true}, extension.AutomaticPersistedQuery{Cache: apqCache})
	wantData(t, do(t, right, rq), "__typename", `"Query"`)
}

func TestTrustedRecordsWhichDocumentRan(t *testing.T) {
	var mu sync.Mutex
	var last *persisted.TrustedStats
	recorder := extensionFunc(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		mu.Lock()
		last = persisted.GetTrustedStats(ctx)
		mu.Unlock()
		return next(ctx)
	})
	ts := newServer(t, persisted.Trusted{Manifest: trustedManifest(t), Only: true}, recorder)
	cases := []struct {
		name string
		rq   request
		want persisted.TrustedStats
	}{
		{"by id", request{documentID: "doc-2"}, persisted.TrustedStats{ID: "doc-2", Name: "TypenameAgain"}},
		{"by text", request{query: qTypename}, persisted.TrustedStats{ID: sha(qTypename), Name: "Typename", ByText: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := do(t, ts, tc.rq); len(r.Errors) > 0 {
				t.Fatal(r.Errors)
			}
			mu.Lock()
			defer mu.Unlock()
			if last == nil || *last != tc.want {
				t.Fatalf("stats %+v, want %+v", last, tc.want)
			}
		})
	}
}

func TestTrustedRequiresAManifest(t *testing.T) {
	if err := (persisted.Trusted{}).Validate(nil); err == nil {
		t.Fatal("want an error without a Manifest")
	}
}

// DocumentIDs leaves the body as it was, for gqlgen to read.
func TestDocumentIDsKeepsTheBody(t *testing.T) {
	var got string
	h := persisted.DocumentIDs(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := new(strings.Builder)
		_, _ = io.Copy(b, r.Body)
		got = persisted.DocumentIDFrom(r.Context()) + "|" + b.String()
	}))
	body := `{"documentId": "doc-2", "variables": {"a": 1}}`
	req, _ := http.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	h.ServeHTTP(nil, req)
	if got != "doc-2|"+body {
		t.Fatalf("handler saw %q", got)
	}
}
