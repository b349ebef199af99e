// Package multipartsub serves GraphQL subscriptions over one HTTP response
// of multipart parts: Apollo's "multipart HTTP protocol for GraphQL
// subscriptions", which Apollo Client's HttpLink (its default transport for
// subscriptions), Apollo Kotlin, Apollo iOS and Apollo Router speak.
//
// A client POSTs the usual JSON request with
//
//	Accept: multipart/mixed;boundary="graphql";subscriptionSpec="1.0",application/json
//
// and the answer is
//
//	Content-Type: multipart/mixed;boundary="graphql";subscriptionSpec="1.0"
//
//	--graphql
//	content-type: application/json
//
//	{}                                        a heartbeat
//	--graphql
//	content-type: application/json
//
//	{"payload":{"data":{...}}}                an event (GraphQL errors inside payload)
//	--graphql
//	content-type: application/json
//
//	{"payload":null,"errors":[...]}           a transport error: the stream ends
//	--graphql--
//
// Every line ends with CRLF. Each part is written together with the boundary
// that follows it (as Apollo Router does), so a client parses a part as soon
// as it arrives rather than when the next one comes. The status and headers
// are written as soon as the operation is accepted, before any event; a
// heartbeat follows as soon as the subscription is established (its
// resolver has subscribed), then one every Transport.Heartbeat while idle.
package multipartsub

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// ContentType is the media type of a subscription answer.
const ContentType = `multipart/mixed;boundary="graphql";subscriptionSpec="1.0"`

const (
	boundary = "\r\n--graphql"
	partHead = "\r\ncontent-type: application/json\r\n\r\n"
	closing  = "--\r\n" // after a part's trailing boundary: the final boundary
)

// Transport is a gqlgen transport (graphql.Transport) for multipart
// subscriptions. Add it before transport.POST, which would otherwise take
// the request and answer a subscription with its first event only. Zero
// values mean the defaults.
type Transport struct {
	// Heartbeat is the interval of the `{}` parts that keep an idle stream
	// open through proxies and tell the client the server is alive.
	// Default 5 s (Apollo Router's interval).
	Heartbeat time.Duration
	// WriteTimeout bounds each write to the client: a peer that stops
	// reading is disconnected instead of holding the stream. Default 10 s.
	WriteTimeout time.Duration
	// OperationTimeout bounds a query or mutation sent with the
	// subscription Accept header; it is answered as one JSON response, as
	// POST would. Default 30 s.
	OperationTimeout time.Duration
	// Ended, when set, gives the transport error the last part carries when
	// the stream's context ends before the subscription does (the server
	// shuts down, the session was revoked); nil sends none. The stream
	// then closes with the final boundary either way.
	Ended func(ctx context.Context) *gqlerror.Error
}

var _ graphql.Transport = Transport{}

// Accepts reports whether r asks for a multipart subscription answer: its
// Accept header names multipart/mixed with a subscriptionSpec parameter.
func Accepts(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || mt != "multipart/mixed" {
				continue
			}
			if _, ok := params["subscriptionspec"]; ok {
				return true
			}
		}
	}
	return false
}

// Supports implements graphql.Transport: a JSON POST that accepts a
// multipart subscription answer.
func (t Transport) Supports(r *http.Request) bool {
	if r.Method != http.MethodPost || !Accepts(r) {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

func (t Transport) withDefaults() Transport {
	if t.Heartbeat <= 0 {
		t.Heartbeat = 5 * time.Second
	}
	if t.WriteTimeout <= 0 {
		t.WriteTimeout = 10 * time.Second
	}
	if t.OperationTimeout <= 0 {
		t.OperationTimeout = 30 * time.Second
	}
	return t
}

// Do implements graphql.Transport. Errors before execution (a body that is
// not JSON, a document that does not parse or validate, a refused scope or
// cost) are one application/json answer, as POST gives them; so is any
// operation that is not a subscription.
func (t Transport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	t = t.withDefaults()
	ctx := r.Context()
	start := graphql.Now()
	params := &graphql.RawParams{}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(params); err != nil {
		writeJSON(w, http.StatusBadRequest, exec.DispatchError(ctx, gqlerror.List{
			{Message: "json request body could not be decoded: " + err.Error(), Extensions: map[string]any{"code": "BAD_REQUEST"}}}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	oc, opErr := exec.CreateOperationContext(ctx, params)
	if opErr != nil {
		status := http.StatusOK
		if errcode.GetErrorKind(opErr) == errcode.KindProtocol {
			status = http.StatusUnprocessableEntity
		}
		writeJSON(w, status, exec.DispatchError(graphql.WithOperationContext(ctx, oc), opErr))
		return
	}
	ctx = graphql.WithOperationContext(ctx, oc)
	if oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
		ctx, cancel := context.WithTimeout(ctx, t.OperationTimeout)
		defer cancel()
		responses, ctx := exec.DispatchOperation(ctx, oc)
		writeJSON(w, http.StatusOK, responses(ctx))
		return
	}
	t.stream(ctx, w, exec, oc)
}

// stream writes the headers at once, runs the subscription and writes its
// events and heartbeats until it completes or ctx ends.
func (t Transport) stream(ctx context.Context, w http.ResponseWriter, exec graphql.GraphExecutor, oc *graphql.OperationContext) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	write := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(t.WriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write([]byte(boundary)) {
		return
	}

	ctx, cancel := context.WithCancel(ctx)
	responses, dctx := exec.DispatchOperation(ctx, oc)
	next := make(chan *graphql.Response)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			resp := responses(dctx)
			select {
			case next <- resp:
			case <-ctx.Done():
				return
			}
			if resp == nil {
				return
			}
		}
	}()
	defer func() {
		cancel()
		<-done
	}()

	if !write(part(heartbeat)) { // established: the resolver has subscribed
		return
	}
	tick := time.NewTicker(t.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			t.end(ctx, write)
			return
		case <-tick.C:
			if !write(part(heartbeat)) {
				return
			}
		case resp := <-next:
			if resp == nil {
				if ctx.Err() != nil {
					t.end(ctx, write)
					return
				}
				write([]byte(closing))
				return
			}
			b, err := json.Marshal(struct {
				Payload *graphql.Response `json:"payload"`
			}{resp})
			if err != nil {
				b = transportError(&gqlerror.Error{Message: "internal error", Extensions: map[string]any{"code": "INTERNAL"}})
			}
			if !write(part(b)) {
				return
			}
			tick.Reset(t.Heartbeat)
		}
	}
}

// end closes a stream whose context ended, with the transport error Ended
// gives, if any.
func (t Transport) end(ctx context.Context, write func([]byte) bool) {
	var b []byte
	if t.Ended != nil {
		if e := t.Ended(ctx); e != nil {
			b = part(transportError(e))
		}
	}
	write(append(b, closing...))
}

var heartbeat = []byte("{}")

// part is one part and the boundary after it.
func part(body []byte) []byte {
	b := append([]byte(partHead), body...)
	return append(b, boundary...)
}

// transportError is the body of a part that reports an error of the
// transport itself (not of the operation): payload null, errors beside it.
func transportError(e *gqlerror.Error) []byte {
	b, err := json.Marshal(struct {
		Payload *graphql.Response `json:"payload"`
		Errors  gqlerror.List     `json:"errors"`
	}{nil, gqlerror.List{e}})
	if err != nil {
		return []byte(`{"payload":null,"errors":[{"message":"internal error"}]}`)
	}
	return b
}

func writeJSON(w http.ResponseWriter, status int, resp *graphql.Response) {
	var buf bytes.Buffer
	if resp != nil {
		if err := json.NewEncoder(&buf).Encode(resp); err != nil {
			status = http.StatusInternalServerError
			buf.Reset()
			buf.WriteString(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.Copy(w, &buf)
}
