package rest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"procoregraph/adapter"
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

// TestReadBodyBorrowedReadsIntoThePooledBuffer: with or without a
// Content-Length the bytes lie in the buffer handed back, cut at the limit; a
// short body is an error and its buffer goes back to the pool at once.
func TestReadBodyBorrowedReadsIntoThePooledBuffer(t *testing.T) {
	var made []*bytes.Buffer
	pool := &sync.Pool{New: func() any { b := new(bytes.Buffer); made = append(made, b); return b }}
	body := strings.Repeat("r", 70_000)
	for _, tc := range []struct {
		name   string
		length int64
		limit  int64
		want   string
	}{
		{"ContentLength", int64(len(body)), 1 << 20, body},
		{"Chunked", -1, 1 << 20, body},
		{"ChunkedPastTheLimit", -1, 10, body[:10]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{ContentLength: tc.length, Body: io.NopCloser(strings.NewReader(body))}
			b, buf, err := readBodyBorrowed(resp, tc.limit, pool)
			if err != nil || string(b) != tc.want {
				t.Fatalf("got %d bytes, %v", len(b), err)
			}
			if buf == nil || !slices.Contains(made, buf) || &b[0] != &buf.Bytes()[:buf.Cap()][0] {
				t.Fatal("the bytes are not in the pooled buffer")
			}
			pool.Put(buf)
		})
	}
	t.Run("ShortBody", func(t *testing.T) {
		resp := &http.Response{ContentLength: 10, Body: io.NopCloser(strings.NewReader("abc"))}
		if b, buf, err := readBodyBorrowed(resp, 1<<20, pool); err == nil || b != nil || buf != nil {
			t.Fatalf("got %q, buffer %v, %v; want an error", b, buf != nil, err)
		}
	})
}

// TestListItemsOutliveTheirBorrowedBody: a list walk decodes each page from
// a pooled buffer and gives it back; the items it returned keep their text
// when that buffer is overwritten afterwards.
func TestListItemsOutliveTheirBorrowedBody(t *testing.T) {
	f := newFakeProcore(t)
	f.Mux.HandleFunc("GET /rest/v1.0/projects/9/rfis", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Total", "2")
		writeJSON(w, http.StatusOK, []map[string]any{
			{"id": 1, "number": "7", "subject": "Door hardware", "status": "open", "due_date": "2025-03-04",
				"ball_in_courts": []map[string]any{{"id": 5, "name": "Ann Lee", "login": "ann@example.com"}}, "updated_at": "2025-01-02T03:04:05Z"},
			{"id": 2, "number": "8", "subject": "Slab \u00e9dge", "status": "closed"},
		})
	})
	c := newTestClient(t, f.URL, nil)
	var made []*bytes.Buffer
	c.bodies = &sync.Pool{New: func() any { b := new(bytes.Buffer); made = append(made, b); return b }}
	page, err := c.RFIs(context.Background(), 9, adapter.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(made) == 0 {
		t.Fatal("the walk borrowed no buffer")
	}
	for _, b := range made {
		full := b.Bytes()[:b.Cap()]
		for i := range full {
			full[i] = 'x'
		}
	}
	got := page.Items
	if len(got) != 2 || got[0].Subject != "Door hardware" || got[0].Number != "7" || got[1].Subject != "Slab \u00e9dge" ||
		len(got[0].BallInCourt) != 1 || got[0].BallInCourt[0].Name != "Ann Lee" || got[0].BallInCourt[0].Login != "ann@example.com" ||
		got[0].DueDate == nil || got[0].DueDate.String() != "2025-03-04" {
		t.Fatalf("items changed with their buffer: %+v", got)
	}
}
