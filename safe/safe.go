// Package safe keeps a panic in a goroutine on a request path from taking
// the process down: the panic becomes an INTERNAL error of that request (or,
// for fire-and-forget work, a log line), with its stack logged.
package safe

import (
	"fmt"
	"log/slog"
	"runtime/debug"

	"procoregraph/adapter"
)

// Func wraps f (an errgroup task) so that a panic in it returns an INTERNAL
// error instead of crashing the process.
func Func(f func() error) func() error {
	return func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = recovered(r)
			}
		}()
		return f()
	}
}

// Go runs f on its own goroutine; a panic in it is logged, not fatal.
func Go(f func()) {
	go func() {
		defer func() {
			if r := recover(); r != nil {
				_ = recovered(r)
			}
		}()
		f()
	}()
}

// Recover is deferred by goroutines that manage their own lifecycle: it
// turns a panic into a log line (and runs cleanup first, when given).
func Recover(cleanup func()) {
	if r := recover(); r != nil {
		_ = recovered(r)
		if cleanup != nil {
			cleanup()
		}
	}
}

func recovered(r any) error {
	slog.Default().Error("panic recovered in a background goroutine", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	return adapter.Errorf(adapter.CodeInternal, "internal error")
}
