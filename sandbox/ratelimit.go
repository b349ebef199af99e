package sandbox

import (
	"sync"
	"time"
)

// limiter keeps two fixed windows per token: hourly and spike (10 s). A
// request is allowed when both have budget left, and then counts in both.
// Refused (429) requests do not count; every other request does, whatever its
// outcome (Procore counts failed requests too).
type limiter struct {
	hourly, spike     int // <0 disables a window
	hourWin, spikeWin time.Duration

	mu      sync.Mutex
	buckets map[string]*bucket
	pruned  time.Time
}

type bucket struct {
	hourStart, spikeStart time.Time
	hourCount, spikeCount int
}

// rateState is what the X-Rate-Limit-* headers report: the window closer to
// exhaustion (the lower remaining count; on a tie, the one resetting later).
type rateState struct {
	Limit, Remaining int
	Reset            time.Time
	on               bool
}

func newLimiter(hourly, spike int, hourWin, spikeWin time.Duration) *limiter {
	return &limiter{hourly: hourly, spike: spike, hourWin: hourWin, spikeWin: spikeWin, buckets: map[string]*bucket{}}
}

// take consumes one request for key and reports whether it was allowed, and
// the headers' state after it.
func (l *limiter) take(key string, now time.Time) (rateState, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketLocked(key, now)
	ok := (l.hourly < 0 || b.hourCount < l.hourly) && (l.spike < 0 || b.spikeCount < l.spike)
	if ok {
		b.hourCount++
		b.spikeCount++
	}
	return l.stateLocked(b), ok
}

// peek reports the state for key without consuming.
func (l *limiter) peek(key string, now time.Time) rateState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stateLocked(l.bucketLocked(key, now))
}

func (l *limiter) bucketLocked(key string, now time.Time) *bucket {
	if now.Sub(l.pruned) > l.hourWin {
		for k, b := range l.buckets {
			if now.Sub(b.hourStart) >= l.hourWin {
				delete(l.buckets, k)
			}
		}
		l.pruned = now
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{hourStart: now, spikeStart: now}
		l.buckets[key] = b
	}
	if now.Sub(b.hourStart) >= l.hourWin {
		b.hourStart, b.hourCount = now, 0
	}
	if now.Sub(b.spikeStart) >= l.spikeWin {
		b.spikeStart, b.spikeCount = now, 0
	}
	return b
}

func (l *limiter) stateLocked(b *bucket) rateState {
	hour := rateState{Limit: l.hourly, Remaining: max(0, l.hourly-b.hourCount), Reset: b.hourStart.Add(l.hourWin), on: l.hourly >= 0}
	spike := rateState{Limit: l.spike, Remaining: max(0, l.spike-b.spikeCount), Reset: b.spikeStart.Add(l.spikeWin), on: l.spike >= 0}
	switch {
	case !hour.on:
		return spike
	case !spike.on:
		return hour
	case spike.Remaining < hour.Remaining:
		return spike
	case hour.Remaining < spike.Remaining:
		return hour
	case hour.Reset.After(spike.Reset):
		return hour
	}
	return spike
}

// reset forgets every bucket.
func (l *limiter) reset() {
	l.mu.Lock()
	l.buckets = map[string]*bucket{}
	l.mu.Unlock()
}
