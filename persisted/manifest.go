package persisted

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// Manifest formats.
const (
	// FormatApollo is Apollo's persisted query manifest:
	// {"format":"apollo-persisted-query-manifest","version":1,
	//  "operations":[{"id","name","type","body"}]}.
	FormatApollo = "apollo-persisted-query-manifest"
	// FormatCodegen is GraphQL Code Generator's client-preset
	// persisted-documents.json: {"<hash>": "<document>", ...}.
	FormatCodegen = "graphql-codegen-persisted-documents"
)

// MaxManifestBytes bounds the manifest file LoadManifest reads (64 MiB).
const MaxManifestBytes = 64 << 20

// Operation is one trusted document.
type Operation struct {
	// ID is the manifest's key for it. A 64-hex-character ID is a sha256 of
	// Body (checked when loading, kept lowercase); any other ID is opaque.
	ID string
	// Name and Type (query, mutation or subscription) are the manifest's for
	// Apollo manifests; for codegen manifests they are read from Body when it
	// holds one operation, else empty.
	Name string
	Type string
	// Body is the document text, run exactly as written.
	Body string
	// SHA256 is the lowercase sha256 hex of Body.
	SHA256 string
}

// Manifest is a validated set of trusted documents, looked up by id or by the
// sha256 of a document's text. It is read-only after loading and safe for
// concurrent use.
type Manifest struct {
	// Source is the file it was read from ("" for ParseManifest).
	Source string
	// Format is FormatApollo or FormatCodegen.
	Format string

	ops   []Operation
	byID  map[string]int
	bySHA map[string]int
	seen  map[string]string // every entry's id (valid or not) → its label
}

// Len returns the number of documents.
func (m *Manifest) Len() int { return len(m.ops) }

// Operations returns a copy of the documents, in manifest order.
func (m *Manifest) Operations() []Operation { return append([]Operation(nil), m.ops...) }

// Lookup finds a document by id: its manifest id, or (for a sha256 hex id,
// compared case-insensitively) the sha256 of its body, so a client may send
// the APQ-style sha256Hash of a document whose manifest id is opaque.
func (m *Manifest) Lookup(id string) (Operation, bool) {
	if m == nil || id == "" {
		return Operation{}, false
	}
	if isSHA256Hex(id) {
		id = strings.ToLower(id)
	}
	if i, ok := m.byID[id]; ok {
		return m.ops[i], true
	}
	if isSHA256Hex(id) {
		if i, ok := m.bySHA[id]; ok {
			return m.ops[i], true
		}
	}
	return Operation{}, false
}

// LookupText finds the document whose body is exactly query (by its sha256).
func (m *Manifest) LookupText(query string) (Operation, bool) {
	if m == nil || query == "" {
		return Operation{}, false
	}
	i, ok := m.bySHA[sha256Hex(query)]
	if !ok {
		return Operation{}, false
	}
	return m.ops[i], true
}

// CheckSchema validates every document against schema (for example
// es.Schema() at startup), so a manifest built for another version of the
// schema is found before its clients are. The error names each failing entry.
func (m *Manifest) CheckSchema(schema *ast.Schema) error {
	me := &ManifestError{Source: m.Source}
	for i, op := range m.ops {
		doc, err := parser.ParseQuery(&ast.Source{Name: op.ID, Input: op.Body})
		if err != nil {
			me.add(m.entryName(i), "body does not parse: "+err.Error())
			continue
		}
		if errs := validator.ValidateWithRules(schema, doc, rules.NewDefaultRules()); len(errs) > 0 {
			me.add(m.entryName(i), "body does not validate against the schema: "+errs.Error())
		}
	}
	return me.orNil()
}

func (m *Manifest) entryName(i int) string {
	op := m.ops[i]
	if m.Format == FormatApollo {
		return entryLabel("operations["+strconv.Itoa(i)+"]", op.ID, op.Name)
	}
	return entryLabel("", op.ID, "")
}

// Problem is one thing wrong with a manifest.
type Problem struct {
	// Entry names the entry (`operations[3] (id "…", name "…")` or
	// `entry "<id>"`), or is empty for the file as a whole.
	Entry string
	// Msg says what is wrong.
	Msg string
}

// ManifestError lists everything wrong with a manifest.
type ManifestError struct {
	Source   string
	Problems []Problem
}

const maxListedProblems = 50

func (e *ManifestError) Error() string {
	var b strings.Builder
	b.WriteString("persisted: manifest")
	if e.Source != "" {
		b.WriteString(" " + e.Source)
	}
	if len(e.Problems) == 1 {
		b.WriteString(": ")
	} else {
		fmt.Fprintf(&b, ": %d problems: ", len(e.Problems))
	}
	for i, p := range e.Problems {
		if i == maxListedProblems {
			fmt.Fprintf(&b, "; and %d more", len(e.Problems)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		if p.Entry != "" {
			b.WriteString(p.Entry + ": ")
		}
		b.WriteString(p.Msg)
	}
	return b.String()
}

func (e *ManifestError) add(entry, msg string) {
	e.Problems = append(e.Problems, Problem{Entry: entry, Msg: msg})
}

func (e *ManifestError) orNil() error {
	if len(e.Problems) == 0 {
		return nil
	}
	return e
}

// LoadManifest reads a trusted-documents manifest file in either format (see
// ParseManifest). Every problem found is reported, each naming its entry.
func LoadManifest(path string) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("persisted: manifest: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("persisted: manifest %s: %w", path, err)
	}
	if len(data) > MaxManifestBytes {
		return nil, &ManifestError{Source: path, Problems: []Problem{{Msg: fmt.Sprintf("file is larger than %d bytes", MaxManifestBytes)}}}
	}
	m, err := parseManifest(data, path)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// ParseManifest reads a manifest from data. The format is recognized by its
// shape:
//
//   - an object with "format", "version" or "operations" is an Apollo
//     manifest: format must be "apollo-persisted-query-manifest", version 1,
//     and each operation must have a non-empty id and body and a type of
//     query, mutation or subscription; the body must parse, hold the
//     operation named name (or a single operation) and that operation must
//     be of type type;
//   - any other object is a codegen persisted-documents map from id to
//     document: every value must be a string that parses and holds at least
//     one operation.
//
// In both, ids must be unique (a duplicated JSON key is an error, not a
// silent overwrite), and an id of 64 hex characters must be the sha256 of its
// body (codegen's default hash and Apollo's id); other ids (codegen's sha1 or
// custom ids) are opaque keys. A manifest without documents is an error.
func ParseManifest(data []byte) (*Manifest, error) { return parseManifest(data, "") }

type rawMember struct {
	key string
	val json.RawMessage
}

func parseManifest(data []byte, source string) (*Manifest, error) {
	me := &ManifestError{Source: source}
	members, err := readObject(data)
	if err != nil {
		me.add("", err.Error())
		return nil, me
	}
	m := &Manifest{Source: source, byID: map[string]int{}, bySHA: map[string]int{}, seen: map[string]string{}}
	apollo := false
	for _, mem := range members {
		switch mem.key {
		case "format", "version", "operations":
			apollo = true
		}
	}
	if apollo {
		m.Format = FormatApollo
		parseApollo(m, members, me)
	} else {
		m.Format = FormatCodegen
		parseCodegen(m, members, me)
	}
	m.seen = nil
	if len(me.Problems) == 0 && len(m.ops) == 0 {
		me.add("", "the manifest holds no documents")
	}
	if err := me.orNil(); err != nil {
		return nil, err
	}
	return m, nil
}

// readObject reads one JSON object's members in order, refusing duplicate
// keys, non-objects and trailing data.
func readObject(data []byte) ([]rawMember, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("the file is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object: expected an Apollo manifest {\"format\":\"apollo-persisted-query-manifest\",...} or a codegen persisted-documents map {\"<hash>\":\"<document>\"}")
	}
	var members []rawMember
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not valid JSON: %v", err)
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, fmt.Errorf("not valid JSON (at key %s): %v", quote(key), err)
		}
		if seen[key] {
			return nil, fmt.Errorf("key %s appears more than once", quote(key))
		}
		seen[key] = true
		members = append(members, rawMember{key: key, val: val})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not valid JSON: data after the top-level object")
	}
	return members, nil
}

func parseApollo(m *Manifest, members []rawMember, me *ManifestError) {
	var ops json.RawMessage
	var haveFormat, haveVersion bool
	for _, mem := range members {
		switch mem.key {
		case "format":
			haveFormat = true
			var f string
			if err := json.Unmarshal(mem.val, &f); err != nil || f != FormatApollo {
				me.add("", fmt.Sprintf("format is %s, want %q", mem.val, FormatApollo))
			}
		case "version":
			haveVersion = true
			var v json.Number
			if err := json.Unmarshal(mem.val, &v); err != nil || v.String() != "1" {
				me.add("", fmt.Sprintf("version is %s, want 1 (the only Apollo manifest version this gateway reads)", mem.val))
			}
		case "operations":
			ops = mem.val
		}
	}
	if !haveFormat {
		me.add("", fmt.Sprintf("format is missing, want %q", FormatApollo))
	}
	if !haveVersion {
		me.add("", "version is missing, want 1")
	}
	if ops == nil || string(ops) == "null" {
		me.add("", "operations is missing")
		return
	}
	var list []json.RawMessage
	if err := json.Unmarshal(ops, &list); err != nil {
		me.add("", "operations must be an array of {id, name, type, body}")
		return
	}
	for i, raw := range list {
		var e struct {
			ID   *string `json:"id"`
			Name *string `json:"name"`
			Type *string `json:"type"`
			Body *string `json:"body"`
		}
		label := "operations[" + strconv.Itoa(i) + "]"
		if err := json.Unmarshal(raw, &e); err != nil {
			me.add(label, "must be an object {id, name, type, body} of strings: "+err.Error())
			continue
		}
		op := Operation{ID: deref(e.ID), Name: deref(e.Name), Type: deref(e.Type), Body: deref(e.Body)}
		label = entryLabel(label, op.ID, op.Name)
		ok := true
		if op.ID == "" {
			me.add(label, "id is missing or empty")
			ok = false
		} else if !m.claimID(label, op.ID, me) {
			ok = false
		}
		switch op.Type {
		case "query", "mutation", "subscription":
		case "":
			me.add(label, "type is missing (want query, mutation or subscription)")
			ok = false
		default:
			me.add(label, fmt.Sprintf("type %q is not query, mutation or subscription", op.Type))
			ok = false
		}
		doc, good := checkBody(label, op.Body, me)
		ok = ok && good
		if doc != nil {
			var def *ast.OperationDefinition
			switch {
			case op.Name != "":
				def = doc.Operations.ForName(op.Name)
				if def == nil {
					me.add(label, fmt.Sprintf("body has no operation named %q", op.Name))
					ok = false
				}
			case len(doc.Operations) == 1:
				def = doc.Operations[0]
			}
			if def != nil && op.Type != "" && string(def.Operation) != op.Type {
				me.add(label, fmt.Sprintf("type is %q but the body's operation is a %s", op.Type, def.Operation))
				ok = false
			}
		}
		if ok {
			m.addOp(label, op, me)
		}
	}
}

func parseCodegen(m *Manifest, members []rawMember, me *ManifestError) {
	for _, mem := range members {
		label := entryLabel("", mem.key, "")
		var body string
		if err := json.Unmarshal(mem.val, &body); err != nil {
			me.add(label, "value must be the document as a JSON string")
			continue
		}
		if mem.key == "" {
			me.add(label, "id is empty")
			continue
		}
		if !m.claimID(label, mem.key, me) {
			continue
		}
		doc, ok := checkBody(label, body, me)
		if !ok {
			continue
		}
		op := Operation{ID: mem.key, Body: body}
		if len(doc.Operations) == 1 {
			op.Name = doc.Operations[0].Name
			op.Type = string(doc.Operations[0].Operation)
		}
		m.addOp(label, op, me)
	}
}

// checkBody parses body (syntax only: the manifest is read without a schema;
// see CheckSchema) and requires an operation in it.
func checkBody(label, body string, me *ManifestError) (*ast.QueryDocument, bool) {
	if strings.TrimSpace(body) == "" {
		me.add(label, "body is empty")
		return nil, false
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: body})
	if err != nil {
		me.add(label, "body does not parse: "+err.Error())
		return nil, false
	}
	if len(doc.Operations) == 0 {
		me.add(label, "body holds no operation")
		return nil, false
	}
	return doc, true
}

// claimID records id as used by the entry label, reporting an id used before
// (sha256 ids compared case-insensitively), valid entry or not.
func (m *Manifest) claimID(label, id string, me *ManifestError) bool {
	if isSHA256Hex(id) {
		id = strings.ToLower(id)
	}
	if first, dup := m.seen[id]; dup {
		me.add(label, "id is used by another entry ("+first+")")
		return false
	}
	m.seen[id] = label
	return true
}

// addOp indexes op, checking a sha256 id against the body.
func (m *Manifest) addOp(label string, op Operation, me *ManifestError) {
	op.SHA256 = sha256Hex(op.Body)
	if isSHA256Hex(op.ID) {
		op.ID = strings.ToLower(op.ID)
		if op.ID != op.SHA256 {
			me.add(label, "id is a sha256 but not the body's (sha256 of the body is "+op.SHA256+")")
			return
		}
	}
	m.ops = append(m.ops, op)
	i := len(m.ops) - 1
	m.byID[op.ID] = i
	if _, ok := m.bySHA[op.SHA256]; !ok {
		m.bySHA[op.SHA256] = i
	}
}

func isSHA256Hex(s string) bool {
	if len(s) != sha256.Size*2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

func entryLabel(prefix, id, name string) string {
	if prefix == "" {
		return "entry " + quote(id)
	}
	var parts []string
	if id != "" {
		parts = append(parts, "id "+quote(id))
	}
	if name != "" {
		parts = append(parts, "name "+quote(name))
	}
	if len(parts) == 0 {
		return prefix
	}
	return prefix + " (" + strings.Join(parts, ", ") + ")"
}

// quote quotes s, shortened to 80 bytes (ids come from files and clients).
func quote(s string) string {
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return strconv.Quote(s)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
