package cache

import (
	"errors"
	"fmt"
	"strings"
)

// Key identifies one cached value of one connection, read as one Procore user.
//
// It renders as
//
//	pg:v1:{<conn>}:<user>:<kind>:<scope>:<params>
//
// where conn, user, kind and params are escaped ('%', ':', '{' and '}' become
// %25, %3A, %7B and %7D) and scope is kept as is, so the rendering is
// one-to-one. Because Conn is always part of the key, no request of one
// connection can read another connection's values, and because User is too,
// a user never reads what Procore showed another user of the same connection
// (Procore filters by permissions). The braces make the connection the Redis
// Cluster hash tag: every key of a connection, and its generation tokens, live
// in one slot, so a loader batch is one MGET on one node even on a cluster.
// "v1" is the format of the key and the value envelope; bump it to drop every
// old entry at once when either changes.
type Key struct {
	// Conn is the connection (tenant: Procore environment, company and
	// credential) id. Required.
	Conn string
	// User is the Procore user id the data was read as; empty for data that
	// does not depend on the user.
	User string
	// Kind is the resource kind ("rfis", "project", "invoices"): it selects
	// the TTL (Options.TTL) and labels the metrics. Required; keep the set of
	// kinds small and fixed.
	Kind string
	// Scope is the invalidation scope, ':'-separated segments from coarse to
	// fine, such as "project:123:rfis". Invalidate(conn, s) drops every entry
	// whose Scope is s or starts with s+":". Empty means the connection
	// scope. Segments must be non-empty and free of '{' and '}'.
	Scope string
	// Params distinguishes values within a scope and kind: an id, a filter
	// or page window ("first=200", "ids=1,2,3"). Hash it if it is long.
	Params string
}

// ErrInvalidKey is wrapped by errors about a Key without a connection or
// kind, or with a malformed scope.
var ErrInvalidKey = errors.New("cache: invalid key")

// maxScopeDepth bounds the generation tokens one value carries.
const maxScopeDepth = 16

// String renders the key as documented on Key.
func (k Key) String() string {
	var b strings.Builder
	b.Grow(16 + len(k.Conn) + len(k.User) + len(k.Kind) + len(k.Scope) + len(k.Params))
	b.WriteString("pg:v1:{")
	escapeTo(&b, k.Conn)
	b.WriteString("}:")
	escapeTo(&b, k.User)
	b.WriteByte(':')
	escapeTo(&b, k.Kind)
	b.WriteByte(':')
	b.WriteString(k.Scope)
	b.WriteByte(':')
	escapeTo(&b, k.Params)
	return b.String()
}

func (k Key) validate() error {
	if k.Conn == "" {
		return fmt.Errorf("%w: no connection (kind %q)", ErrInvalidKey, k.Kind)
	}
	if k.Kind == "" {
		return fmt.Errorf("%w: no kind (scope %q)", ErrInvalidKey, k.Scope)
	}
	return validateScope(k.Scope)
}

func validateScope(scope string) error {
	if scope == "" {
		return nil
	}
	if strings.ContainsAny(scope, "{}") {
		return fmt.Errorf("%w: scope %q contains a brace", ErrInvalidKey, scope)
	}
	segs := strings.Split(scope, ":")
	if len(segs) > maxScopeDepth {
		return fmt.Errorf("%w: scope %q is deeper than %d segments", ErrInvalidKey, scope, maxScopeDepth)
	}
	for _, s := range segs {
		if s == "" {
			return fmt.Errorf("%w: scope %q has an empty segment", ErrInvalidKey, scope)
		}
	}
	return nil
}

// scopeChain returns the scopes an entry of scope depends on, coarse to fine:
// "" (the whole connection), then each ':'-prefix, then scope itself.
func scopeChain(scope string) []string {
	chain := []string{""}
	if scope == "" {
		return chain
	}
	for i := 0; i < len(scope); i++ {
		if scope[i] == ':' {
			chain = append(chain, scope[:i])
		}
	}
	return append(chain, scope)
}

// genKey is the store key of the generation token of (conn, scope). The
// "v1g" namespace cannot collide with Key renderings ("v1") or AuxKey ("aux").
func genKey(conn, scope string) string {
	var b strings.Builder
	b.Grow(12 + len(conn) + len(scope))
	b.WriteString("pg:v1g:{")
	escapeTo(&b, conn)
	b.WriteString("}:")
	b.WriteString(scope)
	return b.String()
}

// AuxKey renders a store key for data that is not a read-through value but
// must still be confined to a connection: idempotency records, locks,
// sessions, the differ's last-known state. It renders as
//
//	pg:aux:{<conn>}:<purpose>:<part>:<part>...
//
// with every component escaped as in Key, so it never collides with a Key or
// with another purpose's keys, and shares the connection's Redis Cluster slot.
// Invalidate does not touch aux keys.
func AuxKey(conn, purpose string, parts ...string) string {
	var b strings.Builder
	b.WriteString("pg:aux:{")
	escapeTo(&b, conn)
	b.WriteString("}:")
	escapeTo(&b, purpose)
	for _, p := range parts {
		b.WriteByte(':')
		escapeTo(&b, p)
	}
	return b.String()
}

func escapeTo(b *strings.Builder, s string) {
	if !strings.ContainsAny(s, "%:{}") {
		b.WriteString(s)
		return
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			b.WriteString("%25")
		case ':':
			b.WriteString("%3A")
		case '{':
			b.WriteString("%7B")
		case '}':
			b.WriteString("%7D")
		default:
			b.WriteByte(c)
		}
	}
}
