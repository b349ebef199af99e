package cache

import (
	"errors"
	"slices"
	"testing"
)

func TestKeyRendering(t *testing.T) {
	tests := []struct {
		name string
		key  Key
		want string
	}{
		{name: "RendersTheDocumentedScheme", key: Key{Conn: "c42", User: "7", Kind: "rfis", Scope: "project:123:rfis", Params: "first=200"},
			want: "pg:v1:{c42}:7:rfis:project:123:rfis:first=200"},
		{name: "EscapesSeparatorsAndBracesOutsideTheScope", key: Key{Conn: "a:{b}", User: "u:1", Kind: "k%", Scope: "s", Params: "x:y"},
			want: "pg:v1:{a%3A%7Bb%7D}:u%3A1:k%25:s:x%3Ay"},
		{name: "EmptyUserAndScopeKeepTheirPlaces", key: Key{Conn: "c", Kind: "companies"},
			want: "pg:v1:{c}::companies::"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.key.String(); got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("DifferentKeysNeverRenderAlike", func(t *testing.T) {
		pairs := [][2]Key{
			{{Conn: "a:b", User: "c", Kind: "k"}, {Conn: "a", User: "b:c", Kind: "k"}},
			{{Conn: "c", Kind: "k", Scope: "p:1", Params: "x"}, {Conn: "c", Kind: "k", Scope: "p", Params: "1:x"}},
			{{Conn: "c", User: "u", Kind: "k:s"}, {Conn: "c", User: "u", Kind: "k", Scope: "s"}},
			{{Conn: "c%3A", Kind: "k"}, {Conn: "c:", Kind: "k"}},
		}
		for _, p := range pairs {
			if p[0].String() == p[1].String() {
				t.Errorf("%+v and %+v both render %q", p[0], p[1], p[0].String())
			}
		}
	})

	t.Run("TokensAndAuxKeysLiveInOtherNamespacesWithTheSameHashTag", func(t *testing.T) {
		v := Key{Conn: "c", User: "gen", Kind: "project", Scope: "123", Params: "rfis"}.String()
		g := genKey("c", "project:123:rfis")
		a := AuxKey("c", "idem", "create-rfi", "k:1")
		if v == g || v == a || g == a {
			t.Fatalf("collision among %q, %q, %q", v, g, a)
		}
		for _, k := range []string{v, g, a} {
			if hashTag(k) != "c" {
				t.Fatalf("%q has hash tag %q, want the connection", k, hashTag(k))
			}
		}
		if a != "pg:aux:{c}:idem:create-rfi:k%3A1" {
			t.Fatalf("AuxKey = %q", a)
		}
	})

	t.Run("ScopeChainRunsFromConnectionToLeaf", func(t *testing.T) {
		if got, want := scopeChain("project:123:rfis"), []string{"", "project", "project:123", "project:123:rfis"}; !slices.Equal(got, want) {
			t.Fatalf("scopeChain = %q, want %q", got, want)
		}
		if got := scopeChain(""); !slices.Equal(got, []string{""}) {
			t.Fatalf("scopeChain(\"\") = %q", got)
		}
	})

	t.Run("InvalidKeysAreRefused", func(t *testing.T) {
		for _, k := range []Key{
			{Kind: "rfis"},
			{Conn: "c"},
			{Conn: "c", Kind: "k", Scope: ":project"},
			{Conn: "c", Kind: "k", Scope: "project:"},
			{Conn: "c", Kind: "k", Scope: "a{b}"},
			{Conn: "c", Kind: "k", Scope: "1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16:17"},
		} {
			if err := k.validate(); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("validate(%+v) = %v, want ErrInvalidKey", k, err)
			}
		}
	})
}

// hashTag returns what Redis Cluster hashes: the text of the first {...}.
func hashTag(key string) string {
	for i := 0; i < len(key); i++ {
		if key[i] == '{' {
			for j := i + 1; j < len(key); j++ {
				if key[j] == '}' {
					return key[i+1 : j]
				}
			}
		}
	}
	return key
}
