package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// adminRoutes serves /_sandbox/: test and demo control, no auth.
func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /_sandbox/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSONBytes(w, http.StatusOK, []byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /_sandbox/stats", func(w http.ResponseWriter, r *http.Request) { writeAdminJSON(w, http.StatusOK, s.Stats()) })
	mux.HandleFunc("POST /_sandbox/stats/reset", func(w http.ResponseWriter, r *http.Request) {
		s.ResetStats()
		writeAdminJSON(w, http.StatusOK, s.Stats())
	})
	mux.HandleFunc("POST /_sandbox/ratelimits/reset", func(w http.ResponseWriter, r *http.Request) {
		s.ResetRateLimits()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sandbox/faults", func(w http.ResponseWriter, r *http.Request) { writeAdminJSON(w, http.StatusOK, s.Faults()) })
	mux.HandleFunc("PUT /_sandbox/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if err := decodeAdmin(r, &f); err != nil {
			badRequest(w, err.Error())
			return
		}
		s.SetFaults(f)
		writeAdminJSON(w, http.StatusOK, s.Faults())
	})
	mux.HandleFunc("POST /_sandbox/expire", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Tokens   bool `json:"tokens"`
			Sessions bool `json:"sessions"`
		}
		if err := decodeAdmin(r, &body); err != nil {
			badRequest(w, err.Error())
			return
		}
		if body.Tokens {
			s.ExpireTokens()
		}
		if body.Sessions {
			s.ExpireSessions()
		}
		writeAdminJSON(w, http.StatusOK, body)
	})
	mux.HandleFunc("GET /_sandbox/outbox", func(w http.ResponseWriter, r *http.Request) {
		type msg struct {
			To      string    `json:"to"`
			Channel string    `json:"channel"`
			Code    string    `json:"code"`
			SentAt  time.Time `json:"sent_at"`
		}
		out := []msg{}
		for _, m := range s.Outbox(r.URL.Query().Get("to")) {
			out = append(out, msg{To: m.To, Channel: m.Channel, Code: m.Code, SentAt: m.SentAt.UTC()})
		}
		writeAdminJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /_sandbox/mutate", s.handleMutate)
}

// decodeAdmin decodes a JSON body; an empty body leaves v as is.
func decodeAdmin(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}

func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeJSONBytes(w, http.StatusInternalServerError, []byte(`{"errors":"internal error"}`))
		return
	}
	writeJSONBytes(w, status, b)
}
