package audit_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"procoregraph/audit"
	"procoregraph/cache/cachetest"
	"procoregraph/reqid"
)

func TestStreamSink(t *testing.T) {
	cachetest.URL(t)
	rdb := cachetest.Client(t)
	prefix := cachetest.Prefix(t, rdb, "audit")
	sink := audit.NewStreamSink(rdb, audit.StreamOptions{Prefix: prefix, Timeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(func() { _ = rdb.Del(context.Background(), sink.Key()).Err() })

	t.Run("KeyIsPrefixedDefault", func(t *testing.T) {
		if want := prefix + "procoregraph:audit"; sink.Key() != want {
			t.Fatalf("Key() = %q, want %q", sink.Key(), want)
		}
	})

	ctx := reqid.With(context.Background(), "req-stream-01")
	first := sampleRecord()
	second := sampleRecord()
	second.Event, second.Operation, second.Outcome, second.Code = audit.EventCredentialRefused, "", audit.OutcomeRefused, "UNAUTHENTICATED"
	second.Credential, second.Written, second.Inputs = "api_key", nil, nil
	l := audit.New(sink)
	l.Record(ctx, first)
	l.Record(ctx, second)

	entries, err := rdb.XRange(context.Background(), sink.Key(), "-", "+").Result()
	if err != nil {
		t.Fatalf("XRANGE: %v", err)
	}
	t.Run("OneEntryPerRecordInOrder", func(t *testing.T) {
		if len(entries) != 2 {
			t.Fatalf("%d entries, want 2", len(entries))
		}
	})
	for i, want := range []audit.Record{first, second} {
		if i >= len(entries) {
			break
		}
		t.Run("EntryHoldsTheRecordJSON/"+want.Event, func(t *testing.T) {
			e := entries[i]
			raw, ok := e.Values["record"].(string)
			if !ok || len(e.Values) != 1 {
				t.Fatalf("entry values %v, want one field \"record\"", e.Values)
			}
			var got audit.Record
			if err := json.Unmarshal([]byte(raw), &got); err != nil {
				t.Fatalf("record %q: %v", raw, err)
			}
			if got.Time.IsZero() || got.RequestID != "req-stream-01" {
				t.Fatalf("Time %v RequestID %q, want both filled in", got.Time, got.RequestID)
			}
			want.Time, want.RequestID = got.Time, got.RequestID
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("record %+v, want %+v", got, want)
			}
		})
	}

	t.Run("CustomKeyIsUsed", func(t *testing.T) {
		s := audit.NewStreamSink(rdb, audit.StreamOptions{Prefix: prefix, Key: "custom", Timeout: 5 * time.Second})
		t.Cleanup(func() { _ = rdb.Del(context.Background(), s.Key()).Err() })
		if s.Key() != prefix+"custom" {
			t.Fatalf("Key() = %q", s.Key())
		}
		s.Write(context.Background(), sampleRecord())
		if n, err := rdb.XLen(context.Background(), s.Key()).Result(); err != nil || n != 1 {
			t.Fatalf("XLEN = %d, %v; want 1", n, err)
		}
	})
	t.Run("CancelledRequestStillWrites", func(t *testing.T) {
		s := audit.NewStreamSink(rdb, audit.StreamOptions{Prefix: prefix, Key: "cancelled", Timeout: 5 * time.Second})
		t.Cleanup(func() { _ = rdb.Del(context.Background(), s.Key()).Err() })
		cctx, cancel := context.WithCancel(context.Background())
		cancel()
		s.Write(cctx, sampleRecord())
		if n, err := rdb.XLen(context.Background(), s.Key()).Result(); err != nil || n != 1 {
			t.Fatalf("XLEN = %d, %v; want 1 (a cancelled request's record is still kept)", n, err)
		}
	})
}
