package apikeys_test

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"procoregraph/apikeys"
	"procoregraph/principal"
)

func hashOf(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// mint returns a fresh key secret; it fails the test if Mint does.
func mint(t *testing.T, name string) string {
	t.Helper()
	secret, _, err := apikeys.Mint(name, []principal.Scope{principal.ScopeRead}, nil, apikeys.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

func TestParse(t *testing.T) {
	a, b := mint(t, "a"), mint(t, "b")
	tests := []struct {
		name      string
		in        string
		wantNames []string
	}{
		{"EmptyHoldsNoKey", "", nil},
		{"BlankEntriesAreSkipped", " ; \n ;", nil},
		{"OneEntry", "bi-sync:read,subscribe::" + hashOf(a), []string{"bi-sync"}},
		{"SemicolonSeparated", "bi-sync:read::" + hashOf(a) + ";field.app_1:read,write:562949953421312:" + hashOf(b), []string{"bi-sync", "field.app_1"}},
		{"NewlineSeparated", "bi-sync:read::" + hashOf(a) + "\r\n  field-app:write:1,2:" + hashOf(b) + "\n", []string{"bi-sync", "field-app"}},
		{"SpaceSeparatedScopes", "bi-sync:read subscribe::" + hashOf(a), []string{"bi-sync"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := apikeys.Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if set.Len() != len(tt.wantNames) {
				t.Fatalf("Len() = %d, want %d", set.Len(), len(tt.wantNames))
			}
		})
	}
}

func TestParseEntryFields(t *testing.T) {
	secret := mint(t, "x")
	set, err := apikeys.Parse("field-app:read,write:42, 7,42:" + hashOf(secret))
	if err != nil {
		t.Fatal(err)
	}
	k, ok := set.Lookup(secret)
	if !ok {
		t.Fatal("the configured key is not found")
	}
	t.Run("NameIsKept", func(t *testing.T) {
		if k.Name != "field-app" {
			t.Fatalf("Name = %q", k.Name)
		}
	})
	t.Run("ScopesAreParsed", func(t *testing.T) {
		if want := []principal.Scope{principal.ScopeRead, principal.ScopeWrite}; !slices.Equal(k.Scopes, want) {
			t.Fatalf("Scopes = %v, want %v", k.Scopes, want)
		}
	})
	t.Run("ProjectsAreSortedAndUnique", func(t *testing.T) {
		if want := []int64{7, 42}; !slices.Equal(k.Projects, want) {
			t.Fatalf("Projects = %v, want %v", k.Projects, want)
		}
	})
	t.Run("PrincipalIsTheKey", func(t *testing.T) {
		p := k.Principal()
		if p.Kind != principal.KindAPIKey || p.Name != "field-app" || !p.Can(principal.ScopeWrite) || p.Can(principal.ScopeSubscribe) {
			t.Fatalf("Principal() = %+v", p)
		}
		if !p.AllowsProject(7) || p.AllowsProject(8) {
			t.Fatalf("Principal() allowlist = %v, want [7 42]", p.Projects)
		}
		if p.ProcoreUserID != 0 || p.SessionID != "" || p.ViaCookie {
			t.Fatalf("Principal() of a service key has person fields: %+v", p)
		}
	})
	t.Run("PrincipalDoesNotShareTheKeysSlices", func(t *testing.T) {
		p := k.Principal()
		p.Scopes[0] = principal.ScopeSubscribe
		p.Projects[0] = 1
		again, _ := set.Lookup(secret)
		if again.Scopes[0] != principal.ScopeRead || again.Projects[0] != 7 {
			t.Fatalf("changing a principal changed the configured key: %+v", again)
		}
	})
	t.Run("NoProjectsMeansEveryProject", func(t *testing.T) {
		set, err := apikeys.Parse("all:read::" + hashOf(secret))
		if err != nil {
			t.Fatal(err)
		}
		k, _ := set.Lookup(secret)
		if k.Projects != nil || !k.Principal().AllowsProject(123456) {
			t.Fatalf("Projects = %#v, want nil (every project)", k.Projects)
		}
	})
}

func TestParseRefusals(t *testing.T) {
	secret := mint(t, "x")
	h := hashOf(secret)
	tests := []struct {
		name string
		in   string
		// want are substrings the error must contain.
		want []string
	}{
		{"TooFewFieldsIsRefused", "bi-sync:read:" + h, []string{"entry 1", "4 or 5 fields"}},
		{"TooManyFieldsIsRefused", "bi-sync:read::::" + h, []string{"entry 1", "4 or 5 fields"}},
		{"UnknownOptionIsRefused", "bi-sync:read::" + h + ":burst=5", []string{"entry 1", `unknown option "burst"`}},
		{"NonPositiveOptionIsRefused", "bi-sync:read::" + h + ":cost=0", []string{"entry 1", "cost=0"}},
		{"BareKeyIsRefusedAsAKey", secret, []string{"entry 1", "looks like a key"}},
		{"EmptyNameIsRefused", ":read::" + h, []string{"entry 1", "name"}},
		{"NameWithBadCharacterIsRefused", "bi sync!:read::" + h, []string{"entry 1", "bi sync!"}},
		{"NameOver64CharactersIsRefused", strings.Repeat("n", 65) + ":read::" + h, []string{"entry 1", "64"}},
		{"UnknownScopeIsRefused", "bi-sync:read,admin::" + h, []string{"entry 1", "bi-sync", "admin"}},
		{"NoScopeIsRefused", "bi-sync:::" + h, []string{"entry 1", "bi-sync", "no scope"}},
		{"NonNumericProjectIsRefused", "bi-sync:read:12,abc:" + h, []string{"entry 1", "bi-sync", "abc"}},
		{"ZeroProjectIsRefused", "bi-sync:read:0:" + h, []string{"entry 1", "positive"}},
		{"NegativeProjectIsRefused", "bi-sync:read:-5:" + h, []string{"entry 1", "positive"}},
		{"UppercaseHashIsRefused", "bi-sync:read::" + strings.ToUpper(h), []string{"entry 1", "bi-sync", "SHA-256"}},
		{"ShortHashIsRefused", "bi-sync:read::" + h[:63], []string{"entry 1", "SHA-256"}},
		{"DuplicateNameIsRefused", "dup:read::" + h + ";dup:read::" + hashOf(mint(t, "y")), []string{"entry 2", `"dup"`, "twice"}},
		{"DuplicateHashIsRefused", "one:read::" + h + ";two:read::" + h, []string{"entry 2", "two", "twice"}},
		{"PositionCountsOnlyNonBlankEntries", "one:read::" + h + ";;\n;bad", []string{"entry 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := apikeys.Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %d key(s), want an error", tt.in, set.Len())
			}
			if set != nil {
				t.Fatalf("Parse returned a set with an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not contain %q", err, w)
				}
			}
		})
	}

	t.Run("EveryMalformedEntryIsReported", func(t *testing.T) {
		_, err := apikeys.Parse("good:read::" + h + ";bad1;bad2:read:x:" + hashOf("other"))
		if err == nil {
			t.Fatal("want an error")
		}
		for _, w := range []string{"entry 2", "entry 3"} {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("error %q does not report %s", err, w)
			}
		}
		if strings.Contains(err.Error(), "entry 1") {
			t.Fatalf("error %q reports the good entry", err)
		}
	})
}

// A key pasted anywhere into API_KEYS must never be repeated in the error
// ("a key itself is never part of a message").
func TestParseErrorsNeverContainAKey(t *testing.T) {
	secret := mint(t, "x")
	h := hashOf(secret)
	tests := []struct {
		name string
		in   string
	}{
		{"KeyAloneIsNotEchoed", secret},
		{"KeyWithNameIsNotEchoed", "bi-sync:" + secret},
		{"KeyInPlaceOfHashIsNotEchoed", "bi-sync:read::" + secret},
		{"KeyInPlaceOfScopesIsNotEchoed", "bi-sync:" + secret + "::" + h},
		{"KeyInPlaceOfProjectsIsNotEchoed", "bi-sync:read:" + secret + ":" + h},
		{"KeyInPlaceOfNameIsNotEchoed", secret + ":read::not-a-hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := apikeys.Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse accepted an entry holding a key")
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), secret[len(apikeys.Prefix):]) {
				t.Fatalf("the error repeats the key: %v", err)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	a, b := mint(t, "a"), mint(t, "b")
	set, err := apikeys.Parse("alpha:read::" + hashOf(a) + ";beta:write::" + hashOf(b))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		set      *apikeys.Set
		secret   string
		wantName string // "" means not found
	}{
		{"FirstKeyIsFound", set, a, "alpha"},
		{"SecondKeyIsFound", set, b, "beta"},
		{"UnknownKeyIsNotFound", set, mint(t, "c"), ""},
		{"KeyWithExtraCharacterIsNotFound", set, a + "x", ""},
		{"TruncatedKeyIsNotFound", set, a[:len(a)-1], ""},
		{"KeyWithoutPrefixIsNotFound", set, strings.TrimPrefix(a, apikeys.Prefix), ""},
		{"HashIsNotAKey", set, hashOf(a), ""},
		{"EmptyIsNotFound", set, "", ""},
		{"NilSetFindsNothing", nil, a, ""},
		{"EmptySetFindsNothing", &apikeys.Set{}, a, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, ok := tt.set.Lookup(tt.secret)
			if ok != (tt.wantName != "") {
				t.Fatalf("Lookup found = %v, want %v", ok, tt.wantName != "")
			}
			if k.Name != tt.wantName {
				t.Fatalf("Lookup name = %q, want %q", k.Name, tt.wantName)
			}
		})
	}
}

func TestLenOfNilSetIsZero(t *testing.T) {
	var s *apikeys.Set
	if s.Len() != 0 {
		t.Fatalf("Len() = %d", s.Len())
	}
}

func TestMint(t *testing.T) {
	t.Run("KeyHasPrefixAnd256Bits", func(t *testing.T) {
		secret, _, err := apikeys.Mint("k", []principal.Scope{principal.ScopeRead}, nil, apikeys.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, apikeys.Prefix) || len(secret) != len(apikeys.Prefix)+43 {
			t.Fatalf("secret %q: want pgk_ and 43 base64url characters", secret)
		}
		for _, r := range secret[len(apikeys.Prefix):] {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				t.Fatalf("secret %q has a non-base64url character %q", secret, r)
			}
		}
	})
	t.Run("KeysAreDistinct", func(t *testing.T) {
		if mint(t, "k") == mint(t, "k") {
			t.Fatal("two minted keys are equal")
		}
	})
	t.Run("EntryHoldsOnlyTheHash", func(t *testing.T) {
		secret, k, err := apikeys.Mint("k", []principal.Scope{principal.ScopeRead}, nil, apikeys.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		e := k.Entry()
		if strings.Contains(e, secret) || strings.Contains(e, secret[len(apikeys.Prefix):]) {
			t.Fatalf("Entry() %q holds the key", e)
		}
		if !strings.HasSuffix(e, ":"+hashOf(secret)) {
			t.Fatalf("Entry() %q does not end with the key's SHA-256", e)
		}
	})

	refusals := []struct {
		name   string
		kname  string
		scopes []principal.Scope
	}{
		{"EmptyNameIsRefused", "", []principal.Scope{principal.ScopeRead}},
		{"BadNameIsRefused", "a:b", []principal.Scope{principal.ScopeRead}},
		{"LongNameIsRefused", strings.Repeat("n", 65), []principal.Scope{principal.ScopeRead}},
		{"NoScopeIsRefused", "k", nil},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			secret, _, err := apikeys.Mint(tt.kname, tt.scopes, nil, apikeys.Limits{})
			if err == nil {
				t.Fatal("Mint succeeded")
			}
			if secret != "" {
				t.Fatalf("Mint returned a key with an error")
			}
		})
	}
}

// The entry Mint prints, once configured, makes the printed key
// authenticate as the same name, scopes and projects.
func TestMintEntryRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		kname    string
		scopes   string
		projects string
	}{
		{"ReadOnlyEveryProject", "bi-sync", "read", ""},
		{"AllScopes", "ops.admin", "*", ""},
		{"WithProjectAllowlist", "field_app-2", "read,write", "562949953421312,7"},
		{"SubscribeOneProject", "dash", "subscribe", "42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scopes, err := principal.ParseScopes(tt.scopes)
			if err != nil {
				t.Fatal(err)
			}
			projects, err := apikeys.ParseProjects(tt.projects)
			if err != nil {
				t.Fatal(err)
			}
			secret, minted, err := apikeys.Mint(tt.kname, scopes, projects, apikeys.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			set, err := apikeys.Parse(minted.Entry())
			if err != nil {
				t.Fatalf("Parse(Entry()): %v", err)
			}
			k, ok := set.Lookup(secret)
			if !ok {
				t.Fatal("the minted key does not match its own entry")
			}
			if k.Name != minted.Name || !slices.Equal(k.Scopes, minted.Scopes) || !slices.Equal(k.Projects, minted.Projects) {
				t.Fatalf("configured key %+v, want %+v", k, minted)
			}
			if k.Entry() != minted.Entry() {
				t.Fatalf("Entry() after parsing %q, want %q", k.Entry(), minted.Entry())
			}
		})
	}
}

func TestParseProjects(t *testing.T) {
	ok := []struct {
		name string
		in   string
		want []int64
	}{
		{"EmptyIsNoAllowlist", "", nil},
		{"BlankIsNoAllowlist", "   ", nil},
		{"OneProject", "42", []int64{42}},
		{"SortedAndDeduplicated", "9, 3 ,9,562949953421312", []int64{3, 9, 562949953421312}},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			got, err := apikeys.ParseProjects(tt.in)
			if err != nil {
				t.Fatalf("ParseProjects(%q): %v", tt.in, err)
			}
			if !slices.Equal(got, tt.want) || (tt.want == nil) != (got == nil) {
				t.Fatalf("ParseProjects(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
	bad := []struct {
		name string
		in   string
	}{
		{"LetterIsRefused", "12,x"},
		{"ZeroIsRefused", "0"},
		{"NegativeIsRefused", "-1"},
		{"EmptyItemIsRefused", "1,,2"},
		{"TrailingCommaIsRefused", "1,"},
		{"OverflowIsRefused", "99999999999999999999"},
		{"FractionIsRefused", "1.5"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			got, err := apikeys.ParseProjects(tt.in)
			if err == nil {
				t.Fatalf("ParseProjects(%q) = %v, want an error", tt.in, got)
			}
		})
	}
}

func TestCompanyOptions(t *testing.T) {
	h := hashOf(apikeys.Prefix + strings.Repeat("c", 43))
	t.Run("EntryListsItsCompanies", func(t *testing.T) {
		set, err := apikeys.Parse("bi:read::" + h + ":company=9,cpm=5,company=7,company=9")
		if err != nil {
			t.Fatal(err)
		}
		k, _ := set.Lookup(apikeys.Prefix + strings.Repeat("c", 43))
		if got := k.Principal().Companies; !slices.Equal(got, []int64{7, 9}) {
			t.Fatalf("companies %v, want [7 9]", got)
		}
		if !strings.HasSuffix(k.Entry(), ":cpm=5,company=7,company=9") {
			t.Fatalf("entry %q does not round-trip its options", k.Entry())
		}
	})
	t.Run("NoCompanyOptionIsEveryCompany", func(t *testing.T) {
		set, _ := apikeys.Parse("bi:read::" + h)
		k, _ := set.Lookup(apikeys.Prefix + strings.Repeat("c", 43))
		if k.Principal().Companies != nil {
			t.Fatalf("companies %v, want nil", k.Principal().Companies)
		}
	})
	t.Run("ErrBadCompany", func(t *testing.T) {
		for _, o := range []string{"company=0", "company=x", "company=-3"} {
			if _, err := apikeys.Parse("bi:read::" + h + ":" + o); err == nil || !strings.Contains(err.Error(), "company=N") {
				t.Fatalf("%s: error %v, want one asking for company=N", o, err)
			}
		}
	})
	t.Run("MintedKeyCarriesCompanies", func(t *testing.T) {
		secret, k, err := apikeys.Mint("bi", []principal.Scope{principal.ScopeRead}, nil, apikeys.Limits{Companies: []int64{5, 3, 5}})
		if err != nil {
			t.Fatal(err)
		}
		set, err := apikeys.Parse(k.Entry())
		if err != nil {
			t.Fatal(err)
		}
		got, ok := set.Lookup(secret)
		if !ok || !slices.Equal(got.Principal().Companies, []int64{3, 5}) {
			t.Fatalf("minted key's companies %v (found %v), want [3 5]", got.Principal().Companies, ok)
		}
	})
}

func TestSubscriptionsOption(t *testing.T) {
	secret := apikeys.Prefix + strings.Repeat("s", 43)
	h := hashOf(secret)
	for _, tc := range []struct {
		name, options string
		want          int
		wantErr       string
	}{
		{"SubsSetsTheKeysOwnBound", "subs=5000", 5000, ""},
		{"NoSubsLeavesTheGatewaysBound", "cost=10", 0, ""},
		{"ZeroSubsIsRefused", "subs=0", 0, "subs=N"},
		{"WordSubsIsRefused", "subs=many", 0, "subs=N"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, err := apikeys.Parse("wall:subscribe::" + h + ":" + tc.options)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			k, _ := set.Lookup(secret)
			if got := k.Principal().MaxSubscriptions; got != tc.want {
				t.Fatalf("MaxSubscriptions %d, want %d", got, tc.want)
			}
			if !strings.HasSuffix(k.Entry(), ":"+tc.options) {
				t.Fatalf("entry %q does not round-trip %q", k.Entry(), tc.options)
			}
		})
	}
}
