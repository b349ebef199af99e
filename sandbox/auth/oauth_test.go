package auth_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"procoregraph/sandbox/auth"
)

const invalidGrantText = "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."

func TestClientCredentials(t *testing.T) {
	e := newEnv(t)

	post := map[string]func(t *testing.T) *http.Response{
		"Form": func(t *testing.T) *http.Response {
			resp, err := http.PostForm(e.srv.URL+"/oauth/token", clientCreds())
			if err != nil {
				t.Fatal(err)
			}
			return resp
		},
		"JSON": func(t *testing.T) *http.Response {
			body, _ := json.Marshal(map[string]string{"grant_type": "client_credentials", "client_id": clientID, "client_secret": clientSecret})
			resp, err := http.Post(e.srv.URL+"/oauth/token", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			return resp
		},
		"Multipart": func(t *testing.T) *http.Response {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			for k, v := range clientCreds() {
				_ = mw.WriteField(k, v[0])
			}
			_ = mw.Close()
			resp, err := http.Post(e.srv.URL+"/oauth/token", mw.FormDataContentType(), &buf)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		},
		"BasicAuth": func(t *testing.T) *http.Response {
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(clientID, clientSecret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		},
	}
	for name, send := range post {
		t.Run("IssuesTokenWithoutRefreshTokenFrom"+name+"Body", func(t *testing.T) {
			r := decodeToken(t, send(t))
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %v", r.status, r.body)
			}
			tok := r.str("access_token")
			if !strings.HasPrefix(tok, "eyJ") || strings.Count(tok, ".") != 2 {
				t.Errorf("access token %q is not JWT-shaped", tok)
			}
			if _, has := r.body["refresh_token"]; has {
				t.Errorf("client_credentials reply has a refresh_token: %v", r.body)
			}
			if r.str("token_type") != "bearer" || r.body["expires_in"] != float64(5400) || r.body["created_at"] != float64(e.clock.Now().Unix()) {
				t.Errorf("reply = %v", r.body)
			}
			status, p := e.probe(t, http.MethodGet, tok, nil, nil)
			if status != http.StatusOK {
				t.Fatalf("probe status %d", status)
			}
			if p.Kind != auth.KindClientCredentials || p.ClientID != clientID || p.UserID != serviceUser ||
				len(p.CompanyIDs) != 1 || p.CompanyIDs[0] != companyID {
				t.Errorf("principal = %+v", p)
			}
			if p.TokenID == "" || strings.Contains(tok, p.TokenID) {
				t.Errorf("TokenID %q is empty or part of the token", p.TokenID)
			}
			if _, again := e.probe(t, http.MethodGet, tok, nil, nil); again.TokenID != p.TokenID {
				t.Errorf("TokenID not stable: %q then %q", p.TokenID, again.TokenID)
			}
		})
	}

	t.Run("TokenInfoDescribesToken", func(t *testing.T) {
		tok := e.postToken(t, clientCreds()).str("access_token")
		e.clock.Advance(100 * time.Second)
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/oauth/token/info", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		info := decodeToken(t, resp).body
		app, _ := info["application"].(map[string]any)
		if resp.StatusCode != http.StatusOK || info["resource_owner_id"] != float64(serviceUser) ||
			info["expires_in_seconds"] != float64(5300) || app["uid"] != clientID {
			t.Errorf("status %d, info %v", resp.StatusCode, info)
		}
	})

	refusals := []struct {
		name   string
		vals   url.Values
		status int
		code   string
	}{
		{"RefusesWrongSecret", url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {"nope"}}, 401, "invalid_client"},
		{"RefusesUnknownClient", url.Values{"grant_type": {"client_credentials"}, "client_id": {"ghost"}, "client_secret": {clientSecret}}, 401, "invalid_client"},
		{"RefusesMissingSecret", url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}}, 401, "invalid_client"},
		{"RefusesUnknownGrantType", url.Values{"grant_type": {"password"}, "client_id": {clientID}, "client_secret": {clientSecret}}, 400, "unsupported_grant_type"},
		{"RefusesMissingGrantType", url.Values{"client_id": {clientID}, "client_secret": {clientSecret}}, 400, "invalid_request"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			r := e.postToken(t, tc.vals)
			if r.status != tc.status || r.str("error") != tc.code || r.str("error_description") == "" {
				t.Errorf("got %d %v, want %d %s", r.status, r.body, tc.status, tc.code)
			}
		})
	}
}

// authorize drives GET /oauth/authorize through a web login (dave: no MFA) and, when it appears,
// the consent page (Allow), and returns where the sandbox finally redirects off-host (or the last
// page for oob).
func authorize(t *testing.T, e *env, b *browser, redirectURI, state string) page {
	t.Helper()
	return authorizeWith(t, b, authorizeQuery(clientID, redirectURI, state))
}

// authorizeQuery returns the parameters of a code request.
func authorizeQuery(client, redirectURI, state string) url.Values {
	return url.Values{"response_type": {"code"}, "client_id": {client}, "redirect_uri": {redirectURI}, "state": {state}}
}

// authorizeWith is authorize with the request parameters q.
func authorizeWith(t *testing.T, b *browser, q url.Values) page {
	t.Helper()
	p := loginForAuthorize(t, b, q)
	if hasElement(p.body, "consent") {
		p = b.decide(p, "allow")
	}
	return p
}

// loginForAuthorize requests GET /oauth/authorize with q from a browser without a session, logs
// dave in and returns the page the login comes back to (the consent page the first time).
func loginForAuthorize(t *testing.T, b *browser, q url.Values) page {
	t.Helper()
	p := b.get("/oauth/authorize?" + q.Encode())
	mustHaveElement(t, p, "email") // no session yet: the login page
	p = b.post("/login", url.Values{"email": {"dave@example.com"}, "return_to": {hiddenValue(p.body, "return_to")}})
	return b.post("/login/password", url.Values{"password": {password}})
}

func codeGrant(code, redirectURI string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "client_id": {clientID}, "client_secret": {clientSecret}, "code": {code}, "redirect_uri": {redirectURI}}
}

func refreshGrant(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID}, "client_secret": {clientSecret}, "refresh_token": {rt}}
}

// userTokens returns a token pair for dave from the authorization_code flow.
func userTokens(t *testing.T, e *env) tokenReply {
	t.Helper()
	p := authorize(t, e, e.newBrowser(t), callbackURI, "s")
	u, _ := url.Parse(p.external)
	r := e.postToken(t, codeGrant(u.Query().Get("code"), callbackURI))
	if r.status != http.StatusOK {
		t.Fatalf("code exchange: %d %v", r.status, r.body)
	}
	return r
}

func TestAuthorizationCode(t *testing.T) {
	t.Run("IssuesCodeThroughWebLoginAndExchangesItOnce", func(t *testing.T) {
		e := newEnv(t)
		p := authorize(t, e, e.newBrowser(t), callbackURI, "xyz 123")
		u, err := url.Parse(p.external)
		if err != nil || !strings.HasPrefix(p.external, callbackURI+"?") {
			t.Fatalf("redirected to %q (page %s)", p.external, p.url)
		}
		code := u.Query().Get("code")
		if code == "" || u.Query().Get("state") != "xyz 123" {
			t.Fatalf("redirect query %v", u.Query())
		}
		r := e.postToken(t, codeGrant(code, callbackURI))
		if r.status != http.StatusOK || r.str("refresh_token") == "" || !strings.HasPrefix(r.str("access_token"), "eyJ") {
			t.Fatalf("exchange: %d %v", r.status, r.body)
		}
		status, pr := e.probe(t, http.MethodGet, r.str("access_token"), nil, nil)
		if status != http.StatusOK || pr.Kind != auth.KindUser || pr.UserID != 4_300_000_013 || pr.ClientID != clientID || pr.CompanyIDs != nil {
			t.Errorf("probe %d %+v", status, pr)
		}
		again := e.postToken(t, codeGrant(code, callbackURI))
		if again.status != http.StatusBadRequest || again.str("error") != "invalid_grant" || again.str("error_description") != invalidGrantText {
			t.Errorf("reused code: %d %v", again.status, again.body)
		}
	})

	t.Run("ReusesLiveSessionWithoutLoginPage", func(t *testing.T) {
		e := newEnv(t)
		b := e.newBrowser(t)
		authorize(t, e, b, callbackURI, "1")
		q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {callbackURI}, "state": {"2"}}
		p := b.get("/oauth/authorize?" + q.Encode())
		if u, _ := url.Parse(p.external); u == nil || u.Query().Get("code") == "" || u.Query().Get("state") != "2" {
			t.Errorf("second authorize went to %q / %s", p.external, p.url)
		}
		if e.svc.Logins() != 1 {
			t.Errorf("Logins() = %d, want 1", e.svc.Logins())
		}
	})

	t.Run("ShowsOutOfBandCodeOnPage", func(t *testing.T) {
		e := newEnv(t)
		const oob = "urn:ietf:wg:oauth:2.0:oob"
		p := authorize(t, e, e.newBrowser(t), oob, "")
		mustHaveElement(t, p, "auth-code")
		r := e.postToken(t, codeGrant(elementText(p.body, "auth-code"), oob))
		if r.status != http.StatusOK || r.str("refresh_token") == "" {
			t.Errorf("exchange oob code: %d %v", r.status, r.body)
		}
	})

	refusals := []struct {
		name     string
		exchange func(e *env, code string) tokenReply
	}{
		{"RefusesMismatchedRedirectURI", func(e *env, code string) tokenReply {
			return e.postToken(t, codeGrant(code, "https://evil.example.com/cb"))
		}},
		{"RefusesCodeAfterTenMinutes", func(e *env, code string) tokenReply {
			e.clock.Advance(10*time.Minute + time.Second)
			return e.postToken(t, codeGrant(code, callbackURI))
		}},
		{"RefusesCodeOfAnotherClient", func(e *env, code string) tokenReply {
			v := codeGrant(code, callbackURI)
			v.Set("client_id", otherID)
			v.Set("client_secret", otherSecret)
			return e.postToken(t, v)
		}},
		{"RefusesUnknownCode", func(e *env, code string) tokenReply {
			return e.postToken(t, codeGrant(code+"x", callbackURI))
		}},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			p := authorize(t, e, e.newBrowser(t), callbackURI, "s")
			u, _ := url.Parse(p.external)
			r := tc.exchange(e, u.Query().Get("code"))
			if r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" || r.str("error_description") != invalidGrantText {
				t.Errorf("got %d %v", r.status, r.body)
			}
		})
	}

	t.Run("RefusesUnregisteredRedirectURI", func(t *testing.T) {
		e := newEnv(t)
		q := url.Values{"response_type": {"code"}, "client_id": {otherID}, "redirect_uri": {callbackURI}}
		p := e.newBrowser(t).get("/oauth/authorize?" + q.Encode())
		if p.status != http.StatusBadRequest || !hasElement(p.body, "oauth-error") {
			t.Errorf("status %d body %s", p.status, p.body)
		}
	})
}

func TestRefreshToken(t *testing.T) {
	t.Run("RotatesAndRevokesPreviousPair", func(t *testing.T) {
		e := newEnv(t)
		first := userTokens(t, e)
		second := e.postToken(t, refreshGrant(first.str("refresh_token")))
		if second.status != http.StatusOK || second.str("refresh_token") == "" ||
			second.str("refresh_token") == first.str("refresh_token") || second.str("access_token") == first.str("access_token") {
			t.Fatalf("refresh: %d %v", second.status, second.body)
		}
		if status, p := e.probe(t, http.MethodGet, second.str("access_token"), nil, nil); status != http.StatusOK || p.UserID != 4_300_000_013 || p.Kind != auth.KindUser {
			t.Errorf("new access token: %d %+v", status, p)
		}
		if status, _ := e.probe(t, http.MethodGet, first.str("access_token"), nil, nil); status != http.StatusUnauthorized {
			t.Errorf("old access token after refresh: status %d, want 401", status)
		}
	})

	t.Run("RefusesReusedRefreshToken", func(t *testing.T) {
		e := newEnv(t)
		first := userTokens(t, e)
		// The first refresh's response is thrown away, as if lost on the wire.
		if r := e.postToken(t, refreshGrant(first.str("refresh_token"))); r.status != http.StatusOK {
			t.Fatalf("first refresh: %d", r.status)
		}
		r := e.postToken(t, refreshGrant(first.str("refresh_token")))
		if r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" || r.str("error_description") != invalidGrantText {
			t.Errorf("reuse: %d %v", r.status, r.body)
		}
	})

	t.Run("ConcurrentRefreshesSucceedExactlyOnce", func(t *testing.T) {
		e := newEnv(t)
		rt := userTokens(t, e).str("refresh_token")
		var wg sync.WaitGroup
		statuses := make([]int, 8)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := http.PostForm(e.srv.URL+"/oauth/token", refreshGrant(rt))
				if err != nil {
					return
				}
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			}()
		}
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			if s == http.StatusOK {
				ok++
			} else if s != http.StatusBadRequest {
				t.Errorf("unexpected status %d", s)
			}
		}
		if ok != 1 {
			t.Errorf("%d refreshes succeeded, want 1 (%v)", ok, statuses)
		}
	})

	t.Run("RefusesRefreshTokenOfAnotherClient", func(t *testing.T) {
		e := newEnv(t)
		v := refreshGrant(userTokens(t, e).str("refresh_token"))
		v.Set("client_id", otherID)
		v.Set("client_secret", otherSecret)
		if r := e.postToken(t, v); r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
			t.Errorf("got %d %v", r.status, r.body)
		}
	})
}

func TestTokenExpiry(t *testing.T) {
	t.Run("RefusedAfterExpireTokensButRefreshStillWorks", func(t *testing.T) {
		e := newEnv(t)
		pair := userTokens(t, e)
		cc := e.postToken(t, clientCreds()).str("access_token")
		e.svc.ExpireTokens()
		for _, tok := range []string{pair.str("access_token"), cc} {
			if status, _ := e.probe(t, http.MethodGet, tok, nil, nil); status != http.StatusUnauthorized {
				t.Errorf("expired token: status %d, want 401", status)
			}
		}
		r := e.postToken(t, refreshGrant(pair.str("refresh_token")))
		if r.status != http.StatusOK {
			t.Fatalf("refresh after ExpireTokens: %d %v", r.status, r.body)
		}
		if status, _ := e.probe(t, http.MethodGet, r.str("access_token"), nil, nil); status != http.StatusOK {
			t.Errorf("token issued after ExpireTokens: status %d", status)
		}
	})

	t.Run("RefusedOnceTTLHasPassed", func(t *testing.T) {
		e := newEnv(t)
		tok := e.postToken(t, clientCreds()).str("access_token")
		e.clock.Advance(5399 * time.Second)
		if status, _ := e.probe(t, http.MethodGet, tok, nil, nil); status != http.StatusOK {
			t.Fatalf("token 1 s before expiry: status %d", status)
		}
		e.clock.Advance(time.Second)
		if status, _ := e.probe(t, http.MethodGet, tok, nil, nil); status != http.StatusUnauthorized {
			t.Errorf("token at expiry: status %d, want 401", status)
		}
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/oauth/token/info", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if r := decodeToken(t, resp); r.status != http.StatusUnauthorized || r.str("error") != "invalid_token" {
			t.Errorf("token info of expired token: %d %v", r.status, r.body)
		}
	})

	t.Run("HonoursConfiguredTTL", func(t *testing.T) {
		e := newEnv(t, func(c *auth.Config) { c.TokenTTL = time.Minute })
		r := e.postToken(t, clientCreds())
		if r.body["expires_in"] != float64(60) {
			t.Errorf("expires_in = %v", r.body["expires_in"])
		}
		e.clock.Advance(time.Minute)
		if status, _ := e.probe(t, http.MethodGet, r.str("access_token"), nil, nil); status != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", status)
		}
	})

	t.Run("RefusesUnknownToken", func(t *testing.T) {
		e := newEnv(t)
		if status, _ := e.probe(t, http.MethodGet, "eyJnot.a.token", nil, nil); status != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", status)
		}
	})
}

func TestRevoke(t *testing.T) {
	revoke := func(t *testing.T, e *env, token string) {
		t.Helper()
		resp, err := http.PostForm(e.srv.URL+"/oauth/revoke", url.Values{"token": {token}, "client_id": {clientID}, "client_secret": {clientSecret}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("revoke status %d", resp.StatusCode)
		}
	}
	for name, which := range map[string]string{"RevokingAccessTokenRevokesBoth": "access_token", "RevokingRefreshTokenRevokesBoth": "refresh_token"} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			pair := userTokens(t, e)
			revoke(t, e, pair.str(which))
			if status, _ := e.probe(t, http.MethodGet, pair.str("access_token"), nil, nil); status != http.StatusUnauthorized {
				t.Errorf("access token after revoke: status %d, want 401", status)
			}
			if r := e.postToken(t, refreshGrant(pair.str("refresh_token"))); r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
				t.Errorf("refresh after revoke: %d %v", r.status, r.body)
			}
		})
	}
	t.Run("AnswersOKForUnknownToken", func(t *testing.T) {
		e := newEnv(t)
		revoke(t, e, "not-a-token")
	})
	t.Run("IgnoresTokenOfAnotherClient", func(t *testing.T) {
		e := newEnv(t)
		tok := e.postToken(t, clientCreds()).str("access_token")
		resp, err := http.PostForm(e.srv.URL+"/oauth/revoke", url.Values{"token": {tok}, "client_id": {otherID}, "client_secret": {otherSecret}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if status, _ := e.probe(t, http.MethodGet, tok, nil, nil); resp.StatusCode != http.StatusOK || status != http.StatusOK {
			t.Errorf("revoke status %d, token status %d; want 200 and still valid", resp.StatusCode, status)
		}
	})
}

// The RFC 7636 Appendix B example: a code_verifier and its S256 code_challenge.
const (
	rfcVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

// pkceQuery returns the parameters of a code request to callbackURI with a PKCE challenge
// (method "" leaves code_challenge_method out).
func pkceQuery(challenge, method string) url.Values {
	q := authorizeQuery(clientID, callbackURI, "pkce state")
	if challenge != "" {
		q.Set("code_challenge", challenge)
	}
	if method != "" {
		q.Set("code_challenge_method", method)
	}
	return q
}

func TestPKCE(t *testing.T) {
	const noVerifier = "\x00" // leave code_verifier out of the token request
	long := strings.Repeat("aZ9-._~", 19)[:128]
	exchanges := []struct {
		name              string
		challenge, method string
		verifier          string
		ok                bool
	}{
		{"IssuesTokensForRightS256Verifier", rfcChallenge, "S256", rfcVerifier, true},
		{"RefusesWrongS256VerifierWithoutTokens", rfcChallenge, "S256", strings.Repeat("x", 43), false},
		{"RefusesChallengeSentAsS256Verifier", rfcChallenge, "S256", rfcChallenge, false},
		{"RefusesMissingS256Verifier", rfcChallenge, "S256", noVerifier, false},
		{"RefusesEmptyS256Verifier", rfcChallenge, "S256", "", false},
		{"IssuesTokensForRightPlainVerifier", rfcVerifier, "plain", rfcVerifier, true},
		{"IssuesTokensForPlainVerifierOf128Characters", long, "plain", long, true},
		{"RefusesWrongPlainVerifierWithoutTokens", rfcChallenge, "plain", rfcVerifier, false},
		{"RefusesMissingPlainVerifier", rfcVerifier, "plain", noVerifier, false},
		{"TreatsChallengeWithoutMethodAsPlain", rfcVerifier, "", rfcVerifier, true},
		{"RefusesS256VerifierForChallengeWithoutMethod", rfcChallenge, "", rfcVerifier, false},
		{"IgnoresVerifierForCodeWithoutChallenge", "", "", rfcVerifier, true},
		{"IgnoresMethodWithoutChallenge", "", "S256", noVerifier, true},
	}
	for _, tc := range exchanges {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			p := authorizeWith(t, e.newBrowser(t), pkceQuery(tc.challenge, tc.method))
			u, err := url.Parse(p.external)
			if err != nil || u.Query().Get("code") == "" || u.Query().Get("state") != "pkce state" {
				t.Fatalf("authorize went to %q (page %s, status %d):\n%s", p.external, p.url, p.status, p.body)
			}
			v := codeGrant(u.Query().Get("code"), callbackURI)
			if tc.verifier != noVerifier {
				v.Set("code_verifier", tc.verifier)
			}
			r := e.postToken(t, v)
			if tc.ok {
				if r.status != http.StatusOK || r.str("access_token") == "" || r.str("refresh_token") == "" {
					t.Fatalf("exchange: %d %v", r.status, r.body)
				}
				return
			}
			if r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" || r.str("error_description") != invalidGrantText {
				t.Errorf("exchange: %d %v, want 400 invalid_grant", r.status, r.body)
			}
			if _, has := r.body["access_token"]; has {
				t.Errorf("refused exchange carries an access token: %v", r.body)
			}
			if _, has := r.body["refresh_token"]; has {
				t.Errorf("refused exchange carries a refresh token: %v", r.body)
			}
		})
	}

	malformed := []struct {
		name              string
		challenge, method string
	}{
		{"RedirectsInvalidRequestForChallengeOf42Characters", rfcChallenge[:42], "S256"},
		{"RedirectsInvalidRequestForChallengeOf129Characters", long + "a", "plain"},
		{"RedirectsInvalidRequestForPaddedChallenge", rfcChallenge + "=", "S256"},
		{"RedirectsInvalidRequestForChallengeWithPlus", "+" + rfcChallenge[1:], "S256"},
		{"RedirectsInvalidRequestForMalformedChallengeWithoutMethod", "short", ""},
		{"RedirectsInvalidRequestForUnknownMethod", rfcChallenge, "S512"},
		{"RedirectsInvalidRequestForLowercaseS256Method", rfcChallenge, "s256"},
	}
	for _, tc := range malformed {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			p := e.newBrowser(t).get("/oauth/authorize?" + pkceQuery(tc.challenge, tc.method).Encode())
			u, err := url.Parse(p.external)
			if err != nil || !strings.HasPrefix(p.external, callbackURI+"?") {
				t.Fatalf("authorize went to %q (page %s, status %d):\n%s", p.external, p.url, p.status, p.body)
			}
			if q := u.Query(); q.Get("error") != "invalid_request" || q.Get("error_description") == "" ||
				q.Get("state") != "pkce state" || q.Has("code") {
				t.Errorf("redirect query %v", q)
			}
		})
	}

	t.Run("ShowsErrorPageForMalformedChallengeOutOfBand", func(t *testing.T) {
		e := newEnv(t)
		q := pkceQuery("short", "S256")
		q.Set("redirect_uri", "urn:ietf:wg:oauth:2.0:oob")
		p := e.newBrowser(t).get("/oauth/authorize?" + q.Encode())
		if p.status != http.StatusBadRequest || p.external != "" || elementText(p.body, "oauth-error") == "" {
			t.Errorf("status %d, external %q, body %s", p.status, p.external, p.body)
		}
	})
}

func TestConsent(t *testing.T) {
	const oob = "urn:ietf:wg:oauth:2.0:oob"
	const accessDenied = "The resource owner or authorization server denied the request."
	mustBeConsent := func(t *testing.T, p page, client string) {
		t.Helper()
		mustHaveElement(t, p, "consent")
		if p.status != http.StatusOK || p.url.Path != "/oauth/authorize" || elementText(p.body, "consent-client") != client {
			t.Fatalf("consent page %s (status %d) for %s:\n%s", p.url, p.status, client, p.body)
		}
	}
	cases := []struct {
		name string
		run  func(t *testing.T, e *env, b *browser)
	}{
		{"ShowsConsentPageOnFirstAuthorize", func(t *testing.T, e *env, b *browser) {
			q := pkceQuery(rfcChallenge, "S256")
			p := loginForAuthorize(t, b, q)
			mustBeConsent(t, p, clientID)
			if got := elementText(p.body, "consent-user"); got != "Dave Plain" {
				t.Errorf("#consent-user = %q", got)
			}
			for _, want := range []string{
				`<form id="consent-form" method="post" action="/oauth/authorize">`,
				`<button id="authorize" name="decision" value="allow">Allow</button>`,
				`<button id="deny" name="decision" value="deny">Deny</button>`,
			} {
				if !strings.Contains(p.body, want) {
					t.Errorf("consent page lacks %s:\n%s", want, p.body)
				}
			}
			csrf := b.cookie(auth.CSRFCookie)
			if csrf == nil {
				t.Fatal("no csrf_token cookie")
			}
			want := url.Values{
				"client_id": {clientID}, "redirect_uri": {callbackURI}, "response_type": {"code"}, "state": {"pkce state"},
				"code_challenge": {rfcChallenge}, "code_challenge_method": {"S256"}, "authenticity_token": {csrf.Value},
			}
			if got := formFields(p.body, "consent-form"); got.Encode() != want.Encode() {
				t.Errorf("hidden inputs\n got %v\nwant %v", got, want)
			}
		}},
		{"AllowIssuesCodeWithState", func(t *testing.T, e *env, b *browser) {
			p := b.decide(loginForAuthorize(t, b, authorizeQuery(clientID, callbackURI, "a&b")), "allow")
			u, _ := url.Parse(p.external)
			if u == nil || !strings.HasPrefix(p.external, callbackURI+"?") || u.Query().Get("code") == "" || u.Query().Get("state") != "a&b" {
				t.Fatalf("allow went to %q (page %s, status %d)", p.external, p.url, p.status)
			}
			if r := e.postToken(t, codeGrant(u.Query().Get("code"), callbackURI)); r.status != http.StatusOK {
				t.Errorf("exchange: %d %v", r.status, r.body)
			}
		}},
		{"DenyRedirectsWithAccessDeniedAndState", func(t *testing.T, e *env, b *browser) {
			p := b.decide(loginForAuthorize(t, b, authorizeQuery(clientID, callbackURI, "deny me")), "deny")
			u, _ := url.Parse(p.external)
			if u == nil || !strings.HasPrefix(p.external, callbackURI+"?") {
				t.Fatalf("deny went to %q (page %s, status %d)", p.external, p.url, p.status)
			}
			if q := u.Query(); q.Get("error") != "access_denied" || q.Get("error_description") != accessDenied ||
				q.Get("state") != "deny me" || q.Has("code") {
				t.Errorf("redirect query %v", q)
			}
		}},
		{"DenyOutOfBandShowsErrorPage", func(t *testing.T, e *env, b *browser) {
			p := b.decide(loginForAuthorize(t, b, authorizeQuery(clientID, oob, "")), "deny")
			if p.status != http.StatusBadRequest || elementText(p.body, "oauth-error") != accessDenied || hasElement(p.body, "auth-code") {
				t.Errorf("status %d body %s", p.status, p.body)
			}
		}},
		{"AsksAgainAfterDeny", func(t *testing.T, e *env, b *browser) {
			q := authorizeQuery(clientID, callbackURI, "1")
			b.decide(loginForAuthorize(t, b, q), "deny")
			mustBeConsent(t, b.get("/oauth/authorize?"+q.Encode()), clientID)
		}},
		{"SkipsConsentOnSecondAuthorizeOfSameClient", func(t *testing.T, e *env, b *browser) {
			authorizeWith(t, b, authorizeQuery(clientID, callbackURI, "1"))
			p := b.get("/oauth/authorize?" + pkceQuery(rfcChallenge, "S256").Encode())
			u, _ := url.Parse(p.external)
			if u == nil || u.Query().Get("code") == "" || u.Query().Get("state") != "pkce state" {
				t.Fatalf("second authorize went to %q (page %s, status %d):\n%s", p.external, p.url, p.status, p.body)
			}
			v := codeGrant(u.Query().Get("code"), callbackURI)
			v.Set("code_verifier", rfcVerifier)
			if r := e.postToken(t, v); r.status != http.StatusOK {
				t.Errorf("exchange of the code issued without consent page: %d %v", r.status, r.body)
			}
		}},
		{"AsksAgainForAnotherClient", func(t *testing.T, e *env, b *browser) {
			authorizeWith(t, b, authorizeQuery(clientID, callbackURI, "1"))
			mustBeConsent(t, b.get("/oauth/authorize?"+authorizeQuery(otherID, "https://other.example.com/cb", "2").Encode()), otherID)
		}},
		{"RefusesConsentWithWrongAuthenticityToken", func(t *testing.T, e *env, b *browser) {
			q := authorizeQuery(clientID, callbackURI, "1")
			p := loginForAuthorize(t, b, q)
			vals := formFields(p.body, "consent-form")
			vals.Set("authenticity_token", vals.Get("authenticity_token")+"x")
			vals.Set("decision", "allow")
			p = b.post("/oauth/authorize", vals)
			if p.status != http.StatusForbidden || p.external != "" || elementText(p.body, "oauth-error") == "" {
				t.Errorf("status %d, external %q, body %s", p.status, p.external, p.body)
			}
			mustBeConsent(t, b.get("/oauth/authorize?"+q.Encode()), clientID) // nothing was approved
		}},
		{"RefusesConsentWithoutAuthenticityToken", func(t *testing.T, e *env, b *browser) {
			vals := formFields(loginForAuthorize(t, b, authorizeQuery(clientID, callbackURI, "1")).body, "consent-form")
			vals.Del("authenticity_token")
			vals.Set("decision", "allow")
			if p := b.post("/oauth/authorize", vals); p.status != http.StatusForbidden || !hasElement(p.body, "oauth-error") {
				t.Errorf("status %d, external %q, body %s", p.status, p.external, p.body)
			}
		}},
		{"SendsConsentWithoutSessionToLogin", func(t *testing.T, e *env, b *browser) {
			vals := formFields(loginForAuthorize(t, b, pkceQuery(rfcChallenge, "S256")).body, "consent-form")
			vals.Set("decision", "allow")
			p := e.newBrowser(t).post("/oauth/authorize", vals) // another browser: no session
			mustHaveElement(t, p, "email")
			back, err := url.Parse(hiddenValue(p.body, "return_to"))
			if err != nil || back.Path != "/oauth/authorize" {
				t.Fatalf("return_to = %q", hiddenValue(p.body, "return_to"))
			}
			if got, want := back.Query().Encode(), pkceQuery(rfcChallenge, "S256").Encode(); got != want {
				t.Errorf("return_to query\n got %s\nwant %s", got, want)
			}
		}},
		{"RevalidatesRedirectURIOnConsent", func(t *testing.T, e *env, b *browser) {
			vals := formFields(loginForAuthorize(t, b, authorizeQuery(otherID, "https://other.example.com/cb", "1")).body, "consent-form")
			vals.Set("redirect_uri", callbackURI) // not registered for the other client
			vals.Set("decision", "allow")
			if p := b.post("/oauth/authorize", vals); p.status != http.StatusBadRequest || p.external != "" || !hasElement(p.body, "oauth-error") {
				t.Errorf("status %d, external %q, body %s", p.status, p.external, p.body)
			}
		}},
		{"RevalidatesClientOnConsent", func(t *testing.T, e *env, b *browser) {
			vals := formFields(loginForAuthorize(t, b, authorizeQuery(clientID, callbackURI, "1")).body, "consent-form")
			vals.Set("client_id", "ghost")
			vals.Set("decision", "allow")
			if p := b.post("/oauth/authorize", vals); p.status != http.StatusUnauthorized || p.external != "" || !hasElement(p.body, "oauth-error") {
				t.Errorf("status %d, external %q, body %s", p.status, p.external, p.body)
			}
		}},
		{"RefusesConsentWithoutDecision", func(t *testing.T, e *env, b *browser) {
			q := authorizeQuery(clientID, callbackURI, "1")
			vals := formFields(loginForAuthorize(t, b, q).body, "consent-form")
			if p := b.post("/oauth/authorize", vals); p.status != http.StatusBadRequest || p.external != "" || !hasElement(p.body, "oauth-error") {
				t.Errorf("status %d, external %q, body %s", p.status, p.external, p.body)
			}
			mustBeConsent(t, b.get("/oauth/authorize?"+q.Encode()), clientID)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			tc.run(t, e, e.newBrowser(t))
		})
	}
}
