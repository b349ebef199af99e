package main

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"strconv"

	"github.com/KimMachineGun/automemlimit/memlimit"

	"procoregraph/settings"
)

// Memory bounds (issue 14). Without a limit Go lets the heap grow to
// (1 + GOGC/100) times the live heap before it collects; with GOGC=400 that
// is 5x, so a spike of live data can push the process past its container's
// limit and get it killed. With a Go memory limit the collector runs harder
// as the heap nears the limit, whatever GOGC says, so the gateway keeps its
// latency-friendly GOGC=400 only when a limit is in force and uses Go's
// default of 100 otherwise.
const (
	// cgroupLimitRatio is the share of the container's memory limit given
	// to Go's heap, leaving room for goroutine stacks, cgo and the kernel's
	// page cache accounting.
	cgroupLimitRatio = 0.9
	// gcPercentWithLimit and gcPercentWithoutLimit are the GOGC defaults.
	gcPercentWithLimit    = 400
	gcPercentWithoutLimit = 100
)

// containerMemoryLimit is the container's cgroup (v1 or v2) memory limit,
// memlimit.ErrNoLimit when it has none.
func containerMemoryLimit() (uint64, error) { return memlimit.FromCgroup() }

// memorySettings is what applyMemorySettings chose.
type memorySettings struct {
	Limit     int64  // bytes; 0: no limit
	Source    string // MEMORY_LIMIT, GOMEMLIMIT, cgroup, or none
	GCPercent int    // GOGC in force; -1: collection off (GOGC=off)
	GCSource  string // GOGC, or default
}

// chooseMemoryLimit decides the Go memory limit. MEMORY_LIMIT (setting)
// wins: a size in GOMEMLIMIT's form (bytes, or a number with B, KiB, MiB,
// GiB or TiB) or "off" for none. Otherwise GOMEMLIMIT, which the Go runtime
// has applied already; otherwise cgroupLimitRatio of the container's cgroup
// memory limit as cgroup reports it (memlimit.ErrNoLimit: none). A cgroup
// that cannot be read is no limit, returned with the error to log.
func chooseMemoryLimit(setting, gomemlimit string, cgroup memlimit.Provider) (limit int64, source string, warn error) {
	switch {
	case setting == "off":
		return 0, "MEMORY_LIMIT", nil
	case setting != "":
		n, err := parseByteSize(setting)
		if err != nil { // parseConfig has refused it already
			return 0, "none", err
		}
		return n, "MEMORY_LIMIT", nil
	case gomemlimit != "" && gomemlimit != "off":
		n, err := parseByteSize(gomemlimit)
		if err != nil {
			return 0, "none", fmt.Errorf("GOMEMLIMIT: %w", err)
		}
		return n, "GOMEMLIMIT", nil
	case gomemlimit == "off":
		return 0, "GOMEMLIMIT", nil
	}
	if cgroup == nil {
		return 0, "none", nil
	}
	n, err := cgroup()
	if errors.Is(err, memlimit.ErrNoLimit) {
		return 0, "none", nil
	}
	if err != nil {
		return 0, "none", fmt.Errorf("read the cgroup memory limit: %w", err)
	}
	return int64(min(float64(n)*cgroupLimitRatio, math.MaxInt64)), "cgroup", nil
}

// applyMemorySettings sets the process's Go memory limit and GC target as
// chooseMemoryLimit and the GOGC rule above decide, and logs the choice. It
// changes process-wide runtime settings: call it once, at start.
func applyMemorySettings(getenv func(string) string, cfg config, cgroup memlimit.Provider, logger *slog.Logger) memorySettings {
	limit, source, warn := chooseMemoryLimit(cfg.MemoryLimit, getenv("GOMEMLIMIT"), cgroup)
	if warn != nil {
		logger.Warn("memory: no Go memory limit", "err", warn)
	}
	s := memorySettings{Limit: limit, Source: source, GCSource: "GOGC"}
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	} else if source == "MEMORY_LIMIT" || source == "none" {
		debug.SetMemoryLimit(math.MaxInt64) // off (the runtime's default)
	}
	if v := getenv("GOGC"); v != "" {
		s.GCPercent = debug.SetGCPercent(-1) // read what the runtime applied
		debug.SetGCPercent(s.GCPercent)
	} else {
		s.GCPercent, s.GCSource = gcPercentWithoutLimit, "default"
		if limit > 0 {
			s.GCPercent = gcPercentWithLimit
		}
		debug.SetGCPercent(s.GCPercent)
	}
	attrs := []any{"source", source, "gogc", s.GCPercent, "gogc_source", s.GCSource}
	if limit > 0 {
		attrs = append([]any{"limit_bytes", limit, "limit", formatByteSize(limit)}, attrs...)
	} else {
		attrs = append([]any{"limit", "none"}, attrs...)
	}
	logger.Info("memory: Go memory limit", attrs...)
	return s
}

// parseByteSize parses a size as GOMEMLIMIT does: a whole number of bytes,
// optionally followed by B, KiB, MiB, GiB or TiB. It must be positive.
func parseByteSize(s string) (int64, error) { return settings.ParseByteSize(s) }

// formatByteSize renders n in the largest binary unit that divides it
// exactly enough to read (one decimal).
func formatByteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64) + "GiB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + "MiB"
	default:
		return strconv.FormatInt(n, 10) + "B"
	}
}
