// Package signin is "Sign in with Procore": people sign in through
// Procore's own login page (OAuth 2.0 authorization code with PKCE) and the
// gateway then acts for them with their own Procore permissions.
//
//	GET  /auth/login?return_to=…[&response=token]  → Procore's authorize page
//	GET  /auth/callback?code&state                  ← Procore; exchanges the code
//	GET  /auth/session                               who is signed in (JSON)
//	POST /auth/logout                                ends the session everywhere
//
// Browser frontends get an HttpOnly session cookie (Secure when the gateway
// is served over https, SameSite=Lax) and are sent back to return_to; other
// clients ask for response=token and receive a bearer token (pgu_…) once.
//
// A session's Procore token pair is kept encrypted (package sealbox) in the
// shared store, rotated by the REST client's refresh-token grant under a
// lock, so every replica serves every session and only one spends a refresh
// token. The session record itself is encrypted too and read on every
// request: a logout on any replica ends the session on all of them at once,
// and a store that cannot be read refuses the request (fail closed).
package signin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/oauth2"

	"procoregraph/adapter"
	"procoregraph/adapter/rest"
	"procoregraph/audit"
	"procoregraph/authn"
	"procoregraph/cache"
	"procoregraph/oauthstore"
	"procoregraph/principal"
	"procoregraph/sealbox"
	"procoregraph/streams"
	"procoregraph/tenant"
)

// Options configure a Service. Zero values mean the defaults.
type Options struct {
	// LoginURL is Procore's OAuth host (authorize and token). Required.
	LoginURL string
	// ClientID and ClientSecret are the gateway's OAuth application.
	// Required.
	ClientID, ClientSecret string
	// PublicURL is the gateway's base URL as browsers reach it; the redirect
	// URI is PublicURL + "/auth/callback" and must be registered with the
	// Procore app. Required.
	PublicURL string
	// Company is the gateway's company connection: a signed-in person's
	// connection shares its id (events, invalidations) and company. Required.
	Company *tenant.Connection
	// Store keeps pending logins, sessions and token pairs (Redis when
	// configured, so replicas share them). Required.
	Store cache.Store
	// Box encrypts what is stored. Required.
	Box *sealbox.Box
	// NewClient builds a person's REST client over their token store,
	// starting from refreshToken, pacing its calls in the rate-limit budget
	// named budgetKey (the person's token, shared by replicas). Required.
	NewClient func(tokens rest.TokenStore, refreshToken, budgetKey string) (adapter.Procore, error)
	// Cookie is the session cookie's name. Default authn.DefaultCookie.
	Cookie string
	// ReturnAllowed reports whether an absolute return_to URL may receive
	// the browser after sign-in (a listed frontend origin). Relative paths on
	// the gateway are always allowed. Default: none.
	ReturnAllowed func(u *url.URL) bool
	// CookieRequestAllowed reports whether a state-changing request signed
	// in by the session cookie (POST /auth/logout) cannot be a cross-site
	// forgery (httpguard.Guard.CookieRequestAllowed). Default: refuse all.
	CookieRequestAllowed func(*http.Request) bool
	// MaxAge is a session's life. Default 7 days.
	MaxAge time.Duration
	// Audit records sign-ins and sign-outs. Nil: none.
	Audit *audit.Logger
	// Revocations ends a signed-out session's open streams on every
	// replica. Nil: streams end when the client closes them.
	Revocations streams.Publisher
	// HTTPClient makes the token exchange and revocation calls. Default: a
	// client with a 30 s timeout.
	HTTPClient *http.Client
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives failures; never a code, token or cookie. Default
	// slog.Default().
	Logger *slog.Logger
}

// Service runs sign-in and resolves session tokens (authn.SessionResolver).
type Service struct {
	o      Options
	oauth  *oauth2.Config
	secure bool
	conns  *expirable.LRU[string, *tenant.Connection] // by session key; bounded
}

// TokenPrefix starts every sign-in session token.
const TokenPrefix = authn.SignInPrefix

const (
	pendingTTL  = 10 * time.Minute // as Procore's authorization codes
	stateCookie = "pg_signin_state"
	maxConns    = 10_000
)

// New returns a Service.
func New(o Options) (*Service, error) {
	if o.LoginURL == "" || o.ClientID == "" || o.PublicURL == "" || o.Company == nil || o.Store == nil || o.Box == nil || o.NewClient == nil {
		return nil, errors.New("signin: LoginURL, ClientID, PublicURL, Company, Store, Box and NewClient are required")
	}
	pub, err := url.Parse(o.PublicURL)
	if err != nil || pub.Host == "" {
		return nil, fmt.Errorf("signin: PublicURL %q is not an absolute URL", o.PublicURL)
	}
	if o.Cookie == "" {
		o.Cookie = authn.DefaultCookie
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 7 * 24 * time.Hour
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.CookieRequestAllowed == nil {
		o.CookieRequestAllowed = func(*http.Request) bool { return false }
	}
	if o.ReturnAllowed == nil {
		o.ReturnAllowed = func(*url.URL) bool { return false }
	}
	login := strings.TrimRight(o.LoginURL, "/")
	s := &Service{o: o, secure: pub.Scheme == "https",
		oauth: &oauth2.Config{
			ClientID: o.ClientID, ClientSecret: o.ClientSecret,
			Endpoint: oauth2.Endpoint{AuthURL: login + "/oauth/authorize", TokenURL: login + "/oauth/token",
				AuthStyle: oauth2.AuthStyleInParams},
			RedirectURL: strings.TrimRight(o.PublicURL, "/") + "/auth/callback",
		},
		conns: expirable.NewLRU[string, *tenant.Connection](maxConns, nil, 10*time.Minute),
	}
	return s, nil
}

// RedirectURL is the callback Procore must redirect to (register it with
// the Procore app).
func (s *Service) RedirectURL() string { return s.oauth.RedirectURL }

// Register mounts the /auth routes.
func (s *Service) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /auth/login", s.handleLogin)
	mux.HandleFunc("GET /auth/callback", s.handleCallback)
	mux.HandleFunc("GET /auth/session", s.handleSession)
	mux.HandleFunc("POST /auth/logout", s.handleLogout)
}

// pending is a login between /auth/login and /auth/callback.
type pending struct {
	Verifier  string    `json:"v"`
	ReturnTo  string    `json:"r"`
	Token     bool      `json:"t"` // answer a bearer token instead of a cookie
	CreatedAt time.Time `json:"c"`
}

// record is a stored session; it holds no token.
type record struct {
	UserID    int64     `json:"user_id"`
	Login     string    `json:"login"`
	Name      string    `json:"name"`
	CompanyID int64     `json:"company_id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// sessionKey is the non-secret id of a token: store keys, revocations.
func sessionKey(token string) string {
	h := sha256.Sum256([]byte("procoregraph signin session\x00" + token))
	return "u" + hex.EncodeToString(h[:12])
}

func (s *Service) recordKey(key string) string  { return cache.AuxKey("signin", "session", key) }
func (s *Service) tokensConn(key string) string { return "signin-" + key }
func pendingKey(state string) string {
	h := sha256.Sum256([]byte(state))
	return cache.AuxKey("signin", "pending", hex.EncodeToString(h[:16]))
}

func (s *Service) handleLogin(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ret, err := s.returnTo(r, q.Get("return_to"))
	if err != nil {
		writeError(w, http.StatusBadRequest, adapter.CodeBadUserInput, err.Error())
		return
	}
	p := pending{Verifier: oauth2.GenerateVerifier(), ReturnTo: ret, Token: q.Get("response") == "token", CreatedAt: s.o.Now().UTC()}
	state := random(24)
	plain, _ := json.Marshal(p)
	blob, err := s.o.Box.Seal(pendingKey(state), plain)
	if err == nil {
		err = s.o.Store.Set(r.Context(), pendingKey(state), blob, pendingTTL)
	}
	if err != nil {
		s.o.Logger.ErrorContext(r.Context(), "signin: cannot store a pending login", "err", err)
		writeError(w, http.StatusServiceUnavailable, adapter.CodeUpstreamUnavailable, "sign-in is unavailable right now; try again")
		return
	}
	// The state cookie binds the callback to this browser: a login started
	// elsewhere (login CSRF) cannot be completed here.
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: state, Path: "/auth/", MaxAge: int(pendingTTL.Seconds()),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, s.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(p.Verifier)), http.StatusFound)
}

// returnTo validates where the browser goes after sign-in: a path on the
// gateway, or an absolute URL of an allowed frontend origin.
func (s *Service) returnTo(r *http.Request, raw string) (string, error) {
	if raw == "" {
		return "/", nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("return_to is not a URL")
	}
	if !u.IsAbs() {
		if !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") || strings.HasPrefix(raw, "/\\") || u.Host != "" {
			return "", errors.New("return_to must be a path on this gateway or a URL of a CORS_ORIGINS frontend")
		}
		return raw, nil
	}
	if (u.Scheme == "http" || u.Scheme == "https") && s.o.ReturnAllowed(u) {
		return u.String(), nil
	}
	return "", errors.New("return_to must be a path on this gateway or a URL of a CORS_ORIGINS frontend")
}

func (s *Service) handleCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	state := q.Get("state")
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: "", Path: "/auth/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	c, err := r.Cookie(stateCookie)
	if state == "" || err != nil || c.Value != state {
		s.refused(ctx, r, "state")
		writePage(w, http.StatusBadRequest, "Sign-in failed", "This sign-in was not started from this browser, or it expired. Start again.", "")
		return
	}
	p, ok, err := s.takePending(ctx, state)
	switch {
	case err != nil:
		writePage(w, http.StatusServiceUnavailable, "Sign-in unavailable", "Sign-in is unavailable right now; try again.", "")
		return
	case !ok:
		s.refused(ctx, r, "state")
		writePage(w, http.StatusBadRequest, "Sign-in failed", "This sign-in expired or was already used. Start again.", "")
		return
	}
	if e := q.Get("error"); e != "" {
		s.refused(ctx, r, "denied")
		writePage(w, http.StatusForbidden, "Sign-in cancelled", "Procore did not authorize the gateway ("+e+").", "")
		return
	}
	tok, err := s.oauth.Exchange(context.WithValue(ctx, oauth2.HTTPClient, s.o.HTTPClient), q.Get("code"), oauth2.VerifierOption(p.Verifier))
	if err != nil || tok.RefreshToken == "" {
		s.o.Logger.WarnContext(ctx, "signin: the code exchange failed", "err", redact(err))
		s.refused(ctx, r, "exchange")
		writePage(w, http.StatusBadGateway, "Sign-in failed", "Procore refused the sign-in; start again.", "")
		return
	}
	token := TokenPrefix + random(32)
	key := sessionKey(token)
	tokens := oauthstore.New(s.o.Store, s.tokensConn(key), oauthstore.Options{Box: s.o.Box, TTL: s.o.MaxAge})
	if tok.Expiry.IsZero() {
		if in, ok := tok.Extra("expires_in").(float64); ok && in > 0 {
			tok.Expiry = s.o.Now().Add(time.Duration(in) * time.Second)
		}
	}
	if err := tokens.Save(ctx, tok); err != nil {
		s.o.Logger.ErrorContext(ctx, "signin: cannot store the token pair", "err", err)
		writePage(w, http.StatusServiceUnavailable, "Sign-in unavailable", "Sign-in is unavailable right now; try again.", "")
		return
	}
	client, err := s.o.NewClient(tokens, tok.RefreshToken, s.tokensConn(key))
	if err != nil {
		writePage(w, http.StatusInternalServerError, "Sign-in failed", "internal error", "")
		return
	}
	rec, err := s.identify(ctx, client)
	if err != nil {
		_ = tokens.Save(context.WithoutCancel(ctx), nil)
		s.refused(ctx, r, "company")
		writePage(w, http.StatusForbidden, "Sign-in refused", messageOf(err), "")
		return
	}
	now := s.o.Now().UTC()
	rec.CreatedAt, rec.ExpiresAt = now, now.Add(s.o.MaxAge)
	if err := s.save(ctx, key, rec); err != nil {
		writePage(w, http.StatusServiceUnavailable, "Sign-in unavailable", "Sign-in is unavailable right now; try again.", "")
		return
	}
	s.o.Audit.Record(ctx, audit.Record{Event: audit.EventSignIn, Principal: s.principal(rec, key).Ref(), Operation: "signin",
		Outcome: audit.OutcomeOK, Remote: audit.RemoteFrom(ctx)})
	if p.Token {
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			writeJSON(w, http.StatusOK, map[string]any{"token": token, "expiresAt": rec.ExpiresAt, "user": userJSON(rec)})
			return
		}
		writePage(w, http.StatusOK, "Signed in", "Signed in to procoregraph as "+rec.Name+". Send this token as `Authorization: Bearer <token>`; it is shown once.", token)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.o.Cookie, Value: token, Path: "/", Expires: rec.ExpiresAt, MaxAge: int(s.o.MaxAge.Seconds()),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, p.ReturnTo, http.StatusSeeOther)
}

// identify reads who signed in and checks they belong to the gateway's
// company.
func (s *Service) identify(ctx context.Context, client adapter.Procore) (record, error) {
	me, err := client.Me(ctx)
	if err != nil {
		return record{}, err
	}
	companies, err := client.Companies(ctx)
	if err != nil {
		return record{}, err
	}
	for _, c := range companies {
		if c.ID == s.o.Company.CompanyID {
			return record{UserID: me.ID, Login: me.Login, Name: me.Name, CompanyID: c.ID}, nil
		}
	}
	return record{}, adapter.Errorf(adapter.CodeForbidden, "%s is not a member of the company this gateway serves (%d)", me.Login, s.o.Company.CompanyID)
}

// takePending reads and deletes a pending login (single use).
func (s *Service) takePending(ctx context.Context, state string) (pending, bool, error) {
	key := pendingKey(state)
	it, ok, err := s.o.Store.Get(ctx, key)
	if err != nil || !ok {
		return pending{}, false, err
	}
	if took, err := s.o.Store.CompareAndDelete(ctx, key, it.Value); err != nil || !took {
		return pending{}, false, err
	}
	plain, err := s.o.Box.Open(key, it.Value)
	if err != nil {
		return pending{}, false, nil
	}
	var p pending
	if json.Unmarshal(plain, &p) != nil || s.o.Now().Sub(p.CreatedAt) > pendingTTL {
		return pending{}, false, nil
	}
	return p, true, nil
}

func (s *Service) save(ctx context.Context, key string, rec record) error {
	plain, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	blob, err := s.o.Box.Seal(s.recordKey(key), plain)
	if err != nil {
		return err
	}
	return s.o.Store.Set(ctx, s.recordKey(key), blob, rec.ExpiresAt.Sub(s.o.Now()))
}

// load reads a session record: UNAUTHENTICATED when unknown, revoked or
// expired; UPSTREAM_UNAVAILABLE when the store cannot be read.
func (s *Service) load(ctx context.Context, key string) (record, error) {
	it, ok, err := s.o.Store.Get(ctx, s.recordKey(key))
	if err != nil {
		return record{}, &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Message: "the session store is unavailable; try again", Err: err}
	}
	if !ok {
		return record{}, adapter.Errorf(adapter.CodeUnauthenticated, "unknown, expired or signed-out session: sign in again at /auth/login")
	}
	plain, err := s.o.Box.Open(s.recordKey(key), it.Value)
	var rec record
	if err != nil || json.Unmarshal(plain, &rec) != nil {
		return record{}, adapter.Errorf(adapter.CodeUnauthenticated, "the session cannot be read with this gateway's key: sign in again")
	}
	if !s.o.Now().Before(rec.ExpiresAt) {
		return record{}, adapter.Errorf(adapter.CodeUnauthenticated, "the session expired: sign in again at /auth/login")
	}
	return rec, nil
}

func (s *Service) principal(rec record, key string) principal.Principal {
	return principal.Principal{Kind: principal.KindProcoreUser, Name: rec.Login, ProcoreUserID: rec.UserID,
		Scopes: slices.Clone(principal.AllScopes), SessionID: key}
}

// Identity implements authn.SessionResolver: the signed-in person and a
// connection acting with their own Procore permissions.
func (s *Service) Identity(ctx context.Context, token string) (authn.Identity, error) {
	if !strings.HasPrefix(token, TokenPrefix) {
		return authn.Identity{}, adapter.Errorf(adapter.CodeUnauthenticated, "not a sign-in session token")
	}
	key := sessionKey(token)
	rec, err := s.load(ctx, key)
	if err != nil {
		if adapter.ErrorCode(err) == adapter.CodeUnauthenticated {
			s.conns.Remove(key)
		}
		return authn.Identity{}, err
	}
	c, ok := s.conns.Get(key)
	if !ok {
		tokens := oauthstore.New(s.o.Store, s.tokensConn(key), oauthstore.Options{Box: s.o.Box, TTL: s.o.MaxAge})
		stored, err := tokens.Load(ctx)
		if err != nil {
			return authn.Identity{}, &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Message: "the session store is unavailable; try again", Err: err}
		}
		if stored == nil || stored.RefreshToken == "" {
			return authn.Identity{}, adapter.Errorf(adapter.CodeReauthRequired, "the session's Procore authorization is gone: sign in again")
		}
		client, err := s.o.NewClient(tokens, stored.RefreshToken, s.tokensConn(key))
		if err != nil {
			return authn.Identity{}, err
		}
		c = &tenant.Connection{
			ID: s.o.Company.ID, CompanyID: rec.CompanyID,
			// Per person: their permissions shape what Procore answers.
			UserKey:       "procore-user-" + fmt.Sprint(rec.UserID),
			Procore:       client,
			CanSeeProject: visibility(client, rec.CompanyID, s.o.Now),
		}
		s.conns.Add(key, c)
	}
	return authn.Identity{Principal: s.principal(rec, key), Conn: c}, nil
}

func (s *Service) handleSession(w http.ResponseWriter, r *http.Request) {
	token := s.tokenOf(r)
	if token == "" {
		writeError(w, http.StatusUnauthorized, adapter.CodeUnauthenticated, "not signed in")
		return
	}
	rec, err := s.load(r.Context(), sessionKey(token))
	if err != nil {
		status := http.StatusUnauthorized
		if adapter.ErrorCode(err) == adapter.CodeUpstreamUnavailable {
			status = http.StatusServiceUnavailable
		}
		writeError(w, status, adapter.ErrorCode(err), messageOf(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": userJSON(rec), "companyId": fmt.Sprint(rec.CompanyID), "expiresAt": rec.ExpiresAt})
}

// tokenOf is the request's sign-in token: the bearer token, else the cookie.
func (s *Service) tokenOf(r *http.Request) string {
	if _, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.HasPrefix(strings.TrimSpace(tok), TokenPrefix) {
		return strings.TrimSpace(tok)
	}
	if c, err := r.Cookie(s.o.Cookie); err == nil && strings.HasPrefix(c.Value, TokenPrefix) {
		return c.Value
	}
	return ""
}

// Logout ends the session of token on every replica: its record and token
// pair are deleted (revocation fails closed: an error is returned when the
// store cannot delete them), its open streams end, and Procore revokes the
// token pair (best effort).
func (s *Service) Logout(ctx context.Context, token string) error {
	key := sessionKey(token)
	rec, err := s.load(ctx, key)
	if adapter.ErrorCode(err) == adapter.CodeUpstreamUnavailable {
		return err
	}
	tokens := oauthstore.New(s.o.Store, s.tokensConn(key), oauthstore.Options{Box: s.o.Box})
	stored, _ := tokens.Load(ctx)
	if err := s.o.Store.Delete(ctx, s.recordKey(key), cache.AuxKey(s.tokensConn(key), "oauth-token")); err != nil {
		return &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Message: "the session could not be ended; try again", Err: err}
	}
	s.conns.Remove(key)
	if s.o.Revocations != nil {
		if err := s.o.Revocations.Revoke(ctx, key); err != nil {
			s.o.Logger.WarnContext(ctx, "signin: could not announce a sign-out to the other replicas; their streams end at the next re-check", "err", err)
		}
	}
	if stored != nil && stored.RefreshToken != "" {
		s.revokeAtProcore(context.WithoutCancel(ctx), stored.RefreshToken)
	}
	if err == nil {
		s.o.Audit.Record(ctx, audit.Record{Event: audit.EventSignOut, Principal: s.principal(rec, key).Ref(), Operation: "logout",
			Outcome: audit.OutcomeOK, Remote: audit.RemoteFrom(ctx)})
	}
	return nil
}

func (s *Service) revokeAtProcore(ctx context.Context, refresh string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	form := url.Values{"token": {refresh}, "client_id": {s.o.ClientID}, "client_secret": {s.o.ClientSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(s.o.LoginURL, "/")+"/oauth/revoke", strings.NewReader(form.Encode()))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.o.HTTPClient.Do(req)
	if err != nil {
		s.o.Logger.WarnContext(ctx, "signin: Procore token revocation failed; the token pair is forgotten here", "err", redact(err))
		return
	}
	resp.Body.Close()
}

func (s *Service) handleLogout(w http.ResponseWriter, r *http.Request) {
	token := s.tokenOf(r)
	if token == "" {
		writeError(w, http.StatusUnauthorized, adapter.CodeUnauthenticated, "not signed in")
		return
	}
	if r.Header.Get("Authorization") == "" && !s.o.CookieRequestAllowed(r) {
		writeError(w, http.StatusForbidden, adapter.CodeForbidden,
			"a sign-out by cookie must come from this gateway's origin or a CORS_ORIGINS frontend and send JSON (or a header that requires a CORS preflight)")
		return
	}
	if err := s.Logout(r.Context(), token); err != nil {
		writeError(w, http.StatusServiceUnavailable, adapter.ErrorCode(err), messageOf(err))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.o.Cookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	w.WriteHeader(http.StatusNoContent)
}

// refused audits a sign-in that did not complete.
func (s *Service) refused(ctx context.Context, r *http.Request, why string) {
	s.o.Audit.Record(ctx, audit.Record{Event: audit.EventSignIn, Principal: principal.Principal{}.Ref(), Operation: "signin",
		Outcome: audit.OutcomeRefused, Code: why, Remote: audit.RemoteFrom(ctx)})
}

func userJSON(rec record) map[string]any {
	return map[string]any{"id": fmt.Sprint(rec.UserID), "login": rec.Login, "name": rec.Name}
}

func messageOf(err error) string {
	var ae *adapter.Error
	if errors.As(err, &ae) {
		return ae.Message
	}
	return "internal error"
}

// redact keeps a token endpoint error's kind without its body or URL.
func redact(err error) string {
	if err == nil {
		return ""
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return "token endpoint answered " + re.ErrorCode
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return "transport error"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code adapter.Code, msg string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": string(code)}}}})
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} · procoregraph</title></head>
<body><main id="signin"><h1>{{.Title}}</h1><p id="message">{{.Message}}</p>{{if .Token}}<pre><code id="token">{{.Token}}</code></pre>{{end}}</main></body></html>`))

func writePage(w http.ResponseWriter, status int, title, msg, token string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = page.Execute(w, struct{ Title, Message, Token string }{title, msg, token})
}
