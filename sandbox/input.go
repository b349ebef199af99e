package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"procoregraph/sandbox/data"
)

// Request body helpers. Procore clients send ids as numbers or strings and
// money as strings or numbers; both are accepted.

// idIn is an id sent as a JSON number or numeric string; 0 when null.
type idIn int64

func (v *idIn) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(bytes.TrimSpace(b)), `"`)
	if s == "" || s == "null" {
		*v = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%s is not an id", b)
	}
	*v = idIn(n)
	return nil
}

func ids(in []idIn) []int64 {
	out := make([]int64, 0, len(in))
	for _, v := range in {
		out = append(out, int64(v))
	}
	return out
}

// decIn is a decimal sent as a string or number; parsed later so errors can
// name the field.
type decIn struct {
	raw string
	set bool
}

func (v *decIn) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*v = decIn{}
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	*v = decIn{raw: strings.TrimSpace(s), set: true}
	return nil
}

// strIn is a string that also accepts numbers (e.g. "number": 12).
type strIn string

func (v *strIn) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*v = ""
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		var x string
		if err := json.Unmarshal(b, &x); err != nil {
			return err
		}
		*v = strIn(x)
		return nil
	}
	*v = strIn(s)
	return nil
}

// decodeBody reads a JSON object body into v; malformed JSON is a 400.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<20))
	if err == nil {
		if len(bytes.TrimSpace(b)) == 0 {
			b = []byte("{}")
		}
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		badRequest(w, "malformed JSON body: "+err.Error())
		return false
	}
	return true
}

// fixed parses a money or percent field into f, recording errors under name.
func (f *fieldErrors) fixed(name string, v decIn) data.Fixed {
	if !v.set {
		return 0
	}
	x, err := data.ParseFixed(v.raw)
	if err != nil {
		f.add(name, "is not a number with at most two decimal places")
		return 0
	}
	return x
}

// percent parses a 0..100 percentage.
func (f *fieldErrors) percent(name string, v decIn) data.Fixed {
	x := f.fixed(name, v)
	if x < 0 || x > data.FixedFromInt(100) {
		f.add(name, "must be between 0 and 100")
	}
	return x
}

// date parses YYYY-MM-DD (or a timestamp's date part); nil means absent.
func (f *fieldErrors) date(name string, v *string) time.Time {
	if v == nil || *v == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.DateOnly, *v); err == nil {
		return t
	}
	if t, err := time.Parse(time.RFC3339, *v); err == nil {
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	}
	f.add(name, "is not a date (YYYY-MM-DD)")
	return time.Time{}
}

func blank(s *string) bool { return s == nil || strings.TrimSpace(*s) == "" }

// jsonRaw is a deferred JSON value.
type jsonRaw []byte

func (j *jsonRaw) UnmarshalJSON(b []byte) error { *j = append((*j)[:0], b...); return nil }

func (j jsonRaw) decode(v any) error { return json.Unmarshal(j, v) }
