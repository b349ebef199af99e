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
