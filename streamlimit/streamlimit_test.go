package streamlimit

import (
	"sync"
	"testing"
)

func TestAcquire(t *testing.T) {
	type step struct {
		key       string
		own       int // the principal's own bound (0: the Limiter's)
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
		{name: "a principal's own bound replaces the per-principal bound, up or down", o: Options{Total: 10, PerPrincipal: 2},
			steps: []step{{key: "a", own: 3}, {key: "a", own: 3}, {key: "a", own: 3}, {key: "a", own: 3, wantScope: ScopePrincipal},
				{key: "b", own: 1}, {key: "b", own: 1, wantScope: ScopePrincipal}}},
		{name: "a principal's own bound does not lift the replica's", o: Options{Total: 2, PerPrincipal: 1},
			steps: []step{{key: "a", own: 5}, {key: "a", own: 5}, {key: "a", own: 5, wantScope: ScopeReplica}}},
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
				rel, r := l.Acquire(s.key, s.own)
				switch {
				case s.wantScope == "" && r != nil:
					t.Fatalf("step %d: %v, want the subscription counted", i+1, r)
				case s.wantScope != "" && r == nil:
					t.Fatalf("step %d: counted, want a refusal (%s)", i+1, s.wantScope)
				case s.wantScope != "" && r.Scope != s.wantScope:
					t.Fatalf("step %d: refused by the %s bound, want the %s bound", i+1, r.Scope, s.wantScope)
				}
				if r == nil {
					releases[i+1] = rel
				}
			}
		})
	}
}

func TestDefaultsApplyToZeroOptions(t *testing.T) {
	l := New(Options{})
	for i := range DefaultPerPrincipal {
		if _, r := l.Acquire("a", 0); r != nil {
			t.Fatalf("subscription %d refused: %v", i+1, r)
		}
	}
	_, r := l.Acquire("a", 0)
	if r == nil || r.Scope != ScopePrincipal || r.Limit != DefaultPerPrincipal {
		t.Fatalf("subscription %d: %v, want the principal bound of %d", DefaultPerPrincipal+1, r, DefaultPerPrincipal)
	}
	if want := "this client already holds 1000 subscriptions open, the most it may hold at once; end one before starting another"; r.Error() != want {
		t.Fatalf("refusal %q, want %q", r.Error(), want)
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
			rel, r := l.Acquire(key, 0)
			if r != nil {
				t.Error(r)
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
