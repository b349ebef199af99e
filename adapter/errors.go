package adapter

import (
	"errors"
	"fmt"
	"time"
)

// Code is the small error vocabulary every layer above the adapter speaks. The
// GraphQL error presenter maps it to extensions.code in exactly one table.
type Code string

const (
	CodeNotFound            Code = "NOT_FOUND"
	CodeForbidden           Code = "FORBIDDEN"
	CodeUnauthenticated     Code = "UNAUTHENTICATED"
	CodeRateLimited         Code = "RATE_LIMITED"
	CodeUpstreamUnavailable Code = "UPSTREAM_UNAVAILABLE"
	CodeBadUserInput        Code = "BAD_USER_INPUT"
	CodeConflict            Code = "CONFLICT"
	CodeReauthRequired      Code = "REAUTH_REQUIRED"
	CodeInternal            Code = "INTERNAL"

	// CodeStateFull: the gateway's correctness-state store (idempotency
	// records, sessions, locks, last-known item state; package state) is
	// full and refused a new entry rather than forget a live one. Nothing
	// was changed; retry after RetryAfter.
	CodeStateFull Code = "STATE_FULL"
)

// FieldError is one field-level validation message, from our own validation or
// from a Procore 422 body. Field is a path such as ["input", "subject"].
type FieldError struct {
	Field   []string
	Message string
	Code    Code
}

// Error is an adapter error carrying a Code. Upstream status and message are kept
// for logs; Message is safe to show to clients (it never contains secrets).
type Error struct {
	Code       Code
	Message    string
	Status     int           // upstream HTTP status, 0 when not from an HTTP response
	RetryAfter time.Duration // for RATE_LIMITED / UPSTREAM_UNAVAILABLE, when known
	Fields     []FieldError  // for BAD_USER_INPUT from a 422
	Err        error         // wrapped cause, may be nil
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the Code of err, CodeInternal for a non-nil error without
// one, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// IsNotFound reports whether err carries CodeNotFound.
func IsNotFound(err error) bool { return ErrorCode(err) == CodeNotFound }
