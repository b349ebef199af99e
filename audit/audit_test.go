package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"procoregraph/audit"
	"procoregraph/principal"
	"procoregraph/reqid"
)

func sampleRecord() audit.Record {
	return audit.Record{
		Event:          audit.EventMutation,
		Principal:      principal.Principal{Kind: principal.KindAPIKey, Name: "bi-sync"}.Ref(),
		Operation:      "createRFI",
		OperationName:  "CreateOne",
		Inputs:         map[string]string{"projectId": "42"},
		IdempotencyKey: "idem-1",
		Written:        []audit.Written{{Kind: "rfi", ID: "7"}},
		Outcome:        audit.OutcomeOK,
		Remote:         "10.0.0.1",
	}
}

func TestLoggerRecord(t *testing.T) {
	t.Run("TimeAndRequestIDAreFilledIn", func(t *testing.T) {
		var m audit.Memory
		ctx := reqid.With(context.Background(), "req-abcdef12")
		before := time.Now()
		audit.New(&m).Record(ctx, sampleRecord())
		after := time.Now()
		recs := m.Records()
		if len(recs) != 1 {
			t.Fatalf("%d records, want 1", len(recs))
		}
		r := recs[0]
		if r.RequestID != "req-abcdef12" {
			t.Errorf("RequestID = %q, want the context's", r.RequestID)
		}
		if r.Time.IsZero() || r.Time.Before(before.Add(-time.Second)) || r.Time.After(after.Add(time.Second)) {
			t.Errorf("Time = %v, want about now", r.Time)
		}
		if r.Time.Location() != time.UTC {
			t.Errorf("Time is in %v, want UTC", r.Time.Location())
		}
		want := sampleRecord()
		want.Time, want.RequestID = r.Time, r.RequestID
		if !reflect.DeepEqual(r, want) {
			t.Errorf("record %+v, want %+v", r, want)
		}
	})
	t.Run("GivenTimeAndRequestIDAreKept", func(t *testing.T) {
		var m audit.Memory
		at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
		rec := sampleRecord()
		rec.Time, rec.RequestID = at, "given-id-123"
		audit.New(&m).Record(reqid.With(context.Background(), "ctx-id-12345"), rec)
		got := m.Records()[0]
		if !got.Time.Equal(at) || got.RequestID != "given-id-123" {
			t.Fatalf("Time %v RequestID %q, want the given ones", got.Time, got.RequestID)
		}
	})
	t.Run("NoRequestIDInContextLeavesItEmpty", func(t *testing.T) {
		var m audit.Memory
		audit.New(&m).Record(context.Background(), sampleRecord())
		if got := m.Records()[0].RequestID; got != "" {
			t.Fatalf("RequestID = %q", got)
		}
	})
	t.Run("EverySinkGetsTheRecord", func(t *testing.T) {
		var a, b audit.Memory
		audit.New(&a, &b).Record(context.Background(), sampleRecord())
		if len(a.Records()) != 1 || len(b.Records()) != 1 {
			t.Fatalf("sinks got %d and %d records", len(a.Records()), len(b.Records()))
		}
		if !a.Records()[0].Time.Equal(b.Records()[0].Time) {
			t.Fatal("the sinks got different times")
		}
	})
	t.Run("NilLoggerDiscards", func(t *testing.T) {
		var l *audit.Logger
		l.Record(context.Background(), sampleRecord())
	})
	t.Run("LoggerWithoutSinksDiscards", func(t *testing.T) {
		audit.New().Record(context.Background(), sampleRecord())
	})
}

func TestJSONSink(t *testing.T) {
	var buf bytes.Buffer
	l := audit.New(audit.NewJSONSink(&buf))
	rec := sampleRecord()
	rec.RequestID = "req-12345678"
	l.Record(context.Background(), rec)

	out := buf.String()
	t.Run("WritesOneLine", func(t *testing.T) {
		if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
			t.Fatalf("output %q, want one line", out)
		}
	})
	var line struct {
		Time  string          `json:"time"`
		Level string          `json:"level"`
		Msg   string          `json:"msg"`
		Audit json.RawMessage `json:"audit"`
	}
	if err := json.Unmarshal([]byte(out), &line); err != nil {
		t.Fatalf("output %q is not JSON: %v", out, err)
	}
	t.Run("MessageIsAudit", func(t *testing.T) {
		if line.Msg != "audit" || line.Level != "INFO" || line.Time == "" {
			t.Fatalf("msg %q level %q time %q", line.Msg, line.Level, line.Time)
		}
	})
	t.Run("AuditIsTheRecordAsAnObject", func(t *testing.T) {
		if !strings.HasPrefix(strings.TrimSpace(string(line.Audit)), "{") {
			t.Fatalf("audit is %s, want an object", line.Audit)
		}
		var got audit.Record
		if err := json.Unmarshal(line.Audit, &got); err != nil {
			t.Fatal(err)
		}
		want := rec
		want.Time = got.Time
		if !reflect.DeepEqual(got, want) || got.Time.IsZero() {
			t.Fatalf("audit %+v, want %+v", got, want)
		}
	})
	t.Run("UsesTheDocumentedFieldNames", func(t *testing.T) {
		var fields map[string]any
		if err := json.Unmarshal(line.Audit, &fields); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"time", "requestId", "event", "principal", "operation", "operationName", "inputIds", "idempotencyKey", "written", "outcome", "remote"} {
			if _, ok := fields[k]; !ok {
				t.Errorf("field %q missing from %s", k, line.Audit)
			}
		}
		p, _ := fields["principal"].(map[string]any)
		if p["kind"] != "api_key" || p["name"] != "bi-sync" {
			t.Errorf("principal %v", fields["principal"])
		}
	})
	t.Run("ConcurrentWritesStayWholeLines", func(t *testing.T) {
		var buf syncBuffer
		l := audit.New(audit.NewJSONSink(&buf))
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := sampleRecord()
				r.Operation = fmt.Sprint("op", i)
				l.Record(context.Background(), r)
			}()
		}
		wg.Wait()
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		if len(lines) != 20 {
			t.Fatalf("%d lines, want 20", len(lines))
		}
		for _, ln := range lines {
			if !json.Valid([]byte(ln)) {
				t.Fatalf("line %q is not JSON", ln)
			}
		}
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestMemory(t *testing.T) {
	t.Run("EmptyHoldsNothing", func(t *testing.T) {
		var m audit.Memory
		if len(m.Records()) != 0 {
			t.Fatal("a new Memory holds records")
		}
	})
	t.Run("KeepsRecordsInOrder", func(t *testing.T) {
		var m audit.Memory
		for i := range 3 {
			m.Write(context.Background(), audit.Record{Operation: fmt.Sprint(i)})
		}
		recs := m.Records()
		if len(recs) != 3 || recs[0].Operation != "0" || recs[2].Operation != "2" {
			t.Fatalf("records %+v", recs)
		}
	})
	t.Run("ZeroValueKeepsTheLast1000", func(t *testing.T) {
		var m audit.Memory
		for i := range 1005 {
			m.Write(context.Background(), audit.Record{Operation: fmt.Sprint(i)})
		}
		recs := m.Records()
		if len(recs) != 1000 {
			t.Fatalf("%d records, want 1000", len(recs))
		}
		if recs[0].Operation != "5" || recs[999].Operation != "1004" {
			t.Fatalf("kept %q..%q, want 5..1004", recs[0].Operation, recs[999].Operation)
		}
	})
	t.Run("RecordsIsACopy", func(t *testing.T) {
		var m audit.Memory
		m.Write(context.Background(), audit.Record{Operation: "a"})
		m.Records()[0].Operation = "changed"
		if m.Records()[0].Operation != "a" {
			t.Fatal("changing Records() changed the kept record")
		}
	})
	t.Run("ConcurrentWritesAreAllKept", func(t *testing.T) {
		var m audit.Memory
		var wg sync.WaitGroup
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m.Write(context.Background(), audit.Record{})
			}()
		}
		wg.Wait()
		if len(m.Records()) != 50 {
			t.Fatalf("%d records, want 50", len(m.Records()))
		}
	})
}

func TestCollect(t *testing.T) {
	t.Run("WrittenObjectsAreCollectedInOrder", func(t *testing.T) {
		ctx, written := audit.Collect(context.Background())
		audit.Wrote(ctx, "rfi", "7")
		audit.Wrote(ctx, "upload", "u-1")
		want := []audit.Written{{Kind: "rfi", ID: "7"}, {Kind: "upload", ID: "u-1"}}
		if got := written(); !reflect.DeepEqual(got, want) {
			t.Fatalf("written = %+v, want %+v", got, want)
		}
	})
	t.Run("NothingWrittenIsEmpty", func(t *testing.T) {
		_, written := audit.Collect(context.Background())
		if got := written(); len(got) != 0 {
			t.Fatalf("written = %+v", got)
		}
	})
	t.Run("WroteWithoutCollectorDoesNothing", func(t *testing.T) {
		audit.Wrote(context.Background(), "rfi", "7")
	})
	t.Run("CollectorsAreSeparate", func(t *testing.T) {
		ctx1, w1 := audit.Collect(context.Background())
		ctx2, w2 := audit.Collect(context.Background())
		audit.Wrote(ctx1, "rfi", "1")
		audit.Wrote(ctx2, "rfi", "2")
		if g1, g2 := w1(), w2(); len(g1) != 1 || g1[0].ID != "1" || len(g2) != 1 || g2[0].ID != "2" {
			t.Fatalf("collectors mixed: %+v, %+v", g1, g2)
		}
	})
	t.Run("ResultIsACopy", func(t *testing.T) {
		ctx, written := audit.Collect(context.Background())
		audit.Wrote(ctx, "rfi", "1")
		written()[0].ID = "changed"
		if written()[0].ID != "1" {
			t.Fatal("changing the result changed the collector")
		}
	})
	t.Run("ConcurrentWritesAreAllCollected", func(t *testing.T) {
		ctx, written := audit.Collect(context.Background())
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				audit.Wrote(ctx, "rfi", fmt.Sprint(i+1))
			}()
		}
		wg.Wait()
		if n := len(written()); n != 30 {
			t.Fatalf("%d collected, want 30", n)
		}
	})
}

func TestRemote(t *testing.T) {
	t.Run("MissingRemoteIsEmpty", func(t *testing.T) {
		if got := audit.RemoteFrom(context.Background()); got != "" {
			t.Fatalf("RemoteFrom = %q", got)
		}
	})
	t.Run("StoredRemoteIsReturned", func(t *testing.T) {
		if got := audit.RemoteFrom(audit.WithRemote(context.Background(), "10.0.0.1")); got != "10.0.0.1" {
			t.Fatalf("RemoteFrom = %q", got)
		}
	})
}
