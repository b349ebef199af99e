package main

import (
	"io"
	"strings"
	"testing"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// parseEnv runs parseConfig over env alone.
func parseEnv(env map[string]string) (config, error) {
	return parseConfig(nil, func(k string) string { return env[k] }, io.Discard)
}

// Procore's token endpoint is on its login host: without PROCORE_LOGIN_URL
// the gateway derives it from PROCORE_API_URL.
func TestLoginURLIsDerivedFromTheAPIURL(t *testing.T) {
	for api, want := range map[string]string{
		"https://api.procore.com":         "https://login.procore.com",
		"https://sandbox.procore.com":     "https://login-sandbox.procore.com",
		"https://api-monthly.procore.com": "https://login-sandbox-monthly.procore.com",
		"https://api.procoregov.com":      "https://login.procoregov.com",
		"http://127.0.0.1:9999":           "http://127.0.0.1:9999",
		"https://procore-proxy.internal":  "https://procore-proxy.internal",
	} {
		cfg, err := parseEnv(map[string]string{"PROCORE_API_URL": api, "PROCORE_CLIENT_ID": "id", "PROCORE_CLIENT_SECRET": "secret"})
		if err != nil {
			t.Fatalf("%s: %v", api, err)
		}
		if cfg.LoginURL != want {
			t.Errorf("PROCORE_API_URL=%s: login URL %q, want %q", api, cfg.LoginURL, want)
		}
	}
	cfg, err := parseEnv(map[string]string{"PROCORE_API_URL": "https://api.procore.com", "PROCORE_LOGIN_URL": "https://login.example",
		"PROCORE_CLIENT_ID": "id", "PROCORE_CLIENT_SECRET": "secret"})
	if err != nil || cfg.LoginURL != "https://login.example" {
		t.Fatalf("an explicit PROCORE_LOGIN_URL: %q %v", cfg.LoginURL, err)
	}
}

// The outbox of SMS/email login codes exists only in the sandbox.
func TestOutboxCodeProviderIsRefusedWithARealProcore(t *testing.T) {
	base := map[string]string{"PROCORE_CLIENT_ID": "id", "PROCORE_CLIENT_SECRET": "secret", "PORTAL_CODE_PROVIDER": "outbox"}
	for _, env := range []map[string]string{
		{"PROCORE_API_URL": "https://api.procore.com"},
		{"PROCORE_API_URL": "https://sandbox.procore.com"},
		{"PROCORE_API_URL": "https://api.procoregov.com"},
		{"PROCORE_API_URL": "http://127.0.0.1:9999", "PROCORE_LOGIN_URL": "https://login.procore.com"},
	} {
		for k, v := range base {
			env[k] = v
		}
		_, err := parseEnv(env)
		if err == nil || !strings.Contains(err.Error(), "PORTAL_CODE_PROVIDER") {
			t.Errorf("%v: %v, want an error naming PORTAL_CODE_PROVIDER", env, err)
		}
	}
	// A sandbox of one's own (a loopback URL) has the outbox.
	env := map[string]string{"PROCORE_API_URL": "http://127.0.0.1:9999"}
	for k, v := range base {
		env[k] = v
	}
	if _, err := parseEnv(env); err != nil {
		t.Fatalf("outbox with a sandbox URL: %v", err)
	}
}

// With PROCORE_API_URL set and PROCORE_LOGIN_URL not, the gateway starts
// (it failed with "sessions: Manager, LoginURL and NewClient are required")
// and serves a query, its token fetched from the derived login URL (here the
// sandbox's own URL).
func TestGatewayStartsWithoutALoginURL(t *testing.T) {
	_, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 1},
		HourlyLimit: -1, SpikeLimit: -1})
	env = copyEnv(env)
	delete(env, "PROCORE_LOGIN_URL")
	g := startGateway(t, env)
	r := g.query(t, `{ viewer { id } }`, nil)
	if len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"viewer"`) {
		t.Fatalf("errors %+v, data %s", r.Errors, r.Data)
	}
}
