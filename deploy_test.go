package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"procoregraph/settings"
)

// Deployment files must not rot: every variable they give procoregraph is a
// declared setting (or one read by a library: the OpenTelemetry SDK's
// OTEL_*, Go's GOGC and GOMEMLIMIT, go-rod's DISABLE_ROD_FLAG), every flag
// they pass is declared, and the values parse as a start would.

// notOurs reports whether name is read by a library rather than declared.
func notOurs(name string) bool {
	return strings.HasPrefix(name, "OTEL_") || slices.Contains([]string{"GOGC", "GOMEMLIMIT", "DISABLE_ROD_FLAG"}, name)
}

// checkNames fails for every name that is neither declared nor a library's.
func checkNames(t *testing.T, where string, names []string) {
	t.Helper()
	r, _ := registryWithDefaults(t)
	for _, n := range names {
		if _, ok := r.Lookup(n); !ok && !notOurs(n) {
			t.Errorf("%s sets %s, which is not a procoregraph setting (config.go declares them)", where, n)
		}
	}
}

// checkFlags fails for every -flag in args that is not declared.
func checkFlags(t *testing.T, where string, args []string) {
	t.Helper()
	r, _ := registryWithDefaults(t)
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !slices.ContainsFunc(r.Settings(), func(s *settings.Setting) bool { return s.Flag == name }) {
			t.Errorf("%s passes -%s, which is not a procoregraph flag", where, name)
		}
	}
}

// parsesAsAStart runs parseConfig over env and fails with its error.
func parsesAsAStart(t *testing.T, where string, env map[string]string, args []string) {
	t.Helper()
	if _, err := parseConfig(args, func(k string) string { return env[k] }, io.Discard); err != nil {
		t.Errorf("%s: the settings would stop the start: %v", where, err)
	}
}

func readYAMLDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []map[string]any
	for {
		var d map[string]any
		if err := dec.Decode(&d); errors.Is(err, io.EOF) {
			return docs
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
}

func mapAt(v any, path ...string) map[string]any {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	m, _ := v.(map[string]any)
	return m
}

func listAt(v any, path ...string) []any {
	for _, p := range path[:len(path)-1] {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	m, _ := v.(map[string]any)
	l, _ := m[path[len(path)-1]].([]any)
	return l
}

func strings2(l []any) []string {
	out := make([]string, len(l))
	for i, x := range l {
		out[i] = fmt.Sprint(x)
	}
	return out
}

// TestComposeFileSetsOnlyDeclaredSettings: deploy/compose.yaml's
// procoregraph containers (the replicas and the sandbox) set only declared
// variables and flags, the replicas' environment parses as a start, and
// the stack has what it promises: two replicas, Redis, Hive Gateway, the
// example subgraph, an OpenTelemetry collector and Jaeger.
func TestComposeFileSetsOnlyDeclaredSettings(t *testing.T) {
	docs := readYAMLDocs(t, filepath.Join("deploy", "compose.yaml"))
	if len(docs) != 1 {
		t.Fatalf("%d YAML documents, want 1", len(docs))
	}
	services := mapAt(docs[0], "services")
	for _, name := range []string{"procoregraph", "redis", "hive-gateway", "schedule", "compose", "otel-collector", "jaeger", "sandbox"} {
		if services[name] == nil {
			t.Errorf("compose.yaml has no %s service", name)
		}
	}
	if r := mapAt(services, "procoregraph", "deploy")["replicas"]; r != 2 {
		t.Errorf("procoregraph replicas %v, want 2", r)
	}
	ours := 0
	for name, s := range services {
		img, _ := mapAt(services, name)["image"].(string)
		if !strings.HasPrefix(img, "procoregraph:") {
			continue
		}
		ours++
		where := "compose.yaml service " + name
		env := serviceEnv(mapAt(services, name))
		var names []string
		for k := range env {
			names = append(names, k)
		}
		checkNames(t, where, names)
		cmd := strings2(listAt(s, "command"))
		if len(cmd) > 0 && cmd[0] == "sandbox" {
			if len(env) != 0 {
				t.Errorf("%s: the sandbox takes flags, not the gateway's variables", where)
			}
			continue
		}
		checkFlags(t, where, cmd)
		parsesAsAStart(t, where, env, cmd)
	}
	if ours != 2 {
		t.Errorf("%d services run the procoregraph image, want 2 (sandbox, procoregraph)", ours)
	}
}

// TestKubernetesManifestsSetOnlyDeclaredSettings: the Deployment's
// variables (its own, its ConfigMap's and its Secret references) are
// declared; the ConfigMap with the secrets parses as a start; the probes
// are /healthz and /readyz; the Service, PodDisruptionBudget and HPA
// select or target the Deployment.
func TestKubernetesManifestsSetOnlyDeclaredSettings(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("deploy", "k8s", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	byKind := map[string]map[string]any{}
	for _, f := range files {
		for _, d := range readYAMLDocs(t, f) {
			kind, _ := d["kind"].(string)
			if byKind[kind] != nil {
				t.Fatalf("two %s manifests", kind)
			}
			byKind[kind] = d
		}
	}
	for _, k := range []string{"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ConfigMap", "Secret"} {
		if byKind[k] == nil {
			t.Fatalf("no %s manifest in deploy/k8s", k)
		}
	}
	dep := byKind["Deployment"]
	labels := mapAt(dep, "spec", "selector", "matchLabels")
	containers := listAt(dep, "spec", "template", "spec", "containers")
	if len(containers) != 1 {
		t.Fatalf("%d containers, want 1", len(containers))
	}
	c := containers[0]
	cmName := fmt.Sprint(mapAt(listAt(c, "envFrom")[0], "configMapRef")["name"])
	cm := byKind["ConfigMap"]
	if fmt.Sprint(mapAt(cm, "metadata")["name"]) != cmName {
		t.Fatalf("the Deployment reads ConfigMap %s, the manifest is %v", cmName, mapAt(cm, "metadata")["name"])
	}
	env := map[string]string{}
	var names []string
	for k, v := range mapAt(cm, "data") {
		env[k] = fmt.Sprint(v)
		names = append(names, k)
	}
	secret := mapAt(byKind["Secret"], "stringData")
	// Values that parse, standing in for the Secret's (never in the repo).
	testSecrets := map[string]string{"PROCORE_CLIENT_ID": "id", "PROCORE_CLIENT_SECRET": "secret", "PORTAL_SESSION_KEY": testSessionKey,
		"WEBHOOK_AUTHORIZATION": "Bearer x", "API_KEYS": apiKeyEntry("bi", "read", "", testAPIKey), "REDIS_URL": "rediss://:pw@redis.internal:6380/0"}
	for _, e := range listAt(c, "env") {
		m, _ := e.(map[string]any)
		name := fmt.Sprint(m["name"])
		names = append(names, name)
		if ref := mapAt(m, "valueFrom", "secretKeyRef"); ref != nil {
			key := fmt.Sprint(ref["key"])
			if _, ok := secret[key]; !ok {
				t.Errorf("%s refers to the Secret's key %s, which secret.example.yaml lacks", name, key)
			}
			v, ok := testSecrets[name]
			if !ok {
				t.Fatalf("no test value for the secret %s", name)
			}
			env[name] = v
		} else {
			env[name] = fmt.Sprint(m["value"])
		}
	}
	checkNames(t, "deploy/k8s Deployment", names)
	for k := range secret {
		checkNames(t, "deploy/k8s Secret", []string{k})
	}
	checkFlags(t, "deploy/k8s Deployment", strings2(listAt(c, "args")))
	parsesAsAStart(t, "deploy/k8s", env, strings2(listAt(c, "args")))
	if p := mapAt(c, "livenessProbe", "httpGet")["path"]; p != "/healthz" {
		t.Errorf("liveness probe %v, want /healthz", p)
	}
	if p := mapAt(c, "readinessProbe", "httpGet")["path"]; p != "/readyz" {
		t.Errorf("readiness probe %v, want /readyz", p)
	}
	for _, k := range []string{"Service", "PodDisruptionBudget"} {
		sel := mapAt(byKind[k], "spec", "selector")
		if k == "PodDisruptionBudget" {
			sel = mapAt(sel, "matchLabels")
		}
		for lk, lv := range labels {
			if sel[lk] != lv {
				t.Errorf("the %s does not select the Deployment's pods (%s=%v)", k, lk, lv)
			}
		}
	}
	if n := mapAt(byKind["HorizontalPodAutoscaler"], "spec", "scaleTargetRef")["name"]; n != mapAt(dep, "metadata")["name"] {
		t.Errorf("the HPA scales %v", n)
	}
}

// TestDockerfilesSetOnlyDeclaredSettings: the images' ENV lines.
func TestDockerfilesSetOnlyDeclaredSettings(t *testing.T) {
	for _, f := range []string{"Dockerfile", "Dockerfile.chromium"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Join continued lines, then read ENV k=v pairs.
		text := strings.ReplaceAll(string(b), "\\\n", " ")
		var names []string
		sc := bufio.NewScanner(strings.NewReader(text))
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 2 || fields[0] != "ENV" {
				continue
			}
			for _, kv := range fields[1:] {
				k, _, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("%s: ENV %s: write ENV NAME=value", f, kv)
				}
				names = append(names, k)
			}
		}
		if len(names) == 0 {
			t.Fatalf("%s sets no ENV (ADDR at least)", f)
		}
		checkNames(t, f, names)
	}
}

// serviceEnv is a compose service's environment (mapping or list form).
func serviceEnv(service map[string]any) map[string]string {
	env := map[string]string{}
	switch e := service["environment"].(type) {
	case map[string]any:
		for k, v := range e {
			env[k] = fmt.Sprint(v)
		}
	case []any:
		for _, kv := range strings2(e) {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	return env
}
