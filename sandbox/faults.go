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
	// FailRoutes answers every authenticated, in-budget request to the named
	// routes with the given status (500 when 0) before any processing: one
	// Procore list failing while the rest answer. Keys are the route patterns
	// of sandbox/routes.go, e.g. "GET /rest/v1.1/projects/{project_id}/submittals".
	FailRoutes map[string]int `json:"fail_routes,omitempty"`
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
	// StallBody answers every /rest request that passes authentication with
	// its status, its headers (Content-Length included) and the first byte of
	// its body, then holds the rest open until the client gives up: a Procore
	// that stops sending mid-answer. Setting the faults again (PUT
	// /_sandbox/faults, SetFaults) releases the held bodies, which then
	// complete normally. Stats.StalledBodies counts the bodies held now.
	StallBody bool `json:"stall_body"`
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
	// Rules inject targeted drift into every object of chosen resources, as
	// Procore might change them: rename a field, put a new enum value, change
	// a value's JSON type, add a field. They apply in order, after the
	// switches above. Example (PUT /_sandbox/faults):
	//
	//	{"drift": {"rules": [
	//	  {"resource": "rfis", "kind": "rename_field", "field": "subject", "value": "subject_line"},
	//	  {"resource": "rfis", "kind": "unknown_enum", "field": "cost_impact.status", "value": "pending_estimate"},
	//	  {"resource": "work_order_contracts", "kind": "change_type", "field": "grand_total"},
	//	  {"resource": "punch_items", "kind": "add_field", "field": "carbon_rating", "value": {"score": 3}}
	//	]}}
	Rules []DriftRule `json:"rules,omitempty"`
}

// DriftRuleKind is what a DriftRule does to its field.
type DriftRuleKind string

const (
	// DriftRenameField renames the field to Value (a JSON string; default the
	// name + "_renamed"). An absent field stays absent.
	DriftRenameField DriftRuleKind = "rename_field"
	// DriftUnknownEnum replaces the field's value with Value (a JSON string;
	// default "procore_new_value"), an enum value Procore might add.
	DriftUnknownEnum DriftRuleKind = "unknown_enum"
	// DriftChangeType replaces the field's value with Value (any JSON; default
	// the old value wrapped in an object, {"value": old}: a number or string
	// becomes an object).
	DriftChangeType DriftRuleKind = "change_type"
	// DriftAddField adds the field with Value (any JSON; default "drift") at
	// the end of the object (of the object at the path's parent).
	DriftAddField DriftRuleKind = "add_field"
)

// DriftRule changes one field of every object a resource's routes render
// (lists, shows and write responses alike).
type DriftRule struct {
	// Resource names the routes by their collection, the last literal
	// segment of their path in ROUTES.md: "companies", "projects", "users",
	// "vendors", "cost_codes", "rfis", "replies", "submittals",
	// "submittal_approvers", "work_order_contracts",
	// "purchase_order_contracts" (or "commitments" for both),
	// "commitment_change_orders", "billing_periods", "requisitions",
	// "budget_views", "detail_rows", "manpower_logs", "notes_logs",
	// "observations" (/observations/items), "punch_items",
	// "prime_contracts", "payment_applications" and
	// "prime_contract_line_items". Objects only
	// rendered nested in others (line items, statuses, G703 rows, people) are
	// reached through the parent's path.
	Resource string `json:"resource"`
	// Kind is what the rule does.
	Kind DriftRuleKind `json:"kind"`
	// Field is the member's path in the object, dot-separated through nested
	// objects: "subject", "cost_impact.status".
	Field string `json:"field"`
	// Value is the kind's JSON value (see the kinds); empty for the default.
	Value json.RawMessage `json:"value,omitempty"`
}

// UnmarshalJSON reads a rule and rejects one the sandbox cannot apply, so a
// PUT /_sandbox/faults with a mistyped rule answers 400.
func (r *DriftRule) UnmarshalJSON(b []byte) error {
	type plain DriftRule
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*r = DriftRule(p)
	return r.validate()
}

func (r DriftRule) validate() error {
	if r.Resource == "" || r.Field == "" {
		return fmt.Errorf("drift rule %+v: resource and field are required", r)
	}
	switch r.Kind {
	case DriftRenameField, DriftUnknownEnum:
		if len(r.Value) > 0 {
			var s string
			if err := json.Unmarshal(r.Value, &s); err != nil || s == "" {
				return fmt.Errorf("drift rule %s of %s: value must be a non-empty JSON string", r.Kind, r.Field)
			}
		}
	case DriftChangeType, DriftAddField:
		if len(r.Value) > 0 && !json.Valid(r.Value) {
			return fmt.Errorf("drift rule %s of %s: value is not JSON", r.Kind, r.Field)
		}
	default:
		return fmt.Errorf("drift rule kind %q: want rename_field, unknown_enum, change_type or add_field", r.Kind)
	}
	return nil
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
