package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"procoregraph/adapter"
	"procoregraph/audit"
	"procoregraph/authn"
	"procoregraph/mutate"
	"procoregraph/principal"
)

// Authenticator resolves a request to who asks and the connection it acts
// through (authn.Authenticator).
type Authenticator interface {
	Authenticate(r *http.Request) (authn.Identity, error)
}

// publicRoots are the root fields anyone may select, credential or not: the
// schema itself (introspection, federation's _service), which holds no
// Procore data, so routers and code generators can read it.
var publicRoots = map[string]bool{"__schema": true, "__type": true, "__typename": true, "_service": true}

// sessionRoots are the mutations that take their credential in their input
// (a login, or the session token itself): they need no principal.
var sessionRoots = map[string]bool{"createSession": true, "refreshSession": true, "revokeSession": true, "__typename": true}

// authStatus carries the HTTP status a refusal before execution asks for
// (401, 403, 429) from the executor (which only writes 200 or 422) to the
// response writer, with the Retry-After seconds of a 429.
type authStatus struct {
	code       atomic.Int32
	retryAfter atomic.Int32
}

type authStatusKey struct{}

func withAuthStatus(ctx context.Context) context.Context {
	return context.WithValue(ctx, authStatusKey{}, &authStatus{})
}

func setAuthStatus(ctx context.Context, code int) {
	if s, ok := ctx.Value(authStatusKey{}).(*authStatus); ok {
		s.code.Store(int32(code))
	}
}

// setRetryAfter asks for 429 with a Retry-After of secs.
func setRetryAfter(ctx context.Context, secs int) {
	if s, ok := ctx.Value(authStatusKey{}).(*authStatus); ok {
		s.retryAfter.Store(int32(secs))
		s.code.Store(http.StatusTooManyRequests)
	}
}

func retryAfterOf(ctx context.Context) int {
	if s, ok := ctx.Value(authStatusKey{}).(*authStatus); ok {
		return int(s.retryAfter.Load())
	}
	return 0
}

func authStatusOf(ctx context.Context) int {
	if s, ok := ctx.Value(authStatusKey{}).(*authStatus); ok {
		return int(s.code.Load())
	}
	return 0
}

// authorizer checks, once per operation and before any resolver runs, that
// the principal holds the scope the operation needs: read for queries,
// write for mutations (uploads included), subscribe for subscriptions. A
// caller without a credential (where anonymous access is off) gets
// UNAUTHENTICATED and HTTP 401; a principal without the scope gets FORBIDDEN
// and HTTP 403. Either way nothing reaches Procore. Operations that select
// only the schema, and the session mutations, need no principal.
type authorizer struct{ audit *audit.Logger }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = authorizer{}

func (authorizer) ExtensionName() string                          { return "Authorize" }
func (authorizer) Validate(schema graphql.ExecutableSchema) error { return nil }

func (a authorizer) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	op := oc.Operation
	if op == nil {
		return nil
	}
	roots, ok := rootFields(op.SelectionSet, oc.Doc, nil, 0)
	if ok && allIn(roots, publicRoots) {
		return nil
	}
	if ok && op.Operation == ast.Mutation && allIn(roots, sessionRoots) {
		return nil
	}
	p := principal.From(ctx)
	need, verb := principal.ScopeRead, "run queries"
	switch op.Operation {
	case ast.Mutation:
		need, verb = principal.ScopeWrite, "run mutations"
		if ok && allIn(roots, bulkRoots) {
			need, verb = principal.ScopeRead, "run bulk exports"
		}
	case ast.Subscription:
		need, verb = principal.ScopeSubscribe, "open subscriptions"
	}
	if p.Can(need) {
		return nil
	}
	if !p.Authenticated() {
		setAuthStatus(ctx, http.StatusUnauthorized)
		return &gqlerror.Error{
			Message:    "authentication required: send `Authorization: Bearer <API key or session token>`, or sign in with Procore at /auth/login",
			Extensions: map[string]any{"code": string(adapter.CodeUnauthenticated)},
		}
	}
	setAuthStatus(ctx, http.StatusForbidden)
	if op.Operation == ast.Mutation {
		for _, f := range roots {
			if sessionRoots[f] {
				continue
			}
			a.audit.Record(ctx, audit.Record{Event: audit.EventMutation, Principal: p.Ref(), Operation: f,
				OperationName: oc.OperationName, Outcome: audit.OutcomeForbidden, Code: string(adapter.CodeForbidden),
				Remote: audit.RemoteFrom(ctx)})
		}
	}
	return &gqlerror.Error{
		Message:    fmt.Sprintf("%s may not %s: it lacks the %q scope", describe(p), verb, need),
		Extensions: map[string]any{"code": string(adapter.CodeForbidden)},
	}
}

func describe(p principal.Principal) string {
	switch p.Kind {
	case principal.KindAPIKey:
		return fmt.Sprintf("the API key %q", p.Name)
	case principal.KindJWT:
		return "this token"
	}
	return "this principal"
}

func allIn(names []string, set map[string]bool) bool {
	for _, n := range names {
		if !set[n] {
			return false
		}
	}
	return len(names) > 0
}

// rootFields lists the names of the fields an operation selects at its root,
// through fragments; ok is false when a fragment cannot be resolved (the
// caller then assumes the strictest case).
func rootFields(set ast.SelectionSet, doc *ast.QueryDocument, out []string, depth int) ([]string, bool) {
	if depth > 16 {
		return out, false
	}
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			out = append(out, s.Name)
		case *ast.InlineFragment:
			var ok bool
			if out, ok = rootFields(s.SelectionSet, doc, out, depth+1); !ok {
				return out, false
			}
		case *ast.FragmentSpread:
			def := s.Definition
			if def == nil && doc != nil {
				def = doc.Fragments.ForName(s.Name)
			}
			if def == nil {
				return out, false
			}
			var ok bool
			if out, ok = rootFields(def.SelectionSet, doc, out, depth+1); !ok {
				return out, false
			}
		}
	}
	return out, true
}

// auditMutation resolves the mutation field fc through next and writes its
// audit record (guardFields calls it for every mutation field but the
// session ones, which the sessions service audits, knowing the person): the
// principal, the ids in its input, its idempotency key, the Procore ids it
// wrote and its outcome.
func auditMutation(ctx context.Context, l *audit.Logger, fc *graphql.FieldContext, next graphql.Resolver) (any, error) {
	ctx, written := audit.Collect(ctx)
	res, err := next(ctx)
	rec := audit.Record{Event: audit.EventMutation, Principal: principal.From(ctx).Ref(), Operation: fc.Field.Name,
		Remote: audit.RemoteFrom(ctx), Written: written(), Outcome: audit.OutcomeOK}
	var args map[string]any
	if graphql.HasOperationContext(ctx) {
		oc := graphql.GetOperationContext(ctx)
		rec.OperationName = oc.OperationName
		args = fc.Field.ArgumentMap(oc.Variables)
	}
	rec.Inputs = inputIDs(args)
	rec.IdempotencyKey = mutate.IdempotencyKeyFrom(ctx)
	if in, ok := args["input"].(map[string]any); ok {
		if k, ok := in["idempotencyKey"].(string); ok && k != "" {
			rec.IdempotencyKey = k
		}
	}
	switch {
	case err != nil:
		rec.Outcome, rec.Code = audit.OutcomeError, errorCode(err)
	default:
		if code, ok := firstUserError(res); ok {
			rec.Outcome, rec.Code = audit.OutcomeRejected, code
		}
	}
	l.Record(ctx, rec)
	return res, err
}

func errorCode(err error) string {
	var ae *adapter.Error
	if errors.As(err, &ae) {
		return string(ae.Code)
	}
	var ge *gqlerror.Error
	if errors.As(err, &ge) {
		if c, ok := ge.Extensions["code"].(string); ok {
			return c
		}
	}
	return string(adapter.CodeInternal)
}

// inputIDs picks the id arguments of a mutation (projectId, rfiId,
// approverIds, ...) from its arguments, one level into input objects.
func inputIDs(args map[string]any) map[string]string {
	out := map[string]string{}
	var walk func(prefix string, m map[string]any, depth int)
	walk = func(prefix string, m map[string]any, depth int) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := m[k]
			name := k
			if prefix != "" && prefix != "input" {
				name = prefix + "." + k
			}
			if sub, ok := v.(map[string]any); ok && depth < 2 {
				walk(name, sub, depth+1)
				continue
			}
			if k == "id" || strings.HasSuffix(k, "Id") || strings.HasSuffix(k, "Ids") {
				if s := idString(v); s != "" {
					out[name] = s
				}
			}
		}
	}
	walk("", args, 0)
	if len(out) == 0 {
		return nil
	}
	return out
}

func idString(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 64 {
			return x[:64]
		}
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			if s := idString(e); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}

// firstUserError returns the code of the first userError of a mutation
// payload (a pointer to a struct with a UserErrors slice whose elements
// have a Code string).
func firstUserError(res any) (string, bool) {
	v := reflect.ValueOf(res)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return "", false
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return "", false
	}
	ue := v.FieldByName("UserErrors")
	if !ue.IsValid() || ue.Kind() != reflect.Slice || ue.Len() == 0 {
		return "", false
	}
	first := ue.Index(0)
	for first.Kind() == reflect.Pointer {
		first = first.Elem()
	}
	if first.Kind() == reflect.Struct {
		if c := first.FieldByName("Code"); c.IsValid() && c.Kind() == reflect.String {
			return c.String(), true
		}
	}
	return "", true
}
