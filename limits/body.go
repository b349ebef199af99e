// Package limits bounds what one request may cost the gateway and the
// company's Procore budget: the request body, the document (tokens, depth,
// aliases, root fields), the estimated Procore calls (Analyze), the size of
// the answer while it is built, the time an operation may take, and how
// often a principal may ask (RateLimiter). Every refusal is a GraphQL error
// with an extensions.code, made before anything reaches Procore.
package limits

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
)

// DefaultMaxBody is the default bound of a GraphQL request body.
const DefaultMaxBody = 2 << 20

// Codes of the refusals this package answers.
const (
	CodePayloadTooLarge = "PAYLOAD_TOO_LARGE"
	CodeBadRequest      = "BAD_REQUEST"
)

// Body bounds JSON GraphQL request bodies and checks their shape before the
// GraphQL server reads them: a body over max bytes is answered 413; one
// that is not a JSON object with a string query (or a persisted-query
// extension), an optional string operationName and optional object
// variables and extensions is answered 400 BAD_REQUEST, and a batch (an
// array) is refused likewise. The body is never echoed or logged: errors
// say what is wrong, not what was sent. Other requests (GET, multipart
// uploads with their own bound) pass through.
func Body(max int64, next http.Handler) http.Handler {
	if max <= 0 {
		max = DefaultMaxBody
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt == "multipart/form-data" {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > max {
			WriteError(w, http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "the request body is larger than the limit of "+strconv.FormatInt(max, 10)+" bytes", nil)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
		_ = r.Body.Close()
		if err != nil {
			WriteError(w, http.StatusBadRequest, CodeBadRequest, "the request body could not be read", nil)
			return
		}
		if int64(len(body)) > max {
			WriteError(w, http.StatusRequestEntityTooLarge, CodePayloadTooLarge, "the request body is larger than the limit of "+strconv.FormatInt(max, 10)+" bytes", nil)
			return
		}
		if mt == "application/json" || mt == "application/graphql-response+json" || mt == "" {
			if msg := checkJSON(body); msg != "" {
				WriteError(w, http.StatusBadRequest, CodeBadRequest, msg, nil)
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// checkJSON says what is wrong with a GraphQL-over-HTTP JSON body, or "".
func checkJSON(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		return "batched requests (a JSON array) are not supported: send one operation per request"
	}
	var p struct {
		Query         json.RawMessage `json:"query"`
		OperationName json.RawMessage `json:"operationName"`
		Variables     json.RawMessage `json:"variables"`
		Extensions    json.RawMessage `json:"extensions"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&p); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return "the request body is not valid JSON (syntax error at byte " + strconv.FormatInt(se.Offset, 10) + ")"
		}
		return "the request body must be a JSON object {\"query\", \"operationName\", \"variables\", \"extensions\"}"
	}
	if dec.More() {
		return "the request body holds more than one JSON value"
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		kind byte // '"' string, '{' object
	}{{"query", p.Query, '"'}, {"operationName", p.OperationName, '"'}, {"variables", p.Variables, '{'}, {"extensions", p.Extensions, '{'}} {
		v := bytes.TrimSpace(f.raw)
		if len(v) == 0 || string(v) == "null" {
			continue
		}
		if v[0] != f.kind {
			if f.kind == '"' {
				return f.name + " must be a string"
			}
			return f.name + " must be an object"
		}
	}
	return ""
}

// WriteError answers a GraphQL-shaped error with status and
// extensions.code (plus ext, when given).
func WriteError(w http.ResponseWriter, status int, code, msg string, ext map[string]any) {
	e := map[string]any{"code": code}
	for k, v := range ext {
		e[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"message": msg, "extensions": e}}})
}
