package principal_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"procoregraph/principal"
)

func TestParseScopes(t *testing.T) {
	all := []principal.Scope{principal.ScopeRead, principal.ScopeWrite, principal.ScopeSubscribe}
	tests := []struct {
		name string
		in   string
		want []principal.Scope
	}{
		{"EmptyIsNoScope", "", nil},
		{"OneScope", "read", []principal.Scope{principal.ScopeRead}},
		{"CommaSeparated", "read,write", []principal.Scope{principal.ScopeRead, principal.ScopeWrite}},
		{"SpaceSeparated", "read subscribe", []principal.Scope{principal.ScopeRead, principal.ScopeSubscribe}},
		{"MixedSeparatorsAndBlanks", " read, ,write  subscribe,", all},
		{"CaseIsIgnored", "READ,Write", []principal.Scope{principal.ScopeRead, principal.ScopeWrite}},
		{"DuplicatesAreDropped", "read,read,write,read", []principal.Scope{principal.ScopeRead, principal.ScopeWrite}},
		{"OrderIsKept", "subscribe,read", []principal.Scope{principal.ScopeSubscribe, principal.ScopeRead}},
		{"StarIsAll", "*", all},
		{"StarWithOthersIsAll", "read,*", all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := principal.ParseScopes(tt.in)
			if err != nil {
				t.Fatalf("ParseScopes(%q): %v", tt.in, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("ParseScopes(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseScopesRefusesUnknownNames(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		unknown string
	}{
		{"UnknownNameIsReported", "admin", "admin"},
		{"FirstUnknownNameIsReported", "read,admin,root", "admin"},
		{"MisspelledScopeIsReported", "read,wirte", "wirte"},
		{"UnknownNameBeforeStarIsReported", "admin,*", "admin"},
		// "*" means all, but an unknown name beside it is still an unknown
		// name: ParseScopes "reports the first unknown name".
		{"UnknownNameAfterStarIsReported", "*,admin", "admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := principal.ParseScopes(tt.in)
			if err == nil {
				t.Fatalf("ParseScopes(%q) = %v, want an error naming %q", tt.in, got, tt.unknown)
			}
			var ue *principal.UnknownScopeError
			if !errors.As(err, &ue) {
				t.Fatalf("ParseScopes(%q) error %T (%v), want *UnknownScopeError", tt.in, err, err)
			}
			if ue.Name != tt.unknown {
				t.Fatalf("ParseScopes(%q) reported %q, want %q", tt.in, ue.Name, tt.unknown)
			}
		})
	}
}

func TestParseScopesStarIsNotShared(t *testing.T) {
	got, err := principal.ParseScopes("*")
	if err != nil {
		t.Fatal(err)
	}
	got[0] = "mutated"
	if principal.AllScopes[0] != principal.ScopeRead {
		t.Fatalf("changing the parsed scopes changed AllScopes: %v", principal.AllScopes)
	}
}

func TestCan(t *testing.T) {
	p := principal.Principal{Scopes: []principal.Scope{principal.ScopeRead, principal.ScopeSubscribe}}
	tests := []struct {
		name  string
		p     principal.Principal
		scope principal.Scope
		want  bool
	}{
		{"HeldScopeIsGranted", p, principal.ScopeRead, true},
		{"OtherHeldScopeIsGranted", p, principal.ScopeSubscribe, true},
		{"MissingScopeIsDenied", p, principal.ScopeWrite, false},
		{"ZeroPrincipalHasNoScope", principal.Principal{}, principal.ScopeRead, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Can(tt.scope); got != tt.want {
				t.Fatalf("Can(%q) = %v, want %v", tt.scope, got, tt.want)
			}
		})
	}
}

func TestAllowsProject(t *testing.T) {
	tests := []struct {
		name     string
		projects []int64
		id       int64
		want     bool
	}{
		{"NilAllowlistAllowsEveryProject", nil, 42, true},
		{"ListedProjectIsAllowed", []int64{7, 42}, 42, true},
		{"UnlistedProjectIsDenied", []int64{7, 42}, 8, false},
		{"EmptyAllowlistDeniesEveryProject", []int64{}, 42, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := principal.Principal{Projects: tt.projects}
			if got := p.AllowsProject(tt.id); got != tt.want {
				t.Fatalf("AllowsProject(%d) with %v = %v, want %v", tt.id, tt.projects, got, tt.want)
			}
		})
	}
}

func TestAuthenticated(t *testing.T) {
	tests := []struct {
		name string
		kind principal.Kind
		want bool
	}{
		{"ZeroKindIsNotAuthenticated", "", false},
		{"AnonymousIsNotAuthenticated", principal.KindAnonymous, false},
		{"APIKeyIsAuthenticated", principal.KindAPIKey, true},
		{"ProcoreUserIsAuthenticated", principal.KindProcoreUser, true},
		{"BrowserSessionIsAuthenticated", principal.KindBrowserSession, true},
		{"JWTIsAuthenticated", principal.KindJWT, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (principal.Principal{Kind: tt.kind}).Authenticated(); got != tt.want {
				t.Fatalf("Authenticated() for kind %q = %v, want %v", tt.kind, got, tt.want)
			}
		})
	}
}

func TestRef(t *testing.T) {
	tests := []struct {
		name string
		p    principal.Principal
		want principal.Ref
	}{
		{"ZeroPrincipalIsAnonymous", principal.Principal{}, principal.Ref{Kind: principal.KindAnonymous}},
		{
			"PersonKeepsKindNameAndUser",
			principal.Principal{Kind: principal.KindProcoreUser, Name: "ann@example.com", ProcoreUserID: 99,
				Scopes: principal.AllScopes, Projects: []int64{1}, SessionID: "abc", ViaCookie: true},
			principal.Ref{Kind: principal.KindProcoreUser, Name: "ann@example.com", ProcoreUserID: 99},
		},
		{
			"APIKeyHasNoUser",
			principal.Principal{Kind: principal.KindAPIKey, Name: "bi-sync"},
			principal.Ref{Kind: principal.KindAPIKey, Name: "bi-sync"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Ref(); got != tt.want {
				t.Fatalf("Ref() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestWithFrom(t *testing.T) {
	t.Run("MissingPrincipalIsZeroAnonymous", func(t *testing.T) {
		p := principal.From(context.Background())
		if p.Kind != "" || p.Authenticated() || p.Can(principal.ScopeRead) || p.Name != "" {
			t.Fatalf("From(empty ctx) = %+v, want the zero Principal", p)
		}
	})
	t.Run("StoredPrincipalIsReturned", func(t *testing.T) {
		want := principal.Principal{Kind: principal.KindAPIKey, Name: "k", Scopes: []principal.Scope{principal.ScopeRead}, Projects: []int64{3}}
		got := principal.From(principal.With(context.Background(), want))
		if got.Kind != want.Kind || got.Name != want.Name || !slices.Equal(got.Scopes, want.Scopes) || !slices.Equal(got.Projects, want.Projects) {
			t.Fatalf("From(With(p)) = %+v, want %+v", got, want)
		}
	})
	t.Run("InnerPrincipalWins", func(t *testing.T) {
		ctx := principal.With(context.Background(), principal.Principal{Name: "outer"})
		ctx = principal.With(ctx, principal.Principal{Name: "inner"})
		if got := principal.From(ctx).Name; got != "inner" {
			t.Fatalf("From = %q, want inner", got)
		}
	})
}
