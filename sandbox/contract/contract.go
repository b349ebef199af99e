// Package contract is Procore's published REST contract for every operation
// the sandbox serves under /rest/, and the check of a request against it.
//
// The table (contract.json, embedded) was derived once from Procore's OpenAPI
// description: for each operation its method, path template, operationId, the
// query parameters it allows and requires, and the body keys it allows and
// requires one level deep, plus, for wrapper objects such as {"rfi": {...}},
// the keys allowed one level inside. Quirks are kept in each entry's notes.
// Nothing reads the OpenAPI files at run or test time; when the sandbox serves
// a new route, add its entry to contract.json by hand.
//
// Check names every way a request leaves the contract: an operation Procore
// does not publish, a query parameter outside it or a required one missing, a
// body key outside it or a required one missing. Bodies are read as JSON,
// multipart/form-data (field rfi[subject] is body key rfi.subject) or
// application/x-www-form-urlencoded.
package contract

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// tableFiles holds contract.json and any contract_<area>.json beside it
// (one area's operations each, in the same format), read as one table.
//
//go:embed contract*.json
var tableFiles embed.FS

// Kind is what a Violation is about.
type Kind string

// The kinds of violation.
const (
	UnknownOperation              Kind = "unknown-operation"
	UnknownQueryParameter         Kind = "unknown-query-parameter"
	MissingRequiredQueryParameter Kind = "missing-required-query-parameter"
	UnknownBodyKey                Kind = "unknown-body-key"
	MissingRequiredBodyKey        Kind = "missing-required-body-key"
)

// IsQuery reports whether k is about the query string.
func (k Kind) IsQuery() bool { return k == UnknownQueryParameter || k == MissingRequiredQueryParameter }

// IsBody reports whether k is about the body.
func (k Kind) IsBody() bool { return k == UnknownBodyKey || k == MissingRequiredBodyKey }

// Violation is one way a request leaves the contract.
type Violation struct {
	// Operation is the operationId, or "METHOD /path" (numeric segments as
	// {id}) when Procore publishes no such operation.
	Operation string
	Kind      Kind
	// Name is the query parameter as sent ("filters[id][]"), the body key
	// ("project_id", or "rfi.subject" inside a wrapper), a one-of group
	// ("company_id|project_id"); "" for an unknown operation.
	Name string
}

// Key is "<operation> <kind> <name>" (without the name when there is none),
// e.g. "RestV11ProjectsGet unknown-query-parameter by_status".
func (v Violation) Key() string {
	if v.Name == "" {
		return v.Operation + " " + string(v.Kind)
	}
	return v.Operation + " " + string(v.Kind) + " " + v.Name
}

func (v Violation) String() string { return v.Key() }

// Params are the names allowed and required in one place (the query, a body
// wrapper). Allowed names ending in [] are arrays (sent as name[] or name),
// names ending in [*] are objects (name[key]), names ending in * are prefixes
// (custom_field_*).
type Params struct {
	Allowed  []string `json:"allowed"`
	Required []string `json:"required,omitempty"`
}

// Body is an operation's request body: its top-level keys and, for wrapper
// objects, the keys one level inside.
type Body struct {
	// ContentType is the one the spec declares; JSON, multipart and
	// urlencoded bodies are all read.
	ContentType string `json:"content_type"`
	// Unspecified: the spec describes no keys, so none are checked.
	Unspecified bool              `json:"unspecified,omitempty"`
	Allowed     []string          `json:"allowed,omitempty"`
	Required    []string          `json:"required,omitempty"`
	Wrappers    map[string]Params `json:"wrappers,omitempty"`
}

// Operation is one entry of the table.
type Operation struct {
	ID     string `json:"operation_id"`
	Method string `json:"method"`
	// Path is Procore's template, e.g. /rest/v1.0/projects/{project_id}/rfis/{rfi_id}/replies.
	Path string `json:"path"`
	// Published is false for a route the sandbox serves that Procore does not
	// publish: nothing about it is checked.
	Published bool   `json:"published"`
	Query     Params `json:"query"`
	// OneOf are groups of names of which at least one must be present, in the
	// query or as a top-level body key (company_id|project_id).
	OneOf [][]string `json:"one_of,omitempty"`
	Body  *Body      `json:"body,omitempty"`
	Notes []string   `json:"notes,omitempty"`

	segs     []string // path segments; placeholder for a {placeholder}
	literals int
	query    nameSet
	body     nameSet
	wrappers map[string]nameSet
}

// Name is the operationId, or "METHOD path" for an unpublished route.
func (o *Operation) Name() string {
	if o.ID != "" {
		return o.ID
	}
	return o.Method + " " + o.Path
}

// placeholder stands for a {placeholder} segment (no path segment holds a NUL).
const placeholder = "\x00"

// Table is the contract: immutable once loaded, safe for concurrent use.
type Table struct {
	Operations []*Operation
	byMethod   map[string][]*Operation
}

var loadOnce = sync.OnceValues(func() (*Table, error) { return parseFiles(tableFiles) })

// parseFiles reads every contract*.json of fsys (in name order) as one
// table: their operations together, each shape once.
func parseFiles(fsys embed.FS) (*Table, error) {
	names, err := fs.Glob(fsys, "contract*.json")
	if err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	var all []json.RawMessage
	for _, name := range names {
		b, err := fsys.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("contract: %w", err)
		}
		var doc struct {
			Operations []json.RawMessage `json:"operations"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("contract: %s: %w", name, err)
		}
		all = append(all, doc.Operations...)
	}
	b, err := json.Marshal(map[string]any{"operations": all})
	if err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	return Parse(b)
}

// Load returns the embedded table (parsed once).
func Load() (*Table, error) { return loadOnce() }

// Must returns the embedded table and panics if it does not parse (the
// package's tests make sure it does).
func Must() *Table {
	t, err := Load()
	if err != nil {
		panic(err)
	}
	return t
}

// Parse reads a table in contract.json's format.
func Parse(b []byte) (*Table, error) {
	var doc struct {
		Operations []*Operation `json:"operations"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	t := &Table{Operations: doc.Operations, byMethod: map[string][]*Operation{}}
	seen := map[string]bool{}
	for i, op := range doc.Operations {
		if op == nil || op.Method == "" || !strings.HasPrefix(op.Path, "/rest/") {
			return nil, fmt.Errorf("contract: operation %d: needs a method and a /rest/ path", i)
		}
		if op.Published && op.ID == "" {
			return nil, fmt.Errorf("contract: %s %s: a published operation needs its operation_id", op.Method, op.Path)
		}
		op.Method = strings.ToUpper(op.Method)
		op.segs = strings.Split(op.Path, "/")
		for j, s := range op.segs {
			if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
				op.segs[j] = placeholder
			} else {
				op.literals++
			}
		}
		shape := op.Method + " " + strings.Join(op.segs, "/") // placeholder names do not count
		if seen[shape] {
			return nil, fmt.Errorf("contract: %s %s is in the table twice", op.Method, op.Path)
		}
		seen[shape] = true
		op.query = newNameSet(op.Query.Allowed)
		if op.Body != nil {
			op.body = newNameSet(op.Body.Allowed)
			op.wrappers = map[string]nameSet{}
			for k, w := range op.Body.Wrappers {
				op.wrappers[k] = newNameSet(w.Allowed)
			}
		}
		t.byMethod[op.Method] = append(t.byMethod[op.Method], op)
	}
	return t, nil
}

// Match finds the operation for a method and a concrete path such as
// /rest/v1.0/projects/123/rfis. Placeholders match one non-empty segment;
// where several templates match, the one with more literal segments wins.
func (t *Table) Match(method, path string) (*Operation, bool) {
	segs := strings.Split(path, "/")
	var best *Operation
	for _, op := range t.byMethod[strings.ToUpper(method)] {
		if len(op.segs) != len(segs) || best != nil && op.literals <= best.literals {
			continue
		}
		ok := true
		for i, s := range op.segs {
			if s == placeholder && segs[i] == "" || s != placeholder && s != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			best = op
		}
	}
	return best, best != nil
}

// Check returns every way r, whose body is body, leaves the contract, sorted
// by kind and name. An unpublished route yields nothing; a body that does not
// parse yields no body violations (the handler answers it).
func (t *Table) Check(r *http.Request, body []byte) []Violation {
	return t.check(r, body, true)
}

// CheckRequest reads r's body (at most limit bytes, putting back a body that
// reads the same bytes for the handler) and checks r. A body longer than
// limit is not read whole and its keys are not checked.
func (t *Table) CheckRequest(r *http.Request, limit int64) []Violation {
	body, whole := ReadBody(r, limit)
	return t.check(r, body, whole)
}

func (t *Table) check(r *http.Request, body []byte, bodyKnown bool) []Violation {
	op, ok := t.Match(r.Method, r.URL.Path)
	if !ok {
		return []Violation{{Operation: strings.ToUpper(r.Method) + " " + genericPath(r.URL.Path), Kind: UnknownOperation}}
	}
	if !op.Published {
		return nil
	}
	name := op.Name()
	var out []Violation
	add := func(k Kind, n string) { out = append(out, Violation{Operation: name, Kind: k, Name: n}) }

	q, _ := url.ParseQuery(r.URL.RawQuery)
	for k := range q {
		if !op.query.has(k) {
			add(UnknownQueryParameter, k)
		}
	}
	for _, k := range op.Query.Required {
		if !queryPresent(q, k) {
			add(MissingRequiredQueryParameter, k)
		}
	}

	var keys *bodyKeys
	if bodyKnown {
		keys = parseBody(r.Header.Get("Content-Type"), body)
	}
	for _, group := range op.OneOf {
		found := false
		for _, k := range group {
			if queryPresent(q, k) || keys != nil && keys.present(k) {
				found = true
				break
			}
		}
		// A body that could not be read may hold the key: say nothing then.
		if !found && (keys != nil || op.Body == nil) {
			add(MissingRequiredQueryParameter, strings.Join(group, "|"))
		}
	}

	switch {
	case keys == nil:
	case op.Body == nil:
		for _, k := range keys.order {
			add(UnknownBodyKey, k)
		}
	case op.Body.Unspecified:
	default:
		for _, k := range keys.order {
			n := keys.top[k]
			if !op.body.has(k) {
				add(UnknownBodyKey, k)
				continue
			}
			if w, ok := op.wrappers[k]; ok {
				for _, c := range n.order {
					if !w.has(c) {
						add(UnknownBodyKey, k+"."+c)
					}
				}
			}
		}
		for _, k := range op.Body.Required {
			if !keys.present(k) {
				add(MissingRequiredBodyKey, k)
			}
		}
		for k, w := range op.Body.Wrappers {
			n := keys.top[k]
			if n == nil || !n.object {
				continue
			}
			for _, c := range w.Required {
				if !n.children[c] {
					add(MissingRequiredBodyKey, k+"."+c)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b Violation) int {
		if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return slices.Compact(out)
}

func queryPresent(q url.Values, name string) bool {
	for _, k := range []string{name, name + "[]"} {
		for _, v := range q[k] {
			if v != "" {
				return true
			}
		}
	}
	return false
}

// genericPath replaces all-digit path segments with {id}, so that unknown
// operations are counted by shape.
func genericPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if s != "" && strings.Trim(s, "0123456789") == "" {
			segs[i] = "{id}"
		}
	}
	return strings.Join(segs, "/")
}

// --- names ---

type nameSet struct {
	exact    map[string]bool
	prefixes []string
}

func newNameSet(names []string) nameSet {
	s := nameSet{exact: map[string]bool{}}
	for _, n := range names {
		switch {
		case strings.HasSuffix(n, "[*]"):
			s.prefixes = append(s.prefixes, strings.TrimSuffix(n, "*]"))
		case strings.HasSuffix(n, "*"):
			s.prefixes = append(s.prefixes, strings.TrimSuffix(n, "*"))
		case strings.HasSuffix(n, "[]"):
			s.exact[n] = true
			s.exact[strings.TrimSuffix(n, "[]")] = true
		default:
			s.exact[n] = true
		}
	}
	return s
}

func (s nameSet) has(name string) bool {
	if s.exact[name] {
		return true
	}
	for _, p := range s.prefixes {
		if strings.HasPrefix(name, p) && len(name) > len(p) {
			return true
		}
	}
	return false
}

// --- bodies ---

// bodyKeys are a body's top-level keys and, for object values, their keys.
type bodyKeys struct {
	top   map[string]*bodyNode
	order []string // top-level keys in first-seen order
}

type bodyNode struct {
	set      bool // present with a value that is not null or ""
	object   bool
	children map[string]bool // key → set
	order    []string
}

func (b *bodyKeys) node(k string) *bodyNode {
	n := b.top[k]
	if n == nil {
		n = &bodyNode{children: map[string]bool{}}
		b.top[k] = n
		b.order = append(b.order, k)
	}
	return n
}

func (n *bodyNode) child(k string, set bool) {
	if _, ok := n.children[k]; !ok {
		n.order = append(n.order, k)
	}
	n.children[k] = n.children[k] || set
}

func (b *bodyKeys) present(k string) bool { n := b.top[k]; return n != nil && n.set }

// parseBody reads body's keys by content type; nil when it cannot be read
// (malformed, or not an object).
func parseBody(contentType string, body []byte) *bodyKeys {
	keys := &bodyKeys{top: map[string]*bodyNode{}}
	media, params, _ := mime.ParseMediaType(contentType)
	switch media {
	case "multipart/form-data":
		if len(bytes.TrimSpace(body)) == 0 {
			return keys
		}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return keys
			}
			if err != nil {
				return nil
			}
			if name := p.FormName(); name != "" {
				keys.field(name)
			}
		}
	case "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil
		}
		names := make([]string, 0, len(v))
		for k := range v {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			keys.field(k)
		}
		return keys
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return keys
	}
	if trimmed[0] != '{' {
		return nil
	}
	var top orderedObject
	if err := json.Unmarshal(trimmed, &top); err != nil {
		return nil
	}
	for _, kv := range top {
		n := keys.node(kv.key)
		n.set = n.set || jsonSet(kv.val)
		v := bytes.TrimSpace(kv.val)
		if len(v) > 0 && v[0] == '{' {
			var inner orderedObject
			if json.Unmarshal(v, &inner) == nil {
				n.object = true
				for _, c := range inner {
					n.child(c.key, jsonSet(c.val))
				}
			}
		}
	}
	return keys
}

// field adds a form field name: rfi[question][body] is rfi.question,
// attachments[] is attachments.
func (b *bodyKeys) field(name string) {
	top, rest, nested := strings.Cut(name, "[")
	if top == "" {
		top, nested = name, false
	}
	n := b.node(top)
	n.set = true
	if !nested {
		return
	}
	child, _, closed := strings.Cut(rest, "]")
	if closed && child != "" {
		n.object = true
		n.child(child, true)
	}
}

func jsonSet(v json.RawMessage) bool {
	s := string(bytes.TrimSpace(v))
	return s != "null" && s != `""`
}

// orderedObject decodes a JSON object's members in order, values raw.
type orderedObject []struct {
	key string
	val json.RawMessage
}

func (o *orderedObject) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errors.New("not an object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		k, ok := t.(string)
		if !ok {
			return errors.New("not an object key")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		*o = append(*o, struct {
			key string
			val json.RawMessage
		}{k, v})
	}
	_, err := dec.Token()
	return err
}

// --- request bodies ---

// ReadBody reads r's body for checking, at most limit bytes, and puts back a
// body that reads the same bytes (and closes the original). whole is false
// when the body is longer than limit or could not be read to its end; body is
// then nil.
func ReadBody(r *http.Request, limit int64) (body []byte, whole bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	orig := r.Body
	buf, err := io.ReadAll(io.LimitReader(orig, limit+1))
	switch {
	case err != nil:
		r.Body = readCloser{io.MultiReader(bytes.NewReader(buf), errReader{err}), orig}
		return nil, false
	case int64(len(buf)) > limit:
		r.Body = readCloser{io.MultiReader(bytes.NewReader(buf), orig), orig}
		return nil, false
	}
	r.Body = readCloser{bytes.NewReader(buf), orig}
	return buf, true
}

type readCloser struct {
	io.Reader
	io.Closer
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// --- answers ---

// Answer is what Procore answers a request with these violations, for a
// sandbox that enforces the contract: 404 {"errors":"Resource not found"}
// for an unknown operation; 400 {"errors":"..."} naming the parameters for
// query problems (Rails' "param is missing or the value is empty: x" and
// "found unpermitted parameter: x"); 422 {"errors":{"key":["is not a
// permitted parameter"|"can't be blank"]}} for body problems. ok is false
// when vs is empty.
func Answer(vs []Violation) (status int, body []byte, ok bool) {
	if len(vs) == 0 {
		return 0, nil, false
	}
	var missing, unknown []string
	fields := map[string][]string{}
	for _, v := range vs {
		switch v.Kind {
		case UnknownOperation:
			return http.StatusNotFound, []byte(`{"errors":"Resource not found"}`), true
		case MissingRequiredQueryParameter:
			missing = append(missing, strings.ReplaceAll(v.Name, "|", " or "))
		case UnknownQueryParameter:
			unknown = append(unknown, v.Name)
		case UnknownBodyKey:
			fields[v.Name] = append(fields[v.Name], "is not a permitted parameter")
		case MissingRequiredBodyKey:
			fields[v.Name] = append(fields[v.Name], "can't be blank")
		}
	}
	if len(missing)+len(unknown) > 0 {
		var msgs []string
		if len(missing) > 0 {
			msgs = append(msgs, "param is missing or the value is empty: "+strings.Join(missing, ", "))
		}
		if len(unknown) > 0 {
			msgs = append(msgs, "found unpermitted parameter: "+strings.Join(unknown, ", "))
		}
		b, _ := json.Marshal(map[string]string{"errors": strings.Join(msgs, "; ")})
		return http.StatusBadRequest, b, true
	}
	b, _ := json.Marshal(map[string]map[string][]string{"errors": fields})
	return http.StatusUnprocessableEntity, b, true
}
