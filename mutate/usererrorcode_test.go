package mutate

import (
	"context"
	goast "go/ast"
	"go/constant"
	"go/types"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gqlast "github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"golang.org/x/tools/go/packages"
)

// userErrorCodeConstants reads the UserErrorCode constants declared in this
// package from its type-checked source (not from Valid, which is under test).
func userErrorCodeConstants(t *testing.T, pkg *packages.Package) map[string]string {
	t.Helper()
	typ := pkg.Types.Scope().Lookup("UserErrorCode")
	if typ == nil {
		t.Fatal("no type UserErrorCode in package mutate")
	}
	out := map[string]string{}
	for _, name := range pkg.Types.Scope().Names() {
		c, ok := pkg.Types.Scope().Lookup(name).(*types.Const)
		if ok && types.Identical(c.Type(), typ.Type()) {
			out[name] = constant.StringVal(c.Val())
		}
	}
	return out
}

func loadModule(t *testing.T, mode packages.LoadMode, patterns ...string) []*packages.Package {
	t.Helper()
	pkgs, err := packages.Load(&packages.Config{Mode: mode, Dir: "..", Context: t.Context()}, patterns...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		for _, e := range p.Errors {
			t.Fatalf("load %s: %v", p.PkgPath, e)
		}
	}
	return pkgs
}

// TestUserErrorCodesAreTheSchemaEnum: the Go constants are exactly the
// schema's UserErrorCode values, Valid accepts each of them and nothing else,
// and marshaling refuses a code outside the set instead of writing it.
func TestUserErrorCodesAreTheSchemaEnum(t *testing.T) {
	pkgs := loadModule(t, packages.NeedName|packages.NeedTypes, "procoregraph/mutate")
	consts := userErrorCodeConstants(t, pkgs[0])

	src, err := os.ReadFile(filepath.Join("..", "schema", "mutation.graphqls"))
	if err != nil {
		t.Fatal(err)
	}
	doc, gerr := parser.ParseSchema(&gqlast.Source{Name: "mutation.graphqls", Input: string(src)})
	if gerr != nil {
		t.Fatal(gerr)
	}
	def := doc.Definitions.ForName("UserErrorCode")
	if def == nil || def.Kind != gqlast.Enum {
		t.Fatal("schema/mutation.graphqls has no enum UserErrorCode")
	}
	var schemaValues, goValues []string
	for _, v := range def.EnumValues {
		schemaValues = append(schemaValues, v.Name)
	}
	for _, v := range consts {
		goValues = append(goValues, v)
	}
	slices.Sort(schemaValues)
	slices.Sort(goValues)
	if !slices.Equal(schemaValues, goValues) {
		t.Fatalf("schema UserErrorCode %v, Go constants %v", schemaValues, goValues)
	}
	for _, v := range goValues {
		if !UserErrorCode(v).Valid() {
			t.Errorf("Valid(%s) = false", v)
		}
	}
	for _, bad := range []UserErrorCode{"", "required", "UNKNOWN", "INTERNAL"} {
		if bad.Valid() {
			t.Errorf("Valid(%q) = true", bad)
		}
		var b strings.Builder
		if err := bad.MarshalGQLContext(context.Background(), &b); err == nil || b.Len() != 0 {
			t.Errorf("marshal %q: err %v, wrote %q", bad, err, b.String())
		}
	}
}

// TestNoUserErrorCodeOutsideTheConstants type-checks every package of the
// module that uses UserErrorCode and fails on any expression of that type
// which could hold a code outside the enum: a constant whose value is not
// one of the declared constants (a string literal such as "FOO" where a code
// is expected), or a conversion from a non-constant string (e.g.
// UserErrorCode(err.Code)) outside UnmarshalGQLContext, which validates.
func TestNoUserErrorCodeOutsideTheConstants(t *testing.T) {
	if testing.Short() {
		t.Skip("type-checks the module")
	}
	all := loadModule(t, packages.NeedName|packages.NeedImports, "procoregraph/...")
	var users []string
	for _, p := range all {
		if p.PkgPath == "procoregraph/graph" {
			continue // generated: marshals through UserErrorCode's own methods
		}
		if p.PkgPath == "procoregraph/mutate" || p.Imports["procoregraph/mutate"] != nil {
			users = append(users, p.PkgPath)
		}
	}
	if !slices.Contains(users, "procoregraph/resolvers") {
		t.Fatalf("packages using mutate: %v (resolvers expected)", users)
	}
	pkgs := loadModule(t, packages.NeedName|packages.NeedTypes|packages.NeedTypesInfo|packages.NeedSyntax|packages.NeedFiles, users...)
	var mutatePkg *packages.Package
	for _, p := range pkgs {
		if p.PkgPath == "procoregraph/mutate" {
			mutatePkg = p
		}
	}
	if mutatePkg == nil {
		t.Fatal("procoregraph/mutate not loaded")
	}
	known := map[string]bool{}
	for _, v := range userErrorCodeConstants(t, mutatePkg) {
		known[v] = true
	}
	isCode := func(typ types.Type) bool {
		n, ok := typ.(*types.Named)
		return ok && n.Obj().Name() == "UserErrorCode" && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "procoregraph/mutate"
	}

	checked := 0
	for _, p := range pkgs {
		for _, f := range p.Syntax {
			for _, decl := range f.Decls {
				fd, _ := decl.(*goast.FuncDecl)
				inUnmarshal := fd != nil && fd.Name.Name == "UnmarshalGQLContext" && p.PkgPath == "procoregraph/mutate"
				goast.Inspect(decl, func(n goast.Node) bool {
					e, ok := n.(goast.Expr)
					if !ok {
						return true
					}
					tv, ok := p.TypesInfo.Types[e]
					if !ok || !isCode(tv.Type) {
						return true
					}
					checked++
					pos := p.Fset.Position(e.Pos())
					if tv.Value != nil {
						if tv.Value.Kind() != constant.String || !known[constant.StringVal(tv.Value)] {
							t.Errorf("%s: UserErrorCode constant %s is not one of the enum's codes", pos, tv.Value)
						}
						return true
					}
					if call, ok := e.(*goast.CallExpr); ok && len(call.Args) == 1 && !inUnmarshal {
						if fun, ok := p.TypesInfo.Types[call.Fun]; ok && fun.IsType() {
							t.Errorf("%s: conversion to UserErrorCode from a non-constant value; use one of the Code constants", pos)
						}
					}
					return true
				})
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d UserErrorCode expressions seen: the walk is not reaching the code", checked)
	}
}
