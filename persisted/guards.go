package persisted

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Codes of the guards' refusals.
const (
	CodeIntrospectionDisabled = "INTROSPECTION_DISABLED"
	CodeForbidden             = "FORBIDDEN"
)

// RouterSecretHeader is the header RouterOnly checks.
const RouterSecretHeader = "X-Router-Secret"

// IntrospectionOff is a gqlgen OperationContextMutator that refuses, with
// INTROSPECTION_DISABLED and before anything runs, an operation selecting
// __schema or __type at its root (directly, through fragments, under an
// alias, even with @skip). __typename stays allowed.
//
// It does not set OperationContext.DisableIntrospection, on purpose: the
// federation resolver for _service checks that flag too, so Use
// extension.Introspection{} (which clears it) together with IntrospectionOff{}
// to keep _service working for the router (see RouterOnly).
type IntrospectionOff struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = IntrospectionOff{}

// ExtensionName implements graphql.HandlerExtension.
func (IntrospectionOff) ExtensionName() string { return "IntrospectionOff" }

// Validate implements graphql.HandlerExtension.
func (IntrospectionOff) Validate(graphql.ExecutableSchema) error { return nil }

var introspectionRoots = map[string]bool{"__schema": true, "__type": true}

// MutateOperationContext implements graphql.OperationContextMutator.
func (IntrospectionOff) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if name, hit := selectsRoot(oc.Operation.SelectionSet, oc.Doc, introspectionRoots, map[string]bool{}); hit {
		return refusal(CodeIntrospectionDisabled, "introspection is disabled on this server (the operation selects "+rootLabel(name)+")")
	}
	return nil
}

// RouterGuard is the extension RouterOnly returns.
type RouterGuard struct {
	digest [sha256.Size]byte
	empty  bool
}

// RouterOnly returns a gqlgen OperationContextMutator that refuses, with
// FORBIDDEN and before anything runs, an operation selecting Apollo
// Federation's _entities or _service at its root (directly or through
// fragments) unless the request's X-Router-Secret header equals secret. The
// comparison is constant-time (over sha256 digests, so the secret's length
// does not leak either). An empty secret refuses them to every request:
// federation stays closed when no secret is configured. Headers come from
// graphql.OperationContext.Headers (for a websocket, its upgrade request).
func RouterOnly(secret string) RouterGuard {
	return RouterGuard{digest: sha256.Sum256([]byte(secret)), empty: secret == ""}
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = RouterGuard{}

// ExtensionName implements graphql.HandlerExtension.
func (RouterGuard) ExtensionName() string { return "RouterOnly" }

// Validate implements graphql.HandlerExtension.
func (RouterGuard) Validate(graphql.ExecutableSchema) error { return nil }

var routerRoots = map[string]bool{"_entities": true, "_service": true}

// MutateOperationContext implements graphql.OperationContextMutator.
func (g RouterGuard) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	name, hit := selectsRoot(oc.Operation.SelectionSet, oc.Doc, routerRoots, map[string]bool{})
	if !hit {
		return nil
	}
	if !g.empty && oc.Headers != nil {
		if got := oc.Headers.Get(RouterSecretHeader); got != "" {
			d := sha256.Sum256([]byte(got))
			if subtle.ConstantTimeCompare(d[:], g.digest[:]) == 1 {
				return nil
			}
		}
	}
	return refusal(CodeForbidden, rootLabel(name)+" is only for the federation router (send the "+RouterSecretHeader+" header)")
}

// selectsRoot reports whether set selects one of names, looking through inline
// fragments and fragment spreads. A spread whose definition cannot be found
// counts as a hit (validation makes that impossible; refusing is the safe
// answer).
func selectsRoot(set ast.SelectionSet, doc *ast.QueryDocument, names map[string]bool, seen map[string]bool) (string, bool) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if names[s.Name] {
				return s.Name, true
			}
		case *ast.InlineFragment:
			if n, hit := selectsRoot(s.SelectionSet, doc, names, seen); hit {
				return n, true
			}
		case *ast.FragmentSpread:
			if seen[s.Name] {
				continue
			}
			seen[s.Name] = true
			def := s.Definition
			if def == nil && doc != nil {
				def = doc.Fragments.ForName(s.Name)
			}
			if def == nil {
				return "", true
			}
			if n, hit := selectsRoot(def.SelectionSet, doc, names, seen); hit {
				return n, true
			}
		}
	}
	return "", false
}

func rootLabel(name string) string {
	if name == "" {
		return "an unknown fragment"
	}
	return name
}
