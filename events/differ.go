package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"procoregraph/adapter"
	"procoregraph/cache"
)

// DifferOptions configure the differ. Zero values mean the documented default.
type DifferOptions struct {
	// StateTTL is how long the last-known state of a resource is kept after
	// its last change. A resource not seen for longer is treated as new: its
	// next observation is a silent baseline. Default 30 days.
	StateTTL time.Duration
	// MaxAttempts bounds the compare-and-swap retries of one observation
	// under contention. Default 16.
	MaxAttempts int
	// Now stamps events whose snapshot has no UpdatedAt. Default time.Now.
	Now func() time.Time
	// Logger receives failures to roll back after a failed publish.
	// Default slog.Default().
	Logger *slog.Logger
	// PublishAttempts bounds the tries of one publish (of one event, or of
	// one change's events together on a BatchPublisher) before the differ
	// gives up and rolls its state back. Default 3.
	PublishAttempts int
	// PublishBackoff is the wait after the first failed try, doubled after
	// each further one (and cut short by the caller's context). Default 25ms.
	PublishBackoff time.Duration
}

func (o DifferOptions) withDefaults() DifferOptions {
	if o.StateTTL <= 0 {
		o.StateTTL = 30 * 24 * time.Hour
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 16
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.PublishAttempts <= 0 {
		o.PublishAttempts = 3
	}
	if o.PublishBackoff <= 0 {
		o.PublishBackoff = 25 * time.Millisecond
	}
	return o
}

// Differ is the Observer every source feeds. It keeps the last-known state of
// each (connection, item kind, item id) in the cache Store under
// cache.AuxKey(conn, "differ", kind, id) and publishes only real transitions:
//
//   - first sight of an item: CREATED when the snapshot says Created (a
//     create the source made or saw), otherwise a silent baseline (the
//     poller's first pass must not announce every existing item);
//   - a report that says Created of an item known only from a silent
//     baseline: CREATED, once (the primer or the poller can list a new item
//     before the create's own report arrives; its CREATED is not lost);
//   - a different status: STATUS_CHANGED;
//   - a different set of ball-in-court people (compared by id):
//     BALL_IN_COURT_CHANGED;
//   - a snapshot older than the known state (UpdatedAt before it): nothing,
//     which is what makes reordered webhooks harmless.
//
// The state moves from old to new by compare-and-swap, and only the caller
// whose swap succeeded publishes, so two replicas observing the same change
// publish it once between them.
//
// One change can be two events (a status change that also moves the ball in
// court: STATUS_CHANGED, then BALL_IN_COURT_CHANGED). On a BatchPublisher
// (the Redis bus) they are published together, all or none; on another bus
// one after the other. A failed publish is retried (PublishAttempts); if it
// still fails, the differ swaps back the state that the events published so
// far describe (the old state when none was), so a later observation of the
// same resource publishes exactly the events that are missing: none is lost
// and none is published twice. A process that dies between the swap and the
// publish loses those events (at most once, never twice); a retried publish
// whose first try reached Redis but whose answer was lost can repeat one.
type Differ struct {
	store cache.Store
	bus   Bus
	opt   DifferOptions
}

// NewDiffer returns the differ over store (shared by replicas when it is
// Redis) publishing to bus.
func NewDiffer(store cache.Store, bus Bus, o DifferOptions) Observer {
	return &Differ{store: store, bus: bus, opt: o.withDefaults()}
}

// knownState is what the differ stores per resource. Its JSON encoding is
// deterministic, so the bytes read are the bytes compared.
type knownState struct {
	Status      string       `json:"s"`
	BallInCourt []knownActor `json:"b,omitempty"`
	UpdatedAt   time.Time    `json:"u"`
	// Created says CREATED was published for the item. States recorded
	// before this field existed read as false: a late "create" report of
	// such an item (Procore's webhook queue de-duplicates by event id, so
	// only a redelivery across that change) could announce it again.
	Created bool `json:"c,omitempty"`
	// SubmittalStatus is a submittal's status object, so that events can
	// carry the previous one whole. Not compared: Status is.
	SubmittalStatus *knownSubmittalStatus `json:"ss,omitempty"`
	// Deleted marks a tombstone: DELETED was published for the item.
	Deleted bool `json:"d,omitempty"`
}

type knownSubmittalStatus struct {
	ID     int64  `json:"i"`
	Name   string `json:"n,omitempty"`
	Status string `json:"s,omitempty"`
}

func (k *knownSubmittalStatus) status() *adapter.SubmittalStatus {
	if k == nil {
		return nil
	}
	return &adapter.SubmittalStatus{ID: k.ID, Name: k.Name, Status: k.Status}
}

type knownActor struct {
	ID    int64  `json:"i"`
	Login string `json:"l,omitempty"`
	Name  string `json:"n,omitempty"`
}

func stateOf(s Snapshot) knownState {
	k := knownState{Status: s.Status, UpdatedAt: s.UpdatedAt.UTC(), Created: s.Created, Deleted: s.Deleted}
	if ss := s.SubmittalStatus; ss != nil {
		k.SubmittalStatus = &knownSubmittalStatus{ID: ss.ID, Name: ss.Name, Status: ss.Status}
	}
	for _, p := range s.BallInCourt {
		k.BallInCourt = append(k.BallInCourt, knownActor{ID: p.ID, Login: p.Login, Name: p.Name})
	}
	slices.SortFunc(k.BallInCourt, func(a, b knownActor) int { return cmpInt64(a.ID, b.ID) })
	k.BallInCourt = slices.CompactFunc(k.BallInCourt, func(a, b knownActor) bool { return a.ID == b.ID })
	return k
}

func (k knownState) people() []adapter.Person {
	out := make([]adapter.Person, 0, len(k.BallInCourt))
	for _, a := range k.BallInCourt {
		out = append(out, adapter.Person{ID: a.ID, Login: a.Login, Name: a.Name})
	}
	return out
}

func sameCourt(a, b knownState) bool {
	return slices.EqualFunc(a.BallInCourt, b.BallInCourt, func(x, y knownActor) bool { return x.ID == y.ID })
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// stateKey is where the known state of s's resource lives.
func stateKey(s Snapshot) string {
	return cache.AuxKey(s.Conn, "differ", string(s.ItemKind), strconv.FormatInt(s.ItemID, 10))
}

// Observe implements Observer.
func (d *Differ) Observe(ctx context.Context, s Snapshot, src Source) ([]Event, error) {
	if s.Conn == "" || s.ItemKind == "" || s.ItemID == 0 {
		return nil, fmt.Errorf("events: snapshot needs a connection, an item kind and an item id (got %q %q %d)", s.Conn, s.ItemKind, s.ItemID)
	}
	if s.Deleted {
		return d.observeDeleted(ctx, s, src)
	}
	key := stateKey(s)
	observed := stateOf(s)
	observedRaw, err := json.Marshal(observed)
	if err != nil {
		return nil, fmt.Errorf("events: encode state: %w", err)
	}
	for range d.opt.MaxAttempts {
		next := observed
		it, ok, err := d.store.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("events: read known state: %w", err)
		}
		if !ok {
			won, err := d.store.SetNX(ctx, key, observedRaw, d.opt.StateTTL)
			if err != nil {
				return nil, fmt.Errorf("events: record first state: %w", err)
			}
			if !won {
				continue // another observer recorded it first: diff against theirs
			}
			if !s.Created {
				return nil, nil
			}
			evs := []Event{d.event(s, src, KindCreated, knownState{}, next)}
			return d.publish(ctx, key, knownState{}, next, nil, observedRaw, evs)
		}
		var prev knownState
		if err := json.Unmarshal(it.Value, &prev); err != nil {
			// Unreadable (an older format): replace it as a baseline.
			if _, err := d.store.CompareAndSwap(ctx, key, it.Value, observedRaw, d.opt.StateTTL); err != nil {
				return nil, fmt.Errorf("events: replace unreadable state: %w", err)
			}
			return nil, nil
		}
		if prev.Deleted {
			// A tombstone: a report of the item as it was before its deletion
			// (a list read just before it) changes nothing. One newer than the
			// deletion is the item restored from the recycle bin: it is known
			// again, silently, like a first sight.
			if s.UpdatedAt.IsZero() || !s.UpdatedAt.After(prev.UpdatedAt) {
				return nil, nil
			}
			if _, err := d.store.CompareAndSwap(ctx, key, it.Value, observedRaw, d.opt.StateTTL); err != nil {
				return nil, fmt.Errorf("events: replace a tombstone: %w", err)
			}
			return nil, nil
		}
		announce := s.Created && !prev.Created // known only from a silent baseline
		if !s.UpdatedAt.IsZero() && prev.UpdatedAt.After(next.UpdatedAt) {
			if !announce {
				return nil, nil // older than what we know: a reordered or late report
			}
			next = prev // announce the creation with the newer state we know
		}
		if s.UpdatedAt.IsZero() {
			next.UpdatedAt = prev.UpdatedAt // keep the newest instant we know
		}
		next.Created = prev.Created || announce
		var evs []Event
		if announce {
			evs = append(evs, d.event(s, src, KindCreated, knownState{}, next))
		}
		if prev.Status != next.Status {
			evs = append(evs, d.event(s, src, KindStatusChanged, prev, next))
		}
		if !sameCourt(prev, next) {
			evs = append(evs, d.event(s, src, KindBallInCourtChanged, prev, next))
		}
		nextRaw, err := json.Marshal(next)
		if err != nil {
			return nil, fmt.Errorf("events: encode state: %w", err)
		}
		if bytes.Equal(it.Value, nextRaw) {
			return nil, nil // nothing new at all
		}
		swapped, err := d.store.CompareAndSwap(ctx, key, it.Value, nextRaw, d.opt.StateTTL)
		if err != nil {
			return nil, fmt.Errorf("events: swap known state: %w", err)
		}
		if !swapped {
			continue // someone else moved it: diff again against the new state
		}
		if len(evs) == 0 {
			return nil, nil // same state, newer instant: remembered, nothing to say
		}
		return d.publish(ctx, key, prev, next, it.Value, nextRaw, evs)
	}
	return nil, fmt.Errorf("events: known state of %s %d kept changing; gave up after %d attempts", s.ItemKind, s.ItemID, d.opt.MaxAttempts)
}

// observeDeleted records a tombstone for s's item and publishes DELETED,
// once: a tombstone already there (the webhook and the recycle bin both
// report one deletion) publishes nothing. The event carries the last status
// and ball in court the differ knew.
func (d *Differ) observeDeleted(ctx context.Context, s Snapshot, src Source) ([]Event, error) {
	key := stateKey(s)
	for range d.opt.MaxAttempts {
		it, ok, err := d.store.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("events: read known state: %w", err)
		}
		var prev knownState
		if ok {
			if json.Unmarshal(it.Value, &prev) == nil && prev.Deleted {
				return nil, nil // already announced
			}
		}
		next := knownState{Status: prev.Status, UpdatedAt: prev.UpdatedAt, Created: prev.Created, Deleted: true}
		if next.Status == "" {
			next.Status = s.Status
		}
		switch at := s.UpdatedAt.UTC(); {
		case !at.IsZero() && at.After(next.UpdatedAt):
			next.UpdatedAt = at
		case at.IsZero():
			// A webhook names no instant: the deletion happened by now.
			if now := d.opt.Now().UTC(); now.After(next.UpdatedAt) {
				next.UpdatedAt = now
			}
		}
		nextRaw, err := json.Marshal(next)
		if err != nil {
			return nil, fmt.Errorf("events: encode state: %w", err)
		}
		var won bool
		var prevRaw []byte
		if ok {
			prevRaw = it.Value
			won, err = d.store.CompareAndSwap(ctx, key, it.Value, nextRaw, d.opt.StateTTL)
		} else {
			won, err = d.store.SetNX(ctx, key, nextRaw, d.opt.StateTTL)
		}
		if err != nil {
			return nil, fmt.Errorf("events: record a tombstone: %w", err)
		}
		if !won {
			continue
		}
		e := d.event(s, src, KindDeleted, prev, next)
		e.PreviousStatus, e.NewStatus = next.Status, next.Status
		e.PreviousBallInCourt, e.NewBallInCourt = prev.people(), nil
		e.At = next.UpdatedAt
		return d.publish(ctx, key, prev, next, prevRaw, nextRaw, []Event{e})
	}
	return nil, fmt.Errorf("events: known state of %s %d kept changing; gave up after %d attempts", s.ItemKind, s.ItemID, d.opt.MaxAttempts)
}

// publish sends evs, all of one change; on failure it swaps nextRaw back to
// the state the events already published describe (prev plus those events;
// prevRaw itself, or no state when prevRaw is nil, when none was published),
// so the next observation finds exactly the missing transitions again.
func (d *Differ) publish(ctx context.Context, key string, prev, next knownState, prevRaw, nextRaw []byte, evs []Event) ([]Event, error) {
	if bp, ok := d.bus.(BatchPublisher); ok && len(evs) > 1 {
		var ids []string
		err := d.retry(ctx, func() error {
			var err error
			ids, err = bp.PublishBatch(ctx, evs)
			return err
		})
		if err != nil {
			d.rollback(key, prevRaw, nextRaw)
			return nil, fmt.Errorf("events: publish %d events of one change: %w", len(evs), err)
		}
		for i := range evs {
			evs[i].ID = ids[i]
		}
		return evs, nil
	}
	for i := range evs {
		var id string
		err := d.retry(ctx, func() error {
			var err error
			id, err = d.bus.Publish(ctx, evs[i])
			return err
		})
		if err != nil {
			restore := prevRaw
			if i > 0 {
				restore = partialState(prev, next, evs[:i])
			}
			d.rollback(key, restore, nextRaw)
			return evs[:i], fmt.Errorf("events: publish %s: %w", evs[i].Kind, err)
		}
		evs[i].ID = id
	}
	return evs, nil
}

// retry runs try up to PublishAttempts times, waiting PublishBackoff
// (doubling) between tries, and returns its last error.
func (d *Differ) retry(ctx context.Context, try func() error) error {
	wait := d.opt.PublishBackoff
	var err error
	for attempt := 1; ; attempt++ {
		if err = try(); err == nil || attempt >= d.opt.PublishAttempts || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		wait *= 2
	}
}

// partialState encodes prev with the transitions of the published events
// applied: what subscribers have been told.
func partialState(prev, next knownState, published []Event) []byte {
	k := prev
	for _, e := range published {
		switch e.Kind {
		case KindStatusChanged:
			k.Status = next.Status
		case KindBallInCourtChanged:
			k.BallInCourt = next.BallInCourt
		case KindCreated:
			k.Created = true
		case KindDeleted:
			k.Deleted = true
		}
	}
	raw, err := json.Marshal(k)
	if err != nil { // knownState always encodes; fall back to the old state
		raw, _ = json.Marshal(prev)
	}
	return raw
}

// rollback swaps nextRaw back to restoreRaw (deletes it when restoreRaw is
// nil), unless another observer has moved the state on since.
func (d *Differ) rollback(key string, restoreRaw, nextRaw []byte) {
	// The caller's context may be what failed; give the rollback its own.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	if restoreRaw == nil {
		_, err = d.store.CompareAndDelete(ctx, key, nextRaw)
	} else {
		_, err = d.store.CompareAndSwap(ctx, key, nextRaw, restoreRaw, d.opt.StateTTL)
	}
	if err != nil {
		d.opt.Logger.Warn("differ: could not roll back known state after a failed publish; the transition may not be announced", "err", err)
	}
}

func (d *Differ) event(s Snapshot, src Source, kind Kind, prev, next knownState) Event {
	at := s.UpdatedAt.UTC()
	if at.IsZero() {
		at = d.opt.Now().UTC()
	}
	e := Event{Conn: s.Conn, ProjectID: s.ProjectID, Kind: kind, ItemKind: s.ItemKind, ItemID: s.ItemID,
		Title: s.Title, NewStatus: next.Status, NewSubmittalStatus: next.SubmittalStatus.status(),
		NewBallInCourt: next.people(), At: at, Source: src}
	if kind != KindCreated {
		e.PreviousStatus = prev.Status
		e.PreviousSubmittalStatus = prev.SubmittalStatus.status()
		e.PreviousBallInCourt = prev.people()
	}
	return e
}

// The helpers below turn adapter resources into snapshots, so every source
// (mutations, webhooks, the poller) reports the same state the same way.

// RFISnapshot is the state of an RFI: its status and ball in court.
func RFISnapshot(conn string, r adapter.RFI) Snapshot {
	title := r.Subject
	if r.Number != "" {
		title = "RFI #" + r.Number + ": " + r.Subject
	}
	return Snapshot{Conn: conn, ProjectID: r.ProjectID, ItemKind: ItemRFI, ItemID: r.ID, Title: title,
		Status: string(r.Status), BallInCourt: r.BallInCourt, UpdatedAt: r.UpdatedAt}
}

// SubmittalSnapshot is the state of a submittal: its company-configured
// status name normalized to SCREAMING_SNAKE ("Revise and Resubmit" →
// "REVISE_AND_RESUBMIT", what the differ compares), the status object
// itself, and its ball in court.
func SubmittalSnapshot(conn string, s adapter.Submittal) Snapshot {
	status := ""
	if s.Status != nil {
		status = NormalizeStatus(s.Status.Name)
	}
	title := s.Title
	if s.Number != "" {
		title = "Submittal #" + s.Number + ": " + s.Title
	}
	return Snapshot{Conn: conn, ProjectID: s.ProjectID, ItemKind: ItemSubmittal, ItemID: s.ID, Title: title,
		Status: status, SubmittalStatus: s.Status, BallInCourt: s.BallInCourt, UpdatedAt: s.UpdatedAt}
}

// InvoiceSnapshot is the state of a subcontractor invoice: its status.
func InvoiceSnapshot(conn string, inv adapter.Invoice) Snapshot {
	return Snapshot{Conn: conn, ProjectID: inv.ProjectID, ItemKind: ItemInvoice, ItemID: inv.ID,
		Title: "Invoice #" + strconv.Itoa(inv.Number) + " " + inv.InvoiceNumber, Status: string(inv.Status), UpdatedAt: inv.UpdatedAt}
}

// CommitmentSnapshot is the state of a commitment: its status.
func CommitmentSnapshot(conn string, c adapter.Commitment) Snapshot {
	title := c.Title
	if c.Number != "" {
		title = c.Number + ": " + c.Title
	}
	return Snapshot{Conn: conn, ProjectID: c.ProjectID, ItemKind: ItemCommitment, ItemID: c.ID, Title: title,
		Status: string(c.Status), UpdatedAt: c.UpdatedAt}
}

// ChangeEventSnapshot is the state of a change event: its status.
func ChangeEventSnapshot(conn string, c adapter.ChangeEvent) Snapshot {
	return Snapshot{Conn: conn, ProjectID: c.ProjectID, ItemKind: ItemChangeEvent, ItemID: c.ID,
		Title: numberedTitle(c.Number, c.Title), Status: string(c.Status), UpdatedAt: c.UpdatedAt}
}

// PrimeChangeOrderSnapshot is the state of a prime contract change order
// (1- and 2-tier projects): its status.
func PrimeChangeOrderSnapshot(conn string, c adapter.PrimeChangeOrder) Snapshot {
	return Snapshot{Conn: conn, ProjectID: c.ProjectID, ItemKind: ItemPrimeChangeOrder, ItemID: c.ID,
		Title: numberedTitle(c.Number, c.Title), Status: string(c.Status), UpdatedAt: c.UpdatedAt}
}

// ChangeOrderPackageSnapshot is the state of a change order package (3-tier
// projects): its status.
func ChangeOrderPackageSnapshot(conn string, c adapter.ChangeOrderPackage) Snapshot {
	return Snapshot{Conn: conn, ProjectID: c.ProjectID, ItemKind: ItemChangeOrderPackage, ItemID: c.ID,
		Title: numberedTitle(c.Number, c.Title), Status: string(c.Status), UpdatedAt: c.UpdatedAt}
}

// PotentialChangeOrderSnapshot is the state of a potential change order: its
// status.
func PotentialChangeOrderSnapshot(conn string, c adapter.PotentialChangeOrder) Snapshot {
	return Snapshot{Conn: conn, ProjectID: c.ProjectID, ItemKind: ItemPotentialChangeOrder, ItemID: c.ID,
		Title: numberedTitle(c.Number, c.Title), Status: string(c.Status), UpdatedAt: c.UpdatedAt}
}

// CommitmentChangeOrderSnapshot is the state of a commitment change order:
// its status.
func CommitmentChangeOrderSnapshot(conn string, c adapter.ChangeOrder) Snapshot {
	return Snapshot{Conn: conn, ProjectID: c.ProjectID, ItemKind: ItemCommitmentChangeOrder, ItemID: c.ID,
		Title: numberedTitle(c.Number, c.Title), Status: string(c.Status), UpdatedAt: c.UpdatedAt}
}

// PaymentApplicationSnapshot is the state of an owner invoice (payment
// application): its status.
func PaymentApplicationSnapshot(conn string, a adapter.PaymentApplication) Snapshot {
	title := "Payment application #" + strconv.Itoa(a.Number)
	if a.InvoiceNumber != nil && *a.InvoiceNumber != "" {
		title += " " + *a.InvoiceNumber
	}
	return Snapshot{Conn: conn, ProjectID: a.ProjectID, ItemKind: ItemPaymentApplication, ItemID: a.ID,
		Title: title, Status: string(a.Status), UpdatedAt: a.UpdatedAt}
}

// numberedTitle is "number: title", or whichever of the two is set.
func numberedTitle(number, title string) string {
	switch {
	case number == "":
		return title
	case title == "":
		return number
	}
	return number + ": " + title
}

// PunchItemSnapshot is the state of a punch item: its status and ball in court.
func PunchItemSnapshot(conn string, p adapter.PunchItem) Snapshot {
	return Snapshot{Conn: conn, ProjectID: p.ProjectID, ItemKind: ItemPunchItem, ItemID: p.ID, Title: p.Name,
		Status: string(p.Status), BallInCourt: p.BallInCourt, UpdatedAt: p.UpdatedAt}
}

// NormalizeStatus turns a display status ("Revise and Resubmit") into the
// SCREAMING_SNAKE form events carry ("REVISE_AND_RESUBMIT").
func NormalizeStatus(s string) string {
	f := strings.FieldsFunc(strings.ToUpper(s), func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	})
	return strings.Join(f, "_")
}
