package rest

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/prometheus/client_golang/prometheus"

	"procoregraph/adapter"
)

// Schema drift detection.
//
// Procore changes its payloads without notice: a field is renamed, an enum
// gains a value, a number becomes an object. The tolerant decoding (decode.go)
// keeps answering (UNKNOWN enums, zero values); a Drift makes such changes
// visible. Set one Drift in the Config of every Client of the process (they
// share it): a sample of each read's 2xx responses is inspected against the
// wire type the adapter decodes it into (driftRoots, below), and what differs is
//
//   - counted: procoregraph_procore_drift_total{operation,kind}, one per
//     inspected response and distinct (kind, field) in it (the Drift is the
//     prometheus.Collector; procoregraph_procore_drift_inspected_total{operation}
//     counts the inspected responses, for ratios);
//   - logged at Warn, once per (operation, kind, field) per Drift: operation,
//     kind, field path and route template only, never values or bodies;
//   - listed: Snapshot, and ServeHTTP serves it as JSON.
//
// Operations are the adapter's read operations ("list RFIs", "get project"),
// a fixed set, so the metric's cardinality is bounded (at most 4 kinds per
// operation). Field paths come from Procore and are not metric labels; the
// list keeps at most DriftOptions.MaxFindings of them.
//
// Sampling: the first response of each operation is inspected, then every
// SampleEvery-th (responses 1, 1+N, 1+2N, ... of that operation in the
// process; default N = 64). Detection costs one map read and one atomic add
// per response, plus one inspection per N responses: a tokenizing pass over
// the body, without copying it, that takes a third to a half of the time of
// decoding it (BenchmarkDecodePageDrift), so about 1% of decoding on
// average at the default N.

// DriftKind is a kind of schema drift.
type DriftKind string

const (
	// DriftUnknownField is a key the wire type does not know (nor the list of
	// documented keys the adapter does not read).
	DriftUnknownField DriftKind = "unknown_field"
	// DriftUnknownEnum is an enum value the adapter maps to UNKNOWN.
	DriftUnknownEnum DriftKind = "unknown_enum"
	// DriftMissingField is an expected key absent from an object (present
	// with null is not missing).
	DriftMissingField DriftKind = "missing_field"
	// DriftChangedType is a value of a JSON type the wire type does not
	// accept (an object where a number was expected, ...); the decoder keeps
	// the field's zero value.
	DriftChangedType DriftKind = "changed_type"
)

// DefaultDriftSampleEvery is DriftOptions.SampleEvery's default.
const DefaultDriftSampleEvery = 64

// DriftOptions configure a Drift. Zero values mean the defaults.
type DriftOptions struct {
	// SampleEvery: inspect the first response of each operation and then
	// every SampleEvery-th. 1 inspects every response. Default 64.
	SampleEvery int
	// MaxFindings bounds the distinct findings listed (and logged); further
	// ones are still counted in the metric. Default 500.
	MaxFindings int
	// Logger receives one Warn per distinct finding. Default slog.Default().
	Logger *slog.Logger
	// Clock stamps FirstSeen and LastSeen. Default the wall clock.
	Clock Clock
}

// DriftFinding is one distinct finding: a kind of drift at one field of one
// operation's responses.
type DriftFinding struct {
	Operation string    `json:"operation"`
	Kind      DriftKind `json:"kind"`
	// Field is the key's path in the response's item (or object): "status",
	// "cost_impact.status", "questions[].answers[].body". For a changed_type
	// of the body itself it is "".
	Field string `json:"field"`
	// Route is the route template of the response where it was first seen.
	Route     string    `json:"route"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	// Count is the number of inspected responses it was found in.
	Count int64 `json:"count"`
}

// DriftSnapshot is what a Drift has found so far.
type DriftSnapshot struct {
	// SampleEvery is the sampling interval (see DriftOptions).
	SampleEvery int `json:"sampleEvery"`
	// Inspected is the number of responses inspected, by operation.
	Inspected map[string]int64 `json:"inspected"`
	// Findings are ordered by operation, kind and field.
	Findings []DriftFinding `json:"findings"`
	// Dropped counts distinct findings not listed because MaxFindings was
	// reached.
	Dropped int64 `json:"dropped"`
}

// Drift detects schema drift in Procore's responses (see the comment at the
// top of drift.go). It is safe for concurrent use; one per process, shared
// by every Client through Config.Drift. A nil *Drift detects nothing.
type Drift struct {
	every  uint64
	max    int
	logger *slog.Logger
	clock  Clock

	ops map[string]*driftOp // one per known read operation; read-only after NewDrift

	found     *prometheus.CounterVec
	inspected *prometheus.CounterVec

	mu         sync.Mutex
	findings   map[driftKey]*DriftFinding
	dropped    int64
	fullLogged bool
	unmapped   map[string]bool // GET operations without a schema (bounded)
}

type driftOp struct {
	name      string
	root      func() *driftNode
	seen      atomic.Uint64
	inspected atomic.Int64
}

type driftKey struct {
	op, field string
	kind      DriftKind
}

// NewDrift returns a Drift. Register it (it is a prometheus.Collector) and
// mount it (it is an http.Handler) where the process wants them.
func NewDrift(opts DriftOptions) *Drift {
	if opts.SampleEvery <= 0 {
		opts.SampleEvery = DefaultDriftSampleEvery
	}
	if opts.MaxFindings <= 0 {
		opts.MaxFindings = 500
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = WallClock{}
	}
	d := &Drift{
		every: uint64(opts.SampleEvery), max: opts.MaxFindings, logger: opts.Logger, clock: opts.Clock,
		ops: make(map[string]*driftOp, len(driftRoots)),
		found: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "procoregraph_procore_drift_total",
			Help: "Schema drift found in inspected Procore responses, by adapter operation and kind (unknown_field, unknown_enum, missing_field, changed_type): one per inspected response and distinct field.",
		}, []string{"operation", "kind"}),
		inspected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "procoregraph_procore_drift_inspected_total",
			Help: "Procore responses inspected for schema drift (the first of each operation, then a sample), by adapter operation.",
		}, []string{"operation"}),
		findings: map[driftKey]*DriftFinding{},
		unmapped: map[string]bool{},
	}
	for name, root := range driftRoots {
		d.ops[name] = &driftOp{name: name, root: root}
	}
	return d
}

// Describe implements prometheus.Collector.
func (d *Drift) Describe(ch chan<- *prometheus.Desc) {
	d.found.Describe(ch)
	d.inspected.Describe(ch)
}

// Collect implements prometheus.Collector.
func (d *Drift) Collect(ch chan<- prometheus.Metric) {
	d.found.Collect(ch)
	d.inspected.Collect(ch)
}

// Snapshot returns a copy of what the Drift has found.
func (d *Drift) Snapshot() DriftSnapshot {
	s := DriftSnapshot{SampleEvery: int(d.every), Inspected: map[string]int64{}, Findings: []DriftFinding{}}
	for name, op := range d.ops {
		if n := op.inspected.Load(); n > 0 {
			s.Inspected[name] = n
		}
	}
	d.mu.Lock()
	for _, f := range d.findings {
		s.Findings = append(s.Findings, *f)
	}
	s.Dropped = d.dropped
	d.mu.Unlock()
	slices.SortFunc(s.Findings, func(a, b DriftFinding) int {
		return cmpStrings(a.Operation, b.Operation, string(a.Kind), string(b.Kind), a.Field, b.Field)
	})
	return s
}

// ServeHTTP serves Snapshot as JSON (GET or HEAD), for a private debug
// listener (e.g. GET /debug/procore/drift). It holds field names, never
// values.
func (d *Drift) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	b, err := json.MarshalIndent(d.Snapshot(), "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(append(b, '\n'))
	}
}

// inspectDrift hands a 2xx response of a read to Config.Drift.
func (c *Client) inspectDrift(k call, body []byte) {
	if d := c.cfg.Drift; d != nil && k.method == http.MethodGet {
		d.observe(k.what, func() string { return callRoute(k) }, body)
	}
}

// callRoute is k's route template, without the query.
func callRoute(k call) string {
	p := k.path
	if k.rawURL != "" {
		if u, err := url.Parse(k.rawURL); err == nil {
			p = u.Path
		}
	}
	return routeTemplate(p)
}

// observe counts a response of operation and inspects it when it is due.
func (d *Drift) observe(operation string, route func() string, body []byte) {
	if d == nil {
		return
	}
	op := d.ops[operation]
	if op == nil {
		d.noteUnmapped(operation)
		return
	}
	if n := op.seen.Add(1); (n-1)%d.every != 0 {
		return
	}
	d.inspect(op, route(), body)
}

// inspect inspects body now and records its findings.
func (d *Drift) inspect(op *driftOp, route string, body []byte) {
	op.inspected.Add(1)
	d.inspected.WithLabelValues(op.name).Inc()
	in := inspectorPool.Get().(*driftInspector)
	found := in.inspect(op.root(), body)
	if len(found) > 0 {
		d.record(op.name, route, found)
	}
	in.release()
}

func (d *Drift) record(op, route string, found []driftFound) {
	now := d.clock.Now().UTC()
	for _, f := range found {
		d.found.WithLabelValues(op, string(f.kind)).Inc()
	}
	var logs []driftKey
	d.mu.Lock()
	for _, f := range found {
		k := driftKey{op: op, kind: f.kind, field: f.field}
		if have := d.findings[k]; have != nil {
			have.Count++
			have.LastSeen = now
			continue
		}
		if len(d.findings) >= d.max {
			d.dropped++
			if !d.fullLogged {
				d.fullLogged = true
				logs = append(logs, driftKey{})
			}
			continue
		}
		d.findings[k] = &DriftFinding{Operation: op, Kind: f.kind, Field: f.field, Route: route, FirstSeen: now, LastSeen: now, Count: 1}
		logs = append(logs, k)
	}
	d.mu.Unlock()
	for _, k := range logs {
		if k.op == "" {
			d.logger.Warn("procore drift: too many distinct findings; further ones are counted but not listed or logged",
				slog.Int("max_findings", d.max))
			continue
		}
		d.logger.Warn("procore response drift", slog.String("operation", k.op), slog.String("kind", string(k.kind)),
			slog.String("field", k.field), slog.String("route", route))
	}
}

// noteUnmapped remembers a read operation that has no schema (and so is not
// inspected), for tests and one debug log.
func (d *Drift) noteUnmapped(operation string) {
	d.mu.Lock()
	first := !d.unmapped[operation] && len(d.unmapped) < 64
	if first {
		d.unmapped[operation] = true
	}
	d.mu.Unlock()
	if first {
		d.logger.Debug("procore drift: no schema for operation; its responses are not inspected", slog.String("operation", operation))
	}
}

func cmpStrings(pairs ...string) int {
	for i := 0; i+1 < len(pairs); i += 2 {
		if c := strings.Compare(pairs[i], pairs[i+1]); c != 0 {
			return c
		}
	}
	return 0
}

// --- the inspection ---

// jsonKinds is a set of JSON value types.
type jsonKinds uint8

const (
	jString jsonKinds = 1 << iota
	jNumber
	jBool
	jObject
	jArray

	jScalar = jString | jNumber | jBool
)

// driftNode is what the adapter accepts at one place of a response. Null is
// accepted everywhere.
type driftNode struct {
	t      reflect.Type
	accept jsonKinds
	// fields are an object's known members by JSON name; nil accepts any
	// names (maps, budget rows with their dynamic columns).
	fields map[string]*driftField
	// ignored are names Procore documents that the adapter does not read.
	ignored map[string]bool
	// expected are names whose absence is missing_field (fields[n].bit).
	expected []string
	// elem is the node of an array's elements (nil: not inspected).
	elem *driftNode
	// scalarEnum checks the value when an object-or-scalar type arrives as
	// a scalar (a bare impact status).
	scalarEnum func(string) bool
}

type driftField struct {
	name string
	node *driftNode
	bit  int // index in the node's expected, or -1
	// enum reports whether the adapter knows a value (nil: not an enum).
	enum func(string) bool
}

// driftFound is one finding in one response.
type driftFound struct {
	kind  DriftKind
	field string
}

// maxFoundPerResponse bounds the findings of one response.
const maxFoundPerResponse = 64

// maxFieldName bounds a reported key's length.
const maxFieldName = 100

type driftInspector struct {
	dec   *jsontext.Decoder
	path  []string
	found []driftFound
	enums map[any]map[string]bool // known enum values by field (or node), this response
	name  []byte
}

var inspectorPool = sync.Pool{New: func() any {
	return &driftInspector{dec: jsontext.NewDecoder(new(bytes.Buffer), decodeOptions)}
}}

func (in *driftInspector) release() {
	in.dec.Reset(new(bytes.Buffer), decodeOptions) // drop the body
	in.path = in.path[:0]
	in.found = in.found[:0]
	clear(in.enums)
	inspectorPool.Put(in)
}

// inspect walks body against root and returns the distinct findings (valid
// until release). A body that is not valid JSON ends the walk: decoding
// reports it.
func (in *driftInspector) inspect(root *driftNode, body []byte) []driftFound {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if body[0] == '{' && (root.fields == nil || root.fields["data"] == nil) {
		body = unwrapData(body)
	}
	// From a bytes.Buffer the decoder parses the body in place, without a
	// copy, and never writes to it (the body is decoded next).
	in.dec.Reset(bytes.NewBuffer(body), decodeOptions)
	if in.dec.PeekKind() == '[' && root.accept&jArray != 0 && root.elem != nil {
		// A list: its items' fields are reported without a "[]." prefix.
		if _, err := in.dec.ReadToken(); err != nil {
			return in.found
		}
		for in.dec.PeekKind() != ']' {
			if err := in.value(root.elem, nil); err != nil {
				return in.found
			}
		}
		return in.found
	}
	_ = in.value(root, nil)
	return in.found
}

// unwrapData returns the data of a v2-style {"data": ...} envelope (as
// decodeBody reads it), else body.
func unwrapData(body []byte) []byte {
	if !bytes.Contains(body, []byte(`"data"`)) {
		return body
	}
	var env map[string]jsontext.Value
	if err := unmarshal(body, &env); err == nil {
		if data, ok := env["data"]; ok {
			if _, hasID := env["id"]; !hasID {
				return data
			}
		}
	}
	return body
}

func (in *driftInspector) report(kind DriftKind, name string) {
	if len(in.found) >= maxFoundPerResponse {
		return
	}
	field := in.pathString(name)
	for _, f := range in.found {
		if f.kind == kind && f.field == field {
			return
		}
	}
	in.found = append(in.found, driftFound{kind: kind, field: field})
}

// pathString joins the path and name: questions[].answers[].body.
func (in *driftInspector) pathString(name string) string {
	var b strings.Builder
	for _, s := range in.path {
		if s != "[]" && b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	if name != "" {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		if len(name) > maxFieldName {
			name = name[:maxFieldName]
		}
		b.WriteString(name)
	}
	return b.String()
}

func (in *driftInspector) value(n *driftNode, f *driftField) error {
	dec := in.dec
	var kind jsonKinds
	switch dec.PeekKind() {
	case 'n':
		return dec.SkipValue()
	case '{':
		if n.accept&jObject != 0 {
			return in.object(n)
		}
		kind = jObject
	case '[':
		if n.accept&jArray != 0 {
			return in.array(n)
		}
		kind = jArray
	case '"':
		kind = jString
	case '0':
		kind = jNumber
	case 't', 'f':
		kind = jBool
	default:
		_, err := dec.ReadValue() // the syntax error
		return err
	}
	if n.accept&kind == 0 {
		in.report(DriftChangedType, "")
		return dec.SkipValue()
	}
	var enum func(string) bool
	var memo any // what the enum belongs to
	switch {
	case f != nil && f.enum != nil:
		enum, memo = f.enum, f
	case n.scalarEnum != nil:
		enum, memo = n.scalarEnum, n
	}
	if enum == nil || kind == jBool {
		return dec.SkipValue()
	}
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	if !in.knownEnum(memo, enum, v) {
		in.report(DriftUnknownEnum, "")
	}
	return nil
}

// knownEnum reports whether enum knows the value v (a JSON string or number;
// null and "" count as known), memoized within one response: statuses
// repeat, and a hit costs no allocation.
func (in *driftInspector) knownEnum(owner any, enum func(string) bool, v []byte) bool {
	memo := in.enums[owner]
	key := v
	if len(v) >= 2 && v[0] == '"' && bytes.IndexByte(v, '\\') < 0 {
		key = v[1 : len(v)-1]
	}
	if ok, hit := memo[string(key)]; hit {
		return ok
	}
	ok := true
	if text, empty, err := scalarText(v); err == nil && !empty {
		ok = enum(text)
	}
	if memo == nil {
		if in.enums == nil {
			in.enums = map[any]map[string]bool{}
		}
		memo = map[string]bool{}
		in.enums[owner] = memo
	}
	if len(memo) < 64 {
		memo[string(key)] = ok
	}
	return ok
}

func (in *driftInspector) object(n *driftNode) error {
	dec := in.dec
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	var seen uint64
	for dec.PeekKind() != '}' {
		raw, err := dec.ReadValue()
		if err != nil {
			return err
		}
		name := in.unquoteName(raw)
		if n.fields == nil {
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		f := n.fields[string(name)]
		if f == nil {
			if !n.ignored[string(name)] && !driftCommonFields[string(name)] {
				in.report(DriftUnknownField, string(name))
			}
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		if f.bit >= 0 {
			seen |= 1 << f.bit
		}
		in.path = append(in.path, f.name)
		err = in.value(f.node, f)
		in.path = in.path[:len(in.path)-1]
		if err != nil {
			return err
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	if n.fields == nil {
		return nil
	}
	for i, name := range n.expected {
		if seen&(1<<i) == 0 {
			in.report(DriftMissingField, name)
		}
	}
	return nil
}

// unquoteName returns a member name's text: the bytes between the quotes,
// or the decoded text when it has escapes.
func (in *driftInspector) unquoteName(raw []byte) []byte {
	if len(raw) >= 2 && bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1]
	}
	u, err := jsontext.AppendUnquote(in.name[:0], raw)
	if err != nil {
		return raw
	}
	in.name = u
	return u
}

func (in *driftInspector) array(n *driftNode) error {
	dec := in.dec
	if n.elem == nil {
		return dec.SkipValue()
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	in.path = append(in.path, "[]")
	for dec.PeekKind() != ']' {
		if err := in.value(n.elem, nil); err != nil {
			in.path = in.path[:len(in.path)-1]
			return err
		}
	}
	in.path = in.path[:len(in.path)-1]
	_, err := dec.ReadToken()
	return err
}

// --- the schemas ---

// driftRoots are the response schemas of the read operations, by operation
// (call.what, as reader.go, writer.go and webhooks.go name them). A GET whose
// operation is not here is not inspected (TestDriftEveryReadHasASchema).
var driftRoots = map[string]func() *driftNode{
	"get the current user":     driftOne[wirePerson](),
	"list companies":           driftList[wireCompany](),
	"list projects":            driftList[wireProject](),
	"get project":              driftOne[wireProject](),
	"list company users":       driftList[wireUser](),
	"get company user":         driftOne[wireUser](),
	"list project users":       driftList[wireUser](),
	"list company vendors":     driftList[wireVendor](),
	"list project vendors":     driftList[wireVendor](),
	"list cost codes":          driftList[wireCostCode](),
	"list RFIs":                driftList[wireRFI](),
	"get RFI":                  driftOne[wireRFI](),
	"list submittals":          driftList[wireSubmittal](),
	"get submittal":            driftOne[wireSubmittal](),
	"list submittal statuses":  driftList[wireSubmittalStatus](),
	"list submittal responses": driftList[wireSubmittalResponse](),
	"list subcontracts":        driftList[wireCommitment](),
	"list purchase orders":     driftList[wireCommitment](),
	"get commitment":           driftOne[wireCommitment](),
	"list change orders":       driftList[wireChangeOrder](),
	"list invoices":            driftList[wireRequisition](),
	"get invoice":              driftOne[wireRequisition](),
	"list billing periods":     driftList[wireBillingPeriod](),
	"list budget views":        driftList[wireBudgetView](),
	"list budget rows":         driftList[wireBudgetRow](),
	"list manpower logs":       driftList[wireManpowerLog](),
	"list notes logs":          driftList[wireNotesLog](),
	"list observations":        driftList[wireObservation](),
	"list punch items":         driftList[wirePunchItem](),
	"list webhook hooks":       driftList[wireHook](),
	"list webhook triggers":    driftList[wireTrigger](),
}

func driftOne[W any]() func() *driftNode {
	return sync.OnceValue(func() *driftNode { return driftSchemaOf(reflect.TypeFor[W]()) })
}

func driftList[W any]() func() *driftNode {
	return sync.OnceValue(func() *driftNode {
		return &driftNode{accept: jArray, elem: driftSchemaOf(reflect.TypeFor[W]())}
	})
}

// driftExpected are the members whose absence is missing_field, by wire
// type: the id and the fields the adapter reads that have no alternative
// spelling (so not name vs first_name/last_name, date vs datetime, summary
// vs g702) and that Procore always sends, null when empty. Optional fields
// Procore omits when unset (description, due_date, private, time_zone,
// logo_url...) are not expected.
var driftExpected = map[reflect.Type][]string{
	reflect.TypeFor[wirePerson]():            {"id"},
	reflect.TypeFor[wireCompany]():           {"id", "name"},
	reflect.TypeFor[wireProject]():           {"id", "name", "created_at", "updated_at"},
	reflect.TypeFor[wireUser]():              {"id", "updated_at"},
	reflect.TypeFor[wireVendor]():            {"id"},
	reflect.TypeFor[wireCostCode]():          {"id", "name"},
	reflect.TypeFor[wireRFI]():               {"id", "number", "subject", "status", "created_at", "updated_at"},
	reflect.TypeFor[wireSubmittal]():         {"id", "number", "title", "status", "created_at", "updated_at"},
	reflect.TypeFor[wireSubmittalStatus]():   {"id", "name", "status"},
	reflect.TypeFor[wireSubmittalResponse](): {"id", "name"},
	reflect.TypeFor[wireCommitment]():        {"id", "number", "title", "status", "grand_total", "created_at", "updated_at"},
	reflect.TypeFor[wireChangeOrder]():       {"id", "number", "title", "status", "grand_total", "created_at", "updated_at"},
	reflect.TypeFor[wireRequisition]():       {"id", "number", "status", "commitment_id", "created_at", "updated_at"},
	reflect.TypeFor[wireBillingPeriod]():     {"id", "start_date", "end_date"},
	reflect.TypeFor[wireBudgetView]():        {"id", "name"},
	reflect.TypeFor[wireManpowerLog]():       {"id", "num_workers", "created_at", "updated_at"},
	reflect.TypeFor[wireNotesLog]():          {"id", "comment", "created_at", "updated_at"},
	reflect.TypeFor[wireObservation]():       {"id", "name", "status", "created_at", "updated_at"},
	reflect.TypeFor[wirePunchItem]():         {"id", "name", "status", "created_at", "updated_at"},
	reflect.TypeFor[wireHook]():              {"id", "destination_url"},
	reflect.TypeFor[wireTrigger]():           {"id", "resource_name", "event_type"},
}

// driftEnums are the enum members, by wire type and name: whether the
// adapter maps a value to a known one, asked of the adapter's own
// conversion so that the check and the mapping cannot disagree.
var driftEnums = map[reflect.Type]map[string]func(string) bool{
	reflect.TypeFor[wireRFI](): {"status": func(s string) bool {
		return wireRFI{Status: flexString(s)}.rfi(1).Status != adapter.RFIStatusUnknown
	}},
	reflect.TypeFor[wireObservation](): {"status": func(s string) bool {
		return wireObservation{Status: flexString(s)}.observation(1).Status != adapter.ObservationUnknown
	}},
	reflect.TypeFor[wirePunchItem](): {"status": func(s string) bool {
		return wirePunchItem{Status: flexString(s)}.punchItem(1).Status != adapter.PunchUnknown
	}},
	reflect.TypeFor[wireCommitment](): {"status": func(s string) bool {
		return wireCommitment{Status: flexString(s)}.commitment(1, adapter.CommitmentSubcontract).Status != adapter.CommitmentUnknown
	}},
	reflect.TypeFor[wireChangeOrder](): {"status": func(s string) bool {
		return wireChangeOrder{Status: flexString(s)}.changeOrder(1).Status != adapter.ChangeOrderUnknown
	}},
	reflect.TypeFor[wireRequisition](): {"status": func(s string) bool {
		return wireRequisition{Status: flexString(s)}.invoice(1).Status != adapter.InvoiceUnknown
	}},
	reflect.TypeFor[wireImpact](): {"status": knownImpactStatus},
}

func knownImpactStatus(s string) bool {
	p := impactPtr(&wireImpact{Status: flexString(s)})
	return p != nil && p.Status != adapter.ImpactUnknown
}

// driftScalarEnums check object-or-scalar types that arrive as a scalar.
var driftScalarEnums = map[reflect.Type]func(string) bool{
	reflect.TypeFor[wireImpact](): knownImpactStatus,
}

// driftScalars are the JSON types the tolerant scalars read; anything else
// leaves them unset (flexID fails the page).
var driftScalars = map[reflect.Type]jsonKinds{
	reflect.TypeFor[flexID]():      jString | jNumber,
	reflect.TypeFor[flexString]():  jScalar,
	reflect.TypeFor[flexInt]():     jString | jNumber,
	reflect.TypeFor[flexDecimal](): jString | jNumber,
	reflect.TypeFor[flexDate]():    jString | jNumber,
	reflect.TypeFor[flexTime]():    jString | jNumber,
	reflect.TypeFor[flexBool]():    jScalar,
}

var driftSchemas struct {
	sync.Mutex
	m map[reflect.Type]*driftNode
}

// driftSchemaOf returns t's schema, computed once per type.
func driftSchemaOf(t reflect.Type) *driftNode {
	driftSchemas.Lock()
	defer driftSchemas.Unlock()
	if driftSchemas.m == nil {
		driftSchemas.m = map[reflect.Type]*driftNode{}
	}
	return driftBuild(t)
}

var jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// driftBuild computes t's schema (with driftSchemas held).
func driftBuild(t reflect.Type) *driftNode {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n := driftSchemas.m[t]; n != nil {
		return n
	}
	if k, ok := driftScalars[t]; ok {
		n := &driftNode{accept: k}
		driftSchemas.m[t] = n
		return n
	}
	n := &driftNode{t: t}
	driftSchemas.m[t] = n // before recursing
	switch t {
	case reflect.TypeFor[flexIDs]():
		n.accept, n.elem = jArray|jString|jNumber, driftBuild(reflect.TypeFor[flexID]())
		return n
	case reflect.TypeFor[wirePeople]():
		// A list of people, or one person object, or a bare id.
		p := driftBuild(reflect.TypeFor[wirePerson]())
		*n = driftNode{t: t, accept: jArray | jObject | jString | jNumber, elem: p, fields: p.fields, ignored: p.ignored, expected: p.expected}
		return n
	case reflect.TypeFor[wireBudgetRow]():
		n.accept = jObject // fixed keys plus the view's dynamic columns
		return n
	}
	switch t.Kind() {
	case reflect.Struct:
		n.accept = jObject
		if reflect.PointerTo(t).Implements(jsonUnmarshalerType) {
			n.accept |= jString | jNumber // a bare id, name or status is read too
		}
		n.scalarEnum = driftScalarEnums[t]
		n.fields = map[string]*driftField{}
		n.expected = driftExpected[t]
		if len(n.expected) > 64 {
			panic("rest: more than 64 expected fields for " + t.String())
		}
		enums := driftEnums[t]
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			f := &driftField{name: name, node: driftBuild(sf.Type), bit: slices.Index(n.expected, name), enum: enums[name]}
			n.fields[name] = f
		}
		for _, name := range n.expected {
			if n.fields[name] == nil {
				panic("rest: expected field " + name + " is not a field of " + t.String())
			}
		}
		n.ignored = map[string]bool{}
		for name := range strings.FieldsSeq(driftIgnored[t]) {
			n.ignored[name] = true
		}
	case reflect.Slice, reflect.Array:
		n.accept, n.elem = jArray, driftBuild(t.Elem())
	case reflect.Map:
		n.accept = jObject // any names
	case reflect.Interface:
		n.accept = jScalar | jObject | jArray
	default:
		n.accept = jScalar
	}
	return n
}

// driftCommonFields are members Procore sends on many objects that the
// adapter does not read (where a wire type reads one, it is a field).
var driftCommonFields = map[string]bool{
	"origin_id": true, "origin_data": true, "origin_code": true, "created_by": true, "created_at": true,
	"updated_at": true, "deleted_at": true, "attachments": true, "location": true,
}

// driftIgnored are, by wire type, the members Procore documents that the
// adapter does not read (as the sandbox renders them, from Procore's API
// reference): not drift. TestDriftBaselineIsClean keeps this list and the
// sandbox in step.
var driftIgnored = map[reflect.Type]string{
	reflect.TypeFor[wireCompany](): "logo_url my_company pcn_business_experience",
	reflect.TypeFor[wireProject](): "actual_start_date county departments description estimated_completion_date " +
		"estimated_start_date estimated_value flag is_demo latitude longitude office phone program project_type " +
		"projected_finish_date public_notes square_feet template",
	reflect.TypeFor[wireUser](): "address business_phone city country_code employee_id initials is_employee last_login_at " +
		"mobile_phone permission_template state_code zip",
	reflect.TypeFor[wireVendor]():   "address country_code legal_name prequalified primary_contact synced_to_erp zip",
	reflect.TypeFor[wireCostCode](): "biller biller_id biller_type budgeted line_item_types position standard_cost_code_id",
	reflect.TypeFor[wireNamed]():    "category code",
	reflect.TypeFor[wireRFI](): "accepted custom_fields distribution_list drawing_ids drawing_number prefix reference " +
		"specification_section translated_status",
	reflect.TypeFor[wireQuestion]():    "created_by_id",
	reflect.TypeFor[wireSubmittal]():   "current_revision distributed_at private received_date responsible_contractor submittal_package",
	reflect.TypeFor[wireSpecSection](): "current_revision_id",
	reflect.TypeFor[wireApprover]():    "days_to_respond distributed",
	reflect.TypeFor[wireCommitment](): "accounting_method currency_configuration delivery_date description " +
		"draft_change_orders_amount payment_terms pending_revised_contract percentage_paid private " +
		"requisitions_are_enabled ship_to_address show_line_items_to_non_admins total_requisitions_amount type",
	reflect.TypeFor[wireLineItem]():    "extended_amount extended_type line_item_type tax_code_id wbs_code",
	reflect.TypeFor[wireChangeOrder](): "description executed line_items reviewed_at reviewed_by revision type",
	reflect.TypeFor[wireRequisition](): "commitment_type contract_name currency_configuration deletable erp_status payment_date " +
		"percent_complete previous_requisition_id submitted_at total_claimed_amount vendor_id",
	reflect.TypeFor[wireG703Item](): "balance_to_finish item_type materials_stored_retainage_released_this_period status " +
		"work_completed_retainage_from_previous_application",
	reflect.TypeFor[wireBudgetView]():  "links role",
	reflect.TypeFor[wireManpowerLog](): "contact cost_code trade user",
	reflect.TypeFor[wireNotesLog]():    "is_issue",
	reflect.TypeFor[wireObservation](): "personal trade",
	reflect.TypeFor[wirePunchItem]():   "assignments final_approver vendor",
	reflect.TypeFor[wireHook]():        "owned_by_user_id",
	reflect.TypeFor[wireTrigger]():     "company_id project_id resource_id user_id",
}
