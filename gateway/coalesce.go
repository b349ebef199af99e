package gateway

import (
	"bufio"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// coalescingWebsockets wraps a websocket implementation so that the frames
// written to one websocket are gathered into as few socket writes as
// possible: when one event goes to the many subscriptions one socket
// carries, their frames leave in a few large writes instead of one write
// system call (and, with TCP_NODELAY, one packet) each. A frame is never
// held back waiting for another: a write is queued and a flusher sends
// whatever is queued at once; frames queued while it writes go out in its
// next write. The queue of one socket is bounded (coalesceMaxPending): a
// writer waits when it is full, as it would on the socket itself, so a
// slow client still backs up to its subscriptions' bus buffers.
//
// Queues take their buffers from buffers (when set), and give them back
// when their socket goes idle: an idle socket keeps no buffer, and a busy
// one does not grow a new one, zeroed, for each event.
type coalescingWebsockets struct {
	next    transport.WebsocketImplementation
	buffers bufferPool
}

// bufferPool holds *[]byte buffers (a *sync.Pool).
type bufferPool interface {
	Get() any
	Put(any)
}

func (c coalescingWebsockets) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	return c.next.Accept(coalescingResponse{ResponseWriter: w, conn: new(*coalescingConn), buffers: c.buffers}, r, o)
}

// coalescingResponse hands the websocket library a hijacked connection that
// coalesces writes.
type coalescingResponse struct {
	http.ResponseWriter
	conn    **coalescingConn // set by Hijack, when not nil
	buffers bufferPool
}

func (w coalescingResponse) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// hijacked returns the connection Hijack made, or nil.
func (w coalescingResponse) hijacked() *coalescingConn {
	if w.conn == nil {
		return nil
	}
	return *w.conn
}

func (w coalescingResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	cc := newCoalescingConn(conn)
	cc.buffers = w.buffers
	if w.conn != nil {
		*w.conn = cc
	}
	// net/http flushed the response head before the hijack: the writer it
	// returns is empty and writes to conn, which cc now owns.
	return cc, bufio.NewReadWriter(brw.Reader, bufio.NewWriterSize(cc, brw.Writer.Size())), nil
}

// coalesceMaxPending bounds the bytes queued for one socket.
const coalesceMaxPending = 1 << 20

// coalesceCloseWait bounds how long Close waits for queued bytes (the close
// frame among them) to reach a peer that does not read.
const coalesceCloseWait = 5 * time.Second

// coalescingConn is a net.Conn whose Write queues the bytes for a flusher
// goroutine, which runs only while bytes are queued. Reads and deadlines go
// to the connection unchanged. A write error is kept and returned by every
// later Write; the connection is then closed, so its reader ends too.
type coalescingConn struct {
	net.Conn

	mu       sync.Mutex
	space    *sync.Cond // signalled when the queue shrinks or the flusher fails
	pending  []byte
	spare    []byte
	buffers  bufferPool // where pending comes from and spare goes, when set
	flushing bool
	idle     chan struct{} // closed when the flusher exits; nil while none runs
	err      error
	closed   bool
}

func newCoalescingConn(c net.Conn) *coalescingConn {
	cc := &coalescingConn{Conn: c}
	cc.space = sync.NewCond(&cc.mu)
	return cc
}

var errCoalescingClosed = errors.New("websocket connection closed")

// errCoalescingFull refuses a frame that must not wait for space.
var errCoalescingFull = errors.New("websocket client does not keep up")

// writeTextFrame queues one unmasked, final text frame (RFC 6455 5.2: what
// a server sends) whose payload is the parts, in order, with one Write's
// atomicity: no other write lands inside it. With wait, it waits for space
// as Write does; without, it refuses (errCoalescingFull) when the queue
// holds more than max bytes, and never waits.
func (c *coalescingConn) writeTextFrame(wait bool, max int, parts ...[]byte) error {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	size := n + 10
	c.mu.Lock()
	defer c.mu.Unlock()
	for wait && c.err == nil && !c.closed && len(c.pending) > 0 && len(c.pending)+size > coalesceMaxPending {
		c.space.Wait()
	}
	switch {
	case c.err != nil:
		return c.err
	case c.closed:
		return errCoalescingClosed
	case !wait && len(c.pending) > max:
		return errCoalescingFull
	}
	c.reserve(size)
	c.pending = appendTextFrameHeader(c.pending, n)
	for _, p := range parts {
		c.pending = append(c.pending, p...)
	}
	if !c.flushing {
		c.flushing = true
		c.idle = make(chan struct{})
		go c.flush(c.idle)
	}
	return nil
}

// coalesceBufferMax bounds the buffers a socket keeps for its next write
// and gives back to the pool.
const coalesceBufferMax = 64 << 10

// reserve makes room for n more bytes in pending: from the pool when
// pending has no buffer yet. Called with mu held.
func (c *coalescingConn) reserve(n int) {
	if c.pending == nil && c.buffers != nil {
		if b, ok := c.buffers.Get().(*[]byte); ok {
			c.pending = (*b)[:0]
		}
	}
	c.pending = slices.Grow(c.pending, n)
}

// appendTextFrameHeader appends the header of an unmasked, final text frame
// with an n-byte payload.
func appendTextFrameHeader(b []byte, n int) []byte {
	b = append(b, 0x81) // FIN, text
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xFFFF:
		return binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
}

func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.err == nil && !c.closed && len(c.pending) > 0 && len(c.pending)+len(p) > coalesceMaxPending {
		c.space.Wait()
	}
	switch {
	case c.err != nil:
		return 0, c.err
	case c.closed:
		return 0, errCoalescingClosed
	}
	c.reserve(len(p))
	c.pending = append(c.pending, p...)
	if !c.flushing {
		c.flushing = true
		c.idle = make(chan struct{})
		go c.flush(c.idle)
	}
	return len(p), nil
}

// flush writes the queue until it is empty, then exits. It first yields:
// started by a write, it would otherwise run next on that processor and
// send that one frame alone, while the goroutines about to write this
// socket's other frames (one event's other subscriptions) wait their turn.
func (c *coalescingConn) flush(idle chan struct{}) {
	defer close(idle)
	runtime.Gosched()
	c.mu.Lock()
	for len(c.pending) > 0 && c.err == nil {
		b := c.pending
		c.pending = c.spare[:0]
		c.mu.Unlock()
		_, err := c.Conn.Write(b)
		c.mu.Lock()
		if cap(b) <= coalesceBufferMax {
			c.spare = b[:0] // reuse a buffer of a usual size
		} else {
			c.spare = nil
		}
		if err != nil {
			c.err = err
			c.pending = nil
		}
		c.space.Broadcast()
	}
	failed := c.err != nil
	c.flushing = false
	if c.pending == nil || len(c.pending) == 0 {
		// An idle socket keeps no buffer: it goes back to the pool.
		for _, b := range [][]byte{c.spare, c.pending} {
			if c.buffers != nil && cap(b) > 0 && cap(b) <= coalesceBufferMax {
				c.buffers.Put(&b)
			}
		}
		c.spare = nil
		c.pending = nil
	}
	c.mu.Unlock()
	if failed {
		_ = c.Conn.Close()
	}
}

// Close sends what is queued (waiting at most coalesceCloseWait) and closes
// the connection.
func (c *coalescingConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.space.Broadcast()
	idle := c.idle
	flushing := c.flushing
	c.mu.Unlock()
	if flushing {
		t := time.NewTimer(coalesceCloseWait)
		select {
		case <-idle:
		case <-t.C:
		}
		t.Stop()
	}
	return c.Conn.Close()
}
