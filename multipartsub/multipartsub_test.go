package multipartsub_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"procoregraph/multipartsub"
)

const accept = `multipart/mixed;boundary="graphql";subscriptionSpec="1.0",application/json`

func TestAccepts(t *testing.T) {
	for _, c := range []struct {
		name, accept string
		want         bool
	}{
		{"ApolloClientHeader", `multipart/mixed;boundary=graphql;subscriptionSpec=1.0,application/json`, true},
		{"QuotedParameters", accept, true},
		{"DeferSpecIsNotASubscription", `multipart/mixed;deferSpec=20220824,application/json`, false},
		{"EventStreamIsNot", `text/event-stream`, false},
		{"PlainJSONIsNot", `application/json`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			r.Header.Set("Accept", c.accept)
			if got := multipartsub.Accepts(r); got != c.want {
				t.Fatalf("Accepts(%q) = %v", c.accept, got)
			}
		})
	}
}

// server serves a gqlgen test schema (Subscription.name fires on
// SendNextSubscriptionMessage) over the transport. Requests' contexts end
// when stop is cancelled, as the gateway's do on shutdown.
func server(t *testing.T, tr multipartsub.Transport, stop context.Context) (*testserver.TestServer, *httptest.Server, chan struct{}) {
	t.Helper()
	ts := testserver.New()
	ts.AddTransport(tr)
	returned := make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancelCause(r.Context())
		defer context.AfterFunc(stop, func() { cancel(errors.New("stopping")) })()
		ts.ServeHTTP(w, r.WithContext(ctx))
		returned <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	return ts, srv, returned
}

func post(t *testing.T, url, query string) *http.Response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// stream reads a response body as it arrives.
type stream struct {
	got  chan []byte
	buf  []byte
	all  []byte
	done bool
}

func read(body io.Reader) *stream {
	s := &stream{got: make(chan []byte, 64)}
	go func() {
		defer close(s.got)
		b := make([]byte, 4096)
		for {
			n, err := body.Read(b)
			if n > 0 {
				s.got <- append([]byte(nil), b[:n]...)
			}
			if err != nil {
				return
			}
		}
	}()
	return s
}

// expect fails unless the next bytes to arrive are exactly want, without
// waiting for anything after them.
func (s *stream) expect(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for len(s.buf) < len(want) {
		select {
		case b, ok := <-s.got:
			if !ok {
				t.Fatalf("the stream ended; got %q, want %q", s.buf, want)
			}
			s.buf = append(s.buf, b...)
			s.all = append(s.all, b...)
		case <-deadline:
			t.Fatalf("got %q within 10 s, want %q", s.buf, want)
		}
	}
	if string(s.buf[:len(want)]) != want {
		t.Fatalf("got %q, want %q", s.buf, want)
	}
	s.buf = s.buf[len(want):]
}

// ends fails unless the body ends now.
func (s *stream) ends(t *testing.T) {
	t.Helper()
	select {
	case b, ok := <-s.got:
		if ok {
			t.Fatalf("more after the end: %q", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the body did not end")
	}
}

const (
	open  = "\r\n--graphql"
	head  = "\r\ncontent-type: application/json\r\n\r\n"
	after = "\r\n--graphql"
	final = "--\r\n"
)

// parts parses everything the stream delivered with mime/multipart, an
// independent reader, and returns the parts' bodies.
func (s *stream) parts(t *testing.T) []string {
	t.Helper()
	r := multipart.NewReader(bytes.NewReader(s.all), "graphql")
	var out []string
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%q is not multipart: %v", s.all, err)
		}
		b, _ := io.ReadAll(p)
		if ct := p.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("part content-type %q", ct)
		}
		out = append(out, string(b))
	}
}

// TestSubscriptionStream: the headers, then a heartbeat, arrive before any
// event; an event comes as a payload part closed by its boundary at once; a
// completed subscription ends with the final boundary. The whole body is
// valid multipart/mixed.
func TestSubscriptionStream(t *testing.T) {
	ts, srv, _ := server(t, multipartsub.Transport{Heartbeat: time.Hour}, context.Background())
	resp := post(t, srv.URL, `subscription { name }`)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != multipartsub.ContentType {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := read(resp.Body)
	s.expect(t, open+head+"{}"+after)
	ts.SendNextSubscriptionMessage()
	s.expect(t, head+`{"payload":{"data":{"name":"test"}}}`+after)
	ts.SendCompleteSubscriptionMessage()
	s.expect(t, final)
	s.ends(t)
	if got := s.parts(t); len(got) != 2 || got[0] != "{}" || got[1] != `{"payload":{"data":{"name":"test"}}}` {
		t.Fatalf("parts %q", got)
	}
}

// TestIdleStreamGetsHeartbeats: with no events, heartbeat parts keep coming.
func TestIdleStreamGetsHeartbeats(t *testing.T) {
	_, srv, _ := server(t, multipartsub.Transport{Heartbeat: 10 * time.Millisecond}, context.Background())
	s := read(post(t, srv.URL, `subscription { name }`).Body)
	s.expect(t, open)
	for range 3 {
		s.expect(t, head+"{}"+after)
	}
}

// TestStreamEndedByItsContext: when the request's context ends under a
// stream (shutdown, revocation), the last part is Ended's transport error,
// then the final boundary, and the handler returns.
func TestStreamEndedByItsContext(t *testing.T) {
	stop, cancel := context.WithCancel(context.Background())
	tr := multipartsub.Transport{Heartbeat: time.Hour, Ended: func(ctx context.Context) *gqlerror.Error {
		return &gqlerror.Error{Message: context.Cause(ctx).Error(), Extensions: map[string]any{"code": "SERVICE_RESTART"}}
	}}
	_, srv, returned := server(t, tr, stop)
	s := read(post(t, srv.URL, `subscription { name }`).Body)
	s.expect(t, open+head+"{}"+after)
	cancel()
	s.expect(t, head+`{"payload":null,"errors":[{"message":"stopping","extensions":{"code":"SERVICE_RESTART"}}]}`+after+final)
	s.ends(t)
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not return")
	}
}

// TestBeforeTheStream: a query is one JSON answer; a document that does not
// validate is one JSON answer with its errors, and no stream starts.
func TestBeforeTheStream(t *testing.T) {
	_, srv, _ := server(t, multipartsub.Transport{}, context.Background())
	for _, c := range []struct{ name, query, want string }{
		{"QueryIsOneJSONAnswer", `{ name }`, `{"data":{"name":"test"}}`},
		{"InvalidDocumentIsOneJSONAnswer", `subscription { nope }`, `Cannot query field \"nope\"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := post(t, srv.URL, c.query)
			b, _ := io.ReadAll(resp.Body)
			if resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(b), c.want) {
				t.Fatalf("%d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
		})
	}
}

// TestNoGoroutineOutlivesItsClient: 200 streams whose clients go away leave
// no goroutine behind.
func TestNoGoroutineOutlivesItsClient(t *testing.T) {
	_, srv, returned := server(t, multipartsub.Transport{Heartbeat: 5 * time.Millisecond}, context.Background())
	before := runtime.NumGoroutine()
	const n = 200
	for range n {
		body := strings.NewReader(`{"query":"subscription { name }"}`)
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, body)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = bufio.NewReader(resp.Body).ReadString('}') // the first heartbeat
		cancel()
		resp.Body.Close()
	}
	for range n {
		select {
		case <-returned:
		case <-time.After(10 * time.Second):
			t.Fatal("a handler did not return after its client left")
		}
	}
	http.DefaultClient.CloseIdleConnections()
	srv.CloseClientConnections()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before+5 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before+5 {
		t.Fatalf("%d goroutines, %d before the streams", g, before)
	}
}
