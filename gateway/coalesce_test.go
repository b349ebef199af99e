package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
)

// TestCoalescingConnDeliversEveryByteInOrder: frames written one by one
// reach the peer whole, in order, however the flusher groups them, and
// Close sends what is still queued before closing.
func TestCoalescingConnDeliversEveryByteInOrder(t *testing.T) {
	server, client := net.Pipe()
	c := newCoalescingConn(server)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()
	var want bytes.Buffer
	for i := range 2000 {
		frame := fmt.Appendf(nil, "frame %d;", i)
		want.Write(frame)
		if n, err := c.Write(frame); err != nil || n != len(frame) {
			t.Fatalf("Write %d: %d, %v", i, n, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, want.Bytes()) {
		t.Fatalf("the peer read %d bytes, want %d in order", len(b), want.Len())
	}
	if _, err := c.Write([]byte("late")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}

// TestCoalescingConnReportsAWriteError: once the peer is gone, a later
// Write returns the socket's error (a queued write cannot report it), and so
// does every Write after it.
func TestCoalescingConnReportsAWriteError(t *testing.T) {
	server, client := net.Pipe()
	c := newCoalescingConn(server)
	_ = client.Close()
	var err error
	for err == nil {
		_, err = c.Write([]byte("x"))
		runtime.Gosched()
	}
	if !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Write: %v, want the pipe's error", err)
	}
	if _, err2 := c.Write([]byte("y")); !errors.Is(err2, io.ErrClosedPipe) {
		t.Fatalf("next Write: %v, want the same error", err2)
	}
	_ = c.Close()
}

// TestCoalescingConnBoundsItsQueue: a peer that does not read holds at most
// coalesceMaxPending bytes (plus the write in the socket) in the queue: the
// writer waits, and Close releases it with an error.
func TestCoalescingConnBoundsItsQueue(t *testing.T) {
	server, client := net.Pipe() // nobody reads client
	defer client.Close()
	c := newCoalescingConn(server)
	chunk := make([]byte, 64<<10)
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := c.Write(chunk); err != nil {
				done <- err
				return
			}
		}
	}()
	// The writer stops once the queue is full: wait for that state.
	for {
		c.mu.Lock()
		full := len(c.pending)+len(chunk) > coalesceMaxPending
		c.mu.Unlock()
		if full {
			break
		}
		runtime.Gosched()
	}
	c.mu.Lock()
	if len(c.pending) > coalesceMaxPending {
		t.Errorf("%d bytes queued, bound %d", len(c.pending), coalesceMaxPending)
	}
	c.mu.Unlock()
	_ = client.Close() // the flusher's write fails, Close does not wait out its timeout
	_ = c.Close()
	if err := <-done; err == nil {
		t.Fatal("the blocked writer returned no error")
	}
}
