package bulk

import (
	"context"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"procoregraph/adapter"
	"procoregraph/limits"
	"procoregraph/ratelimit"
)

// BudgetPacer keeps exports within the Procore budget without starving
// interactive requests:
//   - each page query's estimated Procore calls (limits.Analyzer) are spent
//     from a calls budget of the owner's own, "bulk:" + its rate key, at the
//     owner's calls-per-minute rate: an export waits when it is spent, and
//     never spends what the owner's interactive requests use;
//   - while Procore's rate-limit window (as the connection last learned it)
//     has less than Reserve of its limit left, the export waits for the
//     window's reset, leaving the rest to interactive requests.
//
// Page queries of one export run one after another, and Options.MaxRunning
// bounds the exports.
type BudgetPacer struct {
	Schema   *ast.Schema
	Analyzer *limits.Analyzer
	// Rates is the gateway's rate limiter. Nil: no calls budget.
	Rates *ratelimit.Limiter
	// Reserve is the share of Procore's window kept for interactive
	// requests (BULK_PROCORE_RESERVE). Default 0.2; negative: none.
	Reserve float64
	// MaxWait bounds one wait for the window. Default 1 minute (then the
	// window is looked at again).
	MaxWait time.Duration
}

// Wait implements Pacer.
func (b *BudgetPacer) Wait(ctx context.Context, owner Owner, query string, vars map[string]any) error {
	if b.Rates != nil && b.Analyzer != nil {
		cost := 1
		if doc, errs := gqlparser.LoadQueryWithRules(b.Schema, query, PageRules()); len(errs) == 0 && len(doc.Operations) == 1 {
			cost = max(1, b.Analyzer.Analyze(doc.Operations[0], doc, vars).Cost)
		}
		key := "bulk:" + owner.RateKey
		for {
			res, _ := b.Rates.Calls(ctx, key, cost, owner.Principal.CallsPerMinute)
			if res.Allowed {
				break
			}
			if res.RetryAfter <= 0 { // more than a burst: spend what the window allows
				break
			}
			if err := sleep(ctx, res.RetryAfter); err != nil {
				return err
			}
		}
	}
	reserve := b.Reserve
	if reserve == 0 {
		reserve = 0.2
	}
	rl, ok := owner.Conn.Procore.(adapter.RateLimiter)
	if reserve < 0 || !ok {
		return nil
	}
	maxWait := b.MaxWait
	if maxWait <= 0 {
		maxWait = time.Minute
	}
	for {
		st, known := rl.RateLimit(ctx)
		if !known || st.Limit <= 0 || float64(st.Remaining) >= reserve*float64(st.Limit) || st.ResetAt.IsZero() {
			return nil
		}
		if err := sleep(ctx, min(maxWait, max(time.Until(st.ResetAt), 10*time.Millisecond))); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
