package portal

import (
	"context"
	"encoding/base32"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"procoregraph/adapter"
	"procoregraph/adapter/rest"
	"procoregraph/cache"
)

// TOTP parameters Procore's authenticator enrolment uses (RFC 6238 defaults).
const (
	totpPeriod = 30 * time.Second
	totpDigits = otp.DigitsSix
)

// totpCodes generates RFC 6238 codes and never hands out a code twice: each
// 30-second step is claimed, per secret, in the shared store (SET NX, so two
// replicas never use one step either) and in memory (when the store fails).
// A step whose code would expire within minValidity is skipped, since the
// code could go stale between typing and Procore checking it.
type totpCodes struct {
	store       cache.Store
	clock       rest.Clock
	ids         *sealer
	minValidity time.Duration
	logger      *slog.Logger

	mu   sync.Mutex
	last map[string]int64 // secret id -> newest step used by this process
}

func newTOTPCodes(store cache.Store, clock rest.Clock, ids *sealer, minValidity time.Duration, logger *slog.Logger) *totpCodes {
	return &totpCodes{store: store, clock: clock, ids: ids, minValidity: minValidity, logger: logger, last: map[string]int64{}}
}

// validTOTPSecret reports whether secret is base32 as authenticator apps take it.
func validTOTPSecret(secret string) bool {
	s := strings.ToUpper(strings.TrimSpace(secret))
	if s == "" {
		return false
	}
	if n := len(s) % 8; n != 0 {
		s += strings.Repeat("=", 8-n)
	}
	b, err := base32.StdEncoding.DecodeString(s)
	return err == nil && len(b) >= 10
}

// code returns a fresh code for secret, waiting (by the clock) for the next
// step when the current one is used or about to expire.
func (t *totpCodes) code(ctx context.Context, secret string) (string, error) {
	id := t.ids.id(secret)
	period := int64(totpPeriod / time.Second)
	for {
		now := t.clock.Now()
		step := now.Unix() / period
		remaining := time.Unix((step+1)*period, 0).Sub(now)
		if remaining >= t.minValidity {
			ok, err := t.claim(ctx, id, step)
			if err != nil {
				return "", err
			}
			if ok {
				code, err := totp.GenerateCodeCustom(secret, time.Unix(step*period, 0),
					totp.ValidateOpts{Period: uint(period), Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
				if err != nil {
					return "", loginError(adapter.CodeInternal, "cannot compute the TOTP code (is the secret base32?)", nil)
				}
				return code, nil
			}
		}
		if err := t.clock.Sleep(ctx, remaining); err != nil {
			return "", loginError(adapter.CodeUpstreamUnavailable, "timed out waiting for a fresh TOTP code", err)
		}
	}
}

// claim marks step as used for the secret and reports whether this caller
// got it. Steps at or before one this process used are refused outright.
func (t *totpCodes) claim(ctx context.Context, id string, step int64) (bool, error) {
	t.mu.Lock()
	if last, ok := t.last[id]; ok && step <= last {
		t.mu.Unlock()
		return false, nil
	}
	t.mu.Unlock()
	won, err := t.store.SetNX(ctx, cache.AuxKey("portal", "totp-step", id, strconv.FormatInt(step, 10)), []byte{1}, 3*totpPeriod)
	if err != nil {
		// Without the store only this process is guarded: logging in beats
		// not logging in, though a replica using the same step at the same
		// moment would see its code refused.
		t.logger.Warn("portal: TOTP step claim store failed; guarding this process only", "err", err)
		won = true
	}
	if won {
		t.mu.Lock()
		if step > t.last[id] {
			t.last[id] = step
		}
		t.mu.Unlock()
	}
	return won, nil
}
