package persisted

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Codes (extensions.code) of Trusted's refusals.
const (
	// CodePersistedQueryRequired: the server runs only manifest documents
	// (Only) and the request sent a document text that is not one of them.
	CodePersistedQueryRequired = "PERSISTED_QUERY_REQUIRED"
	// CodePersistedQueryNotFound: the request named a document id the
	// manifest (or, without Only and for an APQ sha256Hash, APQ) does not know.
	CodePersistedQueryNotFound = "PERSISTED_QUERY_NOT_FOUND"
	// CodePersistedQueryInvalid: the request's persisted-query data is
	// malformed (extensions.persistedQuery not an object, an id not a
	// string, an unsupported version, two different ids) or the text it sent
	// is not the document its id names.
	CodePersistedQueryInvalid = "PERSISTED_QUERY_INVALID"
)

// Trusted is a gqlgen handler extension (an OperationParameterMutator) that
// runs trusted documents from a Manifest.
//
// A request names a document with, in order of precedence (two different ids
// are refused):
//
//   - a top-level "documentId" (GraphQL-over-HTTP persisted documents,
//     GraphQL Code Generator's examples), which gqlgen's transports drop: the
//     DocumentIDs middleware must carry it to the context;
//   - extensions.persistedQuery.id;
//   - extensions.persistedQuery.sha256Hash (Apollo's APQ and persisted
//     queries links, Relay setups using the APQ shape).
//
// A known id (Manifest.Lookup: a manifest id, or the sha256 of a manifest
// body) fills params.Query with the manifest's body (and operationName with
// its name when the request has none) and removes extensions.persistedQuery,
// so APQ, Used after Trusted, neither answers nor stores it. If the request
// also sent a text, it must be exactly that body (else
// PERSISTED_QUERY_INVALID).
//
// With Only false, anything else goes on unchanged: a document text runs as
// usual, and an unknown sha256Hash is left to APQ (register or look up);
// an unknown documentId or persistedQuery.id is PERSISTED_QUERY_NOT_FOUND.
//
// With Only true, nothing outside the manifest runs:
//
//   - an unknown id without a text: PERSISTED_QUERY_NOT_FOUND;
//   - a text whose sha256 is the sha256 of a manifest body, i.e. a text
//     byte-for-byte equal to a manifest document: accepted (decision: the
//     text then adds nothing a hash would not, and clients that cannot send
//     ids, such as tools replaying a recorded request, keep working; a text
//     differing only in whitespace or comments is not the same document and
//     is refused);
//   - any other text (with or without an unknown id, so APQ registrations
//     too): PERSISTED_QUERY_REQUIRED;
//   - introspection included, so GraphiQL cannot run against such a server
//     unless its queries are in the manifest.
//
// Trusted must be Used before extension.AutomaticPersistedQuery (see the
// package documentation). It reads only the request and its Manifest.
type Trusted struct {
	// Manifest holds the trusted documents (required).
	Manifest *Manifest
	// Only refuses every operation that is not in Manifest.
	Only bool
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = Trusted{}

// ExtensionName implements graphql.HandlerExtension.
func (Trusted) ExtensionName() string { return "TrustedDocuments" }

// Validate implements graphql.HandlerExtension: Manifest is required.
func (t Trusted) Validate(graphql.ExecutableSchema) error {
	if t.Manifest == nil {
		return errors.New("persisted: Trusted.Manifest can not be nil")
	}
	return nil
}

// TrustedStats say which manifest document an operation ran, recorded on the
// operation context's Stats (GetTrustedStats).
type TrustedStats struct {
	// ID and Name are the manifest entry's.
	ID   string
	Name string
	// ByText is true when the request sent the document's text rather than
	// an id (Only mode).
	ByText bool
}

const trustedStatsKey = "TrustedDocument"

// GetTrustedStats returns the manifest document the operation in ctx ran, or
// nil when it ran none (a text outside the manifest, without Only; or APQ).
func GetTrustedStats(ctx context.Context) *TrustedStats {
	if !graphql.HasOperationContext(ctx) {
		return nil
	}
	s, _ := graphql.GetOperationContext(ctx).Stats.GetExtension(trustedStatsKey).(*TrustedStats)
	return s
}

// idSource says where a request's document id came from.
type idSource int

const (
	fromNone idSource = iota
	fromDocumentID
	fromPersistedID
	fromSHA256Hash
)

// MutateOperationParameters implements graphql.OperationParameterMutator.
func (t Trusted) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	id, src, gerr := requestedID(ctx, params)
	if gerr != nil {
		return gerr
	}
	if src == fromNone {
		if params.Query == "" || !t.Only {
			return nil // gqlgen answers a request without a document itself
		}
		if op, ok := t.Manifest.LookupText(params.Query); ok {
			t.record(ctx, op, true)
			return nil
		}
		return refusal(CodePersistedQueryRequired,
			"this server runs only trusted documents: send the document's id (extensions.persistedQuery.sha256Hash or documentId), not a document that is not in its manifest")
	}
	if op, ok := t.Manifest.Lookup(id); ok {
		if params.Query != "" && params.Query != op.Body {
			return refusal(CodePersistedQueryInvalid, "the query sent is not the trusted document "+quote(id)+": send the id alone")
		}
		params.Query = op.Body
		if params.OperationName == "" {
			params.OperationName = op.Name
		}
		if _, ok := params.Extensions["persistedQuery"]; ok {
			ext := maps.Clone(params.Extensions)
			delete(ext, "persistedQuery")
			params.Extensions = ext
		}
		t.record(ctx, op, false)
		return nil
	}
	switch {
	case t.Only && params.Query != "":
		return refusal(CodePersistedQueryRequired,
			"this server runs only trusted documents, and neither the id "+quote(id)+" nor the query sent is in its manifest")
	case t.Only:
		return refusal(CodePersistedQueryNotFound, "PersistedQueryNotFound: no trusted document has the id "+quote(id))
	case src == fromSHA256Hash:
		return nil // APQ's, registration or look-up
	default:
		return refusal(CodePersistedQueryNotFound, "PersistedQueryNotFound: no trusted document has the id "+quote(id))
	}
}

func (t Trusted) record(ctx context.Context, op Operation, byText bool) {
	if graphql.HasOperationContext(ctx) {
		graphql.GetOperationContext(ctx).Stats.SetExtension(trustedStatsKey,
			&TrustedStats{ID: op.ID, Name: op.Name, ByText: byText})
	}
}

// requestedID reads the document id a request names, or fromNone.
func requestedID(ctx context.Context, params *graphql.RawParams) (string, idSource, *gqlerror.Error) {
	type candidate struct {
		id  string
		src idSource
	}
	var found []candidate
	if d, ok := ctx.Value(documentIDKey{}).(documentID); ok {
		if d.invalid {
			return "", fromNone, refusal(CodePersistedQueryInvalid, "documentId must be a string")
		}
		if d.id != "" {
			found = append(found, candidate{d.id, fromDocumentID})
		}
	}
	if raw, ok := params.Extensions["persistedQuery"]; ok && raw != nil {
		pq, ok := raw.(map[string]any)
		if !ok {
			return "", fromNone, refusal(CodePersistedQueryInvalid, "extensions.persistedQuery must be an object")
		}
		if v, ok := pq["version"]; ok && v != nil && !isOne(v) {
			return "", fromNone, refusal(CodePersistedQueryInvalid, "unsupported extensions.persistedQuery.version (want 1)")
		}
		for _, f := range []struct {
			name string
			src  idSource
		}{{"id", fromPersistedID}, {"sha256Hash", fromSHA256Hash}} {
			v, ok := pq[f.name]
			if !ok || v == nil {
				continue
			}
			s, ok := v.(string)
			if !ok {
				return "", fromNone, refusal(CodePersistedQueryInvalid, "extensions.persistedQuery."+f.name+" must be a string")
			}
			if s != "" {
				found = append(found, candidate{s, f.src})
			}
		}
	}
	if len(found) == 0 {
		return "", fromNone, nil
	}
	for _, c := range found[1:] {
		if !sameID(c.id, found[0].id) {
			return "", fromNone, refusal(CodePersistedQueryInvalid, "the request names two different documents ("+quote(found[0].id)+" and "+quote(c.id)+")")
		}
	}
	// An id that is also an APQ sha256Hash may go to APQ (without Only).
	src := found[0].src
	for _, c := range found {
		if c.src == fromSHA256Hash {
			src = fromSHA256Hash
		}
	}
	return found[0].id, src, nil
}

func sameID(a, b string) bool {
	if a == b {
		return true
	}
	return isSHA256Hex(a) && strings.EqualFold(a, b)
}

func isOne(v any) bool {
	switch n := v.(type) {
	case json.Number:
		return n.String() == "1"
	case float64:
		return n == 1
	case int:
		return n == 1
	case int64:
		return n == 1
	}
	return false
}

func refusal(code, msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
}

// documentID is a top-level documentId carried from the HTTP request.
type documentID struct {
	id      string
	invalid bool // present but neither a string nor a number
}

type documentIDKey struct{}

// WithDocumentID returns ctx carrying a top-level documentId for Trusted (what
// DocumentIDs does for HTTP requests; other transports may call it).
func WithDocumentID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, documentIDKey{}, documentID{id: id})
}

// DocumentIDFrom returns the documentId ctx carries, or "".
func DocumentIDFrom(ctx context.Context) string {
	d, _ := ctx.Value(documentIDKey{}).(documentID)
	return d.id
}

// DocumentIDs is HTTP middleware that carries a request's top-level
// documentId, which gqlgen's GET and POST transports do not read, to Trusted
// through the request's context: the documentId query parameter of a GET, or
// the "documentId" member (a string, or a number taken as its text) of a
// JSON POST body. The body is read and put back, unchanged; install
// DocumentIDs inside the gateway's body limit (limits.Body), which has
// already bounded and buffered it. Websocket upgrades and other requests pass
// untouched; a body that is not a JSON object is left for gqlgen to refuse.
func DocumentIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			next.ServeHTTP(w, r)
			return
		}
		switch r.Method {
		case http.MethodGet:
			if id := r.URL.Query().Get("documentId"); id != "" {
				r = r.WithContext(WithDocumentID(r.Context(), id))
			}
		case http.MethodPost:
			mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if mt != "application/json" || r.Body == nil {
				break
			}
			body, err := io.ReadAll(r.Body)
			_ = r.Body.Close()
			if err != nil {
				// Hand gqlgen what was read, then the same error.
				r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
				break
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			var p struct {
				DocumentID json.RawMessage `json:"documentId"`
			}
			if json.Unmarshal(body, &p) != nil || len(p.DocumentID) == 0 || string(p.DocumentID) == "null" {
				break
			}
			d := documentID{}
			var s string
			var n json.Number
			switch {
			case json.Unmarshal(p.DocumentID, &s) == nil:
				d.id = s
			case json.Unmarshal(p.DocumentID, &n) == nil:
				d.id = n.String()
			default:
				d.invalid = true
			}
			r = r.WithContext(context.WithValue(r.Context(), documentIDKey{}, d))
		}
		next.ServeHTTP(w, r)
	})
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
