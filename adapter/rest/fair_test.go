package rest

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// queued reports the waiters of flow (test helper, under the lock).
func (l *fairLimiter) queued(flow string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queues[flow])
}

func TestFreedSlotsGoToWaitingRequestsInTurn(t *testing.T) {
	l := newFairLimiter(1)
	if err := l.Acquire(context.Background(), "holder"); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 16)
	enqueue := func(flow string, n int) {
		for range n {
			want := l.queued(flow) + 1
			go func() {
				if err := l.Acquire(context.Background(), flow); err == nil {
					got <- flow
				}
			}()
			for l.queued(flow) != want { // wait until it is in its queue
				runtime.Gosched()
			}
		}
	}
	// A fans out five calls first, then B one, then C two.
	enqueue("A", 5)
	enqueue("B", 1)
	enqueue("C", 2)
	var order []string
	for range 8 {
		l.Release() // the holder of the slot finishes
		order = append(order, <-got)
	}
	if s := strings.Join(order, " "); s != "A B C A C A A A" {
		t.Fatalf("slots went to %s, want each waiting request in turn: A B C A C A A A", s)
	}
}

func TestAWaiterWhoseContextEndsLeavesNoSlotBehind(t *testing.T) {
	l := newFairLimiter(1)
	if err := l.Acquire(context.Background(), "holder"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Acquire(ctx, "A") }()
	for l.queued("A") != 1 {
		runtime.Gosched()
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if n := l.queued("A"); n != 0 {
		t.Fatalf("%d waiters left in A's queue", n)
	}
	l.Release()
	// The slot is free again: a new call would take it without waiting.
	l.mu.Lock()
	free := l.inFlight < l.capacity && len(l.ring) == 0
	l.mu.Unlock()
	if !free {
		t.Fatal("the slot was not freed")
	}
}
