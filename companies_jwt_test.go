package main

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"procoregraph/sandbox/data"
)

// TestIdentityProviderTokenCompanies: with JWT_COMPANIES_CLAIM, a token
// works in the companies its claim lists and is refused in the others
// before any Procore call; a token without the claim is refused.
func TestIdentityProviderTokenCompanies(t *testing.T) {
	key, idpURL := startIdentityProvider(t)
	sb, g, a, b := startTwoCompanies(t, data.Options{Companies: 2, ProjectsPerCompany: 2, ItemsPerProject: 1}, map[string]string{
		"JWT_JWKS_URL": idpURL, "JWT_ISSUER": "https://idp.example", "JWT_AUDIENCE": "procoregraph",
		"JWT_COMPANIES_CLAIM": "procore_companies",
	})
	sign := func(companies any) string {
		c := jwt.MapClaims{"iss": "https://idp.example", "aud": "procoregraph", "sub": "router-user-42",
			"exp": time.Now().Add(5 * time.Minute).Unix(), "scope": "read"}
		if companies != nil {
			c["procore_companies"] = companies
		}
		return signRS256(t, c, key)
	}
	as, bs := strconv.FormatInt(a, 10), strconv.FormatInt(b, 10)
	for _, c := range []struct {
		name    string
		token   string
		company int64
		status  int
		code    string
	}{
		{"ListedCompanyAnswers", sign([]any{float64(a)}), a, http.StatusOK, ""},
		{"ListedAsStringAnswers", sign(as + " " + bs), b, http.StatusOK, ""},
		{"ErrUnlistedCompanyIsForbidden", sign([]any{as}), b, http.StatusForbidden, "FORBIDDEN"},
		{"ErrNoClaimIsUnauthenticated", sign(nil), a, http.StatusUnauthorized, "UNAUTHENTICATED"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sb.ResetStats()
			h := companyHeader(c.company)
			h.Set("Authorization", "Bearer "+c.token)
			status, r := postInCompany(t, g, h, `{ projects { totalCount } }`)
			if status != c.status || c.code != "" && firstCode(r) != c.code || c.code == "" && len(r.Errors) > 0 {
				t.Fatalf("status %d, errors %+v; want %d %s", status, r.Errors, c.status, c.code)
			}
			if by := sb.Stats().ByCompany; c.code != "" && len(by) != 0 || c.code == "" && (len(by) != 1 || by[strconv.FormatInt(c.company, 10)] == 0) {
				t.Fatalf("upstream calls by company %v: want calls only in company %d, or none when refused", by, c.company)
			}
		})
	}
}
