package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"procoregraph/sandbox"
)

// TestTypeScriptClientCodegen is the frontend developer's flow: GraphQL Code
// Generator (conformance/codegen/codegen.yml, the config the README shows)
// reads the live gateway's schema by introspection and generates types for
// the typed urql client in conformance/codegen/src, which `tsc --strict
// --noEmit` must then accept. The controls prove the check can fail: a
// custom scalar left unmapped fails codegen (strictScalars), a scalar typed
// `unknown` and a UserErrorCode without a case fail tsc.
func TestTypeScriptClientCodegen(t *testing.T) {
	node := requireNodePackages(t, "@graphql-codegen/cli", "@graphql-codegen/client-preset", "@urql/core", "typescript")
	modules, err := filepath.Abs("node_modules")
	if err != nil {
		t.Fatal(err)
	}
	_, env := startSandbox(t, sandbox.Config{})
	p := startGateway(t, env)
	endpoint := p.URL + "/graphql"

	cases := []struct {
		name string
		// file and from→to edit the copied project before codegen (none when file is "").
		file, from, to string
		// failsAt is the step that must fail ("" = both pass); want is in its output.
		failsAt, want string
	}{
		{name: "every scalar mapped and every code handled compiles"},
		{name: "a custom scalar left unmapped fails codegen", file: "codegen.yml",
			from: "        Decimal: string\n", to: "", failsAt: "codegen", want: "Decimal"},
		{name: "a scalar typed unknown fails tsc", file: "codegen.yml",
			from: "        DateTime: string\n", to: "        DateTime: unknown\n", failsAt: "tsc", want: "unknown"},
		{name: "an unhandled UserErrorCode fails tsc", file: "src/client.ts",
			from: "    case 'TOO_LARGE': return 'The file is too large.';\n", to: "", failsAt: "tsc", want: "never"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(filepath.Join("conformance", "codegen"))); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
				t.Fatal(err)
			}
			if tc.file != "" {
				path := filepath.Join(dir, tc.file)
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(b), tc.from) {
					t.Fatalf("%s no longer contains %q: update the control", tc.file, tc.from)
				}
				if err := os.WriteFile(path, []byte(strings.Replace(string(b), tc.from, tc.to, 1)), 0o644); err != nil {
					t.Fatal(err)
				}
			}

			schemaEnv := "PROCOREGRAPH_SCHEMA=" + endpoint
			out, err := runNode(t, dir, 90*time.Second, schemaEnv, node, filepath.Join(modules, "@graphql-codegen", "cli", "cjs", "bin.js"),
				"--config", "codegen.yml")
			if tc.failsAt == "codegen" {
				if err == nil || !strings.Contains(out, tc.want) {
					t.Fatalf("codegen: want a failure naming %q, got err=%v\n%s", tc.want, err, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("codegen against %s: %v\n%s\ngateway stderr:\n%s", endpoint, err, out, tail(p.stderr.String(), 2000))
			}
			gen, err := os.ReadFile(filepath.Join(dir, "gql", "graphql.ts"))
			if err != nil {
				t.Fatal(err)
			}
			// Unedited, Decimal (grandTotal) and DateTime (at) are typed
			// string, and UserErrorCode is a union of the enum's codes.
			if tc.file == "" {
				for _, want := range []string{"grandTotal: string", "at: string", "export type UserErrorCode =", "'REAUTH_REQUIRED'"} {
					if !strings.Contains(string(gen), want) {
						t.Fatalf("generated gql/graphql.ts lacks %q", want)
					}
				}
			}

			out, err = runNode(t, dir, 90*time.Second, schemaEnv, node, filepath.Join(modules, "typescript", "bin", "tsc"),
				"-p", "tsconfig.json", "--strict", "--noEmit")
			if tc.failsAt == "tsc" {
				if err == nil || !strings.Contains(out, tc.want) {
					t.Fatalf("tsc: want a failure naming %q, got err=%v\n%s", tc.want, err, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("tsc --strict: %v\n%s", err, out)
			}
		})
	}
}

// runNode runs `node script args...` in dir with the conformance scripts'
// environment (which carries the harness key as PROCOREGRAPH_AUTHORIZATION)
// plus extra ("NAME=value"), and returns its combined output.
func runNode(t *testing.T, dir string, timeout time.Duration, extra, node, script string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(nodeEnv(), extra)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within %s:\n%s", filepath.Base(script), timeout, out)
	}
	return string(out), err
}
