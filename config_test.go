package main

import (
	"strings"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

func TestParseKindTTLs(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     map[string]time.Duration
		errHas   string
	}{
		{name: "EmptyMeansDefaults", in: "", want: map[string]time.Duration{}},
		{name: "KindsGetTheirDurations", in: "projects=10m, rfis=30s,submittal_statuses=1h",
			want: map[string]time.Duration{"projects": 10 * time.Minute, "rfis": 30 * time.Second, "submittal_statuses": time.Hour}},
		{name: "UnknownKindIsRefusedWithTheList", in: "rfi_list=30s", errHas: `unknown kind "rfi_list"; the kinds are`},
		{name: "MissingDurationIsRefused", in: "rfis", errHas: "want kind=duration"},
		{name: "ZeroDurationIsRefused", in: "rfis=0s", errHas: "positive duration"},
		{name: "GarbageDurationIsRefused", in: "rfis=soon", errHas: "positive duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseKindTTLs(tc.in)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want one containing %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestPerKindTTLTakesEffect: with CACHE_TTLS=rfis=50ms, a dashboard a moment
// later refreshes the RFI lists (in the background, serving the stale ones)
// and nothing else.
func TestPerKindTTLTakesEffect(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 3},
		HourlyLimit: -1, SpikeLimit: -1})
	env = copyEnv(env)
	env["CACHE_TTLS"] = "rfis=50ms"
	g := startGateway(t, env)
	q := readQuery(t, "bench/queries/dashboard.graphql")
	decodeDashboard(t, g.query(t, q, nil))
	time.Sleep(100 * time.Millisecond)
	sb.ResetStats()
	decodeDashboard(t, g.query(t, q, nil))
	deadline := time.Now().Add(5 * time.Second)
	for {
		rfis, other := int64(0), int64(0)
		for route, n := range sb.Stats().ByRoute {
			if strings.Contains(route, "/rfis") {
				rfis += n
			} else {
				other += n
			}
		}
		if other != 0 {
			t.Fatalf("refetched %d non-RFI lists; only the RFIs' TTL had passed (%v)", other, sb.Stats().ByRoute)
		}
		if rfis == 2 { // one list per project
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("RFI lists refreshed %d times, want 2 (one per project): %v", rfis, sb.Stats().ByRoute)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
