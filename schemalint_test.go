package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSchemaLint runs graphql-schema-linter (pinned in package.json) with
// the repository's configuration (conformance/lint/.graphql-schema-linterrc)
// over schema/*.graphqls and fails on any violation. The control adds an
// argument without a description, which the same run must reject by rule.
func TestSchemaLint(t *testing.T) {
	node := requireNodePackages(t, "graphql-schema-linter")
	files, err := filepath.Glob(filepath.Join("schema", "*.graphqls"))
	if err != nil || len(files) == 0 {
		t.Fatalf("schema files: %v %v", files, err)
	}
	files = append(files, filepath.Join("conformance", "lint", "federation.graphql"))

	undocumented := filepath.Join(t.TempDir(), "undocumented.graphqls")
	if err := os.WriteFile(undocumented, []byte("extend type Query {\n  \"Documented field.\"\n  lintControl(x: Int): Int\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		extra []string
		// want is "" for a clean run, else a rule the run must report.
		want string
	}{
		{name: "the schema has no violations"},
		{name: "an argument without a description is a violation", extra: []string{undocumented}, want: "arguments-have-descriptions"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			args := append([]string{filepath.Join("node_modules", "graphql-schema-linter", "lib", "cli.js"),
				"-c", filepath.Join("conformance", "lint"), "--format", "text"}, files...)
			cmd := exec.CommandContext(ctx, node, append(args, tc.extra...)...)
			cmd.Env = nodeEnv()
			cmd.WaitDelay = 5 * time.Second
			out, err := cmd.CombinedOutput()
			if ctx.Err() != nil {
				t.Fatalf("graphql-schema-linter did not finish:\n%s", out)
			}
			if tc.want == "" {
				if err != nil || !strings.Contains(string(out), "0 errors detected") {
					t.Fatalf("graphql-schema-linter: %v\n%s", err, out)
				}
				return
			}
			if err == nil || !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "lintControl") {
				t.Fatalf("want a %s violation at lintControl, got err=%v\n%s", tc.want, err, out)
			}
		})
	}
}
