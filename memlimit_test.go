package main

import (
	"errors"
	"math"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

func TestChooseMemoryLimit(t *testing.T) {
	cgroup := func(n uint64, err error) memlimit.Provider { return func() (uint64, error) { return n, err } }
	for _, tc := range []struct {
		name       string
		setting    string
		gomemlimit string
		cgroup     memlimit.Provider
		limit      int64
		source     string
		warn       bool
	}{
		{name: "NinetyPercentOfTheContainersCgroupLimit", cgroup: cgroup(1<<30, nil), limit: 966367641, source: "cgroup"},
		{name: "MemoryLimitOverridesTheCgroup", setting: "512MiB", cgroup: cgroup(1<<30, nil), limit: 512 << 20, source: "MEMORY_LIMIT"},
		{name: "MemoryLimitOverridesGOMEMLIMIT", setting: "2GiB", gomemlimit: "1GiB", limit: 2 << 30, source: "MEMORY_LIMIT"},
		{name: "MemoryLimitOffMeansNoLimitDespiteACgroup", setting: "off", cgroup: cgroup(1<<30, nil), limit: 0, source: "MEMORY_LIMIT"},
		{name: "GOMEMLIMITKeptWhenMemoryLimitIsUnset", gomemlimit: "300MiB", cgroup: cgroup(1<<30, nil), limit: 300 << 20, source: "GOMEMLIMIT"},
		{name: "NoLimitWithoutCgroupLimit", cgroup: cgroup(0, memlimit.ErrNoLimit), limit: 0, source: "none"},
		{name: "UnreadableCgroupIsNoLimitAndAWarning", cgroup: cgroup(0, errors.New("permission denied")), limit: 0, source: "none", warn: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			limit, source, warn := chooseMemoryLimit(tc.setting, tc.gomemlimit, tc.cgroup)
			if limit != tc.limit || source != tc.source || (warn != nil) != tc.warn {
				t.Fatalf("got %d from %s (warning %v), want %d from %s (warning %v)", limit, source, warn, tc.limit, tc.source, tc.warn)
			}
		})
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "512MiB": 512 << 20, "2GiB": 2 << 30, "64KiB": 64 << 10, "100B": 100, "1TiB": 1 << 40} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1MiB", "512MB", "1.5GiB", "lots", "9999999TiB"} {
		if got, err := parseByteSize(in); err == nil {
			t.Errorf("parseByteSize(%q) = %d, want an error", in, got)
		}
	}
}

// TestMemorySettingsAtStart starts the program and checks the limit and GC
// target it applied to the process and logged. It restores both after.
func TestMemorySettingsAtStart(t *testing.T) {
	prevLimit, prevGC := debug.SetMemoryLimit(-1), debug.SetGCPercent(-1)
	debug.SetGCPercent(prevGC)
	t.Cleanup(func() { debug.SetMemoryLimit(prevLimit); debug.SetGCPercent(prevGC) })
	for _, tc := range []struct {
		name  string
		env   map[string]string
		limit int64
		gogc  int
		log   string
	}{
		{name: "MemoryLimitSetKeepsGOGC400", env: map[string]string{"MEMORY_LIMIT": "768MiB"}, limit: 768 << 20, gogc: 400,
			log: "limit_bytes=805306368 limit=768.0MiB source=MEMORY_LIMIT gogc=400 gogc_source=default"},
		{name: "NoLimitUsesGOGC100", env: map[string]string{"MEMORY_LIMIT": "off"}, limit: math.MaxInt64, gogc: 100,
			log: "limit=none source=MEMORY_LIMIT gogc=100 gogc_source=default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startGateway(t, tc.env)
			if !strings.Contains(p.stderr.String(), `msg="memory: Go memory limit" `+tc.log) {
				t.Fatalf("start log lacks %q:\n%s", tc.log, p.stderr)
			}
			if got := debug.SetMemoryLimit(-1); got != tc.limit {
				t.Fatalf("Go memory limit %d, want %d", got, tc.limit)
			}
			gc := debug.SetGCPercent(-1)
			debug.SetGCPercent(gc)
			if gc != tc.gogc {
				t.Fatalf("GOGC %d, want %d", gc, tc.gogc)
			}
		})
	}
	t.Run("MalformedMemoryLimitStopsTheStart", func(t *testing.T) {
		_, err := parseConfig(nil, func(k string) string { return map[string]string{"MEMORY_LIMIT": "1GB"}[k] }, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), "MEMORY_LIMIT") {
			t.Fatalf("MEMORY_LIMIT=1GB: %v, want an error naming MEMORY_LIMIT", err)
		}
	})
}
