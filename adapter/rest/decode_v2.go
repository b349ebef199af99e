package rest

import (
	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Decoding uses encoding/json/v2 (the go-json-experiment/json mirror, the
// standard library's API from Go 1.27) because its UnmarshalJSONFrom methods
// read a value straight from the decoder: the tolerant types below cost no
// copy and no second validation pass per field, which made list pages about
// three times faster to decode than with v1-style UnmarshalJSON methods.
//
// decodeOptions keep the leniency Procore's payloads need: a duplicate name
// keeps the last value and invalid UTF-8 is replaced rather than failing the
// page. Names match exactly (Procore's are snake_case), as in the generated
// decoders (decode_easy.go), so both paths read the same values.
var decodeOptions = json.JoinOptions(
	json.MatchCaseInsensitiveNames(false),
	jsontext.AllowDuplicateNames(true),
	jsontext.AllowInvalidUTF8(true),
)

// unmarshal decodes b into v with decodeOptions.
func unmarshal(b []byte, v any) error { return json.Unmarshal(b, v, decodeOptions) }

// scalarFrom hands the decoder's next value to a scalar's UnmarshalJSON. The
// bytes are the decoder's own (valid until its next read): UnmarshalJSON
// copies what it keeps.
func scalarFrom(dec *jsontext.Decoder, u interface{ UnmarshalJSON([]byte) error }) error {
	b, err := dec.ReadValue()
	if err != nil {
		return err
	}
	return u.UnmarshalJSON(b)
}

func (v *flexID) UnmarshalJSONFrom(dec *jsontext.Decoder) error      { return scalarFrom(dec, v) }
func (v *flexString) UnmarshalJSONFrom(dec *jsontext.Decoder) error  { return scalarFrom(dec, v) }
func (v *flexInt) UnmarshalJSONFrom(dec *jsontext.Decoder) error     { return scalarFrom(dec, v) }
func (v *flexBool) UnmarshalJSONFrom(dec *jsontext.Decoder) error    { return scalarFrom(dec, v) }
func (v *flexDecimal) UnmarshalJSONFrom(dec *jsontext.Decoder) error { return scalarFrom(dec, v) }
func (v *flexDate) UnmarshalJSONFrom(dec *jsontext.Decoder) error    { return scalarFrom(dec, v) }
func (v *flexTime) UnmarshalJSONFrom(dec *jsontext.Decoder) error    { return scalarFrom(dec, v) }

func (v *flexIDs) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	if dec.PeekKind() != '[' {
		return scalarFrom(dec, v)
	}
	var raw []flexID
	if err := json.UnmarshalDecode(dec, &raw); err != nil {
		return err
	}
	v.set(raw)
	return nil
}

// set keeps the non-zero ids of raw.
func (v *flexIDs) set(raw []flexID) {
	out := make([]int64, 0, len(raw))
	for _, id := range raw {
		if id != 0 {
			out = append(out, int64(id))
		}
	}
	*v = out
}

// objectOr decodes the decoder's next value into plain when it is an object,
// and otherwise hands its bytes to scalar (a bare id, name or status where
// Procore usually sends an object).
func objectOr(dec *jsontext.Decoder, plain any, scalar func(b []byte) error) error {
	if dec.PeekKind() == '{' {
		return json.UnmarshalDecode(dec, plain)
	}
	b, err := dec.ReadValue()
	if err != nil {
		return err
	}
	return scalar(b)
}

func (p *wirePerson) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	return objectOr(dec, (*wirePersonFields)(p), p.UnmarshalJSON)
}

func (n *wireNamed) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	return objectOr(dec, (*wireNamedFields)(n), n.UnmarshalJSON)
}

func (c *wireCostCode) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	return objectOr(dec, (*wireCostCodeFields)(c), c.UnmarshalJSON)
}

func (w *wireImpact) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	return objectOr(dec, (*wireImpactFields)(w), w.UnmarshalJSON)
}

func (s *wireSubmittalStatus) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	return objectOr(dec, (*wireSubmittalStatusFields)(s), s.UnmarshalJSON)
}

func (s *wireSpecSection) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	return objectOr(dec, (*wireSpecSectionFields)(s), s.UnmarshalJSON)
}

func (v *wirePeople) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	switch dec.PeekKind() {
	case '[':
		var list []wirePerson
		if err := json.UnmarshalDecode(dec, &list); err != nil {
			return err
		}
		*v = list
		return nil
	case '{':
		var one wirePerson
		if err := json.UnmarshalDecode(dec, &one); err != nil {
			return err
		}
		*v = wirePeople{one}
		return nil
	}
	return scalarFrom(dec, v)
}
