package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
)

// frameWebsockets accepts websockets with coder/websocket, as gqlgen's
// CoderWebsocketImplementation does, but writes gqlgen's protocol messages
// without encoding/json (frameConn.WriteJSON): a subscription answer is
// then encoded as JSON once (by gqlgen's transport) instead of twice, and
// its payload is not validated and copied again. That second pass was about
// a fifth of the CPU of one event's delivery to 10,000 subscriptions.
//
// A request with a directSlot (subscriptionTransport) binds it to its
// socket, whose shared subscriptions are then written directly
// (directAnswers).
type frameWebsockets struct {
	AcceptOptions coderws.AcceptOptions
	shapes        *shapeCache
}

func newFrameWebsockets(o coderws.AcceptOptions) frameWebsockets {
	return frameWebsockets{AcceptOptions: o, shapes: &shapeCache{}}
}

// Accept implements transport.WebsocketImplementation.
func (u frameWebsockets) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	for key, values := range o.ResponseHeader {
		for _, value := range values {
			w.Header().Add(key, value)
		}
	}
	ao := u.AcceptOptions
	for _, p := range o.Subprotocols {
		if !slices.Contains(ao.Subprotocols, p) {
			ao.Subprotocols = append(ao.Subprotocols, p)
		}
	}
	conn, err := coderws.Accept(w, r, &ao)
	if err != nil {
		return nil, err
	}
	fc := &frameConn{conn: conn, shapes: u.shapes}
	if h, ok := w.(interface{ hijacked() *coalescingConn }); ok {
		fc.queue = h.hijacked()
	}
	if s := directSlotFrom(r.Context()); s != nil {
		fc.direct = s
		s.accepted(fc)
	}
	return fc, nil
}

// frameConn is gqlgen's coderWebsocketConn with WriteJSON writing protocol
// messages directly (encodeMessage); everything else behaves as gqlgen's:
// a normal close reads as transport.ErrWebsocketClosed, WriteClose runs the
// close handshake in the background, a read deadline closes the socket.
type frameConn struct {
	conn   *coderws.Conn
	shapes *shapeCache
	queue  *coalescingConn // the socket's write queue, when coalescing
	direct *directSlot     // notes the subscribe messages read, when set

	closing atomic.Bool // the close handshake started: no data frame follows

	mu                sync.Mutex
	readDeadlineTimer *time.Timer
	closeHandshake    chan struct{}
}

var (
	_ transport.WebsocketConn          = (*frameConn)(nil)
	_ transport.WebsocketReadLimiter   = (*frameConn)(nil)
	_ transport.WebsocketReadDeadliner = (*frameConn)(nil)
)

// Close closes the socket at once, unless WriteClose's handshake owns it.
func (c *frameConn) Close() error {
	c.clearReadDeadline()
	c.mu.Lock()
	handshake := c.closeHandshake != nil
	c.mu.Unlock()
	if handshake {
		return nil
	}
	return c.conn.CloseNow()
}

// NextReader reads the next message.
func (c *frameConn) NextReader() (int, io.Reader, error) {
	typ, data, err := c.conn.Read(context.Background())
	if err != nil {
		switch coderws.CloseStatus(err) {
		case coderws.StatusNormalClosure, coderws.StatusNoStatusRcvd:
			return int(typ), nil, transport.ErrWebsocketClosed
		}
		return int(typ), nil, err
	}
	if c.direct != nil {
		c.direct.read(data)
	}
	return int(typ), bytes.NewReader(data), nil
}

// WriteJSON writes v as one text message: gqlgen's protocol messages
// through encodeMessage, anything else through encoding/json. On a
// coalescing socket the frame is queued on it directly (writeText).
func (c *frameConn) WriteJSON(v any) error {
	data, ok := c.shapes.encodeMessage(v)
	if !ok {
		var err error
		if data, err = json.Marshal(v); err != nil {
			return err
		}
	}
	if c.queue != nil {
		return c.writeText(true, data)
	}
	return c.conn.Write(context.Background(), coderws.MessageText, data)
}

// writeText queues one text message made of parts on the coalescing
// socket, waiting for space (wait) or refused when the socket's queue is
// over directQueueMax. Data messages are framed here rather than by the
// websocket library, so that direct writes (directSink) need no lock of
// its: every frame lands in the queue whole. The library writes only its
// control frames (pong, close), each whole in one write. Once the close
// handshake started, nothing more is written.
func (c *frameConn) writeText(wait bool, parts ...[]byte) error {
	if c.closing.Load() {
		return errCoalescingClosed
	}
	return c.queue.writeTextFrame(wait, directQueueMax, parts...)
}

// WriteClose starts the close handshake in the background (it may wait up
// to 5 s for a peer that does not answer).
func (c *frameConn) WriteClose(code int, reason string) error {
	c.clearReadDeadline()
	c.mu.Lock()
	if c.closeHandshake != nil {
		c.mu.Unlock()
		return nil
	}
	done := make(chan struct{})
	c.closeHandshake = done
	c.closing.Store(true)
	c.mu.Unlock()
	go func() {
		defer close(done)
		_ = c.conn.Close(coderws.StatusCode(code), reason)
	}()
	return nil
}

// Subprotocol returns the negotiated subprotocol.
func (c *frameConn) Subprotocol() string { return c.conn.Subprotocol() }

// SetReadLimit bounds the size of a message read.
func (c *frameConn) SetReadLimit(limit int64) { c.conn.SetReadLimit(limit) }

// SetReadDeadline closes the socket at deadline unless it is moved; the
// zero time clears it.
func (c *frameConn) SetReadDeadline(deadline time.Time) error {
	closeNow := false
	c.mu.Lock()
	c.stopReadDeadlineLocked()
	if !deadline.IsZero() {
		if d := time.Until(deadline); d <= 0 {
			closeNow = true
		} else {
			c.readDeadlineTimer = time.AfterFunc(d, func() { _ = c.conn.CloseNow() })
		}
	}
	c.mu.Unlock()
	if closeNow {
		return c.conn.CloseNow()
	}
	return nil
}

func (c *frameConn) clearReadDeadline() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopReadDeadlineLocked()
}

func (c *frameConn) stopReadDeadlineLocked() {
	if c.readDeadlineTimer != nil {
		c.readDeadlineTimer.Stop()
		c.readDeadlineTimer = nil
	}
}

// messageShape says how to write one struct type: its JSON fields in
// declaration order, or ok false when the type is not a protocol message.
type messageShape struct {
	ok     bool
	fields []messageField
}

type messageField struct {
	index     int
	name      string // the JSON key, quoted, with its colon
	raw       bool   // a json.RawMessage written as it is
	omitEmpty bool
}

// shapeCache holds the messageShape of each type written; only the few
// message types of gqlgen's protocols ever reach it.
type shapeCache struct {
	m sync.Map // reflect.Type -> messageShape
}

// encodeMessage writes a gqlgen protocol message (a struct, or a pointer to
// one, whose JSON fields are json.RawMessage payloads and string id and
// type) as encoding/json would, except that the payload, which gqlgen's
// transport has just made with encoding/json, is written as it is rather
// than validated, compacted and HTML-escaped again. ok is false for any
// other value, which the caller then encodes with encoding/json.
func (sc *shapeCache) encodeMessage(v any) (b []byte, ok bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil, false
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return nil, false
	}
	shape := sc.shapeOf(rv.Type())
	if !shape.ok {
		return nil, false
	}
	n := 2
	for _, f := range shape.fields {
		fv := rv.Field(f.index)
		n += len(f.name) + 1
		if f.raw {
			n += fv.Len()
		} else {
			n += fv.Len() + 8
		}
	}
	b = make([]byte, 0, n)
	b = append(b, '{')
	first := true
	for _, f := range shape.fields {
		fv := rv.Field(f.index)
		if f.omitEmpty && fv.Len() == 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, f.name...)
		if f.raw {
			if fv.Len() == 0 {
				b = append(b, "null"...)
			} else {
				b = append(b, fv.Bytes()...)
			}
			continue
		}
		if b, ok = appendJSONString(b, fv.String()); !ok {
			return nil, false
		}
	}
	return append(b, '}'), true
}

// appendJSONString appends s as a JSON string, as encoding/json writes it:
// a string of printable ASCII without quotes, backslashes or the HTML
// characters it escapes is written as it is; any other goes through
// encoding/json.
func appendJSONString(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, err := json.Marshal(s)
			if err != nil {
				return b, false
			}
			return append(b, q...), true
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// shapeOf returns (and caches) t's messageShape: every exported field must
// be a json.RawMessage or a string kind with a plain JSON name (no
// ",string" option, no embedding).
func (sc *shapeCache) shapeOf(t reflect.Type) messageShape {
	if s, ok := sc.m.Load(t); ok {
		return s.(messageShape)
	}
	shape := messageShape{ok: true}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" || f.Anonymous {
			shape.ok = false
			break
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		mf := messageField{index: i, omitEmpty: opts == "omitempty"}
		switch {
		case opts != "" && opts != "omitempty":
			shape.ok = false
		case f.Type == rawMessageType:
			mf.raw = true
		case f.Type.Kind() == reflect.String:
		default:
			shape.ok = false
		}
		if !shape.ok {
			break
		}
		key, err := json.Marshal(name)
		if err != nil {
			shape.ok = false
			break
		}
		mf.name = string(key) + ":"
		shape.fields = append(shape.fields, mf)
	}
	if len(shape.fields) == 0 {
		shape.ok = false
	}
	sc.m.Store(t, shape)
	return shape
}
