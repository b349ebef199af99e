// Package auth is the sandbox's Procore login host: OAuth 2.0 (Doorkeeper-style, as Procore
// runs it) and the web portal a person logs in through, with MFA. The sandbox core mounts it
// with Register and calls Authenticate on every /rest/* request. All state is in memory.
//
// # OAuth routes
//
//	POST /oauth/token           grant_type=client_credentials | authorization_code (code, redirect_uri,
//	                            code_verifier) | refresh_token
//	GET  /oauth/token/info      Authorization: Bearer <token>
//	POST /oauth/revoke          token, client_id, client_secret
//	GET  /oauth/authorize       response_type=code&client_id&redirect_uri&state[&code_challenge
//	                            &code_challenge_method]: login, then the consent page or the code
//	POST /oauth/authorize       the consent form: the same parameters, authenticity_token,
//	                            decision=allow|deny
//	GET  /oauth/authorize/native?code=   out-of-band page showing the code
//
// /oauth/token reads application/x-www-form-urlencoded, multipart/form-data or JSON bodies (plus
// the query string); the client authenticates with client_id/client_secret parameters or HTTP
// Basic. The answer is {"access_token","token_type":"bearer","expires_in","refresh_token","created_at"}
// with Cache-Control: no-store; client_credentials answers carry no refresh_token. Access tokens
// are JWT-shaped (eyJ…, HS256 with a per-process random key) but only the server-side record
// decides validity; refresh tokens are opaque. Errors use Doorkeeper's bodies
// {"error","error_description"}:
//   - missing grant_type, code, redirect_uri or refresh_token → 400 invalid_request
//   - unknown grant_type → 400 unsupported_grant_type
//   - unknown client or wrong secret → 401 invalid_client
//   - unknown, expired (10 min), used, other-client or redirect_uri-mismatched code, a missing or
//     wrong code_verifier for a code requested with a PKCE challenge, and unknown, used, revoked
//     or other-client refresh token → 400 invalid_grant with "The provided authorization grant is
//     invalid, expired, revoked, does not match the redirection URI used in the authorization
//     request, or was issued to another client."
//
// PKCE (RFC 7636): a code requested with a code_challenge needs the code_verifier, checked as
// BASE64URL-NOPAD(SHA256(code_verifier)) == code_challenge for S256 and code_verifier ==
// code_challenge for plain. A code requested without a challenge ignores code_verifier. As for the
// other code mismatches, a refused exchange does not spend the code; a successful one does.
//
// Refresh tokens rotate and are single-use. A refresh call spends the old refresh token before
// the new pair is written, so a lost response still spends it, and — as Doorkeeper without
// revoke-on-use does — it also revokes the access token issued with the old refresh token. Refresh
// tokens never expire by time; ExpireTokens leaves them working.
//
// /oauth/token/info answers {"resource_owner_id","scopes":[],"expires_in_seconds",
// "application":{"uid"},"created_at"} or 401 invalid_token ("The access token is invalid",
// "… expired", "… was revoked"). /oauth/revoke always answers 200 {} and revokes the given access
// or refresh token together with its pair (unless a client_id is given that is not the token's).
//
// GET /oauth/authorize first checks the request. Unknown client → 401 HTML page; a redirect_uri
// that is not registered (or, when the client registers none, is not an absolute http(s) URI or
// the oob URN) → 400 HTML page, both with the message in #oauth-error. The other errors redirect
// to redirect_uri with error, error_description and state (when given), or for the oob URI show
// a 400 HTML page with #oauth-error: response_type other than code → unsupported_response_type;
// a code_challenge that is not 43–128 characters of [A-Za-z0-9-._~], or a code_challenge_method
// other than S256 or plain → invalid_request. A code_challenge without a method is plain
// (RFC 7636 §4.3); a method without a challenge is ignored, as Doorkeeper does.
//
// Then it needs a web session: without one it redirects (302) to /login?return_to=<the authorize
// URL>, and the login comes back to it. With a session, the first time a user authorizes a client
// it shows the consent page (200):
//
//	main#consent               the client id in #consent-client, the user's name in #consent-user
//	form#consent-form          method=post action=/oauth/authorize, hidden inputs client_id,
//	                           redirect_uri, response_type, state, code_challenge,
//	                           code_challenge_method and authenticity_token (the session's CSRF token)
//	button#authorize           name=decision value=allow ("Allow")
//	button#deny                name=decision value=deny ("Deny")
//
// POST /oauth/authorize (form-encoded) without a live session redirects (302) to
// /login?return_to=<the GET authorize URL rebuilt from the form>; an authenticity_token that is
// not the session's CSRF token → 403 HTML page with #oauth-error; then the parameters are checked
// as for GET. decision=allow remembers the approval and issues the code; decision=deny redirects
// with error=access_denied ("The resource owner or authorization server denied the request.")
// and state, or for the oob URI shows a 400 HTML page; any other decision → 400 HTML page.
//
// Once the user has approved the client, GET /oauth/authorize issues the code at once. Issuing
// redirects (302) to redirect_uri with code (and state), or for urn:ietf:wg:oauth:2.0:oob to
// /oauth/authorize/native?code=…, a page showing the code in the element #auth-code. The code
// keeps the PKCE challenge and method.
//
// # Web portal
//
// Plain server-rendered HTML, no JavaScript; every form posts and answers 303 See Other. The
// element ids and names below are a stable contract for browser drivers.
//
//	GET  /login[?return_to=/path]  email form: form#email-form, input#email name=email, button#next
//	POST /login                    starts a login flow (cookie _procore_login, HttpOnly, 15 min) and
//	                               → /login/password, or for an SSO user → /sso/idp?login_hint&RelayState
//	GET  /sso/idp                  the IdP page: form#sso-form posting to /sso/acs, button#sso-continue
//	POST /sso/acs                  assertion consumer → /login/password
//	GET  /login/password           input#password name=password, button#sign-in, email in #login-email
//	POST /login/password           wrong → 422, same page with #login-error "Invalid email or password."
//	                               right → /login/mfa, or straight to the session when MFA is ""
//	GET  /login/mfa                main#mfa[data-mfa-method=totp|sms|email], #mfa-hint,
//	                               input#code name=code, button#verify; sms/email also button#resend
//	POST /login/mfa                wrong → 422, same page with #mfa-error "Invalid verification code."
//	POST /login/mfa/resend         sends a new SMS/email code (the earlier one stops working)
//	GET  /app                      main#app-home with the user's name in #user-name,
//	                               <meta name="csrf-token">, button#logout; no session → /login?return_to=/app
//	GET|POST /logout               ends the session, clears the cookies → /login
//
// An unknown email still gets the password page and fails there. Wrong steps are counted
// (LoginFailures) without lockout. A GET /login with a live session redirects to return_to.
// return_to must be a same-site path; anything else becomes /app. Flow state is server-side,
// keyed by the _procore_login cookie; a request without a live flow is sent to the right step or
// back to /login.
//
// MFA: "totp" checks RFC 6238 codes (SHA-1, 6 digits, 30 s step) with github.com/pquerna/otp,
// allowing one step of skew either way, and refuses a code whose step is not newer than the last
// one accepted for that user (no replay: a second login inside the same step must wait for the
// next code). "sms" and "email" send a random 6-digit code, valid 10 minutes and single-use, to
// the outbox (Outbox); SMS goes to WebUser.Phone, or to the email when Phone is empty.
//
// A completed login sets _procore_session (HttpOnly, SameSite=Lax, Path=/, Expires and Max-Age
// from SessionTTL, default 2 h) and csrf_token (readable, same attributes otherwise), drops the
// flow cookie, counts one login (Logins) and redirects to return_to (default /app).
//
// # Authenticate
//
// Authenticate accepts "Authorization: Bearer <access token>" (when an Authorization header is
// present nothing else is considered) or the _procore_session cookie. Cookie sessions on methods
// other than GET, HEAD and OPTIONS also need the X-CSRF-Token header equal to the session's CSRF
// token. Every error means 401. Principal.TokenID is the first 8 bytes of the SHA-256 of the token
// or session id, hex: stable and not secret. Principal.Kind is "client_credentials" (UserID is the
// client's ServiceUserID, CompanyIDs non-nil), "user" (authorization_code and refresh_token
// grants) or "session".
//
// # Defaults
//
// TokenTTL 5400 s; SessionTTL 2 h; authorization codes 10 min; SMS/email codes 10 min; login flows
// 15 min; Now time.Now; Issuer "procore-sandbox". ExpireTokens and ExpireSessions set the expiry
// of everything issued so far to now. Dead records are pruned at most once a minute.
//
// Not faithful: no scopes, no account lockout, sessions do not slide, a client without
// RedirectURIs accepts any absolute redirect URI, a consent is remembered for the Service's
// lifetime (Doorkeeper asks again once the user holds no unrevoked token of the client), and a
// code_verifier sent for a code requested without a challenge is ignored (Doorkeeper refuses it).
package auth
