package streamlimit

import (
	"errors"
	"sync"
	"testing"
)

func TestAcquire(t *testing.T) {
	type step struct {
		key       string
		release   int // release the subscription acquired at this step (1-based) instead of acquiring
		wantScope Scope
	}
	for _, tc := range []struct {
		name  string
		o     Options
		steps []step
	}{
		{name: "a principal at its bound is refused, another is not", o: Options{Total: 10, PerPrincipal: 2},
			steps: []step{{key: "a"}, {key: "a"}, {key: "a", wantScope: ScopePrincipal}, {key: "b"}}},
		{name: "the replica at its bound refuses every principal", o: Options{Total: 2, PerPrincipal: 5},
			steps: []step{{key: "a"}, {key: "b"}, {key: "c", wantScope: ScopeReplica}, {key: "a", wantScope: ScopeReplica}}},
		{name: "a released subscription frees its principal's slot", o: Options{Total: 10, PerPrincipal: 1},
			steps: []step{{key: "a"}, {key: "a", wantScope: ScopePrincipal}, {release: 1}, {key: "a"}}},
		{name: "a released subscription frees the replica's slot", o: Options{Total: 1, PerPrincipal: 5},
			steps: []step{{key: "a"}, {key: "b", wantScope: ScopeReplica}, {release: 1}, {key: "b"}}},
		{name: "releasing twice frees one slot", o: Options{Total: 10, PerPrincipal: 2},
			steps: []step{{key: "a"}, {key: "a"}, {release: 1}, {release: 1}, {key: "a"}, {key: "a", wantScope: ScopePrincipal}}},
		{name: "negative bounds bound nothing", o: Options{Total: -1, PerPrincipal: -1},
			steps: []step{{key: "a"}, {key: "a"}, {key: "a"}, {key: "a"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := New(tc.o)
			releases := map[int]func(){}
			for i, s := range tc.steps {
				if s.release > 0 {
					releases[s.release]()
					continue
				}
				rel, err := l.Acquire(s.key)
				var r *Refusal
				switch {
				case s.wantScope == "" && err != nil:
					t.Fatalf("step %d: %v, want the subscription counted", i+1, err)
				case s.wantScope != "" && !errors.As(err, &r):
					t.Fatalf("step %d: %v, want a refusal (%s)", i+1, err, s.wantScope)
				case s.wantScope != "" && r.Scope != s.wantScope:
					t.Fatalf("step %d: refused by the %s bound, want the %s bound", i+1, r.Scope, s.wantScope)
				}
				if err == nil {
					releases[i+1] = rel
				}
			}
		})
	}
}

func TestDefaultsApplyToZeroOptions(t *testing.T) {
	l := New(Options{})
	for i := range DefaultPerPrincipal {
		if _, err := l.Acquire("a"); err != nil {
			t.Fatalf("subscription %d refused: %v", i+1, err)
		}
	}
	_, err := l.Acquire("a")
	var r *Refusal
	if !errors.As(err, &r) || r.Scope != ScopePrincipal || r.Limit != DefaultPerPrincipal {
		t.Fatalf("subscription %d: %v, want the principal bound of %d", DefaultPerPrincipal+1, err, DefaultPerPrincipal)
	}
}

func TestReleasedPrincipalsLeaveNoEntry(t *testing.T) {
	l := New(Options{})
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := string(rune('a' + i%8))
			rel, err := l.Acquire(key)
			if err != nil {
				t.Error(err)
				return
			}
			rel()
			rel()
		}()
	}
	wg.Wait()
	if p, total := l.Open("a"); p != 0 || total != 0 {
		t.Fatalf("after every release: %d open for a, %d in all", p, total)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.open) != 0 {
		t.Fatalf("%d principals still have an entry", len(l.open))
	}
}
