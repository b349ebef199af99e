package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"procoregraph/adapter/rest"
	"procoregraph/cache"
	"procoregraph/events"
	"procoregraph/gateway"
	"procoregraph/telemetry"
)

// observability is the process's logger and tracer provider:
//
//	LOG_FORMAT   text (default) | json (declared with the other settings):
//	             slog records, each with request_id, trace_id, span_id and
//	             principal when its context has them
//	OTEL_*       the standard OpenTelemetry variables (telemetry.Setup);
//	             tracing is off when they are unset
//
// An OTEL_* value that cannot be honoured stops the start.
type observability struct {
	logger  *slog.Logger
	tracing *telemetry.Tracing
}

// newObservability builds the logger (writing to stderr in cfg.LogFormat)
// and the tracer provider from the OTEL_* variables.
func newObservability(cfg config, getenv func(string) string, stderr io.Writer) (*observability, error) {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	var h slog.Handler
	switch cfg.LogFormat {
	case "", "text":
		h = slog.NewTextHandler(stderr, opts)
	case "json":
		h = slog.NewJSONHandler(stderr, opts)
	default: // the settings refuse any other value
		return nil, fmt.Errorf("LOG_FORMAT %q: want text or json", cfg.LogFormat)
	}
	tr, err := telemetry.Setup(getenv, telemetry.Options{ServiceName: "procoregraph"})
	if err != nil {
		return nil, err
	}
	return &observability{logger: slog.New(telemetry.NewLogHandler(h)), tracing: tr}, nil
}

// shutdown flushes the spans not yet exported (within 5 s).
func (t *observability) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.tracing.Shutdown(ctx); err != nil {
		t.logger.Warn("tracing: spans not flushed at shutdown", "err", err)
	}
}

// readiness returns /readyz's checks besides draining: each configured
// Redis (REDIS_URL, and STATE_REDIS_URL when it differs) answers PING, and
// the service connection holds a Procore access token (renewing it if it
// expired). The returned func closes the probes' Redis clients.
func readiness(cfg config, procore *rest.Client) ([]gateway.ReadinessCheck, func(), error) {
	var checks []gateway.ReadinessCheck
	var clients []redis.UniversalClient
	closeAll := func() {
		for _, c := range clients {
			_ = c.Close()
		}
	}
	for _, r := range []struct{ name, url string }{{"redis", cfg.RedisURL}, {"state_redis", stateRedisURL(cfg)}} {
		if r.url == "" || r.name == "state_redis" && r.url == cfg.RedisURL {
			continue
		}
		rdb, err := cache.ParseRedisURL(r.url)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		clients = append(clients, rdb)
		checks = append(checks, gateway.ReadinessCheck{Name: r.name, Check: func(ctx context.Context) error {
			if err := rdb.Ping(ctx).Err(); err != nil {
				return fmt.Errorf("Redis does not answer: %v", err)
			}
			return nil
		}})
	}
	checks = append(checks, gateway.ReadinessCheck{Name: "procore_token", Check: func(ctx context.Context) error {
		if err := procore.TokenReady(ctx); err != nil {
			return fmt.Errorf("no Procore access token: %v", err)
		}
		return nil
	}})
	return checks, closeAll, nil
}

// eventLag returns events.Live.Delivered: the lag from an event's change
// (Event.At) to its delivery to a subscriber, as
// procoregraph_event_lag_seconds. Nil reg: nil (not measured).
func eventLag(reg prometheus.Registerer) func(events.Event) {
	if reg == nil {
		return nil
	}
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "procoregraph_event_lag_seconds",
		Help:    "Time from a change (the resource's updated_at, else when it was seen) to its event's delivery to a subscriber.",
		Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)})
	reg.MustRegister(h)
	return func(e events.Event) {
		if !e.At.IsZero() {
			h.Observe(max(0, time.Since(e.At).Seconds()))
		}
	}
}
