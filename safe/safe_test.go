package safe_test

import (
	"errors"
	"sync"
	"testing"

	"golang.org/x/sync/errgroup"

	"procoregraph/adapter"
	"procoregraph/safe"
)

func TestPanicsBecomeErrors(t *testing.T) {
	t.Run("FuncReturnsInternal", func(t *testing.T) {
		var g errgroup.Group
		g.Go(safe.Func(func() error { panic("boom") }))
		g.Go(safe.Func(func() error { return nil }))
		err := g.Wait()
		var ae *adapter.Error
		if !errors.As(err, &ae) || ae.Code != adapter.CodeInternal || ae.Message != "internal error" {
			t.Fatalf("a panicking task returned %v, want INTERNAL without the panic value", err)
		}
	})
	t.Run("FuncPassesErrorsThrough", func(t *testing.T) {
		want := errors.New("plain")
		if err := safe.Func(func() error { return want })(); err != want {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("GoSurvivesAPanic", func(t *testing.T) {
		var wg sync.WaitGroup
		wg.Add(1)
		safe.Go(func() { defer wg.Done(); panic("boom") })
		wg.Wait() // the process is still here
	})
	t.Run("RecoverRunsTheCleanup", func(t *testing.T) {
		done := make(chan struct{})
		go func() {
			defer safe.Recover(func() { close(done) })
			var m map[string]int
			m["x"] = 1 // a nil-map write panics
		}()
		<-done
	})
}
