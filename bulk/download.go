package bulk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// signingKey derives the URL-signing key from Options.Key, so that the key
// that signs URLs signs nothing else.
func (s *Service) signingKey() []byte {
	m := hmac.New(sha256.New, s.o.Key)
	m.Write([]byte("procoregraph bulk export download URL v1"))
	return m.Sum(nil)
}

func (s *Service) sign(id string, exp int64) string {
	m := hmac.New(sha256.New, s.signingKey())
	m.Write([]byte(id + "\n" + strconv.FormatInt(exp, 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// signedURL is the download link of id, valid until exp.
func (s *Service) signedURL(id string, exp time.Time) string {
	e := exp.Unix()
	return strings.TrimSuffix(s.o.PublicURL, "/") + "/bulk/" + url.PathEscape(id) +
		"?exp=" + strconv.FormatInt(e, 10) + "&sig=" + s.sign(id, e)
}

// ServeHTTP serves GET /bulk/{id}?exp=…&sig=…: the completed export's file,
// gzip-compressed JSON Lines, as a .jsonl.gz download. The signature is the
// only credential; a tampered or expired one gets 403, an export that is
// gone (or not completed) 404. Neither the signature nor the query string is
// logged.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	q := r.URL.Query()
	exp, err := strconv.ParseInt(q.Get("exp"), 10, 64)
	want := s.sign(id, exp)
	if err != nil || !hmac.Equal([]byte(q.Get("sig")), []byte(want)) || s.o.Now().Unix() >= exp {
		http.Error(w, "invalid or expired signature: ask bulkExport for a new URL", http.StatusForbidden)
		return
	}
	s.mu.Lock()
	e, ok := s.exports[id]
	var path string
	if ok && e.Status == StatusCompleted {
		path = e.file
	}
	s.mu.Unlock()
	if path == "" {
		http.Error(w, "no such export (it may have expired)", http.StatusNotFound)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		http.Error(w, "no such export (it may have expired)", http.StatusNotFound)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		http.Error(w, "export unreadable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Disposition", `attachment; filename="bulk-`+id+`.jsonl.gz"`)
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.ServeContent(w, r, "", st.ModTime(), f)
}
