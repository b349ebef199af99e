package reqstats

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// UpstreamMetrics exports every Procore call as
// procoregraph_upstream_requests_total{method,route,status} and
// procoregraph_upstream_request_duration_seconds{method,route}. Route is a
// template without ids ("GET /rest/v1.0/projects/{id}/rfis"), so cardinality
// stays bounded.
//
// procoregraph_procore_rate_limit_remaining is X-Rate-Limit-Remaining of
// the latest answer to the service connection (ObserveRateLimit).
type UpstreamMetrics struct {
	calls     *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	remaining prometheus.Gauge
}

// NewUpstreamMetrics registers the metrics on reg (nil: not registered).
func NewUpstreamMetrics(reg prometheus.Registerer) *UpstreamMetrics {
	m := &UpstreamMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "procoregraph_upstream_requests_total",
			Help: "Procore API calls, by method, route template and HTTP status (0 = transport error).",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "procoregraph_upstream_request_duration_seconds",
			Help:    "Procore API call latency.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"method", "route"}),
		remaining: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "procoregraph_procore_rate_limit_remaining",
			Help: "X-Rate-Limit-Remaining of Procore's latest answer to the service connection (calls left in the closer window).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.calls, m.duration, m.remaining)
	}
	return m
}

// Observe records one call; it matches rest.Config.OnUpstreamCall.
func (m *UpstreamMetrics) Observe(method, route string, status int, d time.Duration) {
	m.calls.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

// ObserveRateLimit records Procore's remaining calls; it matches
// rest.Config.OnRateLimit.
func (m *UpstreamMetrics) ObserveRateLimit(remaining int) {
	m.remaining.Set(float64(remaining))
}
