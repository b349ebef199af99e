package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"procoregraph/adapter"
)

// presentError is the one table from the adapter's error vocabulary to the
// wire: extensions.code carries the Code. Errors gqlgen raised itself (parse,
// validation, complexity) keep their codes; argument coercion errors become
// BAD_USER_INPUT. Only internal errors are logged as errors.
func presentError(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		var ae *adapter.Error
		if errors.As(err, &ae) {
			code := ae.Code
			gerr.Message = ae.Message
			if code == adapter.CodeInternal {
				log.ErrorContext(ctx, "internal error", "path", gerr.Path.String(), "err", ae.Error())
				gerr.Message = "internal error"
			}
			ext := map[string]any{"code": string(code)}
			if ae.RetryAfter > 0 {
				ext["retryAfterSeconds"] = int(ae.RetryAfter.Seconds() + 0.5)
			}
			if len(ae.Fields) > 0 {
				fields := make([]map[string]any, len(ae.Fields))
				for i, f := range ae.Fields {
					fields[i] = map[string]any{"field": f.Field, "message": f.Message}
				}
				ext["fields"] = fields
			}
			gerr.Extensions = ext
			return gerr
		}
		if gerr.Extensions == nil {
			gerr.Extensions = map[string]any{}
		}
		if _, ok := gerr.Extensions["code"]; !ok {
			if gerr.Rule != "" || len(gerr.Locations) > 0 && gerr.Path == nil {
				gerr.Extensions["code"] = "GRAPHQL_VALIDATION_FAILED"
			} else if isCoercion(err) {
				gerr.Extensions["code"] = string(adapter.CodeBadUserInput)
			} else {
				log.ErrorContext(ctx, "unclassified error", "path", gerr.Path.String(), "err", err)
				gerr.Extensions["code"] = string(adapter.CodeInternal)
			}
		}
		return gerr
	}
}

// isCoercion reports whether err came from turning a client value into an
// argument (a scalar's Unmarshal), which is the client's mistake.
func isCoercion(err error) bool {
	var ge *gqlerror.Error
	if errors.As(err, &ge) && ge.Path != nil {
		// gqlgen wraps argument unmarshal errors with the argument's path.
		return true
	}
	return false
}

// recoverFunc turns a resolver panic into an internal error without crashing
// the request; the panic value is logged, never returned.
func recoverFunc(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p))
		return adapter.Errorf(adapter.CodeInternal, "internal error")
	}
}

// writeAuthError answers a request whose connection cannot be resolved with a
// GraphQL-shaped 401.
func writeAuthError(w http.ResponseWriter, err error) {
	code := adapter.ErrorCode(err)
	msg := "unauthenticated"
	var ae *adapter.Error
	if errors.As(err, &ae) {
		msg = ae.Message
	}
	w.Header().Set("Content-Type", "application/json")
	status := http.StatusUnauthorized
	switch code {
	case adapter.CodeForbidden:
		status = http.StatusForbidden
	case adapter.CodeBadUserInput: // a malformed Procore-Company-Id
		status = http.StatusBadRequest
	case adapter.CodeUpstreamUnavailable:
		// A session store that cannot be read refuses (fails closed), but
		// the client should retry rather than sign in again.
		status = http.StatusServiceUnavailable
	case adapter.CodeInternal:
		status, msg = http.StatusInternalServerError, "internal error"
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="procoregraph"`)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": string(code)}}},
	})
}
