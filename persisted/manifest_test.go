package persisted_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"procoregraph/graph"
	"procoregraph/persisted"
	"procoregraph/resolvers"
)

type apolloOp struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
	Type string `json:"type,omitempty"`
	Body string `json:"body"`
}

func apolloManifest(t *testing.T, ops ...apolloOp) string {
	t.Helper()
	return mustJSON(t, map[string]any{"format": persisted.FormatApollo, "version": 1, "operations": ops})
}

func op(name, typ, body string) apolloOp {
	return apolloOp{ID: sha(body), Name: name, Type: typ, Body: body}
}

const (
	qMutation = `mutation Revoke { revokeSession(token: "x") }`
	qFragment = `query WithFragment { ...F } fragment F on Query { __typename }`
)

func TestLoadManifestReadsBothFormats(t *testing.T) {
	cases := []struct {
		name       string
		content    string
		wantFormat string
		want       []persisted.Operation // ID, Name, Type, Body checked
	}{
		{
			name: "apollo manifest with sha256 and opaque ids",
			content: apolloManifest(t,
				op("Typename", "query", qTypename),
				op("Revoke", "mutation", qMutation),
				apolloOp{ID: "custom-id-1", Name: "TypenameAgain", Type: "query", Body: qAgain}),
			wantFormat: persisted.FormatApollo,
			want: []persisted.Operation{
				{ID: sha(qTypename), Name: "Typename", Type: "query", Body: qTypename},
				{ID: sha(qMutation), Name: "Revoke", Type: "mutation", Body: qMutation},
				{ID: "custom-id-1", Name: "TypenameAgain", Type: "query", Body: qAgain},
			},
		},
		{
			name:       "codegen persisted documents with sha256 ids",
			content:    mustJSON(t, map[string]string{sha(qTypename): qTypename, sha(qFragment): qFragment}),
			wantFormat: persisted.FormatCodegen,
			// json.Marshal sorts keys, so the order is the ids' order.
			want: sortedByID([]persisted.Operation{
				{ID: sha(qTypename), Name: "Typename", Type: "query", Body: qTypename},
				{ID: sha(qFragment), Name: "WithFragment", Type: "query", Body: qFragment},
			}),
		},
		{
			name:       "codegen persisted documents with sha1 (opaque) ids",
			content:    `{"4a6a2d6c5d0b7f1e0c2b1a9e8d7c6b5a4f3e2d1c": "query Typename { __typename }"}`,
			wantFormat: persisted.FormatCodegen,
			want:       []persisted.Operation{{ID: "4a6a2d6c5d0b7f1e0c2b1a9e8d7c6b5a4f3e2d1c", Name: "Typename", Type: "query", Body: qTypename}},
		},
		{
			name:       "codegen uppercase sha256 id is kept lowercase",
			content:    mustJSON(t, map[string]string{strings.ToUpper(sha(qTypename)): qTypename}),
			wantFormat: persisted.FormatCodegen,
			want:       []persisted.Operation{{ID: sha(qTypename), Name: "Typename", Type: "query", Body: qTypename}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := persisted.LoadManifest(writeFile(t, "manifest.json", tc.content))
			if err != nil {
				t.Fatal(err)
			}
			if m.Format != tc.wantFormat {
				t.Errorf("Format %q, want %q", m.Format, tc.wantFormat)
			}
			got := m.Operations()
			if len(got) != len(tc.want) {
				t.Fatalf("%d operations, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.ID != w.ID || g.Name != w.Name || g.Type != w.Type || g.Body != w.Body || g.SHA256 != sha(w.Body) {
					t.Errorf("operation %d = %+v, want %+v", i, g, w)
				}
				if found, ok := m.Lookup(w.ID); !ok || found.Body != w.Body {
					t.Errorf("Lookup(%q) = %+v, %v", w.ID, found, ok)
				}
				if found, ok := m.Lookup(sha(w.Body)); !ok || found.Body != w.Body {
					t.Errorf("Lookup(sha256 of body %d) = %+v, %v", i, found, ok)
				}
				if found, ok := m.LookupText(w.Body); !ok || found.ID != w.ID {
					t.Errorf("LookupText(body %d) = %+v, %v", i, found, ok)
				}
			}
			if _, ok := m.Lookup(sha("query Other { __typename }")); ok {
				t.Error("Lookup found an id that is not in the manifest")
			}
			if _, ok := m.LookupText(qTypename + " "); ok && tc.want[0].Body == qTypename {
				t.Error("LookupText matched a text that differs in whitespace")
			}
		})
	}
}

func sortedByID(ops []persisted.Operation) []persisted.Operation {
	for i := range ops {
		for j := i + 1; j < len(ops); j++ {
			if ops[j].ID < ops[i].ID {
				ops[i], ops[j] = ops[j], ops[i]
			}
		}
	}
	return ops
}

// Every problem is reported, and each names its entry.
func TestLoadManifestReportsEachProblem(t *testing.T) {
	good := op("Typename", "query", qTypename)
	wrongHash := sha("query Other { __typename }")
	cases := []struct {
		name    string
		content string
		want    []string // each must appear in the error
	}{
		{"empty file", "  \n", []string{"the file is empty"}},
		{"invalid JSON", `{"format": `, []string{"not valid JSON"}},
		{"JSON that is not an object", `[{"id":"x"}]`, []string{"not a JSON object"}},
		{"trailing data", `{"a": "query A { __typename }"} {}`, []string{"data after the top-level object"}},
		{"an empty codegen map", `{}`, []string{"holds no documents"}},
		{"an apollo manifest without operations",
			mustJSON(t, map[string]any{"format": persisted.FormatApollo, "version": 1, "operations": []any{}}),
			[]string{"holds no documents"}},
		{"an apollo manifest of another format",
			mustJSON(t, map[string]any{"format": "relay-persisted-queries", "version": 1, "operations": []apolloOp{good}}),
			[]string{`format is "relay-persisted-queries"`}},
		{"an apollo manifest of another version",
			mustJSON(t, map[string]any{"format": persisted.FormatApollo, "version": 2, "operations": []apolloOp{good}}),
			[]string{"version is 2, want 1"}},
		{"an apollo manifest missing format, version and operations",
			`{"operations": null}`,
			[]string{"format is missing", "version is missing", "operations is missing"}},
		{"an apollo manifest whose operations is not an array",
			mustJSON(t, map[string]any{"format": persisted.FormatApollo, "version": 1, "operations": map[string]any{}}),
			[]string{"operations must be an array"}},
		{"an apollo operation that is not an object",
			`{"format":"apollo-persisted-query-manifest","version":1,"operations":["query A { __typename }"]}`,
			[]string{"operations[0]: must be an object"}},
		{"an apollo operation with an empty body",
			apolloManifest(t, good, apolloOp{ID: "empty-1", Name: "Empty", Type: "query", Body: ""}),
			[]string{`operations[1] (id "empty-1", name "Empty"): body is empty`}},
		{"an apollo operation without an id",
			apolloManifest(t, apolloOp{Name: "Typename", Type: "query", Body: qTypename}),
			[]string{`operations[0] (name "Typename"): id is missing or empty`}},
		{"an apollo operation whose sha256 id is not its body's",
			apolloManifest(t, apolloOp{ID: wrongHash, Name: "Typename", Type: "query", Body: qTypename}),
			[]string{`operations[0] (id "` + wrongHash + `", name "Typename"): id is a sha256 but not the body's`, sha(qTypename)}},
		{"two apollo operations with one id",
			apolloManifest(t, good, apolloOp{ID: good.ID, Name: "Typename", Type: "query", Body: qTypename}),
			[]string{`operations[1] (id "` + good.ID + `", name "Typename"): id is used by another entry (operations[0]`}},
		{"an apollo operation of an unknown type",
			apolloManifest(t, apolloOp{ID: "x", Name: "Typename", Type: "fragment", Body: qTypename}),
			[]string{`operations[0] (id "x", name "Typename"): type "fragment" is not query, mutation or subscription`}},
		{"an apollo operation without a type",
			apolloManifest(t, apolloOp{ID: "x", Name: "Typename", Body: qTypename}),
			[]string{`operations[0] (id "x", name "Typename"): type is missing`}},
		{"an apollo operation whose type is not its body's",
			apolloManifest(t, apolloOp{ID: "x", Name: "Revoke", Type: "query", Body: qMutation}),
			[]string{`operations[0] (id "x", name "Revoke"): type is "query" but the body's operation is a mutation`}},
		{"an apollo operation whose name is not in its body",
			apolloManifest(t, apolloOp{ID: "x", Name: "Renamed", Type: "query", Body: qTypename}),
			[]string{`operations[0] (id "x", name "Renamed"): body has no operation named "Renamed"`}},
		{"an apollo operation whose body does not parse",
			apolloManifest(t, apolloOp{ID: "x", Name: "Broken", Type: "query", Body: "query Broken { __typename"}),
			[]string{`operations[0] (id "x", name "Broken"): body does not parse`}},
		{"an apollo operation whose body is only a fragment",
			apolloManifest(t, apolloOp{ID: "x", Type: "query", Body: "fragment F on Query { __typename }"}),
			[]string{`operations[0] (id "x"): body holds no operation`}},
		{"several bad apollo operations are all reported",
			apolloManifest(t, good,
				apolloOp{ID: "a", Name: "A", Type: "query", Body: ""},
				apolloOp{ID: wrongHash, Name: "Typename", Type: "query", Body: qTypename},
				apolloOp{ID: "a", Name: "Typename", Type: "query", Body: qTypename}),
			[]string{"3 problems", `operations[1] (id "a", name "A"): body is empty`, `operations[2] (id "` + wrongHash + `"`,
				`operations[3] (id "a", name "Typename"): id is used by another entry (operations[1] (id "a", name "A"))`}},
		{"a codegen entry with an empty body",
			`{"doc-1": ""}`,
			[]string{`entry "doc-1": body is empty`}},
		{"a codegen entry whose value is not a string",
			`{"doc-1": {"body": "query A { __typename }"}}`,
			[]string{`entry "doc-1": value must be the document as a JSON string`}},
		{"a codegen entry with an empty id",
			`{"": "query A { __typename }"}`,
			[]string{`entry "": id is empty`}},
		{"a codegen sha256 id that is not its body's",
			mustJSON(t, map[string]string{wrongHash: qTypename}),
			[]string{`entry "` + wrongHash + `": id is a sha256 but not the body's`}},
		{"a codegen id given twice",
			`{"doc-1": "query A { __typename }", "doc-1": "query B { __typename }"}`,
			[]string{`key "doc-1" appears more than once`}},
		{"a codegen sha256 id given twice in different cases",
			`{"` + sha(qTypename) + `": "` + qTypename + `", "` + strings.ToUpper(sha(qTypename)) + `": "` + qTypename + `"}`,
			[]string{`entry "` + strings.ToUpper(sha(qTypename)) + `": id is used by another entry`}},
		{"a codegen entry whose body does not parse",
			`{"doc-1": "query {"}`,
			[]string{`entry "doc-1": body does not parse`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "manifest.json", tc.content)
			m, err := persisted.LoadManifest(path)
			if err == nil {
				t.Fatalf("loaded %d operations, want an error", m.Len())
			}
			var me *persisted.ManifestError
			if !errors.As(err, &me) || len(me.Problems) == 0 {
				t.Fatalf("error %T %v is not a *ManifestError with problems", err, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Errorf("error %q does not name the file", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q\ndoes not contain %q", msg, w)
				}
			}
		})
	}
}

func TestLoadManifestReportsAMissingFile(t *testing.T) {
	_, err := persisted.LoadManifest(filepath.Join(t.TempDir(), "absent.json"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err %v, want one wrapping os.ErrNotExist", err)
	}
}

func TestManifestCheckSchema(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{Resolvers: resolvers.New()}).Schema()
	cases := []struct {
		name    string
		content string
		want    string // "" for no error
	}{
		{"documents valid for the schema pass", apolloManifest(t, op("Typename", "query", qTypename), op("Service", "query", qService)), ""},
		{"a document for another schema names its entry",
			apolloManifest(t, op("Typename", "query", qTypename), op("Gone", "query", `query Gone { noSuchField }`)),
			`operations[1] (id "` + sha(`query Gone { noSuchField }`) + `", name "Gone"): body does not validate against the schema`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := persisted.ParseManifest([]byte(tc.content))
			if err != nil {
				t.Fatal(err)
			}
			err = m.CheckSchema(schema)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
}
