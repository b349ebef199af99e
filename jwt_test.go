package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// TestIdentityProviderTokens: with JWT_JWKS_URL, JWT_ISSUER and
// JWT_AUDIENCE, a bearer token from the company's identity provider (as a
// federation router forwards it) acts within the scopes it grants; tokens
// that are expired, for another audience or issuer, signed by another key,
// signed with HMAC over the public key (algorithm confusion) or granting no
// scope are refused with 401.
func TestIdentityProviderTokens(t *testing.T) {
	key, idpURL := startIdentityProvider(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}

	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 3}})
	env["JWT_JWKS_URL"] = idpURL + "/.well-known/jwks.json"
	env["JWT_ISSUER"] = "https://idp.example"
	env["JWT_AUDIENCE"] = "procoregraph"
	env["JWT_SCOPE_PREFIX"] = "procoregraph:"
	g := startGateway(t, env)

	now := time.Now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": "https://idp.example", "aud": "procoregraph", "sub": "router-user-42",
			"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "scope": "openid procoregraph:read"}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(c jwt.MapClaims, k *rsa.PrivateKey) string { return signRS256(t, c, k) }

	t.Run("ReadTokenQueries", func(t *testing.T) {
		status, resp := rawPost(t, g.URL, `{ viewer { id } projects(first: 5) { totalCount } }`, nil, bearerHeader(sign(claims(nil), key)))
		if status != http.StatusOK || len(resp.Errors) > 0 || !strings.Contains(string(resp.Data), `"totalCount":2`) {
			t.Fatalf("status %d, %s %+v", status, resp.Data, resp.Errors)
		}
	})
	t.Run("ReadTokenCannotWrite", func(t *testing.T) {
		sb.ResetStats()
		status, resp := rawPost(t, g.URL, `mutation { closeRFI(input: {projectId: "1", rfiId: "2"}) { userErrors { code } } }`, nil,
			bearerHeader(sign(claims(nil), key)))
		if status != http.StatusForbidden || firstCode(resp) != "FORBIDDEN" || sb.Stats().Total != 0 {
			t.Fatalf("status %d, %+v, %d Procore calls", status, resp.Errors, sb.Stats().Total)
		}
		recs := g.auditRecords(t)
		if last := recs[len(recs)-1]; last.Principal.Kind != "jwt" || last.Principal.Name != "router-user-42" || last.Outcome != "forbidden" {
			t.Fatalf("audit record %+v", last)
		}
	})
	hmac := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil))
	hmac.Header["kid"] = "idp-1"
	confused, _ := hmac.SignedString(key.PublicKey.N.Bytes())
	for _, c := range []struct{ name, token string }{
		{"Expired", sign(claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }), key)},
		{"OtherAudience", sign(claims(func(c jwt.MapClaims) { c["aud"] = "another-api" }), key)},
		{"OtherIssuer", sign(claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), key)},
		{"OtherKey", sign(claims(nil), other)},
		{"NoExpiry", sign(claims(func(c jwt.MapClaims) { delete(c, "exp") }), key)},
		{"NoGatewayScope", sign(claims(func(c jwt.MapClaims) { c["scope"] = "openid read" }), key)},
		{"HMACOverThePublicKey", confused},
	} {
		t.Run(c.name+"Is401", func(t *testing.T) {
			status, resp := rawPost(t, g.URL, `{ viewer { id } }`, nil, bearerHeader(c.token))
			if status != http.StatusUnauthorized || firstCode(resp) != "UNAUTHENTICATED" {
				t.Fatalf("status %d, %+v", status, resp.Errors)
			}
		})
	}
}

// startIdentityProvider serves a JWKS (at any path) holding one fresh RSA
// key with kid "idp-1", as a company's identity provider would, and returns
// the private key and the server's URL.
func startIdentityProvider(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]any{{
		"kty": "RSA", "kid": "idp-1", "use": "sig", "alg": "RS256",
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
	}}})
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(idp.Close)
	return key, idp.URL
}

// signRS256 signs claims with key as RS256 under kid "idp-1".
func signRS256(t *testing.T, c jwt.MapClaims, key *rsa.PrivateKey) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = "idp-1"
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
