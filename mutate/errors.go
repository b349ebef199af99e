package mutate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"procoregraph/adapter"
)

// UserErrorCode is what is wrong with a mutation's input, for programs: the
// schema's UserErrorCode enum. The constants below are the whole set (a test
// checks them against the schema, and that no code outside them is built
// anywhere in the module); clients switch on them, messages are for people.
type UserErrorCode string

// The UserErrorCode values.
const (
	// CodeRequired: a required value is missing or blank.
	CodeRequired UserErrorCode = "REQUIRED"
	// CodeInvalidDecimal: a money or percentage value has more than two
	// decimal places (Procore keeps cents and hundredths of a percent).
	CodeInvalidDecimal UserErrorCode = "INVALID_DECIMAL"
	// CodeOutOfRange: a number or date outside what is allowed (retainage
	// outside 0..100, a negative amount, a date before 1900 or after 2199).
	CodeOutOfRange UserErrorCode = "OUT_OF_RANGE"
	// CodeMustBePositive: an amount that must be greater than zero.
	CodeMustBePositive UserErrorCode = "MUST_BE_POSITIVE"
	// CodeInconsistent: values that contradict each other (amount is not
	// quantity × unit cost).
	CodeInconsistent UserErrorCode = "INCONSISTENT"
	// CodeInvalidValue: a value that is not allowed here (a status that does
	// not apply to the commitment's kind, an unknown enum).
	CodeInvalidValue UserErrorCode = "INVALID_VALUE"
	// CodeInvalidTransition: the item's current state does not allow the
	// change (closing a draft RFI, moving an approved invoice back to draft).
	CodeInvalidTransition UserErrorCode = "INVALID_TRANSITION"
	// CodeNotFound: a referenced item (project user, vendor, line item,
	// billing period, approver, the item itself) does not exist or cannot
	// be seen.
	CodeNotFound UserErrorCode = "NOT_FOUND"
	// CodeDuplicate: the same value given twice, or already taken in Procore.
	CodeDuplicate UserErrorCode = "DUPLICATE"
	// CodeConflict: the idempotency key was used before with a different
	// input (or the input's key and the Idempotency-Key header differ).
	CodeConflict UserErrorCode = "CONFLICT"
	// CodeInProgress: a request with the same idempotency key is still
	// running and did not finish within the wait; retry later.
	CodeInProgress UserErrorCode = "IN_PROGRESS"
	// CodeOutcomeUnknown: an earlier request with this idempotency key
	// failed in a way that leaves unknown whether Procore applied it; check
	// Procore before retrying with a new key.
	CodeOutcomeUnknown UserErrorCode = "OUTCOME_UNKNOWN"
	// CodeChecksumMismatch: an upload's bytes do not match its declared sha256.
	CodeChecksumMismatch UserErrorCode = "CHECKSUM_MISMATCH"
	// CodeTooLarge: an upload larger than the gateway accepts.
	CodeTooLarge UserErrorCode = "TOO_LARGE"
	// CodeRejected: Procore refused the change for a business rule without
	// naming a field.
	CodeRejected UserErrorCode = "REJECTED"
	// CodeIncomplete: Procore created the item, but a later step of the
	// create failed (a commitment's line item or final status); the payload
	// carries the item as it is.
	CodeIncomplete UserErrorCode = "INCOMPLETE"
	// CodeUnauthenticated: sign-in refused the credentials, the code or the
	// session token (session mutations only).
	CodeUnauthenticated UserErrorCode = "UNAUTHENTICATED"
	// CodeReauthRequired: the session must sign in again before it can go
	// on (session mutations only).
	CodeReauthRequired UserErrorCode = "REAUTH_REQUIRED"
	// CodeBusy: a bound shared by callers (bulk exports running or kept) is
	// reached, or the gateway is shutting down; retry later.
	CodeBusy UserErrorCode = "BUSY"
)

// Valid reports whether c is one of the UserErrorCode constants.
func (c UserErrorCode) Valid() bool {
	switch c {
	case CodeRequired, CodeInvalidDecimal, CodeOutOfRange, CodeMustBePositive, CodeInconsistent,
		CodeInvalidValue, CodeInvalidTransition, CodeNotFound, CodeDuplicate, CodeConflict,
		CodeInProgress, CodeOutcomeUnknown, CodeChecksumMismatch, CodeTooLarge, CodeRejected,
		CodeIncomplete, CodeUnauthenticated, CodeReauthRequired, CodeBusy:
		return true
	}
	return false
}

// MarshalGQLContext writes c as the enum value. A code outside the enum is
// an error at the field's path (the client sees an internal error), never an
// enum value the schema does not declare.
func (c UserErrorCode) MarshalGQLContext(_ context.Context, w io.Writer) error {
	if !c.Valid() {
		return fmt.Errorf("mutate: user error code %q is not in the UserErrorCode enum", string(c))
	}
	_, err := io.WriteString(w, strconv.Quote(string(c)))
	return err
}

// UnmarshalGQLContext reads an enum value; anything else is an error.
func (c *UserErrorCode) UnmarshalGQLContext(_ context.Context, v any) error {
	s, ok := v.(string)
	if !ok || !UserErrorCode(s).Valid() {
		return fmt.Errorf("invalid UserErrorCode %v", v)
	}
	*c = UserErrorCode(s)
	return nil
}

// checker collects UserErrors. Paths are given without the leading "input".
type checker struct{ errs []UserError }

func inputPath(path ...string) []string { return append([]string{"input"}, path...) }

func (c *checker) add(code UserErrorCode, msg string, path ...string) {
	c.errs = append(c.errs, UserError{Field: inputPath(path...), Message: msg, Code: code})
}

func (c *checker) ok() bool { return len(c.errs) == 0 }

// result returns the collected errors, never nil (the schema's list is non-null).
func (c *checker) result() []UserError {
	if c.errs == nil {
		return []UserError{}
	}
	return c.errs
}

func (c *checker) required(s string, path ...string) {
	if strings.TrimSpace(s) == "" {
		c.add(CodeRequired, "can't be blank", path...)
	}
}

func (c *checker) maxLen(s string, n int, path ...string) {
	if len(s) > n {
		c.add(CodeOutOfRange, fmt.Sprintf("is longer than %d characters", n), path...)
	}
}

var hundred = decimal.NewFromInt(100)

// cents checks that d has at most two decimal places and reports whether it does.
func (c *checker) cents(d decimal.Decimal, path ...string) bool {
	if !d.Equal(d.Round(2)) {
		c.add(CodeInvalidDecimal, fmt.Sprintf("%s has more than two decimal places", d), path...)
		return false
	}
	return true
}

// money checks a money amount's format (any sign).
func (c *checker) money(d decimal.Decimal, path ...string) { c.cents(d, path...) }

// positive checks a money amount that must be greater than zero.
func (c *checker) positive(d decimal.Decimal, path ...string) {
	if c.cents(d, path...) && !d.IsPositive() {
		c.add(CodeMustBePositive, "must be greater than 0", path...)
	}
}

// nonNegative checks a money amount that must be zero or more.
func (c *checker) nonNegative(d decimal.Decimal, path ...string) {
	if c.cents(d, path...) && d.IsNegative() {
		c.add(CodeOutOfRange, "must be greater than or equal to 0", path...)
	}
}

// percent checks a percentage between 0 and 100 with at most two decimals.
func (c *checker) percent(d decimal.Decimal, path ...string) {
	if c.cents(d, path...) && (d.IsNegative() || d.GreaterThan(hundred)) {
		c.add(CodeOutOfRange, "must be between 0 and 100", path...)
	}
}

// date checks a calendar date is plausible for construction records.
func (c *checker) date(d *adapter.Date, path ...string) {
	if d == nil {
		return
	}
	if d.Year < 1900 || d.Year > 2199 {
		c.add(CodeOutOfRange, fmt.Sprintf("%s is not between 1900-01-01 and 2199-12-31", d), path...)
	}
}

// distinct reports ids given twice.
func (c *checker) distinct(ids []int64, path ...string) {
	seen := make(map[int64]bool, len(ids))
	for i, id := range ids {
		if seen[id] {
			c.add(CodeDuplicate, fmt.Sprintf("id %d is given twice", id), append(path, strconv.Itoa(i))...)
		}
		seen[id] = true
	}
}

// attachments checks upload ids.
func (c *checker) attachments(ids []string) {
	for i, id := range ids {
		if strings.TrimSpace(id) == "" {
			c.add(CodeRequired, "an attachment id can't be blank", "attachmentIds", strconv.Itoa(i))
		}
	}
}

// idempotencyKey checks the key's shape.
func (c *checker) idempotencyKey(k *string) {
	if k == nil {
		return
	}
	if strings.TrimSpace(*k) == "" {
		c.add(CodeRequired, "can't be blank when given", "idempotencyKey")
	}
	c.maxLen(*k, 255, "idempotencyKey")
}

// fromUpstream turns an adapter error into UserErrors when the client can
// fix it: Procore's 422 (BAD_USER_INPUT, with or without field paths), a
// referenced item not found, a conflict. Other errors (unavailable, rate
// limited, unauthenticated, forbidden, internal) are returned as errors.
// notFound is the input path of the item the mutation acts on, used when
// Procore says it does not exist.
func fromUpstream(err error, notFound ...string) ([]UserError, error) {
	var ae *adapter.Error
	if !errors.As(err, &ae) {
		return nil, err
	}
	switch ae.Code {
	case adapter.CodeBadUserInput:
		if len(ae.Fields) == 0 {
			code := CodeRejected
			if strings.Contains(strings.ToLower(ae.Message), "transition") {
				code = CodeInvalidTransition
			}
			return []UserError{{Field: inputPath(), Message: ae.Message, Code: code}}, nil
		}
		out := make([]UserError, 0, len(ae.Fields))
		for _, f := range ae.Fields {
			out = append(out, UserError{Field: inputPath(schemaPath(f.Field)...), Message: f.Message, Code: codeOfMessage(f.Field, f.Message)})
		}
		return out, nil
	case adapter.CodeNotFound:
		return []UserError{{Field: inputPath(notFound...), Message: ae.Message, Code: CodeNotFound}}, nil
	case adapter.CodeConflict:
		return []UserError{{Field: inputPath(), Message: ae.Message, Code: CodeDuplicate}}, nil
	}
	return nil, err
}

// codeOfMessage picks a UserError code for one of Procore's (Rails-style)
// field messages.
func codeOfMessage(field []string, msg string) UserErrorCode {
	m := strings.ToLower(msg)
	last := ""
	if len(field) > 0 {
		last = field[len(field)-1]
	}
	switch {
	case strings.Contains(m, "can't be blank"), strings.Contains(m, "is missing"):
		return CodeRequired
	case strings.Contains(m, "already been taken"), strings.Contains(m, "given twice"):
		return CodeDuplicate
	case strings.Contains(m, "decimal place"), strings.Contains(m, "not a number"):
		return CodeInvalidDecimal
	case strings.Contains(m, "between"), strings.Contains(m, "greater than"), strings.Contains(m, "less than"), strings.Contains(m, "exceeds"):
		return CodeOutOfRange
	case strings.Contains(m, "sha256"), strings.Contains(m, "checksum"), strings.Contains(m, "does not match"):
		return CodeChecksumMismatch
	case strings.Contains(m, "is invalid") && (strings.HasSuffix(last, "_id") || strings.HasSuffix(last, "_ids") || strings.HasSuffix(last, "Id") || strings.HasSuffix(last, "Ids")):
		return CodeNotFound
	}
	return CodeInvalidValue
}

// schemaPath maps a field path as Procore (or the adapter) names it to the
// input's schema path: known renames first, then snake_case to camelCase.
// Numeric segments (list indexes) are kept.
func schemaPath(procore []string) []string {
	var pattern []string
	var indexes []string
	for _, p := range procore {
		if _, err := strconv.Atoi(p); err == nil {
			pattern = append(pattern, "*")
			indexes = append(indexes, p)
			continue
		}
		pattern = append(pattern, p)
	}
	key := strings.Join(pattern, ".")
	if to, ok := pathRenames[key]; ok {
		out := strings.Split(to, ".")
		for i, p := range out {
			if p == "*" && len(indexes) > 0 {
				out[i], indexes = indexes[0], indexes[1:]
			}
		}
		return out
	}
	out := make([]string, 0, len(procore))
	for _, p := range procore {
		if r, ok := segmentRenames[p]; ok {
			p = r
		}
		out = append(out, camel(p))
	}
	return out
}

// pathRenames maps whole Procore field paths ("*" for an index) to schema paths.
var pathRenames = map[string]string{
	"question.body":                                          "question",
	"question.upload_ids":                                    "attachmentIds",
	"workflow_data.*.*.login_information_id":                 "workflow.*.approverIds.*",
	"workflow_data.*.*.days_to_respond":                      "workflow.*.daysToRespond",
	"workflow_data.*.*.approver_type":                        "workflow.*",
	"workflow_data.*.*.due_date":                             "workflow.*",
	"steps.*.approverIds":                                    "workflow.*.approverIds",
	"items.*.work_completed_retainage_percent_this_period":   "items.*.workCompletedRetainagePercent",
	"items.*.work_completed_retainage_released_this_period":  "items.*.workCompletedRetainageReleased",
	"items.*.materials_stored_retainage_percent_this_period": "items.*.materialsStoredRetainagePercent",
	"forwardee_ids":                                          "forwardeeId",
	"forwardee_ids.*":                                        "forwardeeId",
	"submittal_approver.submittal_response_id":               "responseId",
}

// segmentRenames maps single Procore field names to schema names.
var segmentRenames = map[string]string{
	"rfi_manager_id":           "managerId",
	"upload_ids":               "attachmentIds",
	"prostore_file_ids":        "attachmentIds",
	"distribution_member_ids":  "distributionIds",
	"specification_section_id": "specSectionId",
	"specSection":              "specSectionId",
	"contract_id":              "commitmentId",
	"submittal_response_id":    "responseId",
	"line_items":               "lineItems",
	"uom":                      "uom",
}

// camel turns snake_case into camelCase ("work_completed_this_period" →
// "workCompletedThisPeriod"); names without underscores are kept.
func camel(s string) string {
	if !strings.Contains(s, "_") {
		return s
	}
	parts := strings.Split(s, "_")
	var b strings.Builder
	for i, p := range parts {
		if p == "" {
			continue
		}
		if i == 0 {
			b.WriteString(p)
			continue
		}
		b.WriteString(strings.ToUpper(p[:1]) + p[1:])
	}
	return b.String()
}
