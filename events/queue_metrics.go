package events

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// QueueCollector exports a WebhookQueue to Prometheus:
//
//	procoregraph_webhook_queue_depth: deliveries accepted and not yet
//	  processed or dead-lettered (the whole queue, all replicas, for
//	  RedisQueue; -1 when it cannot be read within a second);
//	procoregraph_webhook_deliveries_total{outcome}: this process's counts of
//	  accepted, duplicate, full, processed, retried, dead_lettered and
//	  recovered deliveries.
//
// Alert on a depth that keeps growing or on dead_lettered.
type QueueCollector struct {
	q          WebhookQueue
	depth      *prometheus.Desc
	deliveries *prometheus.Desc
}

// NewQueueCollector returns a collector of q; register it once.
func NewQueueCollector(q WebhookQueue) *QueueCollector {
	return &QueueCollector{q: q,
		depth: prometheus.NewDesc("procoregraph_webhook_queue_depth",
			"Webhook deliveries accepted and not yet processed or dead-lettered (-1: unknown).", nil, nil),
		deliveries: prometheus.NewDesc("procoregraph_webhook_deliveries_total",
			"Webhook deliveries by outcome in this process.", []string{"outcome"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.deliveries
}

// Collect implements prometheus.Collector.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	d, err := c.q.Depth(ctx)
	cancel()
	if err != nil {
		d = -1
	}
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(d))
	s := c.q.Stats()
	for _, o := range []struct {
		name string
		n    int64
	}{{"accepted", s.Accepted}, {"duplicate", s.Duplicates}, {"full", s.Full}, {"processed", s.Processed},
		{"retried", s.Retries}, {"dead_lettered", s.DeadLettered}, {"recovered", s.Recovered}} {
		ch <- prometheus.MustNewConstMetric(c.deliveries, prometheus.CounterValue, float64(o.n), o.name)
	}
}
