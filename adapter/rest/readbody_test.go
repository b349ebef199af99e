package rest

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestReadBodyReturnsOwnedExactBytes: a body without a Content-Length is
// read whole (up to the limit) through the pooled buffer, and what a read
// returns stays unchanged when later reads reuse that buffer.
func TestReadBodyReturnsOwnedExactBytes(t *testing.T) {
	pool := &sync.Pool{New: func() any { return new(bytes.Buffer) }}
	chunked := func(s string) *http.Response {
		return &http.Response{ContentLength: -1, Body: io.NopCloser(strings.NewReader(s))}
	}
	first := strings.Repeat("a", 100_000)
	a, err := readBody(chunked(first), 1<<20, pool)
	if err != nil || string(a) != first {
		t.Fatalf("first read: %d bytes, %v", len(a), err)
	}
	for _, s := range []string{strings.Repeat("b", 150_000), "", "[1,2]"} {
		b, err := readBody(chunked(s), 1<<20, pool)
		if err != nil || string(b) != s || b == nil {
			t.Fatalf("read of %d bytes: got %d bytes (nil %v), %v", len(s), len(b), b == nil, err)
		}
	}
	if string(a) != first {
		t.Fatal("a later read changed the bytes an earlier read returned")
	}
	if b, err := readBody(chunked(strings.Repeat("c", 50)), 10, pool); err != nil || string(b) != strings.Repeat("c", 10) {
		t.Fatalf("limit: got %q, %v", b, err)
	}
	if b, err := readBody(chunked("xyz"), 1<<20, nil); err != nil || string(b) != "xyz" {
		t.Fatalf("without a pool: got %q, %v", b, err)
	}
}
