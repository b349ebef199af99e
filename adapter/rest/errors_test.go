package rest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"procoregraph/adapter"
)

func TestStatusErrorCodes(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		status int
		want   adapter.Code
	}{
		{400, adapter.CodeBadUserInput}, {401, adapter.CodeUnauthenticated}, {403, adapter.CodeForbidden},
		{404, adapter.CodeNotFound}, {406, adapter.CodeBadUserInput}, {408, adapter.CodeUpstreamUnavailable},
		{409, adapter.CodeConflict}, {422, adapter.CodeBadUserInput}, {429, adapter.CodeRateLimited},
		{500, adapter.CodeUpstreamUnavailable}, {502, adapter.CodeUpstreamUnavailable}, {503, adapter.CodeUpstreamUnavailable},
	} {
		e := statusError("list RFIs", tc.status, http.Header{}, nil, now)
		if e.Code != tc.want || e.Status != tc.status || !strings.HasPrefix(e.Message, "list RFIs: ") {
			t.Errorf("%d -> %+v, want %s", tc.status, e, tc.want)
		}
	}
	t.Run("RateLimitedCarriesRetryAfter", func(t *testing.T) {
		h := http.Header{}
		h.Set("Retry-After", "42")
		if e := statusError("x", 429, h, []byte("You have surpassed the max number of requests for an hour."), now); e.RetryAfter != 42*time.Second {
			t.Fatalf("RetryAfter %v", e.RetryAfter)
		}
	})
	t.Run("ServerDetailsAreNotShown", func(t *testing.T) {
		e := statusError("x", 500, http.Header{}, []byte(`{"message":"undefined method for nil:NilClass","exception":"NoMethodError at app/models/rfi.rb:12"}`), now)
		if strings.Contains(e.Message, "NilClass") || strings.Contains(e.Message, "rfi.rb") {
			t.Fatalf("message %q exposes server internals", e.Message)
		}
	})
}

func TestParseErrorBodies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		msg    string
		fields [][]string
	}{
		{"ErrorsString", `{"errors":"Missing Procore-Company-Id header!"}`, "Missing Procore-Company-Id header!", nil},
		{"ErrorsArray", `{"errors":["Subject can't be blank","Due date is invalid"]}`, "Subject can't be blank; Due date is invalid", nil},
		{"ErrorsArrayOfObjects", `{"errors":[{"field":"subject","message":"can't be blank"}]}`, "subject can't be blank", [][]string{{"subject"}}},
		{"RailsMap", `{"errors":{"subject":["can't be blank"],"rfi_manager_id":["can't be blank","is invalid"]}}`,
			"rfi_manager_id can't be blank; rfi_manager_id is invalid; subject can't be blank",
			[][]string{{"rfi_manager_id"}, {"rfi_manager_id"}, {"subject"}}},
		{"NestedRailsMap", `{"errors":{"question":{"body":["can't be blank"]}}}`, "question.body can't be blank", [][]string{{"question", "body"}}},
		{"DottedRailsKey", `{"errors":{"question.body":["can't be blank"]}}`, "question.body can't be blank", [][]string{{"question", "body"}}},
		{"ErrorString", `{"error":"invalid_token","error_description":"The access token is invalid"}`, "The access token is invalid", nil},
		{"ErrorObject", `{"error":{"code":"unprocessable_entity","message":"Only the latest open invoice can be edited"}}`,
			"Only the latest open invoice can be edited", nil},
		{"V2ErrorWithDetails", `{"error":{"code":"BAD_REQUEST","message":"Invalid","details":[{"reason_code":"X","message":"must be a date","source":"due_date"}]}}`,
			"Invalid", [][]string{{"due_date"}}},
		{"MessageException", `{"message":"Record not found","exception":"ActiveRecord::RecordNotFound"}`, "Record not found", nil},
		{"GenericShape", `{"code":422,"message":"Unprocessable","fields":"status","reason":"bad transition"}`, "Unprocessable", [][]string{{"status"}}},
		{"PlainText", "You have surpassed the max number of requests for an hour. Please wait until your limit resets.",
			"You have surpassed the max number of requests for an hour. Please wait until your limit resets.", nil},
		{"HTML", "<html><body>Bad Gateway</body></html>", "", nil},
		{"Empty", "", "", nil},
		{"BareString", `"nope"`, "nope", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, fields := parseErrorBody([]byte(tc.body))
			if msg != tc.msg {
				t.Errorf("message %q, want %q", msg, tc.msg)
			}
			var paths [][]string
			for _, f := range fields {
				paths = append(paths, f.Field)
				if f.Code != adapter.CodeBadUserInput || f.Message == "" {
					t.Errorf("field %+v", f)
				}
			}
			if !slices.EqualFunc(paths, tc.fields, slices.Equal[[]string]) {
				t.Errorf("fields %v, want %v", paths, tc.fields)
			}
		})
	}
}

func TestErrorMessagesRedactTokens(t *testing.T) {
	msg, _ := parseErrorBody([]byte(`{"error":"token Bearer abc.def-ghi rejected; eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"}`))
	if strings.Contains(msg, "abc.def") || strings.Contains(msg, "eyJhbGci") {
		t.Fatalf("message %q leaks a token", msg)
	}
	long, _ := parseErrorBody([]byte(`{"errors":"` + strings.Repeat("x", 5000) + `"}`))
	if len(long) > maxMessage+10 {
		t.Fatalf("message of %d bytes not bounded", len(long))
	}
}

func TestClientMapsUpstreamErrors(t *testing.T) {
	f := newFakeProcore(t)
	f.Mux.HandleFunc("GET /rest/v1.0/projects/{p}/rfis/{id}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("id") {
		case "1":
			writeJSON(w, 404, map[string]string{"message": "not found", "exception": "RecordNotFound"})
		case "2":
			writeJSON(w, 403, map[string]string{"errors": "You do not have permission to view RFIs"})
		case "3":
			writeJSON(w, 409, map[string]string{"errors": "Origin ID taken"})
		}
	})
	f.Mux.HandleFunc("POST /rest/v1.0/projects/{p}/rfis", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 422, map[string]any{"errors": map[string][]string{"subject": {"can't be blank"}}})
	})
	c := newTestClient(t, f.URL, nil)
	ctx := context.Background()
	for id, want := range map[int64]adapter.Code{1: adapter.CodeNotFound, 2: adapter.CodeForbidden, 3: adapter.CodeConflict} {
		_, err := c.RFI(ctx, 7, id)
		if adapter.ErrorCode(err) != want {
			t.Errorf("RFI %d: %v, want %s", id, err, want)
		}
	}
	_, err := c.CreateRFI(ctx, 7, adapter.RFICreate{Subject: "s", Question: "q", ManagerID: 1})
	var ae *adapter.Error
	if !errors.As(err, &ae) || ae.Code != adapter.CodeBadUserInput || len(ae.Fields) != 1 || ae.Fields[0].Field[0] != "subject" || ae.Status != 422 {
		t.Fatalf("422 -> %+v", err)
	}
}

func TestTransportErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	url := srv.URL
	srv.Close() // nothing listens
	c := newTestClient(t, url, func(cfg *Config) {
		cfg.Credentials = staticCreds{}
		cfg.Retry.MaxAttempts = 2
	})
	_, err := c.Me(context.Background())
	if adapter.ErrorCode(err) != adapter.CodeUpstreamUnavailable {
		t.Fatalf("connection refused -> %v, want UPSTREAM_UNAVAILABLE", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Me(ctx)
	if !errors.Is(err, context.Canceled) || adapter.ErrorCode(err) != adapter.CodeUpstreamUnavailable {
		t.Fatalf("cancelled -> %v, want UPSTREAM_UNAVAILABLE wrapping context.Canceled", err)
	}
}

// staticCreds authenticates with a fixed bearer token.
type staticCreds struct{ token string }

func (s staticCreds) Apply(ctx context.Context, r *http.Request) error {
	r.Header.Set("Authorization", "Bearer "+s.token)
	return nil
}
func (staticCreds) Invalidate(context.Context, *http.Request, error) {}
