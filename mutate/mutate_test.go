package mutate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"procoregraph/adapter"
	"procoregraph/cache"
	"procoregraph/cache/cachetest"
	"procoregraph/events"
	"procoregraph/state"
	"procoregraph/tenant"
)

// fakeProcore records calls and answers the few adapter methods these tests
// use; any other method panics (nil embedded interface), which fails the
// test loudly if a mutation calls something unexpected.
type fakeProcore struct {
	adapter.Procore

	mu      sync.Mutex
	calls   map[string]int
	rfi     adapter.RFI
	users   []int64
	created atomic.Int64
	// createErr is returned by CreateRFI when set.
	createErr error
	// usersErr is returned by ProjectUsers when set.
	usersErr error
	// gate, when set, blocks CreateRFI until closed.
	gate chan struct{}
}

func newFake() *fakeProcore {
	return &fakeProcore{calls: map[string]int{}, users: []int64{11, 12, 13},
		rfi: adapter.RFI{ID: 500, ProjectID: 7, Subject: "Existing", Status: adapter.RFIStatusOpen,
			BallInCourt: []adapter.Person{{ID: 12, Name: "Assignee"}}, Assignees: []adapter.Person{{ID: 12}},
			UpdatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
}

func (f *fakeProcore) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

func (f *fakeProcore) called(name string) {
	f.mu.Lock()
	f.calls[name]++
	f.mu.Unlock()
}

func (f *fakeProcore) ProjectUsers(_ context.Context, _ int64, opt adapter.ListOptions) (adapter.Page[adapter.User], error) {
	f.called("ProjectUsers")
	if f.usersErr != nil {
		return adapter.Page[adapter.User]{}, f.usersErr
	}
	var out []adapter.User
	for _, id := range f.users {
		if opt.IDs == nil || slices.Contains(opt.IDs, id) {
			out = append(out, adapter.User{ID: id})
		}
	}
	return adapter.Page[adapter.User]{Items: out, Total: len(out)}, nil
}

func (f *fakeProcore) RFI(_ context.Context, _, id int64) (adapter.RFI, error) {
	f.called("RFI")
	f.mu.Lock()
	defer f.mu.Unlock()
	if id != f.rfi.ID {
		return adapter.RFI{}, adapter.Errorf(adapter.CodeNotFound, "RFI %d not found", id)
	}
	return f.rfi, nil
}

func (f *fakeProcore) CreateRFI(_ context.Context, projectID int64, in adapter.RFICreate) (adapter.RFI, error) {
	f.called("CreateRFI")
	if f.gate != nil {
		<-f.gate
	}
	if f.createErr != nil {
		return adapter.RFI{}, f.createErr
	}
	n := f.created.Add(1)
	return adapter.RFI{ID: 1000 + n, ProjectID: projectID, Subject: in.Subject, Status: adapter.RFIStatusOpen,
		BallInCourt: []adapter.Person{{ID: in.ManagerID}}, UpdatedAt: time.Now().UTC()}, nil
}

func (f *fakeProcore) SetRFIAccepted(_ context.Context, _, _ int64, accepted bool) (adapter.RFI, error) {
	f.called("SetRFIAccepted")
	f.mu.Lock()
	defer f.mu.Unlock()
	if accepted {
		f.rfi.Status, f.rfi.BallInCourt = adapter.RFIStatusClosed, nil
	} else {
		f.rfi.Status = adapter.RFIStatusOpen
	}
	f.rfi.UpdatedAt = f.rfi.UpdatedAt.Add(time.Minute)
	return f.rfi, nil
}

type harness struct {
	fake   *fakeProcore
	runner *Runner
	bus    *events.MemoryBus
	ctx    context.Context
}

func newHarness(t *testing.T, store cache.Store) *harness {
	t.Helper()
	if store == nil {
		store = memoryStore(t)
	}
	bus := events.NewMemoryBus(events.MemoryOptions{})
	t.Cleanup(func() { _ = bus.Close() })
	f := newFake()
	r := New(Options{Store: store, Observer: events.NewDiffer(store, bus, events.DifferOptions{}),
		Idempotency: IdempotencyOptions{Wait: 5 * time.Second}})
	ctx := tenant.With(context.Background(), &tenant.Connection{ID: "conn-" + randomHex(), CompanyID: 1, Procore: f})
	return &harness{fake: f, runner: r, bus: bus, ctx: ctx}
}

func randomHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func rfiInput(key string) CreateRFIInput {
	in := CreateRFIInput{ProjectID: 7, Subject: "Beam", Question: "Which size?", ManagerID: 11}
	if key != "" {
		in.IdempotencyKey = &key
	}
	return in
}

func codes(errs []UserError) []UserErrorCode {
	var out []UserErrorCode
	for _, e := range errs {
		out = append(out, e.Code)
	}
	return out
}

func TestStaticValidationCallsNothingUpstream(t *testing.T) {
	neg, big, cents3 := decimal.RequireFromString("-1"), decimal.RequireFromString("100.5"), decimal.RequireFromString("1.001")
	bad := &adapter.Date{Year: 1800, Month: 1, Day: 1}
	h := newHarness(t, nil)
	for _, tc := range []struct {
		name  string
		run   func() ([]UserError, error)
		field []string
		code  UserErrorCode
	}{
		{"ErrSubjectRequired", func() ([]UserError, error) {
			in := rfiInput("")
			in.Subject = " "
			p, err := h.runner.CreateRFI(h.ctx, in)
			return p.UserErrors, err
		}, []string{"input", "subject"}, CodeRequired},
		{"ErrDueDateOutOfRange", func() ([]UserError, error) {
			in := rfiInput("")
			in.DueDate = bad
			p, err := h.runner.CreateRFI(h.ctx, in)
			return p.UserErrors, err
		}, []string{"input", "dueDate"}, CodeOutOfRange},
		{"ErrScheduleImpactNotWholeDays", func() ([]UserError, error) {
			in := rfiInput("")
			v := decimal.RequireFromString("1.5")
			in.ScheduleImpact = &ImpactInput{Status: adapter.ImpactYesKnown, Value: &v}
			p, err := h.runner.CreateRFI(h.ctx, in)
			return p.UserErrors, err
		}, []string{"input", "scheduleImpact", "value"}, CodeOutOfRange},
		{"ErrBlankIdempotencyKey", func() ([]UserError, error) {
			p, err := h.runner.CreateRFI(h.ctx, rfiInput(" "))
			return p.UserErrors, err
		}, []string{"input", "idempotencyKey"}, CodeRequired},
		{"ErrRetainageOver100", func() ([]UserError, error) {
			p, err := h.runner.CreateCommitment(h.ctx, CreateCommitmentInput{ProjectID: 7, Kind: adapter.CommitmentSubcontract, RetainagePercent: &big})
			return p.UserErrors, err
		}, []string{"input", "retainagePercent"}, CodeOutOfRange},
		{"ErrLineAmountFractionOfACent", func() ([]UserError, error) {
			p, err := h.runner.CreateCommitment(h.ctx, CreateCommitmentInput{ProjectID: 7, Kind: adapter.CommitmentSubcontract,
				LineItems: []CreateCommitmentLineItemInput{{Description: "x", Amount: cents3}}})
			return p.UserErrors, err
		}, []string{"input", "lineItems", "0", "amount"}, CodeInvalidDecimal},
		{"ErrInvoiceMaterialsNegative", func() ([]UserError, error) {
			p, err := h.runner.CreateInvoice(h.ctx, CreateInvoiceInput{ProjectID: 7, CommitmentID: 9,
				Items: []CreateInvoiceItemInput{{LineItemID: 1, MaterialsPresentlyStored: &neg}}})
			return p.UserErrors, err
		}, []string{"input", "items", "0", "materialsPresentlyStored"}, CodeOutOfRange},
		{"ErrUnknownInvoiceStatus", func() ([]UserError, error) {
			p, err := h.runner.UpdateInvoiceStatus(h.ctx, UpdateInvoiceStatusInput{ProjectID: 7, InvoiceID: 9, Status: adapter.InvoiceUnknown})
			return p.UserErrors, err
		}, []string{"input", "status"}, CodeInvalidValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs, err := tc.run()
			if err != nil {
				t.Fatal(err)
			}
			if len(errs) == 0 || errs[0].Code != tc.code || !slices.Equal(errs[0].Field, tc.field) {
				t.Fatalf("user errors %+v, want %s at %v", errs, tc.code, tc.field)
			}
		})
	}
	if len(h.fake.calls) != 0 {
		t.Fatalf("static validation failures called Procore: %v", h.fake.calls)
	}
}

func TestIdempotency(t *testing.T) {
	for name, newStore := range map[string]func(*testing.T) cache.Store{"Memory": memoryStore, "Redis": redisStore} {
		t.Run(name, func(t *testing.T) {
			t.Run("TwentyConcurrentDuplicatesCreateOnce", func(t *testing.T) {
				h := newHarness(t, newStore(t))
				h.fake.gate = make(chan struct{})
				var wg sync.WaitGroup
				ids := make([]int64, 20)
				for i := range 20 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						p, err := h.runner.CreateRFI(h.ctx, rfiInput("k1"))
						if err != nil || p.RFI == nil {
							t.Errorf("create %d: %v %+v", i, err, p)
							return
						}
						ids[i] = p.RFI.ID
					}()
				}
				time.Sleep(50 * time.Millisecond) // let every duplicate reach the record
				close(h.fake.gate)
				wg.Wait()
				if n := h.fake.count("CreateRFI"); n != 1 {
					t.Fatalf("%d upstream creates, want 1", n)
				}
				for _, id := range ids {
					if id != ids[0] {
						t.Fatalf("ids %v, want one", ids)
					}
				}
			})

			t.Run("ErrKeyReusedWithOtherInput", func(t *testing.T) {
				h := newHarness(t, newStore(t))
				if _, err := h.runner.CreateRFI(h.ctx, rfiInput("k2")); err != nil {
					t.Fatal(err)
				}
				in := rfiInput("k2")
				in.Subject = "Another"
				p, err := h.runner.CreateRFI(h.ctx, in)
				if err != nil || p.RFI != nil || !slices.Equal(codes(p.UserErrors), []UserErrorCode{CodeConflict}) {
					t.Fatalf("got %+v %v, want CONFLICT", p, err)
				}
				if n := h.fake.count("CreateRFI"); n != 1 {
					t.Fatalf("%d upstream creates, want 1", n)
				}
			})

			t.Run("KeysAreScopedToTheConnection", func(t *testing.T) {
				store := newStore(t)
				a, b := newHarness(t, store), newHarness(t, store)
				pa, _ := a.runner.CreateRFI(a.ctx, rfiInput("shared"))
				pb, _ := b.runner.CreateRFI(b.ctx, rfiInput("shared"))
				if pa.RFI == nil || pb.RFI == nil || a.fake.count("CreateRFI") != 1 || b.fake.count("CreateRFI") != 1 {
					t.Fatalf("two connections with one key: %+v %+v", pa, pb)
				}
			})

			t.Run("UnknownOutcomeIsReplayedNotRetried", func(t *testing.T) {
				h := newHarness(t, newStore(t))
				h.fake.createErr = &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Status: 502, Message: "bad gateway"}
				if _, err := h.runner.CreateRFI(h.ctx, rfiInput("k3")); adapter.ErrorCode(err) != adapter.CodeUpstreamUnavailable {
					t.Fatalf("first create: %v, want UPSTREAM_UNAVAILABLE", err)
				}
				h.fake.createErr = nil
				p, err := h.runner.CreateRFI(h.ctx, rfiInput("k3"))
				if err != nil || p.RFI != nil || !slices.Equal(codes(p.UserErrors), []UserErrorCode{CodeOutcomeUnknown}) {
					t.Fatalf("retry: %+v %v, want OUTCOME_UNKNOWN", p, err)
				}
				if n := h.fake.count("CreateRFI"); n != 1 {
					t.Fatalf("%d upstream creates, want 1 (the outcome of the first is unknown)", n)
				}
			})

			t.Run("FailedCheckBeforeTheWriteReleasesTheKey", func(t *testing.T) {
				h := newHarness(t, newStore(t))
				h.fake.usersErr = &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Status: 500, Message: "directory down"}
				if _, err := h.runner.CreateRFI(h.ctx, rfiInput("k5")); err == nil {
					t.Fatal("create with a failing directory succeeded")
				}
				h.fake.usersErr = nil
				if p, err := h.runner.CreateRFI(h.ctx, rfiInput("k5")); err != nil || p.RFI == nil {
					t.Fatalf("retry: %+v %v, want the create to run (nothing was written before)", p, err)
				}
				if n := h.fake.count("CreateRFI"); n != 1 {
					t.Fatalf("%d upstream creates, want 1", n)
				}
			})

			t.Run("RefusedCreateReleasesTheKey", func(t *testing.T) {
				h := newHarness(t, newStore(t))
				h.fake.createErr = &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Status: 503, Message: "overloaded"}
				if _, err := h.runner.CreateRFI(h.ctx, rfiInput("k4")); err == nil {
					t.Fatal("first create succeeded")
				}
				h.fake.createErr = nil
				p, err := h.runner.CreateRFI(h.ctx, rfiInput("k4"))
				if err != nil || p.RFI == nil {
					t.Fatalf("retry after a 503: %+v %v, want the create to run", p, err)
				}
				if n := h.fake.count("CreateRFI"); n != 2 {
					t.Fatalf("%d upstream creates, want 2 (a 503 proves the first did not happen)", n)
				}
			})
		})
	}

	t.Run("ErrInProgressAfterTheWait", func(t *testing.T) {
		store := memoryStore(t)
		idem := NewIdempotency(store, IdempotencyOptions{Wait: 30 * time.Millisecond})
		lease, _, err := idem.Begin(context.Background(), "c", "m", "k", "h")
		if err != nil || lease == nil {
			t.Fatalf("first Begin: %v", err)
		}
		if _, _, err := idem.Begin(context.Background(), "c", "m", "k", "h"); !errors.Is(err, ErrInProgress) {
			t.Fatalf("second Begin while the first runs: %v, want ErrInProgress", err)
		}
		if err := lease.Complete(context.Background(), Record{State: stateDone, Result: []byte(`{"ID":1}`)}); err != nil {
			t.Fatal(err)
		}
		_, rec, err := idem.Begin(context.Background(), "c", "m", "k", "h")
		if err != nil || rec == nil || string(rec.Result) != `{"ID":1}` {
			t.Fatalf("after Complete: %+v %v", rec, err)
		}
	})
}

func TestHeaderAndInputKeys(t *testing.T) {
	h := newHarness(t, nil)
	ctx := WithIdempotencyKey(h.ctx, "from-header")
	p, err := h.runner.CreateRFI(ctx, rfiInput("from-input"))
	if err != nil || !slices.Equal(codes(p.UserErrors), []UserErrorCode{CodeConflict}) {
		t.Fatalf("different header and input keys: %+v %v, want CONFLICT", p, err)
	}
	for range 2 {
		if p, err := h.runner.CreateRFI(ctx, rfiInput("")); err != nil || p.RFI == nil {
			t.Fatalf("header key create: %+v %v", p, err)
		}
	}
	if n := h.fake.count("CreateRFI"); n != 1 {
		t.Fatalf("%d creates with one header key, want 1", n)
	}
}

func TestMutationsPublishEvents(t *testing.T) {
	h := newHarness(t, nil)
	conn, _ := tenant.From(h.ctx)
	sub, err := h.bus.Subscribe(h.ctx, events.Filter{Conn: conn.ID}, "")
	if err != nil {
		t.Fatal(err)
	}
	next := func() events.Event {
		t.Helper()
		select {
		case e := <-sub.C:
			return e
		case <-time.After(time.Second):
			t.Fatal("no event")
		}
		return events.Event{}
	}

	p, err := h.runner.CreateRFI(h.ctx, rfiInput(""))
	if err != nil || p.RFI == nil {
		t.Fatal(err, p)
	}
	if e := next(); e.Kind != events.KindCreated || e.ItemID != p.RFI.ID || e.Source != events.SourceMutation {
		t.Fatalf("after createRFI: %+v", e)
	}

	// The differ has never seen RFI 500: closing it records its state before
	// the write, then publishes the transition.
	if p, err := h.runner.CloseRFI(h.ctx, CloseRFIInput{ProjectID: 7, RfiID: 500}); err != nil || p.RFI == nil {
		t.Fatal(err, p)
	}
	st, bic := next(), next()
	if st.Kind != events.KindStatusChanged || st.PreviousStatus != "OPEN" || st.NewStatus != "CLOSED" {
		t.Fatalf("status event %+v", st)
	}
	if bic.Kind != events.KindBallInCourtChanged || len(bic.PreviousBallInCourt) != 1 || bic.PreviousBallInCourt[0].ID != 12 || len(bic.NewBallInCourt) != 0 {
		t.Fatalf("ball-in-court event %+v", bic)
	}
	// Closing again writes nothing and publishes nothing.
	if p, err := h.runner.CloseRFI(h.ctx, CloseRFIInput{ProjectID: 7, RfiID: 500}); err != nil || p.RFI == nil || p.RFI.Status != adapter.RFIStatusClosed {
		t.Fatal(err, p)
	}
	if n := h.fake.count("SetRFIAccepted"); n != 1 {
		t.Fatalf("%d writes for two closes, want 1", n)
	}
	select {
	case e := <-sub.C:
		t.Fatalf("second close published %+v", e)
	case <-time.After(30 * time.Millisecond):
	}
}

func TestUpstreamRefusalsBecomeUserErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		field []string
		code  UserErrorCode
	}{
		{"FieldRenamed", &adapter.Error{Code: adapter.CodeBadUserInput, Fields: []adapter.FieldError{{Field: []string{"rfi_manager_id"}, Message: "is invalid"}}},
			[]string{"input", "managerId"}, CodeNotFound},
		{"NestedIndexedField", &adapter.Error{Code: adapter.CodeBadUserInput, Fields: []adapter.FieldError{{Field: []string{"items", "2", "work_completed_retainage_percent_this_period"}, Message: "must be between 0 and 100"}}},
			[]string{"input", "items", "2", "workCompletedRetainagePercent"}, CodeOutOfRange},
		{"WorkflowApprover", &adapter.Error{Code: adapter.CodeBadUserInput, Fields: []adapter.FieldError{{Field: []string{"workflow_data", "1", "0", "login_information_id"}, Message: "is invalid"}}},
			[]string{"input", "workflow", "1", "approverIds", "0"}, CodeNotFound},
		{"Taken", &adapter.Error{Code: adapter.CodeBadUserInput, Fields: []adapter.FieldError{{Field: []string{"number"}, Message: "has already been taken"}}},
			[]string{"input", "number"}, CodeDuplicate},
		{"BusinessRuleTransition", &adapter.Error{Code: adapter.CodeBadUserInput, Message: "Invalid status transition from approved to draft"},
			[]string{"input"}, CodeInvalidTransition},
		{"BusinessRule", &adapter.Error{Code: adapter.CodeBadUserInput, Message: "The schedule of values is locked"},
			[]string{"input"}, CodeRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs, err := fromUpstream(tc.err)
			if err != nil || len(errs) != 1 || errs[0].Code != tc.code || !slices.Equal(errs[0].Field, tc.field) {
				t.Fatalf("got %+v %v, want %s at %v", errs, err, tc.code, tc.field)
			}
		})
	}
	t.Run("UnavailableStaysAnError", func(t *testing.T) {
		in := &adapter.Error{Code: adapter.CodeRateLimited, Message: "slow down"}
		if errs, err := fromUpstream(in); errs != nil || !errors.Is(err, in) {
			t.Fatalf("got %+v %v, want the error back", errs, err)
		}
	})
}

func TestInvoiceTransitions(t *testing.T) {
	for _, tc := range []struct {
		from, to adapter.InvoiceStatus
		ok       bool
	}{
		{adapter.InvoiceDraft, adapter.InvoiceUnderReview, true},
		{adapter.InvoiceUnderReview, adapter.InvoiceApproved, true},
		{adapter.InvoiceReviseAndResubmit, adapter.InvoiceUnderReview, true},
		{adapter.InvoiceReviseAndResubmit, adapter.InvoiceApproved, false},
		{adapter.InvoiceApproved, adapter.InvoiceDraft, false},
		{adapter.InvoiceApprovedAsNoted, adapter.InvoiceUnderReview, false},
		{adapter.InvoicePendingOwnerApproval, adapter.InvoiceDraft, false},
	} {
		if got := InvoiceTransitionAllowed(tc.from, tc.to); got != tc.ok {
			t.Errorf("%s → %s allowed = %v, want %v", tc.from, tc.to, got, tc.ok)
		}
	}
}

// partialProcore creates a commitment, then fails its line item as Procore
// can (no transactions).
type partialProcore struct {
	*fakeProcore
}

func (p partialProcore) CreateCommitment(_ context.Context, projectID int64, in adapter.CommitmentCreate) (adapter.Commitment, error) {
	p.called("CreateCommitment")
	return adapter.Commitment{ID: 77, ProjectID: projectID, Kind: in.Kind, Status: adapter.CommitmentDraft},
		&adapter.Error{Code: adapter.CodeUpstreamUnavailable, Status: 500, Message: "work order contract 77 was created, but line item 1 of 1 failed"}
}

func TestPartialCreateReturnsTheItemAsIncomplete(t *testing.T) {
	h := newHarness(t, nil)
	p := partialProcore{h.fake}
	conn, _ := tenant.From(h.ctx)
	c2 := *conn
	c2.Procore = p
	ctx := tenant.With(h.ctx, &c2)
	key := "partial"
	in := CreateCommitmentInput{ProjectID: 7, Kind: adapter.CommitmentSubcontract, IdempotencyKey: &key,
		LineItems: []CreateCommitmentLineItemInput{{Description: "x", Amount: decimal.NewFromInt(5)}}}
	for i := range 2 {
		out, err := h.runner.CreateCommitment(ctx, in)
		if err != nil || out.Commitment == nil || out.Commitment.ID != 77 || !slices.Equal(codes(out.UserErrors), []UserErrorCode{CodeIncomplete}) {
			t.Fatalf("attempt %d: %+v %v, want commitment 77 with INCOMPLETE", i+1, out, err)
		}
	}
	if n := h.fake.count("CreateCommitment"); n != 1 {
		t.Fatalf("%d upstream creates, want 1 (the retry replays)", n)
	}
}

func memoryStore(t *testing.T) cache.Store { return cachetest.Memory(t) }

func redisStore(t *testing.T) cache.Store {
	s, _, _ := cachetest.Redis(t, "mutate")
	return s
}

// fillAfterClaim is a state.Memory that fills itself to the brim right after
// an idempotency key is claimed, as other requests would: the in-progress
// record fits, a larger one does not.
type fillAfterClaim struct {
	*state.Memory
	filled bool
}

func (s *fillAfterClaim) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	won, err := s.Memory.SetNX(ctx, key, value, ttl)
	if won && strings.Contains(key, ":idem:") && !s.filled {
		s.filled = true
		for i := 0; s.Memory.Set(ctx, fmt.Sprintf("filler%d", i), nil, time.Hour) == nil; i++ {
		}
	}
	return won, err
}

func TestFullStateStore(t *testing.T) {
	newState := func(t *testing.T, o state.MemoryOptions) *state.Memory {
		m, err := state.NewMemory(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Close() })
		return m
	}

	t.Run("CreateIsRefusedWithStateFullBeforeAnyWrite", func(t *testing.T) {
		m := newState(t, state.MemoryOptions{MaxEntries: 1})
		_ = m.Set(context.Background(), "someone-else", []byte("v"), time.Hour)
		h := newHarness(t, m)
		_, err := h.runner.CreateRFI(h.ctx, rfiInput("full-1"))
		var ae *adapter.Error
		if !errors.As(err, &ae) || ae.Code != adapter.CodeStateFull || ae.RetryAfter <= 0 {
			t.Fatalf("err = %v, want STATE_FULL with a retry time", err)
		}
		if n := h.fake.count("CreateRFI"); n != 0 {
			t.Fatalf("%d upstream creates, want 0", n)
		}
	})

	t.Run("ResultRefusedAfterTheCreateStillStopsASecondCreate", func(t *testing.T) {
		s := &fillAfterClaim{Memory: newState(t, state.MemoryOptions{MaxBytes: 64 << 10})}
		h := newHarness(t, s)
		first, err := h.runner.CreateRFI(h.ctx, rfiInput("full-2"))
		if err != nil || first.RFI == nil {
			t.Fatalf("first create: %+v %v", first, err)
		}
		if !s.filled {
			t.Fatal("the store was never filled")
		}
		p, err := h.runner.CreateRFI(h.ctx, rfiInput("full-2"))
		if err != nil || p.RFI != nil || !slices.Equal(codes(p.UserErrors), []UserErrorCode{CodeOutcomeUnknown}) {
			t.Fatalf("retry: %+v %v, want OUTCOME_UNKNOWN", p, err)
		}
		if n := h.fake.count("CreateRFI"); n != 1 {
			t.Fatalf("%d upstream creates, want 1", n)
		}
	})
}
