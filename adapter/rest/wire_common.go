package rest

import (
	"bytes"
	"strings"

	"procoregraph/adapter"
)

// wirePerson is Procore's people object {id, login, name}. Drift tolerated:
// a bare id instead of an object, email/email_address instead of login,
// first/last name instead of name.
type wirePerson wirePersonFields

// wirePersonFields are the fields of wirePerson when Procore sends an object;
// easyjson generates their decoder (wire_easyjson.go).
//
//easyjson:json
type wirePersonFields struct {
	ID           flexID     `json:"id"`
	Login        flexString `json:"login"`
	Name         flexString `json:"name"`
	Email        flexString `json:"email"`
	EmailAddress flexString `json:"email_address"`
	FirstName    flexString `json:"first_name"`
	LastName     flexString `json:"last_name"`
}

func (p *wirePerson) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] != '{' {
		var id flexID
		err := id.UnmarshalJSON(b)
		*p = wirePerson{ID: id}
		return err
	}
	type plain wirePerson
	return unmarshal(b, (*plain)(p))
}

func (p wirePerson) person() adapter.Person {
	login := firstNonEmpty(string(p.Login), string(p.EmailAddress), string(p.Email))
	name := string(p.Name)
	if name == "" {
		name = strings.TrimSpace(string(p.FirstName) + " " + string(p.LastName))
	}
	return adapter.Person{ID: int64(p.ID), Login: login, Name: name}
}

// personPtr returns nil for a missing, null or id-less person.
func personPtr(p *wirePerson) *adapter.Person {
	if p == nil || p.ID == 0 {
		return nil
	}
	out := p.person()
	return &out
}

// wirePeople is a list of people; a single object or null is accepted too.
type wirePeople []wirePerson

func (v *wirePeople) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, jsonNull) {
		*v = nil
		return nil
	}
	if b[0] == '[' {
		var list []wirePerson
		if err := unmarshal(b, &list); err != nil {
			return err
		}
		*v = list
		return nil
	}
	var one wirePerson
	if err := one.UnmarshalJSON(b); err != nil {
		return err
	}
	*v = wirePeople{one}
	return nil
}

func (v wirePeople) people() []adapter.Person {
	if len(v) == 0 {
		return nil
	}
	out := make([]adapter.Person, 0, len(v))
	for _, p := range v {
		if p.ID != 0 {
			out = append(out, p.person())
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// wireNamed is an {id, name} reference; a bare string is taken as the name.
type wireNamed wireNamedFields

// wireNamedFields are the fields of wireNamed when Procore sends an object;
// easyjson generates their decoder (wire_easyjson.go).
//
//easyjson:json
type wireNamedFields struct {
	ID      flexID     `json:"id"`
	Name    flexString `json:"name"`
	Company flexString `json:"company"`
}

func (n *wireNamed) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] != '{' {
		var s flexString
		err := s.UnmarshalJSON(b)
		*n = wireNamed{Name: s}
		return err
	}
	type plain wireNamed
	return unmarshal(b, (*plain)(n))
}

func (n *wireNamed) name() string {
	if n == nil {
		return ""
	}
	return firstNonEmpty(string(n.Name), string(n.Company))
}

func (n *wireNamed) id() *int64 {
	if n == nil {
		return nil
	}
	return n.ID.ptr()
}

// wireAttachment is an attachment object (fields vary by resource).
type wireAttachment struct {
	ID          flexID     `json:"id"`
	Name        flexString `json:"name"`
	Filename    flexString `json:"filename"`
	URL         flexString `json:"url"`
	ContentType flexString `json:"content_type"`
}

func attachments(in []wireAttachment) []adapter.Attachment {
	var out []adapter.Attachment
	for _, a := range in {
		out = append(out, adapter.Attachment{
			ID:          int64(a.ID),
			Name:        firstNonEmpty(string(a.Name), string(a.Filename)),
			URL:         string(a.URL),
			ContentType: string(a.ContentType),
		})
	}
	return out
}

// wireCostCode is a cost code, as a list item or nested reference.
type wireCostCode wireCostCodeFields

// wireCostCodeFields are the fields of wireCostCode when Procore sends an object;
// easyjson generates their decoder (wire_easyjson.go).
//
//easyjson:json
type wireCostCodeFields struct {
	ID        flexID     `json:"id"`
	Code      flexString `json:"code"`
	FullCode  flexString `json:"full_code"`
	Name      flexString `json:"name"`
	Parent    *wireNamed `json:"parent"`
	ParentID  flexID     `json:"parent_id"`
	UpdatedAt flexTime   `json:"updated_at"`
}

func (c *wireCostCode) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] != '{' {
		var s flexString
		err := s.UnmarshalJSON(b)
		*c = wireCostCode{FullCode: s}
		return err
	}
	type plain wireCostCode
	return unmarshal(b, (*plain)(c))
}

func (c wireCostCode) costCode() adapter.CostCode {
	parent := c.ParentID.ptr()
	if parent == nil {
		parent = c.Parent.id()
	}
	return adapter.CostCode{
		ID:        int64(c.ID),
		Code:      string(c.Code),
		FullCode:  firstNonEmpty(string(c.FullCode), string(c.Code)),
		Name:      string(c.Name),
		ParentID:  parent,
		UpdatedAt: c.UpdatedAt.V,
	}
}

func costCodePtr(c *wireCostCode) *adapter.CostCode {
	if c == nil || c.ID == 0 && c.FullCode == "" && c.Name == "" {
		return nil
	}
	out := c.costCode()
	return &out
}

// wireImpact is a cost or schedule impact {status, value}; a bare status
// string is accepted.
type wireImpact wireImpactFields

// wireImpactFields are the fields of wireImpact when Procore sends an object;
// easyjson generates their decoder (wire_easyjson.go).
//
//easyjson:json
type wireImpactFields struct {
	Status flexString  `json:"status"`
	Value  flexDecimal `json:"value"`
}

func (w *wireImpact) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] != '{' {
		var s flexString
		err := s.UnmarshalJSON(b)
		*w = wireImpact{Status: s}
		return err
	}
	type plain wireImpact
	return unmarshal(b, (*plain)(w))
}

func impactPtr(w *wireImpact) *adapter.Impact {
	if w == nil || w.Status == "" && !w.Value.Set {
		return nil
	}
	st := adapter.ImpactUnknown
	switch n := normEnum(string(w.Status)); n {
	case "NA", "N_A", "NOT_APPLICABLE":
		st = adapter.ImpactNA
	default:
		st = enumOf(n, adapter.ImpactUnknown, adapter.ImpactYesKnown, adapter.ImpactYesUnknown,
			adapter.ImpactNoImpact, adapter.ImpactTBD)
	}
	return &adapter.Impact{Status: st, Value: w.Value.ptr()}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}
