// Package admission bounds the work one replica executes at once. Every
// query and mutation is admitted by its estimated Procore calls (the cost
// analysis' estimate, which also tracks the data it decodes and the answer
// it builds) against a replica-wide budget, first come first served: an
// operation that does not fit waits until enough of the running ones end,
// or until its own deadline. The rate limits bound how often each client
// may ask; this bounds how much the replica holds in memory at once, so
// that many clients asking together (BI syncs at the top of the hour) queue
// instead of pushing the process past its memory limit.
package admission

import (
	"context"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// DefaultBudget is the default budget of estimated Procore calls in
// execution at once: about 44 cold 50-project dashboards (450 each), which
// a 512 MiB container holds (RELIABILITY.md, "Memory").
const DefaultBudget = 20_000

// Gate admits operations by cost. The zero value is not usable; use New.
type Gate struct {
	sem     *semaphore.Weighted
	budget  int64
	inUse   atomic.Int64
	waiting atomic.Int64
}

// New returns a Gate with budget estimated calls (0 or less: DefaultBudget).
func New(budget int64) *Gate {
	if budget <= 0 {
		budget = DefaultBudget
	}
	return &Gate{sem: semaphore.NewWeighted(budget), budget: budget}
}

// Admit waits until an operation of cost estimated calls fits in the
// budget, first come first served, and returns the release that gives its
// share back (idempotent). cost is counted as at least 1 (an operation that
// reads nothing from Procore still executes) and at most the budget (an
// operation the cost limit allowed always runs, alone if need be). It
// returns ctx's error, having taken nothing, when ctx ends first.
func (g *Gate) Admit(ctx context.Context, cost int) (release func(), err error) {
	n := min(max(int64(cost), 1), g.budget)
	g.waiting.Add(1)
	err = g.sem.Acquire(ctx, n)
	g.waiting.Add(-1)
	if err != nil {
		return nil, err
	}
	g.inUse.Add(n)
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			g.inUse.Add(-n)
			g.sem.Release(n)
		}
	}, nil
}

// Budget is the budget of estimated calls.
func (g *Gate) Budget() int64 { return g.budget }

// InUse is the estimated calls of the operations admitted and not released.
func (g *Gate) InUse() int64 { return g.inUse.Load() }

// Waiting is the number of operations waiting to be admitted.
func (g *Gate) Waiting() int64 { return g.waiting.Load() }
