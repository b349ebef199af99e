package sandbox

import (
	"bytes"
	"net/http"
	"strconv"
)

// stallBody runs h against a buffer, then sends its status, headers and the
// first byte of its body and holds the rest until the client gives up (the
// request's context ends) or SetFaults releases it (Faults.StallBody).
func (s *Server) stallBody(w http.ResponseWriter, r *http.Request, h func(http.ResponseWriter)) {
	s.faultMu.Lock()
	released := s.released
	s.faultMu.Unlock()
	buf := &bufferedResponse{header: w.Header(), status: http.StatusOK}
	h(buf)
	body := buf.body.Bytes()
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(buf.status)
	if len(body) == 0 {
		return
	}
	_, _ = w.Write(body[:1])
	_ = http.NewResponseController(w).Flush()
	s.stalled.Add(1)
	defer s.stalled.Add(-1)
	select {
	case <-r.Context().Done():
		return
	case <-released:
	}
	_, _ = w.Write(body[1:])
}

// bufferedResponse keeps a handler's answer for stallBody. Headers go
// straight to the real response's header map.
type bufferedResponse struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if !b.wrote {
		b.status, b.wrote = status, true
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.wrote = true
	return b.body.Write(p)
}
