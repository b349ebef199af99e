package sandbox

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Faults are the injected failures. The zero value injects nothing.
// GET /_sandbox/faults returns them as JSON; PUT replaces them (absent fields
// are off). Durations are Go duration strings ("250ms") or milliseconds.
type Faults struct {
	// Latency is added to every /rest request, plus a uniformly random Jitter.
	Latency Duration `json:"latency"`
	Jitter  Duration `json:"jitter"`
	// ErrorRate is the fraction (0..1) of authenticated, in-budget /rest
	// requests answered 500, 502 or 503 before any processing, chosen by a
	// PRNG seeded from Config.Seed.
	ErrorRate float64 `json:"error_rate"`
	// RateLimitStorm answers every /rest request 429 (with rate-limit headers,
	// Remaining 0) for this long from when the faults are set.
	RateLimitStorm Duration `json:"rate_limit_storm"`
	// RateLimitStormUntil reports when the current storm ends (read-only; set
	// from RateLimitStorm).
	RateLimitStormUntil *time.Time `json:"rate_limit_storm_until,omitempty"`
	// Overload answers every /rest request 503 with Retry-After.
	Overload bool `json:"overload"`
	// OverloadRetryAfter is the Retry-After of overload 503s. Default 2 s.
	OverloadRetryAfter Duration `json:"overload_retry_after"`
	// Drift changes response shapes.
	Drift Drift `json:"drift"`
	// DuplicateWebhooks and ReorderWebhooks are the fractions (0..1) of
	// webhook events delivered twice, or held and delivered after the next one.
	DuplicateWebhooks float64 `json:"duplicate_webhooks"`
	ReorderWebhooks   float64 `json:"reorder_webhooks"`
}

// Drift is schema drift in responses.
type Drift struct {
	// ExtraFields adds "sandbox_unknown_field" (a string) and
	// "sandbox_unknown_object" (an object) to every JSON object rendered.
	ExtraFields bool `json:"extra_fields"`
	// MissingOptionalField leaves out the optional fields description,
	// due_date, private, logo_url and time_zone wherever they appear.
	MissingOptionalField bool `json:"missing_optional_field"`
	// UnknownEnum renders, for every item whose id is divisible by 4, an enum
	// value Procore does not document: RFI status "pending_review", invoice
	// status "pending_payment", commitment status "Under Negotiation", punch
	// item status "Needs Review", observation status "in_review".
	UnknownEnum bool `json:"unknown_enum"`
}

// Duration is a time.Duration that marshals as a Go duration string and
// unmarshals from one or from a number of milliseconds.
type Duration time.Duration

// MarshalJSON writes "1.5s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "1.5s" or 1500 (milliseconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			*d = 0
			return nil
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q", s)
		}
		*d = Duration(v)
		return nil
	}
	if string(b) == "null" {
		*d = 0
		return nil
	}
	ms, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("invalid duration %s", b)
	}
	*d = Duration(ms * float64(time.Millisecond))
	return nil
}

// retryAfterSeconds is the Retry-After header value for d (at least 1 s).
func retryAfterSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(1, s), 10)
}
