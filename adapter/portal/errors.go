package portal

import (
	"errors"

	"procoregraph/adapter"
)

// Causes wrapped (errors.Is) by the *adapter.Error values this package
// returns. None of them carries a secret.
var (
	// ErrInvalidCredentials: Procore's login answered "Invalid email or
	// password".
	ErrInvalidCredentials = errors.New("portal: Procore refused the email or password")
	// ErrInvalidCode: Procore refused the verification code (wrong TOTP
	// secret, an MFA reset, a wrong or expired SMS/email code).
	ErrInvalidCode = errors.New("portal: Procore refused the verification code")
	// ErrMFAMismatch: Procore asked for another second factor than the one
	// configured (or for one when none was configured).
	ErrMFAMismatch = errors.New("portal: Procore asked for a different second factor")
	// ErrUnexpectedPage: a login step showed none of the pages it can lead to
	// within its deadline.
	ErrUnexpectedPage = errors.New("portal: Procore's login showed an unexpected page")
	// ErrNoCode: the code provider produced no SMS/email code in time.
	ErrNoCode = errors.New("portal: no verification code arrived")
	// ErrSessionNotFound: the session id is unknown, revoked or expired.
	ErrSessionNotFound = errors.New("portal: no such session")
	// ErrReauthRequired: an earlier re-login with the stored credentials was
	// refused; nothing is tried again until the session is created anew.
	ErrReauthRequired = errors.New("portal: the stored Procore credentials no longer work")
)

// refusedCredentials reports whether err means Procore refused what the user
// supplied (password, second factor) rather than a transient failure.
func refusedCredentials(err error) bool {
	return errors.Is(err, ErrInvalidCredentials) || errors.Is(err, ErrInvalidCode) || errors.Is(err, ErrMFAMismatch)
}

// loginError wraps cause as the adapter error a login failure is reported as.
func loginError(code adapter.Code, msg string, cause error) *adapter.Error {
	return &adapter.Error{Code: code, Message: msg, Err: cause}
}
