package limits

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
)

// CodeAnswerTooLarge refuses an answer that grows past its bound while it
// is being built.
const CodeAnswerTooLarge = "ANSWER_TOO_LARGE"

// Defaults of the answer's bounds.
const (
	DefaultMaxNodes = 200_000
	DefaultMaxBytes = 32 << 20
)

// NodeBudget counts the fields resolved for one answer. It is safe for
// concurrent use (gqlgen resolves list elements concurrently).
type NodeBudget struct {
	max     int64
	spent   atomic.Int64
	tripped atomic.Bool
}

type budgetKey struct{}

// WithNodeBudget returns ctx carrying a fresh budget of max fields, and the
// budget.
func WithNodeBudget(ctx context.Context, max int64) (context.Context, *NodeBudget) {
	if max <= 0 {
		max = DefaultMaxNodes
	}
	b := &NodeBudget{max: max}
	return context.WithValue(ctx, budgetKey{}, b), b
}

// Spend counts one field of the answer in ctx and reports whether the
// answer is still within its bound. Without a budget it always is.
func Spend(ctx context.Context) bool {
	b, _ := ctx.Value(budgetKey{}).(*NodeBudget)
	if b == nil {
		return true
	}
	if b.spent.Add(1) > b.max {
		b.tripped.Store(true)
		return false
	}
	return true
}

// Tripped reports whether the answer went over its bound.
func (b *NodeBudget) Tripped() bool { return b.tripped.Load() }

// Max is the bound.
func (b *NodeBudget) Max() int64 { return b.max }

// CapBytes bounds the bytes of a (non-streaming) answer: an answer that
// would pass max bytes is replaced, when nothing was written yet, by an
// ANSWER_TOO_LARGE error, and otherwise cut off. The status is held back
// until the first byte so that the error can still take its place.
func CapBytes(max int64, next http.Handler) http.Handler {
	if max <= 0 {
		max = DefaultMaxBytes
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &capWriter{ResponseWriter: w, max: max}
		next.ServeHTTP(c, r)
		if !c.cut {
			c.sendHeader()
		}
	})
}

type capWriter struct {
	http.ResponseWriter
	max, n         int64
	status         int
	headerOut, cut bool
}

func (c *capWriter) WriteHeader(code int) {
	if !c.headerOut && c.status == 0 {
		c.status = code
	}
}

func (c *capWriter) sendHeader() {
	if c.headerOut {
		return
	}
	c.headerOut = true
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.ResponseWriter.WriteHeader(c.status)
}

func (c *capWriter) Write(p []byte) (int, error) {
	if c.cut {
		return len(p), nil
	}
	if c.n+int64(len(p)) > c.max {
		c.cut = true
		if !c.headerOut {
			c.headerOut = true
			WriteError(c.ResponseWriter, http.StatusOK, CodeAnswerTooLarge,
				"the answer is larger than the limit of "+strconv.FormatInt(c.max, 10)+" bytes: ask for fewer items or fields", nil)
		}
		return len(p), nil
	}
	c.sendHeader()
	c.n += int64(len(p))
	return c.ResponseWriter.Write(p)
}

// Flush sends the held-back status and flushes.
func (c *capWriter) Flush() {
	c.sendHeader()
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *capWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// SpendN counts n fields of the answer in ctx at once when the answer has
// room for all of them, and reports whether it had; when it had not,
// nothing is counted (the caller then resolves them one by one, and Spend
// trips the budget where gqlgen would have). Without a budget it always has.
func SpendN(ctx context.Context, n int64) bool {
	b, _ := ctx.Value(budgetKey{}).(*NodeBudget)
	if b == nil {
		return true
	}
	for {
		cur := b.spent.Load()
		if cur+n > b.max {
			return false
		}
		if b.spent.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}
