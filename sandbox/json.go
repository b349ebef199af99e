package sandbox

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"procoregraph/sandbox/data"
)

// enc writes JSON straight into a byte slice, in a fixed field order, so that
// the same data always renders to the same bytes. It also applies schema drift:
// extra fields on every object, optional fields left out, unknown enum values.
//
// Commas are implicit: before a key or an array element, a comma is added
// unless the previous byte opened a container or ended a key.
type enc struct {
	b     []byte
	drift Drift
}

func (e *enc) sep() {
	if n := len(e.b); n > 0 {
		switch e.b[n-1] {
		case '{', '[', ':', ',':
		default:
			e.b = append(e.b, ',')
		}
	}
}

// omitted reports whether drift drops the optional field k.
func (e *enc) omitted(k string) bool {
	if !e.drift.MissingOptionalField {
		return false
	}
	switch k {
	case "description", "due_date", "private", "logo_url", "time_zone":
		return true
	}
	return false
}

func (e *enc) key(k string) {
	e.sep()
	e.b = append(e.b, '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
}

func (e *enc) open()        { e.sep(); e.b = append(e.b, '{') }
func (e *enc) openArr()     { e.sep(); e.b = append(e.b, '[') }
func (e *enc) closeArr()    { e.b = append(e.b, ']') }
func (e *enc) obj(k string) { e.key(k); e.b = append(e.b, '{') }
func (e *enc) arr(k string) { e.key(k); e.b = append(e.b, '[') }

// close ends an object, adding drift's extra fields first.
func (e *enc) close() {
	if e.drift.ExtraFields {
		e.sep()
		e.b = append(e.b, `"sandbox_unknown_field":"drift","sandbox_unknown_object":{"level":1,"tags":["x"]}`...)
	}
	e.b = append(e.b, '}')
}

func (e *enc) str(k, v string) {
	if e.omitted(k) {
		return
	}
	e.key(k)
	e.strVal(v)
}

// strOrNull writes null for "".
func (e *enc) strOrNull(k, v string) {
	if e.omitted(k) {
		return
	}
	if v == "" {
		e.null(k)
		return
	}
	e.str(k, v)
}

func (e *enc) strVal(v string) {
	e.b = append(e.b, '"')
	e.b = appendEscaped(e.b, v)
	e.b = append(e.b, '"')
}

// wrapped writes prefix+v+suffix as one JSON string (prefix and suffix are
// plain ASCII), without building the string.
func (e *enc) wrapped(k, prefix, v, suffix string) {
	e.key(k)
	e.b = append(e.b, '"')
	e.b = append(e.b, prefix...)
	e.b = appendEscaped(e.b, v)
	e.b = append(e.b, suffix...)
	e.b = append(e.b, '"')
}

// appendEscaped appends v's JSON string escaping, without quotes.
func appendEscaped(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			q, _ := json.Marshal(v) // rare slow path: escapes and non-ASCII
			return append(b, q[1:len(q)-1]...)
		}
	}
	return append(b, v...)
}

func (e *enc) elemStr(v string) { e.sep(); e.strVal(v) }

func (e *enc) int(k string, v int64) {
	e.key(k)
	e.b = strconv.AppendInt(e.b, v, 10)
}

func (e *enc) elemInt(v int64) { e.sep(); e.b = strconv.AppendInt(e.b, v, 10) }

// idOrNull writes null for 0.
func (e *enc) idOrNull(k string, v int64) {
	if v == 0 {
		e.null(k)
		return
	}
	e.int(k, v)
}

func (e *enc) bool(k string, v bool) {
	if e.omitted(k) {
		return
	}
	e.key(k)
	e.b = strconv.AppendBool(e.b, v)
}

func (e *enc) null(k string) {
	if e.omitted(k) {
		return
	}
	e.key(k)
	e.b = append(e.b, "null"...)
}

// raw writes a literal JSON value (numbers kept as decimal text).
func (e *enc) raw(k, v string) {
	e.key(k)
	e.b = append(e.b, v...)
}

// money writes a decimal string such as "1234.50".
func (e *enc) money(k string, v data.Fixed) {
	e.key(k)
	e.b = append(e.b, '"')
	e.b = v.Append(e.b)
	e.b = append(e.b, '"')
}

// time writes an ISO 8601 UTC timestamp, or null for the zero time.
func (e *enc) time(k string, t time.Time) {
	if e.omitted(k) {
		return
	}
	if t.IsZero() {
		e.null(k)
		return
	}
	e.key(k)
	e.b = append(e.b, '"')
	e.b = t.UTC().AppendFormat(e.b, "2006-01-02T15:04:05Z")
	e.b = append(e.b, '"')
}

// date writes YYYY-MM-DD, or null for the zero time.
func (e *enc) date(k string, t time.Time) {
	if e.omitted(k) {
		return
	}
	if t.IsZero() {
		e.null(k)
		return
	}
	e.key(k)
	e.b = append(e.b, '"')
	e.b = t.UTC().AppendFormat(e.b, "2006-01-02")
	e.b = append(e.b, '"')
}

// ints writes an array of ids.
func (e *enc) ints(k string, ids []int64) {
	e.arr(k)
	for _, id := range ids {
		e.elemInt(id)
	}
	e.closeArr()
}
