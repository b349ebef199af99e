// Package testwait gives tests one way to wait for another goroutine to
// reach a state: poll a condition until it holds. The bound is a guard
// against a hang, not a latency assertion; when it passes, the test fails
// with every goroutine's stack, which shows what the wait was stuck on.
package testwait

import (
	"runtime"
	"testing"
	"time"
)

// Bound is how long For polls before it fails the test.
const Bound = 30 * time.Second

// For polls cond every 5 ms until it holds, and fails t (with what and
// every goroutine's stack) if it does not within Bound.
func For(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(Bound); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	if cond() {
		return
	}
	buf := make([]byte, 1<<20)
	t.Fatalf("%s: never happened (goroutines now %d)\n%s", what, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
}
