package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Doorkeeper's error descriptions, as Procore's token endpoint returns them.
const (
	descInvalidClient = "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."
	descInvalidGrant  = "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."
	descUnsupported   = "The authorization grant type is not supported by the authorization server."
	descInvalidURI    = "The requested redirect uri is malformed or doesn't match client redirect URI."
	descResponseType  = "The authorization server does not support this response type."
	descAccessDenied  = "The resource owner or authorization server denied the request."
	descChallenge     = "The code_challenge is malformed: RFC 7636 requires 43 to 128 characters of [A-Za-z0-9-._~]."
	descChallengeMeth = "The code challenge method must be plain or S256."
	descDecision      = "The decision must be allow or deny."
	descAuthenticity  = "The authenticity token is missing or invalid. Go back, reload the page and try again."
	oobRedirectURI    = "urn:ietf:wg:oauth:2.0:oob"
	maxTokenBody      = 1 << 20
)

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	CreatedAt    int64  `json:"created_at"`
}

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf("Bearer realm=%q, error=%q, error_description=%q", "Doorkeeper", code, desc))
	}
	writeJSON(w, status, oauthError{Error: code, Description: desc})
}

// oauthParams reads the request parameters from the query plus an
// application/x-www-form-urlencoded, multipart/form-data or application/json body.
func oauthParams(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenBody)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		vals := r.URL.Query()
		var body map[string]any
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&body); err != nil {
			return nil, fmt.Errorf("malformed JSON body: %w", err)
		}
		for k, v := range body {
			switch v := v.(type) {
			case string:
				vals.Set(k, v)
			case json.Number:
				vals.Set(k, v.String())
			case bool:
				vals.Set(k, fmt.Sprint(v))
			}
		}
		return vals, nil
	case "multipart/form-data":
		if err := r.ParseMultipartForm(maxTokenBody); err != nil {
			return nil, fmt.Errorf("malformed multipart body: %w", err)
		}
		return r.Form, nil
	default:
		if err := r.ParseForm(); err != nil {
			return nil, fmt.Errorf("malformed form body: %w", err)
		}
		return r.Form, nil
	}
}

// clientCredentials returns the client id and secret from HTTP Basic auth (RFC 6749 §2.3.1,
// form-encoded) or else from the client_id and client_secret parameters.
func clientCredentials(r *http.Request, p url.Values) (id, secret string) {
	if u, pw, ok := r.BasicAuth(); ok {
		if d, err := url.QueryUnescape(u); err == nil {
			u = d
		}
		if d, err := url.QueryUnescape(pw); err == nil {
			pw = d
		}
		return u, pw
	}
	return p.Get("client_id"), p.Get("client_secret")
}

func (s *Service) authenticateClient(r *http.Request, p url.Values) (Client, bool) {
	id, secret := clientCredentials(r, p)
	c, ok := s.clients[id]
	if !ok || !constantEqual(secret, c.Secret) {
		return Client{}, false
	}
	return c, true
}

func (s *Service) handleToken(w http.ResponseWriter, r *http.Request) {
	p, err := oauthParams(w, r)
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	grant := p.Get("grant_type")
	switch grant {
	case "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: grant_type.")
		return
	case "client_credentials", "authorization_code", "refresh_token":
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", descUnsupported)
		return
	}
	c, ok := s.authenticateClient(r, p)
	if !ok {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", descInvalidClient)
		return
	}
	now := s.now()
	switch grant {
	case "client_credentials":
		s.mu.Lock()
		resp := s.issueLocked(c, c.ServiceUserID, KindClientCredentials, now)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, resp)
	case "authorization_code":
		code, redirectURI := p.Get("code"), p.Get("redirect_uri")
		if code == "" {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: code.")
			return
		}
		if redirectURI == "" {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: redirect_uri.")
			return
		}
		s.mu.Lock()
		ac, found := s.codes[code]
		if !found || ac.clientID != c.ID || ac.redirectURI != redirectURI || !now.Before(ac.expiresAt) ||
			!verifierMatches(ac, p.Get("code_verifier")) {
			s.mu.Unlock()
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", descInvalidGrant)
			return
		}
		delete(s.codes, code) // single use
		resp := s.issueLocked(c, ac.userID, KindUser, now)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, resp)
	case "refresh_token":
		rt := p.Get("refresh_token")
		if rt == "" {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: refresh_token.")
			return
		}
		s.mu.Lock()
		old, found := s.refresh[rt]
		if !found || old.clientID != c.ID {
			s.mu.Unlock()
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", descInvalidGrant)
			return
		}
		// Doorkeeper without revoke-on-use: the old token record (access and refresh token) is
		// revoked before the new pair is issued, so a lost response still spends the refresh token.
		delete(s.refresh, rt)
		if at, ok := s.access[old.access]; ok {
			at.revoked = true
		}
		resp := s.issueLocked(c, old.userID, KindUser, now)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, resp)
	}
}

type tokenInfo struct {
	ResourceOwnerID  *int64          `json:"resource_owner_id"`
	Scopes           []string        `json:"scopes"`
	ExpiresInSeconds int64           `json:"expires_in_seconds"`
	Application      tokenInfoClient `json:"application"`
	CreatedAt        int64           `json:"created_at"`
}

type tokenInfoClient struct {
	UID string `json:"uid"`
}

func (s *Service) handleTokenInfo(w http.ResponseWriter, r *http.Request) {
	tok, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_token", "The access token is invalid")
		return
	}
	if _, err := s.authenticateToken(tok); err != nil {
		desc := "The access token is invalid"
		switch err {
		case ErrTokenExpired:
			desc = "The access token expired"
		case ErrTokenRevoked:
			desc = "The access token was revoked"
		}
		writeOAuthError(w, http.StatusUnauthorized, "invalid_token", desc)
		return
	}
	now := s.now()
	s.mu.RLock()
	at, found := s.access[tok]
	var info tokenInfo
	if found {
		info = tokenInfo{
			Scopes:           []string{},
			ExpiresInSeconds: int64(at.expiresAt.Sub(now) / time.Second),
			Application:      tokenInfoClient{UID: at.clientID},
			CreatedAt:        at.createdAt.Unix(),
		}
		if at.userID != 0 {
			id := at.userID
			info.ResourceOwnerID = &id
		}
	}
	s.mu.RUnlock()
	if !found { // revoked and pruned between the two looks
		writeOAuthError(w, http.StatusUnauthorized, "invalid_token", "The access token is invalid")
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// handleRevoke revokes an access or refresh token together with its pair. As Procore, it
// answers 200 whatever the token; a client_id that is given must be the token's application.
func (s *Service) handleRevoke(w http.ResponseWriter, r *http.Request) {
	p, err := oauthParams(w, r)
	if err != nil {
		writeJSON(w, http.StatusOK, struct{}{})
		return
	}
	tok := p.Get("token")
	clientID, _ := clientCredentials(r, p)
	s.mu.Lock()
	if at, ok := s.access[tok]; ok && (clientID == "" || clientID == at.clientID) {
		at.revoked = true
		delete(s.refresh, at.refresh)
	} else if rt, ok := s.refresh[tok]; ok && (clientID == "" || clientID == rt.clientID) {
		delete(s.refresh, tok)
		if at, ok := s.access[rt.access]; ok {
			at.revoked = true
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, struct{}{})
}

// validRedirect reports whether uri may receive codes for c.
func validRedirect(c Client, uri string) bool {
	if len(c.RedirectURIs) > 0 {
		for _, u := range c.RedirectURIs {
			if u == uri {
				return true
			}
		}
		return false
	}
	if uri == oobRedirectURI {
		return true
	}
	u, err := url.Parse(uri)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Fragment == ""
}

// authorizeParamNames are the /oauth/authorize parameters the consent form carries over.
var authorizeParamNames = []string{"client_id", "redirect_uri", "response_type", "state", "code_challenge", "code_challenge_method"}

// authzRequest is a validated authorization request.
type authzRequest struct {
	client      Client
	redirectURI string
	state       string
	// challenge and method are the PKCE code_challenge and its method ("S256" or "plain"); both
	// "" when the request has no challenge.
	challenge, method string
}

// fields are the request's parameters as the consent form's hidden inputs carry them.
func (ar authzRequest) fields() []formField {
	return []formField{
		{"client_id", ar.client.ID},
		{"redirect_uri", ar.redirectURI},
		{"response_type", "code"},
		{"state", ar.state},
		{"code_challenge", ar.challenge},
		{"code_challenge_method", ar.method},
	}
}

// validChallenge reports whether c has RFC 7636's code_challenge (and code_verifier) syntax:
// 43 to 128 characters of ALPHA / DIGIT / "-" / "." / "_" / "~".
func validChallenge(c string) bool {
	if len(c) < 43 || len(c) > 128 {
		return false
	}
	for i := 0; i < len(c); i++ {
		switch b := c[i]; {
		case 'A' <= b && b <= 'Z', 'a' <= b && b <= 'z', '0' <= b && b <= '9', b == '-', b == '.', b == '_', b == '~':
		default:
			return false
		}
	}
	return true
}

// verifierMatches checks the token request's code_verifier against the code's PKCE challenge
// (RFC 7636 §4.6). A code without a challenge ignores the verifier.
func verifierMatches(ac *authCode, verifier string) bool {
	switch ac.challengeMethod {
	case "":
		return true
	case "S256":
		sum := sha256.Sum256([]byte(verifier))
		return verifier != "" && constantEqual(base64.RawURLEncoding.EncodeToString(sum[:]), ac.challenge)
	case "plain":
		return constantEqual(verifier, ac.challenge)
	}
	return false
}

// parseAuthorize validates the authorization request parameters p, as GET /oauth/authorize and
// the consent form both do. On failure it has answered: an HTML error page for an unknown client
// or a redirect URI that may not receive answers, else an error redirect to the redirect URI.
func (s *Service) parseAuthorize(w http.ResponseWriter, r *http.Request, p url.Values) (authzRequest, bool) {
	c, ok := s.clients[p.Get("client_id")]
	if !ok {
		s.renderPage(w, http.StatusUnauthorized, "oauth-error", pageData{Title: "Authorization error", Error: descInvalidClient})
		return authzRequest{}, false
	}
	ar := authzRequest{client: c, redirectURI: p.Get("redirect_uri"), state: p.Get("state")}
	if !validRedirect(c, ar.redirectURI) {
		s.renderPage(w, http.StatusBadRequest, "oauth-error", pageData{Title: "Authorization error", Error: descInvalidURI})
		return authzRequest{}, false
	}
	if p.Get("response_type") != "code" {
		s.authorizeError(w, r, ar, "unsupported_response_type", descResponseType)
		return authzRequest{}, false
	}
	// As Doorkeeper: without a challenge the request is not PKCE and the method is ignored.
	if ch := p.Get("code_challenge"); ch != "" {
		method := p.Get("code_challenge_method")
		if method == "" {
			method = "plain" // RFC 7636 §4.3
		}
		switch {
		case !validChallenge(ch):
			s.authorizeError(w, r, ar, "invalid_request", descChallenge)
			return authzRequest{}, false
		case method != "S256" && method != "plain":
			s.authorizeError(w, r, ar, "invalid_request", descChallengeMeth)
			return authzRequest{}, false
		}
		ar.challenge, ar.method = ch, method
	}
	return ar, true
}

// authorizeError answers an authorization request with an OAuth error: a redirect to the
// redirect URI with error, error_description and state (when given), or for the oob URI an
// HTML error page.
func (s *Service) authorizeError(w http.ResponseWriter, r *http.Request, ar authzRequest, code, desc string) {
	if ar.redirectURI == oobRedirectURI {
		s.renderPage(w, http.StatusBadRequest, "oauth-error", pageData{Title: "Authorization error", Error: desc})
		return
	}
	vals := url.Values{"error": {code}, "error_description": {desc}}
	if ar.state != "" {
		vals.Set("state", ar.state)
	}
	http.Redirect(w, r, withQuery(ar.redirectURI, vals), http.StatusFound)
}

// handleAuthorize is GET /oauth/authorize: login first, then the consent page, or the code at
// once when the user already approved the client.
func (s *Service) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	ar, ok := s.parseAuthorize(w, r, r.URL.Query())
	if !ok {
		return
	}
	userID, csrf, ok := s.sessionFor(r)
	if !ok {
		http.Redirect(w, r, "/login?"+url.Values{"return_to": {r.URL.RequestURI()}}.Encode(), http.StatusFound)
		return
	}
	s.mu.RLock()
	approved := s.grants[grantKey{userID: userID, clientID: ar.client.ID}]
	s.mu.RUnlock()
	if approved {
		s.issueCode(w, r, ar, userID)
		return
	}
	u := s.usersByID[userID]
	name := u.Name
	if name == "" {
		name = u.Email
	}
	s.renderPage(w, http.StatusOK, "consent", pageData{
		Title: "Authorize " + ar.client.ID, ClientID: ar.client.ID, Name: name, CSRF: csrf, Fields: ar.fields(),
	})
}

// handleAuthorizeDecision is POST /oauth/authorize, the consent form: decision=allow remembers
// the approval and issues the code, decision=deny answers access_denied.
func (s *Service) handleAuthorizeDecision(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenBody)
	if err := r.ParseForm(); err != nil {
		s.renderPage(w, http.StatusBadRequest, "oauth-error", pageData{Title: "Authorization error", Error: "Malformed form body."})
		return
	}
	p := r.Form
	userID, csrf, ok := s.sessionFor(r)
	if !ok {
		q := url.Values{}
		for _, k := range authorizeParamNames {
			if v := p.Get(k); v != "" {
				q.Set(k, v)
			}
		}
		http.Redirect(w, r, "/login?"+url.Values{"return_to": {"/oauth/authorize?" + q.Encode()}}.Encode(), http.StatusFound)
		return
	}
	if !constantEqual(p.Get("authenticity_token"), csrf) {
		s.renderPage(w, http.StatusForbidden, "oauth-error", pageData{Title: "Authorization error", Error: descAuthenticity})
		return
	}
	ar, ok := s.parseAuthorize(w, r, p)
	if !ok {
		return
	}
	switch p.Get("decision") {
	case "allow":
		s.mu.Lock()
		s.grants[grantKey{userID: userID, clientID: ar.client.ID}] = true
		s.mu.Unlock()
		s.issueCode(w, r, ar, userID)
	case "deny":
		s.authorizeError(w, r, ar, "access_denied", descAccessDenied)
	default:
		s.renderPage(w, http.StatusBadRequest, "oauth-error", pageData{Title: "Authorization error", Error: descDecision})
	}
}

// issueCode stores a new authorization code for the request and sends it to the redirect URI
// (with state), or for the oob URI to the page that shows it.
func (s *Service) issueCode(w http.ResponseWriter, r *http.Request, ar authzRequest, userID int64) {
	code := randomToken(32)
	now := s.now()
	s.mu.Lock()
	s.pruneLocked(now)
	s.codes[code] = &authCode{
		clientID: ar.client.ID, redirectURI: ar.redirectURI, userID: userID, expiresAt: now.Add(AuthCodeTTL),
		challenge: ar.challenge, challengeMethod: ar.method,
	}
	s.mu.Unlock()
	if ar.redirectURI == oobRedirectURI {
		http.Redirect(w, r, "/oauth/authorize/native?"+url.Values{"code": {code}}.Encode(), http.StatusFound)
		return
	}
	vals := url.Values{"code": {code}}
	if ar.state != "" {
		vals.Set("state", ar.state)
	}
	http.Redirect(w, r, withQuery(ar.redirectURI, vals), http.StatusFound)
}

// handleAuthorizeNative is Doorkeeper's out-of-band page: it shows the code in #auth-code.
func (s *Service) handleAuthorizeNative(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("code")
	if code == "" {
		s.renderPage(w, http.StatusBadRequest, "oauth-error", pageData{Title: "Authorization error", Error: descInvalidGrant})
		return
	}
	s.renderPage(w, http.StatusOK, "native", pageData{Title: "Authorization code", Code: code})
}

// withQuery adds vals to the query of uri, keeping what is there.
func withQuery(uri string, vals url.Values) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	q := u.Query()
	for k, vs := range vals {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// sessionFor returns the user and CSRF token of the request's live web session.
func (s *Service) sessionFor(r *http.Request) (int64, string, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return 0, "", false
	}
	now := s.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	sess, ok := s.sessions[c.Value]
	if !ok || !now.Before(sess.expiresAt) {
		return 0, "", false
	}
	return sess.userID, sess.csrf, true
}

// safeReturn keeps only same-site absolute paths, so return_to cannot become an open redirect.
func safeReturn(p string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/app"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/app"
	}
	return p
}
