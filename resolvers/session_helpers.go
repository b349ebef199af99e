package resolvers

import (
	"context"
	"errors"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"procoregraph/adapter"
	"procoregraph/adapter/portal"
	"procoregraph/graph/model"
	"procoregraph/mutate"
	"procoregraph/sessions"
)

func sessionService(ctx context.Context) (*sessions.Service, error) {
	s := sessions.FromContext(ctx)
	if s == nil {
		return nil, adapter.Errorf(adapter.CodeForbidden, "browser sessions are not enabled on this gateway (set PORTAL_SESSION_KEY)")
	}
	return s, nil
}

func createSession(ctx context.Context, in model.CreateSessionInput) (*model.SessionPayload, error) {
	svc, err := sessionService(ctx)
	if err != nil {
		return nil, err
	}
	var mfa portal.MFA
	if in.Mfa != nil {
		mfa.Method = portal.MFAMethod(strings.ToLower(string(in.Mfa.Method)))
		mfa.TOTPSecret = deref(in.Mfa.TotpSecret)
		mfa.CodeProvider = deref(in.Mfa.CodeProvider)
		mfa.CodeAddress = deref(in.Mfa.CodeAddress)
	}
	var company int64
	if in.CompanyID != nil {
		company = *in.CompanyID
	}
	sess, err := svc.Create(ctx, sessions.CreateInput{Username: in.Username, Password: in.Password, MFA: mfa, CompanyID: company})
	if err != nil {
		ues, err := sessionUserErrors(err)
		if err != nil {
			return nil, err
		}
		return &model.SessionPayload{UserErrors: ues}, nil
	}
	return &model.SessionPayload{Session: gatewaySession(sess), UserErrors: []mutate.UserError{}}, nil
}

func refreshSession(ctx context.Context, in *model.SessionTokenInput) (*model.SessionPayload, error) {
	svc, err := sessionService(ctx)
	if err != nil {
		return nil, err
	}
	sess, err := svc.Refresh(ctx, sessionToken(ctx, in))
	if err != nil {
		ues, err := sessionUserErrors(err)
		if err != nil {
			return nil, err
		}
		return &model.SessionPayload{UserErrors: ues}, nil
	}
	return &model.SessionPayload{Session: gatewaySession(sess), UserErrors: []mutate.UserError{}}, nil
}

func revokeSession(ctx context.Context, in *model.SessionTokenInput) (*model.RevokeSessionPayload, error) {
	svc, err := sessionService(ctx)
	if err != nil {
		return nil, err
	}
	if err := svc.Revoke(ctx, sessionToken(ctx, in)); err != nil {
		ues, err := sessionUserErrors(err)
		if err != nil {
			return nil, err
		}
		return &model.RevokeSessionPayload{UserErrors: ues}, nil
	}
	return &model.RevokeSessionPayload{Revoked: true, UserErrors: []mutate.UserError{}}, nil
}

// sessionToken is the input's token, else the request's bearer token.
func sessionToken(ctx context.Context, in *model.SessionTokenInput) string {
	if in != nil && in.Token != nil {
		return *in.Token
	}
	if oc := graphql.GetOperationContext(ctx); oc != nil && oc.Headers != nil {
		if _, tok, ok := strings.Cut(oc.Headers.Get("Authorization"), " "); ok {
			return strings.TrimSpace(tok)
		}
	}
	return ""
}

// sessionUserErrors maps what the client can fix (bad input, refused
// credentials, unknown session) to userErrors; other errors stay errors.
func sessionUserErrors(err error) ([]mutate.UserError, error) {
	var ae *adapter.Error
	if !errors.As(err, &ae) {
		return nil, err
	}
	switch ae.Code {
	case adapter.CodeBadUserInput:
		if len(ae.Fields) == 0 {
			return []mutate.UserError{{Field: []string{"input"}, Message: ae.Message, Code: mutate.CodeInvalidValue}}, nil
		}
		out := make([]mutate.UserError, len(ae.Fields))
		for i, f := range ae.Fields {
			out[i] = mutate.UserError{Field: append([]string{"input"}, f.Field...), Message: f.Message, Code: mutate.CodeInvalidValue}
		}
		return out, nil
	case adapter.CodeUnauthenticated, adapter.CodeReauthRequired:
		field := []string{"input", "password"}
		switch {
		case errors.Is(err, portal.ErrInvalidCode), errors.Is(err, portal.ErrMFAMismatch):
			field = []string{"input", "mfa"}
		case errors.Is(err, portal.ErrSessionNotFound):
			field = []string{"input", "token"}
		}
		code := mutate.CodeUnauthenticated
		if ae.Code == adapter.CodeReauthRequired {
			code = mutate.CodeReauthRequired
		}
		return []mutate.UserError{{Field: field, Message: ae.Message, Code: code}}, nil
	}
	return nil, err
}

func gatewaySession(s portal.Session) *model.GatewaySession {
	g := &model.GatewaySession{Token: s.ID, ExpiresAt: s.ExpiresAt, Email: s.Email,
		MfaMethod: model.MFAMethod(strings.ToUpper(string(s.MFAMethod))), State: model.SessionState(s.State)}
	if g.MfaMethod == "" {
		g.MfaMethod = model.MFAMethodNone
	}
	if s.CompanyID != 0 {
		id := s.CompanyID
		g.CompanyID = &id
	}
	return g
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
