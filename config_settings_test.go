package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"procoregraph/apikeys"
	"procoregraph/principal"
	"procoregraph/settings"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/config-defaults.golden from the declarations")

// registryWithDefaults declares the settings and loads nothing but their
// defaults.
func registryWithDefaults(t *testing.T) (*settings.Registry, config) {
	t.Helper()
	var c config
	r := declareSettings(&c)
	if _, err := r.Load(nil, func(string) string { return "" }, os.ReadFile, io.Discard); err != nil {
		t.Fatal(err)
	}
	return r, c
}

// TestConfigDefaultsMatchGolden: every setting's default, as the loaded
// configuration holds it, is the one in testdata/config-defaults.golden. A
// changed default must change the golden file too (go test -run
// TestConfigDefaultsMatchGolden -update .), where review sees it.
func TestConfigDefaultsMatchGolden(t *testing.T) {
	r, _ := registryWithDefaults(t)
	got := r.Describe()
	path := filepath.Join("testdata", "config-defaults.golden")
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("defaults differ from %s (rerun with -update after checking the change):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
	// And the parsed configuration holds them (spot checks of each kind).
	c, err := parseConfig(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.MaxConcurrency != 256 || c.CacheTTL != time.Minute || c.PollInterval != 0 ||
		c.StateMaxBytes != 64<<20 || c.BulkMaxFileBytes != 1<<30 || c.BulkProcoreReserve != 0.2 || c.NoResponseCache ||
		c.RegisterWebhooks || c.LogFormat != "text" || c.JWT.ScopesClaim != "scope" || c.WebhookNamespace != "procoregraph" {
		t.Fatalf("parsed defaults: %+v", c)
	}
}

// freeText are the settings any text is valid for (names, secrets, paths
// checked when used): no malformed value exists.
var freeText = []string{
	"PROCORE_CLIENT_ID", "PROCORE_CLIENT_SECRET", "PROCORE_REFRESH_TOKEN", "CACHE_PREFIX", "WEBHOOK_AUTHORIZATION",
	"WEBHOOK_NAMESPACE", "CHROMIUM_PATH", "PORTAL_INBOX_SECRET", "ALLOWED_HOSTS", "CORS_ORIGINS", "JWT_ISSUER",
	"JWT_AUDIENCE", "JWT_SCOPES_CLAIM", "JWT_SCOPE_PREFIX", "JWT_COMPANIES_CLAIM", "ROUTER_SECRET",
	"PERSISTED_OPERATIONS", "BULK_DIR",
}

// malformedByKind are values no setting of the kind accepts.
var malformedByKind = map[settings.Kind][]string{
	settings.KindDuration: {"5", "soon"},          // no unit; not a duration
	settings.KindBool:     {"yes", "enabled"},     // not strconv.ParseBool's
	settings.KindSwitch:   {"maybe"},              // not on/off
	settings.KindEnum:     {"bogus"},              // not among the values
	settings.KindInt:      {"12abc", "1.5"},       // not whole numbers
	settings.KindBytes:    {"64 megs", "1GB"},     // not GOMEMLIMIT's units
	settings.KindFloat:    {"lots"},               // not a number
	settings.KindURL:      {"not a url"},          // not absolute
	settings.KindAddr:     {"8080", "host:99999"}, // no port; port out of range
}

// malformedByName are the custom settings' malformed values, and values
// out of a setting's bounds.
var malformedByName = map[string][]string{
	"CONFIG_FILE":          {"/nonexistent/procoregraph.yaml"},
	"MEMORY_LIMIT":         {"1GB"},
	"PROCORE_COMPANY_ID":   {"abc", "-4"},
	"PROCORE_COMPANY_IDS":  {"1,x"},
	"CACHE_TTLS":           {"rfis", "rfis=30"},
	"PORTAL_SESSION_KEY":   {"too-short"},
	"PORTAL_SMS_NUMBERS":   {"nobody"},
	"API_KEYS":             {"not-an-entry"},
	"POLL_INTERVAL":        {"500ms"}, // on, but under a second
	"BULK_PAGE_SIZE":       {"0", "1001"},
	"BULK_PROCORE_RESERVE": {"1"},
	"STATE_MAX_BYTES":      {"1000"},
	"MAX_CONCURRENCY":      {"0"},
	"CACHE_TTL":            {"0s"},
	"SHUTDOWN_DELAY":       {"-1s"},
}

// TestEveryMalformedSettingStopsTheStart: for every declared setting, each
// malformed value, through the environment and through the flag, makes
// run (the real start path) return before anything starts, with an error
// naming the setting; a secret's value is never repeated.
func TestEveryMalformedSettingStopsTheStart(t *testing.T) {
	r, _ := registryWithDefaults(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a start that went on would fail at its first Procore call, without naming the setting
	for _, s := range r.Settings() {
		bad := append(slices.Clone(malformedByKind[s.Kind]), malformedByName[s.Env]...)
		if s.Kind == settings.KindCustom || s.Kind == settings.KindString || s.Kind == settings.KindList {
			bad = malformedByName[s.Env]
		}
		if len(bad) == 0 {
			if !slices.Contains(freeText, s.Env) {
				t.Errorf("%s (%s): no malformed value is tested; add one to malformedByName or list it in freeText", s.Env, s.Kind)
			}
			continue
		}
		for _, v := range bad {
			for _, via := range []string{"environment", "flag"} {
				t.Run(s.Env+"/"+via+"/"+v, func(t *testing.T) {
					env := map[string]string{}
					var args []string
					if via == "environment" {
						env[s.Env] = v
					} else {
						args = []string{"-" + s.Flag + "=" + v}
					}
					var stdout, stderr bytes.Buffer
					err := run(ctx, args, func(k string) string { return env[k] }, &stdout, &stderr)
					if err == nil {
						t.Fatalf("%s=%q: the gateway started", s.Env, v)
					}
					msg := err.Error()
					if !strings.HasPrefix(msg, "configuration: ") || !strings.Contains(msg, s.Env) {
						t.Fatalf("%s=%q via %s: %q, want a configuration error naming %s", s.Env, v, via, msg, s.Env)
					}
					if via == "flag" && s.Kind != settings.KindSwitch && !strings.Contains(msg, "-"+s.Flag) {
						t.Fatalf("%q does not name the flag -%s", msg, s.Flag)
					}
					if s.Secret && strings.Contains(msg, v) {
						t.Fatalf("the error repeats the secret value: %q", msg)
					}
					if stdout.Len() != 0 {
						t.Fatalf("something started before the error: %q", stdout.String())
					}
				})
			}
		}
	}
}

// TestSettingNamesAndFlagsOfOldKeepWorking: the names the README and the
// tests used before the registry still work, the flags without an
// environment name now have one, and POLL_INTERVAL=5 (read as zero before)
// stops the start.
func TestSettingNamesAndFlagsOfOldKeepWorking(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		args  []string
		check func(c config) bool
	}{
		{name: "NoResponseCacheFlag", args: []string{"-no-response-cache"}, check: func(c config) bool { return c.NoResponseCache }},
		{name: "ResponseCacheOff", env: map[string]string{"RESPONSE_CACHE": "off"}, check: func(c config) bool { return c.NoResponseCache }},
		{name: "NoCacheFlag", args: []string{"-no-cache"}, check: func(c config) bool { return c.NoCache && !c.NoResponseCache }},
		{name: "CacheOffVariable", env: map[string]string{"CACHE": "off"}, check: func(c config) bool { return c.NoCache }},
		{name: "NaiveFlagAndVariable", env: map[string]string{"NAIVE": "true"}, check: func(c config) bool { return c.Naive }},
		{name: "APQOffIntrospectionOffGraphiQLOff", env: map[string]string{"APQ": "off", "INTROSPECTION": "off", "GRAPHIQL": "off"},
			check: func(c config) bool { return c.NoAPQ && c.NoIntrospection && c.NoGraphiQL }},
		{name: "RegisterWebhooksFlagAlone", args: []string{"-register-webhooks"}, check: func(c config) bool { return c.RegisterWebhooks }},
		{name: "RegisterWebhooksAcceptsParseBoolForms", env: map[string]string{"REGISTER_WEBHOOKS": "1"}, check: func(c config) bool { return c.RegisterWebhooks }},
		{name: "MaxConcurrencyVariable", env: map[string]string{"MAX_CONCURRENCY": "5"}, check: func(c config) bool { return c.MaxConcurrency == 5 }},
		{name: "MaxConcurrencyFlagOverridesVariable", env: map[string]string{"MAX_CONCURRENCY": "5"}, args: []string{"-max-concurrency", "7"},
			check: func(c config) bool { return c.MaxConcurrency == 7 }},
		{name: "CacheTTLVariable", env: map[string]string{"CACHE_TTL": "2m"}, check: func(c config) bool { return c.CacheTTL == 2*time.Minute }},
		{name: "SandboxLatencyVariable", env: map[string]string{"SANDBOX_LATENCY": "15ms"}, check: func(c config) bool { return c.SandboxLatency == 15*time.Millisecond }},
		{name: "PollIntervalWithUnit", env: map[string]string{"POLL_INTERVAL": "5s"}, check: func(c config) bool { return c.PollInterval == 5*time.Second }},
		{name: "ByteSettingsTakePlainNumbers", env: map[string]string{"STATE_MAX_BYTES": "65536", "MAX_BODY_BYTES": "1048576"},
			check: func(c config) bool { return c.StateMaxBytes == 65536 && c.MaxBodyBytes == 1<<20 }},
		{name: "LogFormatJSON", env: map[string]string{"LOG_FORMAT": "json"}, check: func(c config) bool { return c.LogFormat == "json" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("%v %v: not applied: %+v", tc.env, tc.args, c)
			}
		})
	}
	_, err := parseConfig(nil, func(k string) string { return map[string]string{"POLL_INTERVAL": "5"}[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "POLL_INTERVAL: want a duration with a unit") {
		t.Fatalf("POLL_INTERVAL=5: %v, want the start stopped for want of a unit", err)
	}
}

// TestYAMLFileSetsStructuredSettingsAndTheEnvironmentOverridesIt: a
// CONFIG_FILE gives lists, mappings and per-key rate-limit overrides; a
// variable set in the environment wins over the file, a flag over both.
func TestYAMLFileSetsStructuredSettingsAndTheEnvironmentOverridesIt(t *testing.T) {
	dir := t.TempDir()
	secret, minted, err := apikeys.Mint("bi-sync", []principal.Scope{principal.ScopeRead}, nil, apikeys.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	hash := strings.Split(minted.Entry(), ":")[3]
	path := filepath.Join(dir, "procoregraph.yaml")
	writeFile(t, path, `
poll_interval: 30s
rate_limit_rpm: 100
rate_limit_cpm: 900
cache_ttls:
  rfis: 30s
  projects: 10m
allowed_hosts: [gateway.example.com, "*.internal.example.com"]
persisted_operations: /etc/procoregraph/manifest.json
only_persisted: true
api_keys:
  - name: bi-sync
    scopes: [read, subscribe]
    sha256: `+hash+`
    rpm: 30
    cpm: 5000
    cost: 200
    subs: 5000
  - "field-app:read,write:562949953421312:`+strings.Repeat("cd", 32)+`"
`)
	env := map[string]string{"CONFIG_FILE": path, "RATE_LIMIT_RPM": "250"}
	c, err := parseConfig([]string{"-rate-limit-cpm", "1200"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.PollInterval != 30*time.Second || c.CacheTTLs["rfis"] != 30*time.Second || c.CacheTTLs["projects"] != 10*time.Minute {
		t.Fatalf("file values not applied: poll %v, ttls %v", c.PollInterval, c.CacheTTLs)
	}
	if !slices.Equal(c.AllowedHosts, []string{"gateway.example.com", "*.internal.example.com"}) || !c.OnlyPersisted ||
		c.PersistedOperations != "/etc/procoregraph/manifest.json" {
		t.Fatalf("hosts %v, only persisted %v %q", c.AllowedHosts, c.OnlyPersisted, c.PersistedOperations)
	}
	if c.RateRPM != 250 {
		t.Fatalf("RATE_LIMIT_RPM: %d, want the environment's 250 over the file's 100", c.RateRPM)
	}
	if c.RateCPM != 1200 {
		t.Fatalf("RATE_LIMIT_CPM: %d, want the flag's 1200 over the file's 900", c.RateCPM)
	}
	if c.APIKeys.Len() != 2 {
		t.Fatalf("%d API keys, want 2", c.APIKeys.Len())
	}
	k, ok := c.APIKeys.Lookup(secret)
	if !ok || k.Limits.RequestsPerMinute != 30 || k.Limits.CallsPerMinute != 5000 || k.Limits.MaxCost != 200 || k.Limits.MaxSubscriptions != 5000 || len(k.Scopes) != 2 {
		t.Fatalf("bi-sync key: %+v %v", k, ok)
	}

	for _, tc := range []struct{ name, file, errHas string }{
		{"BareNumberDurationIsRefused", "poll_interval: 5\n", "POLL_INTERVAL: want a duration with a unit"},
		{"YAMLBooleanOutsideParseBoolIsRefused", "only_persisted: yes\n", "ONLY_PERSISTED: want true or false"},
		{"UnknownKeyIsRefused", "poll_intervall: 5s\n", `unknown setting "poll_intervall"`},
		{"ListWhereAValueBelongsIsRefused", "addr: [a, b]\n", "ADDR: want a single value"},
		{"UnknownKeyFieldIsRefused", "api_keys:\n  - name: x\n    rate: 3\n", `API_KEYS: item 1: unknown field "rate"`},
		{"NotAMappingIsRefused", "- a\n- b\n", "want a mapping of settings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".yaml")
			writeFile(t, p, tc.file)
			_, err := parseConfig(nil, func(k string) string { return map[string]string{"CONFIG_FILE": p}[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("err = %v, want one containing %q", err, tc.errHas)
			}
		})
	}
	// A malformed file value stops the start even when the environment
	// overrides it: it would come back the day the variable is removed.
	p := filepath.Join(dir, "shadowed.yaml")
	writeFile(t, p, "poll_interval: 5\n")
	if _, err := parseConfig(nil, func(k string) string { return map[string]string{"CONFIG_FILE": p, "POLL_INTERVAL": "5s"}[k] }, io.Discard); err == nil {
		t.Fatal("a malformed file value shadowed by the environment was accepted")
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestREADMEConfigurationTableListsEverySetting: README's configuration
// table has a row for every declared setting, with its variable and its
// flag, and names no variable that is not declared (GOGC is Go's own).
func TestREADMEConfigurationTableListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "## Configuration\n")
	end := strings.Index(readme[start+1:], "\n## ")
	if start < 0 || end < 0 {
		t.Fatal("README has no Configuration section")
	}
	section := readme[start : start+1+end]
	type row struct{ vars, flags string }
	var rows []row
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 || !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "|---") {
			continue
		}
		rows = append(rows, row{cells[1], cells[2]})
	}
	r, _ := registryWithDefaults(t)
	for _, s := range r.Settings() {
		if !slices.ContainsFunc(rows, func(rw row) bool {
			return strings.Contains(rw.vars, "`"+s.Env+"`") && strings.Contains(rw.flags, "`-"+s.Flag+"`")
		}) {
			t.Errorf("README's configuration table has no row with `%s` and `-%s`", s.Env, s.Flag)
		}
	}
	name := regexp.MustCompile("`([A-Z][A-Z0-9_]+)`")
	for _, rw := range rows {
		for _, m := range name.FindAllStringSubmatch(rw.vars, -1) {
			if _, ok := r.Lookup(m[1]); !ok && m[1] != "GOGC" {
				t.Errorf("README documents %s, which is not a declared setting", m[1])
			}
		}
	}
}
