package sessions

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"procoregraph/adapter"
	"procoregraph/adapter/portal"
	"procoregraph/audit"
)

// sessionJSON is a session as the REST API returns it.
type sessionJSON struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
	CompanyID string    `json:"companyId,omitempty"`
	Email     string    `json:"email"`
	MFAMethod string    `json:"mfaMethod"`
	State     string    `json:"state"`
}

func toJSON(s portal.Session) sessionJSON {
	j := sessionJSON{Token: s.ID, ExpiresAt: s.ExpiresAt.UTC(), Email: s.Email, MFAMethod: string(s.MFAMethod), State: string(s.State)}
	if s.CompanyID != 0 {
		j.CompanyID = strconv.FormatInt(s.CompanyID, 10)
	}
	return j
}

type createJSON struct {
	Username string `json:"username"`
	Password string `json:"password"`
	MFA      struct {
		Method       string `json:"method"`
		TOTPSecret   string `json:"totpSecret"`
		CodeProvider string `json:"codeProvider"`
		CodeAddress  string `json:"codeAddress"`
	} `json:"mfa"`
	CompanyID json.Number `json:"companyId"`
}

// Register mounts the REST sessions API for clients written against one:
//
//	POST /sessions          {"username","password","mfa":{"method":"totp","totpSecret"},"companyId"} → 201 session
//	POST /sessions/refresh  Authorization: Bearer <token> → 200 session
//	POST /sessions/revoke   Authorization: Bearer <token> → 204
//
// Errors are {"error":{"code","message","fields"?}} with 400, 401 or 503.
func (s *Service) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /sessions", s.handleCreate)
	mux.HandleFunc("POST /sessions/refresh", s.handleRefresh)
	mux.HandleFunc("POST /sessions/revoke", s.handleRevoke)
	mux.HandleFunc("DELETE /sessions", s.handleRevoke)
}

func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request) {
	var in createJSON
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	if err := dec.Decode(&in); err != nil {
		writeError(w, adapter.Errorf(adapter.CodeBadUserInput, "body must be JSON: {\"username\", \"password\", \"mfa\": {\"method\", \"totpSecret\"}, \"companyId\"}"))
		return
	}
	var company int64
	if in.CompanyID != "" {
		n, err := strconv.ParseInt(string(in.CompanyID), 10, 64)
		if err != nil || n <= 0 {
			writeError(w, &adapter.Error{Code: adapter.CodeBadUserInput, Message: "companyId must be a positive integer",
				Fields: []adapter.FieldError{{Field: []string{"companyId"}, Message: "must be a positive integer"}}})
			return
		}
		company = n
	}
	method, err := ParseMFAMethod(in.MFA.Method)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx := r.Context()
	if audit.RemoteFrom(ctx) == "" {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		ctx = audit.WithRemote(ctx, host)
	}
	sess, err := s.Create(ctx, CreateInput{Username: in.Username, Password: in.Password, CompanyID: company,
		MFA: portal.MFA{Method: method, TOTPSecret: in.MFA.TOTPSecret, CodeProvider: in.MFA.CodeProvider, CodeAddress: in.MFA.CodeAddress}})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, toJSON(sess))
}

func (s *Service) handleRefresh(w http.ResponseWriter, r *http.Request) {
	token, ok := BearerToken(r)
	if !ok {
		writeError(w, adapter.Errorf(adapter.CodeUnauthenticated, "send the session token as Authorization: Bearer <token>"))
		return
	}
	sess, err := s.Refresh(r.Context(), token)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toJSON(sess))
}

func (s *Service) handleRevoke(w http.ResponseWriter, r *http.Request) {
	token, ok := BearerToken(r)
	if !ok {
		writeError(w, adapter.Errorf(adapter.CodeUnauthenticated, "send the session token as Authorization: Bearer <token>"))
		return
	}
	if err := s.Revoke(r.Context(), token); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ParseMFAMethod reads "totp", "sms", "email", "none" or "" (any case).
func ParseMFAMethod(s string) (portal.MFAMethod, error) {
	switch m := portal.MFAMethod(strings.ToLower(s)); m {
	case "", portal.MFANone:
		return portal.MFANone, nil
	case portal.MFATOTP, portal.MFASMS, portal.MFAEmail:
		return m, nil
	}
	return "", &adapter.Error{Code: adapter.CodeBadUserInput, Message: "mfa.method must be one of totp, sms, email, none",
		Fields: []adapter.FieldError{{Field: []string{"mfa", "method"}, Message: "must be one of totp, sms, email, none"}}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	code := adapter.ErrorCode(err)
	status := http.StatusInternalServerError
	switch code {
	case adapter.CodeBadUserInput:
		status = http.StatusBadRequest
	case adapter.CodeUnauthenticated, adapter.CodeReauthRequired:
		status = http.StatusUnauthorized
	case adapter.CodeForbidden:
		status = http.StatusForbidden
	case adapter.CodeRateLimited:
		status = http.StatusTooManyRequests
	case adapter.CodeUpstreamUnavailable:
		status = http.StatusServiceUnavailable
	}
	body := map[string]any{"code": string(code), "message": "internal error"}
	var ae *adapter.Error
	if errors.As(err, &ae) && code != adapter.CodeInternal {
		body["message"] = ae.Message
		if len(ae.Fields) > 0 {
			fields := make([]map[string]any, len(ae.Fields))
			for i, f := range ae.Fields {
				fields[i] = map[string]any{"field": f.Field, "message": f.Message}
			}
			body["fields"] = fields
		}
		if ae.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(ae.RetryAfter.Seconds()+0.5)))
		}
	}
	writeJSON(w, status, map[string]any{"error": body})
}
