package admission

import (
	"context"
	"errors"
	"procoregraph/testwait"
	"testing"
)

func TestAnOperationPastTheBudgetWaitsForRoom(t *testing.T) {
	g := New(100)
	relA, err := g.Admit(context.Background(), 60)
	if err != nil {
		t.Fatal(err)
	}
	admitted := make(chan func(), 1)
	go func() {
		rel, err := g.Admit(context.Background(), 60)
		if err != nil {
			t.Error(err)
		}
		admitted <- rel
	}()
	testwait.For(t, "the second operation waits", func() bool { return g.Waiting() == 1 })
	select {
	case <-admitted:
		t.Fatal("admitted past the budget")
	default:
	}
	if g.InUse() != 60 {
		t.Fatalf("in use %d, want 60", g.InUse())
	}
	relA()
	relA() // a second release gives nothing back twice
	relB := <-admitted
	if g.InUse() != 60 || g.Waiting() != 0 {
		t.Fatalf("after the first ended: in use %d, waiting %d; want 60, 0", g.InUse(), g.Waiting())
	}
	relB()
	if g.InUse() != 0 {
		t.Fatalf("in use %d after every release", g.InUse())
	}
	// The released shares are whole again: the full budget fits.
	rel, err := g.Admit(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	rel()
}

func TestCostsAreCountedBetweenOneAndTheBudget(t *testing.T) {
	for _, tc := range []struct {
		name string
		cost int
		want int64
	}{
		{"ZeroCostsOne", 0, 1},
		{"NegativeCostsOne", -5, 1},
		{"AnOperationOverTheBudgetTakesAllOfIt", 1000, 100},
		{"AnOperationWithinItTakesItsCost", 42, 42},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := New(100)
			rel, err := g.Admit(context.Background(), tc.cost)
			if err != nil {
				t.Fatal(err)
			}
			defer rel()
			if g.InUse() != tc.want {
				t.Fatalf("in use %d, want %d", g.InUse(), tc.want)
			}
		})
	}
}

func TestAWaiterWhoseContextEndsTakesNothing(t *testing.T) {
	g := New(10)
	rel, err := g.Admit(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := g.Admit(ctx, 5)
		done <- err
	}()
	testwait.For(t, "the waiter waits", func() bool { return g.Waiting() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiter: %v, want context.Canceled", err)
	}
	rel()
	if g.InUse() != 0 || g.Waiting() != 0 {
		t.Fatalf("in use %d, waiting %d; want 0, 0", g.InUse(), g.Waiting())
	}
}

func TestZeroBudgetIsTheDefault(t *testing.T) {
	if got := New(0).Budget(); got != DefaultBudget {
		t.Fatalf("budget %d, want %d", got, DefaultBudget)
	}
}
