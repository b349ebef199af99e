package testwait

import (
	"sync/atomic"
	"testing"
)

func TestForReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 3 {
			n.Add(1)
		}
	}()
	For(t, "three increments", func() bool { return n.Load() == 3 })
	if n.Load() != 3 {
		t.Fatalf("returned at %d", n.Load())
	}
}
