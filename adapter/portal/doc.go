// Package portal logs in to Procore's web app like a person, in a real
// headless Chromium driven by go-rod, and keeps the resulting browser session
// alive as a credential for the REST client (adapter/rest), for users who
// cannot install an OAuth app. It is the only package that imports go-rod.
//
// # Logging in
//
// Browser (the Driver) runs one Chromium process per Manager, found at
// BrowserOptions.Path or by launcher.LookPath and never downloaded, headless
// with networking extras off. Every login gets a fresh incognito context and
// tab, disposed of afterwards. The driver types the email (input#email,
// button#next), follows an SSO IdP page (button#sso-continue) when the tenant
// has one, types the password (input#password, button#sign-in), answers the
// MFA page (main#mfa[data-mfa-method], input#code, button#verify) and waits
// for the app (main#app-home). After each submit it races the pages the step
// can lead to (next step, success, #login-error, #mfa-error) instead of
// sleeping, every step under its own deadline. It captures the cookies
// (_procore_session, csrf_token) and the CSRF token from
// <meta name="csrf-token">.
//
// Second factors: TOTP codes come from the stored secret (pquerna/otp); each
// 30-second step is claimed in the Store with SET NX, so no code is ever used
// twice, even by two replicas, and a code about to expire is skipped for the
// next one. SMS and email codes come from a CodeProvider: OutboxCodes reads
// the sandbox's outbox, CodeInbox takes codes POSTed by an SMS gateway or a
// mail forwarder webhook.
//
// Where SMS and email codes go is decided on the server, never by the
// client (a Login naming MFA.CodeAddress is refused): email codes go to the
// login email, SMS codes to the number Options.SMSNumbers configures for the
// login email (PORTAL_SMS_NUMBERS; the sandbox outbox may use the login
// email instead). Codes are bound to the login attempt waiting for them:
// every attempt has a random id (CodeQuery.Login); CodeInbox lets one login
// at a time claim an address (a second one fails with ErrAddressBusy), keeps
// a delivered code under the claiming login's own key, single use, and
// refuses deliveries no login is waiting for (ErrNoPendingLogin, HTTP 409)
// instead of keeping them for a later login.
//
// # Sessions
//
// Manager.CreateSession logs in once and stores the session (credentials,
// cookies, expiry) encrypted with AES-256-GCM (Options.Key, a random nonce
// per write, the store key as additional data) in the cache Store under
// cache.AuxKey(ConnID(id), "portal", "session"), so every replica sharing
// the Store can serve it. Manager.Credentials(id) is a rest.Credentials:
// cookies on every request, X-CSRF-Token on writes.
//
// When the cookie expires, or Procore answers 401 or redirects to the login
// page (the REST client then calls Invalidate), the next use logs in again:
// callers on one replica share the login through singleflight, and replicas
// take the session's store lock (SET NX with a lease, released by
// compare-and-delete), so only one logs in while the others wait for the new
// session to appear in the store and use it. A cookie inside
// Options.RefreshBefore of its expiry is refreshed in the background while
// calls keep using it. Check probes a session, Maintain (or Run) refreshes
// and health-checks the sessions a replica uses.
//
// When Procore refuses the stored credentials on a re-login (password
// changed, MFA reset), the session is marked REAUTH_REQUIRED after that one
// attempt and every later use fails at once with adapter.CodeReauthRequired:
// no retry storm. Other login failures make calls fail fast with
// UPSTREAM_UNAVAILABLE for Options.RetryAfterFailure.
//
// Logs never contain passwords, TOTP secrets, codes, cookies, CSRF tokens or
// session ids; sessions are named by their ConnID.
//
// # Environment
//
// Set DISABLE_ROD_FLAG in the process environment so that go-rod does not
// register its -rod command-line flag (it is read at package init). The
// Browser passes every launch option explicitly and ignores go-rod's
// defaults either way.
package portal
