package mutate

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"procoregraph/cache"
)

// IdempotencyOptions configure Idempotency. Zero values mean the documented default.
type IdempotencyOptions struct {
	// TTL is how long a finished create's result is kept and replayed.
	// Default 24h.
	TTL time.Duration
	// Lease is how long an in-progress record holds its key: if the process
	// running the create dies, duplicates wait at most this long before one
	// of them runs it again. It must exceed the longest upstream write.
	// Default 2m.
	Lease time.Duration
	// Wait is how long a duplicate waits for the first request to finish
	// before answering IN_PROGRESS. Default 60s.
	Wait time.Duration
	// Poll is the first interval at which a duplicate rereads the record;
	// it doubles up to 8 times this. Default 10ms.
	Poll time.Duration
}

func (o IdempotencyOptions) withDefaults() IdempotencyOptions {
	if o.TTL <= 0 {
		o.TTL = 24 * time.Hour
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.Wait <= 0 {
		o.Wait = 60 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 10 * time.Millisecond
	}
	return o
}

// Idempotency keeps create mutations exactly-once per idempotency key. A
// record lives in the Store under cache.AuxKey(conn, "idem", mutation, key)
// (so keys are scoped to the connection and the mutation) and holds the hash
// of the input it was first used with:
//
//   - The first request stores an in-progress record with SetNX (exactly one
//     wins, on every replica sharing the store), runs the create, and
//     replaces the record with the result (kept for TTL).
//   - A duplicate with the same input waits for that result and returns it;
//     with a different input it gets ErrKeyReused.
//   - When the create fails in a way that proves nothing was created, the
//     record is released and the key may be used again; when the outcome is
//     unknown (a timeout, a 5xx), that is recorded and replayed.
type Idempotency struct {
	store cache.Store
	opt   IdempotencyOptions
}

// NewIdempotency returns Idempotency over store.
func NewIdempotency(store cache.Store, o IdempotencyOptions) *Idempotency {
	return &Idempotency{store: store, opt: o.withDefaults()}
}

// Errors of Begin.
var (
	// ErrKeyReused: the key was first used with a different input.
	ErrKeyReused = errors.New("idempotency key already used with a different input")
	// ErrInProgress: the first request has not finished within Wait.
	ErrInProgress = errors.New("a request with this idempotency key is still in progress")
)

// Record states.
const (
	statePending = "pending"
	stateDone    = "done"
	stateUnknown = "unknown"
)

// Record is a stored idempotency record.
type Record struct {
	State string `json:"state"`
	// Hash identifies the input the key was first used with.
	Hash string `json:"hash"`
	// Owner is the in-progress request's random token (pending only).
	Owner string `json:"owner,omitempty"`
	// Result is the created object as JSON (done only; null when the create
	// produced only UserErrors).
	Result json.RawMessage `json:"result,omitempty"`
	// UserErrors are returned with the result.
	UserErrors []UserError `json:"userErrors,omitempty"`
	// Message says what failed (unknown only).
	Message string `json:"message,omitempty"`
	// At is when the record was finished.
	At time.Time `json:"at"`
}

// Lease is the right to run a create under a key.
type Lease struct {
	idem    *Idempotency
	key     string
	pending []byte
}

// HashInput returns the hex sha256 of v's JSON encoding (deterministic for
// structs), the identity of an input.
func HashInput(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("hash input: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Begin claims key for a create with input hash. It returns a Lease when
// the caller must run the create, or the finished Record to replay. It waits
// while another request holds the key. Errors: ErrKeyReused, ErrInProgress,
// the context's error, or a store failure (then the caller must not run the
// create: exactly-once cannot be promised).
func (i *Idempotency) Begin(ctx context.Context, conn, mutation, key, hash string) (*Lease, *Record, error) {
	storeKey := cache.AuxKey(conn, "idem", mutation, key)
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	pending, err := json.Marshal(Record{State: statePending, Hash: hash, Owner: hex.EncodeToString(tok)})
	if err != nil {
		return nil, nil, err
	}
	deadline := time.Now().Add(i.opt.Wait)
	poll := i.opt.Poll
	for {
		won, err := i.store.SetNX(ctx, storeKey, pending, i.opt.Lease)
		if err != nil {
			return nil, nil, fmt.Errorf("idempotency store: %w", err)
		}
		if won {
			return &Lease{idem: i, key: storeKey, pending: pending}, nil, nil
		}
		it, ok, err := i.store.Get(ctx, storeKey)
		if err != nil {
			return nil, nil, fmt.Errorf("idempotency store: %w", err)
		}
		if ok {
			var rec Record
			if err := json.Unmarshal(it.Value, &rec); err != nil {
				return nil, nil, fmt.Errorf("idempotency store: unreadable record: %w", err)
			}
			if rec.Hash != hash {
				return nil, nil, ErrKeyReused
			}
			if rec.State != statePending {
				return nil, &rec, nil
			}
		}
		// In progress elsewhere, or gone (released, expired) between SetNX
		// and Get: wait a little, then try to claim or read again.
		if time.Now().After(deadline) {
			return nil, nil, ErrInProgress
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-t.C:
		}
		poll = min(2*poll, 8*i.opt.Poll)
	}
}

// Complete stores the finished record in place of the lease's in-progress
// one (only if the lease still holds the key).
func (l *Lease) Complete(ctx context.Context, rec Record) error {
	var pending Record
	_ = json.Unmarshal(l.pending, &pending)
	rec.Hash = pending.Hash
	if rec.At.IsZero() {
		rec.At = time.Now().UTC()
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	ok, err := l.idem.store.CompareAndSwap(ctx, l.key, l.pending, b, l.idem.opt.TTL)
	if err != nil {
		return fmt.Errorf("idempotency store: %w", err)
	}
	if !ok {
		return errors.New("idempotency record was taken over before the create finished (lease expired)")
	}
	return nil
}

// Release deletes the in-progress record so the key can be used again
// (only if the lease still holds it).
func (l *Lease) Release(ctx context.Context) error {
	if _, err := l.idem.store.CompareAndDelete(ctx, l.key, l.pending); err != nil {
		return fmt.Errorf("idempotency store: %w", err)
	}
	return nil
}
