package reqid_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"procoregraph/reqid"
)

var newID = regexp.MustCompile(`^[0-9a-f]{16}$`)

func TestMiddleware(t *testing.T) {
	tests := []struct {
		name     string
		incoming []string // X-Request-Id values sent; nil sends none
		keep     bool     // the incoming id is kept
	}{
		{"MissingIdIsGenerated", nil, false},
		{"EmptyIdIsReplaced", []string{""}, false},
		{"WellFormedIdIsKept", []string{"req-1234.abc:XYZ_9"}, true},
		{"EightCharacterIdIsKept", []string{"abcdefgh"}, true},
		{"128CharacterIdIsKept", []string{strings.Repeat("a", 128)}, true},
		{"UUIDIsKept", []string{"3f2504e0-4f89-11d3-9a0c-0305e82c3301"}, true},
		{"ShortIdIsReplaced", []string{"abc1234"}, false},
		{"LongIdIsReplaced", []string{strings.Repeat("a", 129)}, false},
		{"IdWithSpaceIsReplaced", []string{"abc def ghi"}, false},
		{"IdWithNewlineIsReplaced", []string{"abcdefgh\nlevel=ERROR msg=forged"}, false},
		{"IdWithQuoteIsReplaced", []string{`abcdefgh"},"x":"`}, false},
		{"IdWithSlashIsReplaced", []string{"abcd/efgh"}, false},
		{"NonASCIIIdIsReplaced", []string{"abcdéfghij"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen string
			h := reqid.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = reqid.From(r.Context())
			}))
			req := httptest.NewRequest(http.MethodGet, "/graphql", nil)
			for _, v := range tt.incoming {
				req.Header.Add(reqid.Header, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			echoed := rec.Header().Get(reqid.Header)
			if echoed == "" {
				t.Fatal("no X-Request-Id in the response")
			}
			if seen != echoed {
				t.Fatalf("handler saw %q, response says %q", seen, echoed)
			}
			if tt.keep {
				if echoed != tt.incoming[0] {
					t.Fatalf("id = %q, want the incoming %q", echoed, tt.incoming[0])
				}
				return
			}
			if !newID.MatchString(echoed) {
				t.Fatalf("id = %q, want a fresh 16-hex-digit id", echoed)
			}
		})
	}
}

func TestMiddlewareGivesEachRequestItsOwnID(t *testing.T) {
	h := reqid.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	seen := map[string]bool{}
	for range 50 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		id := rec.Header().Get(reqid.Header)
		if seen[id] {
			t.Fatalf("id %q given twice", id)
		}
		seen[id] = true
	}
}

func TestNew(t *testing.T) {
	a, b := reqid.New(), reqid.New()
	if !newID.MatchString(a) || !newID.MatchString(b) {
		t.Fatalf("New() = %q, %q: want 16 hex characters", a, b)
	}
	if a == b {
		t.Fatal("New() returned the same id twice")
	}
}

func TestWithFrom(t *testing.T) {
	t.Run("MissingIdIsEmpty", func(t *testing.T) {
		if got := reqid.From(context.Background()); got != "" {
			t.Fatalf("From = %q", got)
		}
	})
	t.Run("StoredIdIsReturned", func(t *testing.T) {
		if got := reqid.From(reqid.With(context.Background(), "abc")); got != "abc" {
			t.Fatalf("From = %q", got)
		}
	})
}
