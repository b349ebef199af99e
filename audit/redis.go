package audit

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// StreamOptions configure a StreamSink. Zero values mean the defaults.
type StreamOptions struct {
	// Key is the stream's key. Default "procoregraph:audit" (after Prefix).
	Key string
	// Prefix namespaces the key (CACHE_PREFIX).
	Prefix string
	// MaxLen caps the stream (approximately, XADD MAXLEN ~). Default 100,000.
	MaxLen int64
	// Timeout bounds one XADD. Default 1 s.
	Timeout time.Duration
	// Logger receives write failures (a failed XADD is logged, never fatal:
	// the JSON log keeps the record). Default slog.Default().
	Logger *slog.Logger
}

// StreamSink appends records to a capped Redis Stream, one entry per record
// with the JSON under the field "record".
type StreamSink struct {
	rdb redis.UniversalClient
	o   StreamOptions
}

// NewStreamSink returns a sink writing to rdb.
func NewStreamSink(rdb redis.UniversalClient, o StreamOptions) *StreamSink {
	if o.Key == "" {
		o.Key = "procoregraph:audit"
	}
	o.Key = o.Prefix + o.Key
	if o.MaxLen <= 0 {
		o.MaxLen = 100_000
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &StreamSink{rdb: rdb, o: o}
}

// Key is the stream's key.
func (s *StreamSink) Key() string { return s.o.Key }

// Write implements Sink.
func (s *StreamSink) Write(ctx context.Context, r Record) {
	b, err := json.Marshal(r)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.Timeout)
	defer cancel()
	err = s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.o.Key, MaxLen: s.o.MaxLen, Approx: true,
		Values: []any{"record", string(b)}}).Err()
	if err != nil {
		s.o.Logger.WarnContext(ctx, "audit: cannot append to the Redis stream; the record is in the JSON log", "event", r.Event, "err", err)
	}
}
