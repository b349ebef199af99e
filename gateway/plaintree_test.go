package gateway

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// generatedMarshal matches a marshal function of graph/generated.go and the
// scalar marshaler it calls: the GraphQL type, the Go type of v and the
// function.
var generatedMarshal = regexp.MustCompile(`(?m)^func \(ec \*executionContext\) marshal[NO]([A-Za-z0-9_]+)2\S*\(ctx context\.Context, sel ast\.SelectionSet, v (\S+)\) graphql\.Marshaler \{\n(?:[^\n]*\n){0,6}?\s*res := (\w+)\.(Marshal\w+)\(\*?v\)`)

var packagePaths = map[string]string{
	"graphql":   "github.com/99designs/gqlgen/graphql",
	"gqlscalar": "procoregraph/gqlscalar",
}

// TestPlainTreeScalarsAreGqlgens holds plainScalars to gqlgen's generated
// code: each binding names a GraphQL scalar or enum, a Go type and the
// function graph/generated.go marshals that type of it with, and every
// scalar and enum generated.go marshals with a function has a binding
// (neverPlain's aside).
func TestPlainTreeScalarsAreGqlgens(t *testing.T) {
	src, err := os.ReadFile("../graph/generated.go")
	if err != nil {
		t.Fatal(err)
	}
	generated := map[string]map[string]bool{} // "Name Go-type" → functions
	for _, m := range generatedMarshal.FindAllStringSubmatch(string(src), -1) {
		name, goType, fn := m[1], strings.TrimPrefix(m[2], "*"), packagePaths[m[3]]+"."+m[4]
		key := name + " " + goType
		if generated[key] == nil {
			generated[key] = map[string]bool{}
		}
		generated[key][fn] = true
	}
	if len(generated) < 20 {
		t.Fatalf("found %d scalar marshal functions in generated.go; the pattern no longer matches gqlgen's code", len(generated))
	}
	bound := map[string]bool{}
	for _, s := range plainScalars() {
		key := s.Name() + " " + s.Type().String()
		bound[key] = true
		if !generated[key][s.Func()] {
			t.Errorf("binding %s → %s: generated.go marshals it with %v", key, s.Func(), generated[key])
		}
	}
	for key := range generated {
		if !bound[key] && !neverPlain(key) {
			t.Errorf("generated.go marshals %s with %v and plainScalars has no binding for it", key, generated[key])
		}
	}
}

// neverPlain: JSON and Upload, and the introspection and federation
// scalars, which no data type's field has.
func neverPlain(key string) bool {
	name, _, _ := strings.Cut(key, " ")
	return name == "JSON" || name == "Upload" || name == "FieldSet" || strings.HasPrefix(name, "_") || strings.HasPrefix(name, "federation__")
}

// TestPlainTreeInlinesAreGqlgens holds plainInlines to gqlgen's generated
// code: a Method's field is one generated.go serves by calling that method
// of the object, and each resolved field's arguments are those, in that
// order and of those types, that its generated argument parser coerces, as
// its inline resolution (package resolvers) coerces them.
func TestPlainTreeInlinesAreGqlgens(t *testing.T) {
	src, err := os.ReadFile("../graph/generated.go")
	if err != nil {
		t.Fatal(err)
	}
	methods := 0
	for _, in := range plainInlines() {
		if in.Method() == "" {
			continue
		}
		methods++
		// "procoregraph/adapter.(*Commitment).Vendor" → "adapter.Commitment", "Vendor".
		m := regexp.MustCompile(`([A-Za-z0-9_]+)\.\(\*([A-Za-z0-9_]+)\)\.([A-Za-z0-9_]+)$`).FindStringSubmatch(in.Method())
		if m == nil {
			t.Errorf("%s.%s: %s is not a method of a pointer receiver", in.Object(), in.Field(), in.Method())
			continue
		}
		recv, name := m[1]+"."+m[2], m[3]
		re := regexp.MustCompile(`(?m)^func \(ec \*executionContext\) _` + in.Object() + `_` + in.Field() +
			`\(ctx context\.Context, field graphql\.CollectedField, obj \*` + regexp.QuoteMeta(recv) + `\) \(ret graphql\.Marshaler\) \{\n(?:[^\n]*\n){0,10}?\s*return obj\.` + name + `\(\), nil\n`)
		if !re.Match(src) {
			t.Errorf("%s.%s: generated.go does not serve it with obj.%s() on a *%s", in.Object(), in.Field(), name, recv)
		}
	}
	if methods == 0 {
		t.Fatal("plainInlines declares no method; the check checks nothing")
	}
	page := [][2]string{{"first", "unmarshalOInt2ᚖint"}, {"after", "unmarshalOString2ᚖstring"},
		{"updatedSince", "unmarshalODateTime2ᚖtimeᚐTime"}, {"updatedBefore", "unmarshalODateTime2ᚖtimeᚐTime"}}
	resolved := map[string][][2]string{
		"Commitment_invoices": page,
		"Project_submittals":  page,
		"Project_commitments": page,
		"Project_rfis":        append(page[:4:4], [2]string{"orderBy", "unmarshalOListOrder2ᚖprocoregraphᚋgraphᚋmodelᚐListOrder"}),
	}
	for _, in := range plainInlines() {
		if in.Method() != "" {
			continue
		}
		field := in.Object() + "_" + in.Field()
		want, ok := resolved[field]
		if !ok {
			t.Errorf("%s.%s is resolved in line; this test does not know the arguments its inline resolution coerces", in.Object(), in.Field())
			continue
		}
		delete(resolved, field)
		args := regexp.MustCompile(`(?s)func \(ec \*executionContext\) field_` + field + `_args\(.*?\n}\n`).Find(src)
		if args == nil {
			t.Errorf("generated.go has no field_%s_args", field)
			continue
		}
		got := regexp.MustCompile(`ProcessArgField\(ctx, rawArgs, "(\w+)",\s*func\(ctx context\.Context, v any\) \(\S+, error\) \{\s*return ec\.([^\s(]+)\(`).FindAllSubmatch(args, -1)
		if len(got) != len(want) {
			t.Errorf("%s has %d arguments in generated.go; its inline resolution coerces %d", field, len(got), len(want))
			continue
		}
		for i, m := range got {
			if string(m[1]) != want[i][0] || string(m[2]) != want[i][1] {
				t.Errorf("%s argument %d: generated.go coerces %s with %s; the inline resolution coerces %s as %s", field, i, m[1], m[2], want[i][0], want[i][1])
			}
		}
	}
	for field := range resolved {
		t.Errorf("%s is no longer resolved in line; drop it from this test", field)
	}
}
