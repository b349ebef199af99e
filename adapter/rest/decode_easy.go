package rest

import (
	"bytes"

	"github.com/mailru/easyjson"
	"github.com/mailru/easyjson/jlexer"
	"github.com/mailru/easyjson/jwriter"
)

//go:generate go tool easyjson -pkg -no_std_marshalers -disable_members_unescape -output_filename wire_easyjson.go .

// List pages, the bulk of what the gateway reads, are decoded by code that
// easyjson generates for the wire types (wire_easyjson.go, regenerate with
// `go generate ./adapter/rest`): static calls instead of reflection, which
// made a page of RFIs or submittals several times faster to decode than
// encoding/json/v2 (BenchmarkDecodePage). The tolerant types keep their
// meaning: each hands the raw value to its UnmarshalJSON, and types that are
// usually objects accept a bare scalar as before. Bodies that are not a JSON
// array, and element types without generated code, go through decodeBody
// (encoding/json/v2); TestEasyAndStandardDecodingAgree keeps both paths equal.

// scalarEasy hands the lexer's next value to u's UnmarshalJSON.
func scalarEasy(l *jlexer.Lexer, u interface{ UnmarshalJSON([]byte) error }) {
	raw := l.Raw()
	if !l.Ok() {
		return
	}
	if err := u.UnmarshalJSON(raw); err != nil {
		l.AddError(err)
	}
}

func (v *flexID) UnmarshalEasyJSON(l *jlexer.Lexer)      { scalarEasy(l, v) }
func (v *flexIDs) UnmarshalEasyJSON(l *jlexer.Lexer)     { scalarEasy(l, v) }
func (v *flexString) UnmarshalEasyJSON(l *jlexer.Lexer)  { scalarEasy(l, v) }
func (v *flexInt) UnmarshalEasyJSON(l *jlexer.Lexer)     { scalarEasy(l, v) }
func (v *flexBool) UnmarshalEasyJSON(l *jlexer.Lexer)    { scalarEasy(l, v) }
func (v *flexDecimal) UnmarshalEasyJSON(l *jlexer.Lexer) { scalarEasy(l, v) }
func (v *flexDate) UnmarshalEasyJSON(l *jlexer.Lexer)    { scalarEasy(l, v) }
func (v *flexTime) UnmarshalEasyJSON(l *jlexer.Lexer)    { scalarEasy(l, v) }

// The wire types are only ever decoded; their generated encoders are unused.
// These keep the flex types encodable for completeness (as their text).
func (v flexID) MarshalEasyJSON(w *jwriter.Writer)     { w.Int64(int64(v)) }
func (v flexString) MarshalEasyJSON(w *jwriter.Writer) { w.String(string(v)) }

func (p *wirePerson) UnmarshalEasyJSON(l *jlexer.Lexer) { objectOrEasy(l, (*wirePersonFields)(p), p) }

func (n *wireNamed) UnmarshalEasyJSON(l *jlexer.Lexer) { objectOrEasy(l, (*wireNamedFields)(n), n) }

func (c *wireCostCode) UnmarshalEasyJSON(l *jlexer.Lexer) {
	objectOrEasy(l, (*wireCostCodeFields)(c), c)
}

func (w *wireImpact) UnmarshalEasyJSON(l *jlexer.Lexer) { objectOrEasy(l, (*wireImpactFields)(w), w) }

func (s *wireSubmittalStatus) UnmarshalEasyJSON(l *jlexer.Lexer) {
	objectOrEasy(l, (*wireSubmittalStatusFields)(s), s)
}

func (s *wireSpecSection) UnmarshalEasyJSON(l *jlexer.Lexer) {
	objectOrEasy(l, (*wireSpecSectionFields)(s), s)
}

// objectOrEasy decodes an object with the generated decoder of fields, and
// hands anything else (a bare id, name or status) to scalar's UnmarshalJSON.
func objectOrEasy(l *jlexer.Lexer, fields easyjson.Unmarshaler, scalar interface{ UnmarshalJSON([]byte) error }) {
	if l.IsDelim('{') {
		fields.UnmarshalEasyJSON(l)
		return
	}
	scalarEasy(l, scalar)
}

func (v *wirePeople) UnmarshalEasyJSON(l *jlexer.Lexer) {
	switch {
	case l.IsNull():
		l.Skip()
		*v = nil
	case l.IsDelim('['):
		l.Delim('[')
		// Collected on the stack and copied once at their exact count:
		// growing the list by appends allocated 1, 2, then 4 people for
		// the usual list of three.
		var few [8]wirePerson
		list := few[:0]
		for !l.IsDelim(']') {
			var p wirePerson
			p.UnmarshalEasyJSON(l)
			list = append(list, p)
			l.WantComma()
		}
		l.Delim(']')
		*v = append(make(wirePeople, 0, len(list)), list...)
	case l.IsDelim('{'):
		var p wirePerson
		p.UnmarshalEasyJSON(l)
		*v = wirePeople{p}
	default:
		scalarEasy(l, v)
	}
}

// decodeListEasy decodes a JSON array body into out with the generated
// decoders, reusing out's capacity (a caller that knows the page size
// passes an empty slice of that capacity). It reports false (and does
// nothing) when W has none or the body is not an array, so the caller
// decodes it with decodeBody.
func decodeListEasy[W any](body []byte, out *[]W) (bool, error) {
	var probe W
	if _, ok := any(&probe).(easyjson.Unmarshaler); !ok {
		return false, nil
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '[' {
		return false, nil
	}
	l := jlexer.Lexer{Data: body}
	l.Delim('[')
	items := (*out)[:0]
	if cap(items) == 0 {
		items = make([]W, 0, 16)
	}
	for !l.IsDelim(']') {
		var w W
		any(&w).(easyjson.Unmarshaler).UnmarshalEasyJSON(&l)
		items = append(items, w)
		l.WantComma()
	}
	l.Delim(']')
	l.Consumed()
	if err := l.Error(); err != nil {
		return true, err
	}
	*out = items
	return true, nil
}
