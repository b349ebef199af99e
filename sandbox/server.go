package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"procoregraph/sandbox/auth"
	"procoregraph/sandbox/contract"
	"procoregraph/sandbox/data"
	"procoregraph/sandbox/uploads"
	"procoregraph/sandbox/webhooks"
)

// Server is the Procore simulator. Create it with New; serve Handler().
type Server struct {
	cfg Config
	now func() time.Time
	log *slog.Logger

	mu sync.RWMutex // guards ds
	ds *data.Dataset

	auth    *auth.Service
	hooks   *webhooks.Service
	uploads *uploads.Service

	limiter *limiter
	stats   *statsCounter

	faultMu    sync.Mutex
	faults     Faults
	stormUntil time.Time
	faultRand  *rand.Rand
	// released is closed (and replaced) by SetFaults: StallBody's held
	// bodies then complete.
	released chan struct{}
	stalled  atomic.Int64 // bodies held by StallBody now

	bufs    sync.Pool // *[]byte response buffers
	reqSeq  atomic.Uint64
	baseURL atomic.Pointer[string]
	handler http.Handler
}

// New generates the dataset and wires auth, webhooks and uploads.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	ds := data.Generate(cfg.Data)
	s := &Server{
		cfg:       cfg,
		now:       cfg.Now,
		log:       cfg.Logger,
		ds:        ds,
		limiter:   newLimiter(cfg.HourlyLimit, cfg.SpikeLimit, cfg.HourlyWindow, cfg.SpikeWindow),
		stats:     newStats(),
		faultRand: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed_fa17)),
	}
	if cfg.BaseURL != "" {
		s.SetBaseURL(cfg.BaseURL)
	}

	var all []int64
	for _, c := range ds.Companies {
		all = append(all, c.ID)
	}
	companiesOr := func(ids []int64) []int64 {
		if ids == nil {
			return slices.Clone(all)
		}
		return ids
	}
	clients := []auth.Client{{ID: cfg.ClientID, Secret: cfg.ClientSecret, CompanyIDs: companiesOr(cfg.ClientCompanyIDs), ServiceUserID: ds.ServiceUserID}}
	for _, c := range cfg.ExtraClients {
		c.CompanyIDs = companiesOr(c.CompanyIDs)
		if c.ServiceUserID == 0 {
			c.ServiceUserID = ds.ServiceUserID
		}
		clients = append(clients, c)
	}
	demo := ds.User(ds.DemoUserID)
	demo.Admin = cfg.DemoAdmin
	users := []auth.WebUser{{UserID: ds.DemoUserID, Email: cfg.DemoEmail, Password: cfg.DemoPassword, Name: demo.Name(),
		MFA: cfg.DemoMFA, TOTPSecret: cfg.DemoTOTPSecret, Phone: demo.Phone}}
	for _, u := range cfg.ExtraUsers {
		if ds.User(u.UserID) == nil {
			return nil, fmt.Errorf("sandbox: extra web user %q: user id %d is not in the dataset", u.Email, u.UserID)
		}
		users = append(users, u)
	}
	s.auth = auth.New(auth.Config{Clients: clients, Users: users, TokenTTL: cfg.TokenTTL, SessionTTL: cfg.SessionTTL, Now: cfg.Now})
	s.hooks = webhooks.New(webhooks.Config{
		Client: cfg.WebhookClient, Now: cfg.Now, Seed: cfg.Seed,
		Duplicate:  func() bool { return s.chance(func(f Faults) float64 { return f.DuplicateWebhooks }) },
		Reorder:    func() bool { return s.chance(func(f Faults) float64 { return f.ReorderWebhooks }) },
		MinBackoff: cfg.WebhookMinBackoff, MaxBackoff: cfg.WebhookMaxBackoff,
		ProjectCompany: func(ctx context.Context, projectID int64) (int64, bool) {
			p, ok := auth.PrincipalFrom(ctx)
			if !ok {
				return 0, false
			}
			s.mu.RLock()
			defer s.mu.RUnlock()
			pr := s.ds.Project(projectID)
			if pr == nil || !s.canSeeProject(p, pr) {
				return 0, false
			}
			return pr.CompanyID, true
		},
	})
	s.uploads = uploads.New(uploads.Config{
		Now: cfg.Now, TTL: cfg.UploadTTL, BaseURL: s.BaseURL,
		ProjectVisible: func(ctx context.Context, projectID int64) bool {
			p, ok := auth.PrincipalFrom(ctx)
			if !ok {
				return false
			}
			s.mu.RLock()
			defer s.mu.RUnlock()
			pr := s.ds.Project(projectID)
			return pr != nil && s.canSeeProject(p, pr)
		},
	})
	s.SetFaults(cfg.Faults)
	s.handler = s.routes()
	return s, nil
}

// Handler serves the login host paths (/oauth, the web portal), the API host
// paths (/rest) and the admin paths (/_sandbox) on one handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops webhook deliveries.
func (s *Server) Close() { s.hooks.Close() }

// SetBaseURL sets the absolute URL the sandbox is reached at (used in the
// upload URLs it hands out).
func (s *Server) SetBaseURL(u string) { u = strings.TrimRight(u, "/"); s.baseURL.Store(&u) }

// BaseURL is the sandbox's absolute URL, "" until known.
func (s *Server) BaseURL() string {
	if p := s.baseURL.Load(); p != nil {
		return *p
	}
	return ""
}

// Stats returns the request counters.
func (s *Server) Stats() Stats {
	st := s.stats.snapshot(s.auth.Logins())
	st.StalledBodies = s.stalled.Load()
	return st
}

// ResetStats zeroes the request counters (not the rate-limit budgets).
func (s *Server) ResetStats() { s.stats.reset(s.auth.Logins()) }

// ResetRateLimits gives every token its full budget again.
func (s *Server) ResetRateLimits() { s.limiter.reset() }

// Faults returns the current fault settings.
func (s *Server) Faults() Faults {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	f := s.faults
	if now := s.now(); s.stormUntil.After(now) {
		u := s.stormUntil
		f.RateLimitStormUntil = &u
		f.RateLimitStorm = Duration(s.stormUntil.Sub(now))
	} else {
		f.RateLimitStorm = 0
	}
	return f
}

// SetFaults replaces the fault settings. A positive RateLimitStorm starts a
// storm lasting that long from now.
func (s *Server) SetFaults(f Faults) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.stormUntil = time.Time{}
	if f.RateLimitStorm > 0 {
		s.stormUntil = s.now().Add(time.Duration(f.RateLimitStorm))
	}
	f.RateLimitStormUntil = nil
	f.FailRoutes = maps.Clone(f.FailRoutes) // never shared with the caller
	if s.released != nil {
		close(s.released)
	}
	s.released = make(chan struct{})
	if f.OverloadRetryAfter <= 0 {
		f.OverloadRetryAfter = Duration(DefaultOverloadRetry)
	}
	s.faults = f
}

// ExpireTokens makes every access token expire now (refresh tokens still work).
func (s *Server) ExpireTokens() { s.auth.ExpireTokens() }

// ExpireSessions makes every web session expire now.
func (s *Server) ExpireSessions() { s.auth.ExpireSessions() }

// Outbox returns the MFA codes sent to an address or phone number.
func (s *Server) Outbox(to string) []auth.Message { return s.auth.Outbox(to) }

// Dataset returns the live dataset. Read it only while no writes are in flight
// (e.g. between requests in a test), or use ReadDataset.
func (s *Server) Dataset() *data.Dataset { return s.ds }

// ReadDataset calls fn with the dataset under the server's read lock.
func (s *Server) ReadDataset(fn func(*data.Dataset)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fn(s.ds)
}

// FirstProject returns the id of the dataset's first company and of that
// company's first project (0 when it has none): the pair a test of one
// company and one project works in.
func (s *Server) FirstProject() (companyID, projectID int64) {
	s.ReadDataset(func(ds *data.Dataset) {
		if len(ds.Companies) == 0 {
			return
		}
		companyID = ds.Companies[0].ID
		for _, p := range ds.Projects {
			if p.CompanyID == companyID {
				projectID = p.ID
				return
			}
		}
	})
	return companyID, projectID
}

// chance draws from the fault PRNG against the fraction picked from the faults.
func (s *Server) chance(pick func(Faults) float64) bool {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	p := pick(s.faults)
	if p <= 0 {
		return false
	}
	return s.faultRand.Float64() < p
}

func (s *Server) currentFaults() (Faults, bool) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return s.faults, s.stormUntil.After(s.now())
}

// --- access ---

// call is what the middleware hands an API handler.
type call struct {
	p       auth.Principal
	company *data.Company // from Procore-Company-Id; nil where not required and absent
	admin   bool
	events  []webhooks.Event // emitted after the handler returns (and released the lock)
}

// event queues a webhook event for the handler's write.
func (c *call) event(projectID int64, resource string, id int64, typ string) {
	var company int64
	if c.company != nil {
		company = c.company.ID
	}
	c.events = append(c.events, webhooks.Event{CompanyID: company, ProjectID: projectID, UserID: c.p.UserID,
		ResourceName: resource, ResourceID: id, EventType: typ, ApplicationID: c.p.ClientID})
}

func (s *Server) isAdmin(p auth.Principal) bool {
	if p.Kind == auth.KindClientCredentials {
		return true
	}
	u := s.ds.User(p.UserID)
	return u != nil && u.Admin
}

// canSeeCompany: client_credentials tokens see the app's companies; people
// see the companies whose directory lists them. Call with s.mu held.
func (s *Server) canSeeCompany(p auth.Principal, c *data.Company) bool {
	if p.Kind == auth.KindClientCredentials {
		return slices.Contains(p.CompanyIDs, c.ID)
	}
	return c.HasUser(p.UserID)
}

// canSeeProject: a visible company's projects, all of them for the service
// account and company admins, otherwise those whose directory lists the person.
func (s *Server) canSeeProject(p auth.Principal, pr *data.Project) bool {
	c := s.ds.Company(pr.CompanyID)
	if c == nil || !s.canSeeCompany(p, c) {
		return false
	}
	return s.isAdmin(p) || pr.HasUser(p.UserID)
}

// --- middleware ---

type apiHandler func(w http.ResponseWriter, r *http.Request, c *call)

// routeOpts tune the API middleware per route.
type routeOpts struct {
	companyOptional bool // /me and /companies for people (not for client_credentials)
}

// api wraps an API handler in the /rest chain: latency, auth, stats, storm and
// overload faults, 401, rate limit, injected 5xx, company header, project
// path visibility, Procore's published contract (Config.Contract).
func (s *Server) api(pattern string, h apiHandler, o routeOpts) http.HandlerFunc {
	// The contract check reads at most this much of a body (then restores it
	// for the handler); a longer body's keys are not checked.
	const contractBodyLimit = 8 << 20
	table := contract.Must()
	return func(w http.ResponseWriter, r *http.Request) {
		f, storm := s.currentFaults()
		if d := time.Duration(f.Latency) + s.jitter(time.Duration(f.Jitter)); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		p, authErr := s.auth.Authenticate(r)
		s.stats.rest(pattern, p.TokenID, p.ClientID, r.Header.Get("Procore-Company-Id"), authErr == nil)

		switch {
		case storm:
			s.rateHeaders(w, p, authErr == nil, true)
			tooMany(w)
			return
		case f.Overload:
			s.rateHeaders(w, p, authErr == nil, false)
			w.Header().Set("Retry-After", retryAfterSeconds(time.Duration(f.OverloadRetryAfter)))
			writeJSONBytes(w, http.StatusServiceUnavailable, []byte(`{"errors":"Service Unavailable: the platform is overloaded, retry later"}`))
			return
		}
		if authErr != nil {
			s.rateHeaders(w, p, false, false)
			w.Header().Set("WWW-Authenticate", `Bearer realm="Doorkeeper", error="invalid_token", error_description="The access token is invalid"`)
			writeJSONBytes(w, http.StatusUnauthorized, []byte(`{"error":"invalid_token","error_description":"The access token is invalid"}`))
			return
		}
		st, ok := s.limiter.take(p.TokenID, s.now())
		setRateHeaders(w, st)
		if !ok {
			s.stats.rateLimited()
			tooMany(w)
			return
		}
		if s.chance(func(f Faults) float64 { return f.ErrorRate }) {
			s.injectedError(w)
			return
		}
		if code, ok := f.FailRoutes[pattern]; ok {
			if code == 0 {
				code = http.StatusInternalServerError
			}
			writeJSONBytes(w, code, fmt.Appendf(nil, `{"errors":"%s (injected route fault)"}`, http.StatusText(code)))
			return
		}
		c := &call{p: p}
		if !s.companyHeader(w, r, c, o) {
			return
		}
		if v := r.PathValue("project_id"); v != "" && c.company != nil {
			id, err := strconv.ParseInt(v, 10, 64)
			s.mu.RLock()
			pr := s.ds.Project(id)
			visible := err == nil && pr != nil && pr.CompanyID == c.company.ID && s.canSeeProject(p, pr)
			s.mu.RUnlock()
			if !visible {
				notFound(w)
				return
			}
		}
		if s.cfg.Contract != ContractOff {
			if vs := table.CheckRequest(r, contractBodyLimit); len(vs) > 0 {
				keys := make([]string, len(vs))
				for i, v := range vs {
					keys[i] = v.Key()
				}
				s.stats.contract(keys)
				if status, body, ok := contract.Answer(vs); ok && s.cfg.Contract == ContractEnforce {
					writeJSONBytes(w, status, body)
					return
				}
			}
		}
		r = r.WithContext(auth.WithPrincipal(r.Context(), p))
		if f.StallBody {
			s.stallBody(w, r, func(w http.ResponseWriter) { h(w, r, c) })
		} else {
			h(w, r, c)
		}
		for _, ev := range c.events {
			s.hooks.Emit(ev)
		}
	}
}

func (s *Server) jitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return time.Duration(s.faultRand.Int64N(int64(max) + 1))
}

func (s *Server) injectedError(w http.ResponseWriter) {
	s.faultMu.Lock()
	code := []int{500, 502, 503}[s.faultRand.IntN(3)]
	s.faultMu.Unlock()
	writeJSONBytes(w, code, fmt.Appendf(nil, `{"errors":"%s (injected fault)"}`, http.StatusText(code)))
}

// companyHeader enforces Procore-Company-Id: missing → 400, not a visible
// company → 404. Optional (people calling /me or /companies) when o says so.
func (s *Server) companyHeader(w http.ResponseWriter, r *http.Request, c *call, o routeOpts) bool {
	h := strings.TrimSpace(r.Header.Get("Procore-Company-Id"))
	if h == "" {
		if o.companyOptional && c.p.Kind != auth.KindClientCredentials {
			s.mu.RLock()
			c.admin = s.isAdmin(c.p)
			s.mu.RUnlock()
			return true
		}
		writeJSONBytes(w, http.StatusBadRequest, []byte(`{"errors":"Missing Procore-Company-Id header!"}`))
		return false
	}
	id, err := strconv.ParseInt(h, 10, 64)
	s.mu.RLock()
	defer s.mu.RUnlock()
	var co *data.Company
	if err == nil {
		co = s.ds.Company(id)
	}
	if co == nil || !s.canSeeCompany(c.p, co) {
		notFound(w)
		return false
	}
	c.company = co
	c.admin = s.isAdmin(c.p)
	return true
}

// rateHeaders sets the X-Rate-Limit-* headers without consuming budget. During
// a storm Remaining is 0 and Reset is the storm's end.
func (s *Server) rateHeaders(w http.ResponseWriter, p auth.Principal, authed, storm bool) {
	var st rateState
	if authed {
		st = s.limiter.peek(p.TokenID, s.now())
	} else {
		st = s.limiter.peek("", s.now())
	}
	if storm {
		st.Remaining = 0
		s.faultMu.Lock()
		st.Reset = s.stormUntil
		s.faultMu.Unlock()
	}
	setRateHeaders(w, st)
}

func setRateHeaders(w http.ResponseWriter, st rateState) {
	if !st.on {
		return
	}
	h := w.Header()
	h.Set("X-Rate-Limit-Limit", strconv.Itoa(st.Limit))
	h.Set("X-Rate-Limit-Remaining", strconv.Itoa(st.Remaining))
	reset := st.Reset.Unix()
	if st.Reset.Nanosecond() > 0 {
		reset++
	}
	h.Set("X-Rate-Limit-Reset", strconv.FormatInt(reset, 10))
}

// RateLimitBody is the legacy 429 body.
const RateLimitBody = "You have surpassed the max number of requests for an hour. Please wait until your limit resets."

func tooMany(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte(RateLimitBody))
}

// --- responses ---

func writeJSONBytes(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func notFound(w http.ResponseWriter) {
	writeJSONBytes(w, http.StatusNotFound, []byte(`{"errors":"Resource not found"}`))
}

func badRequest(w http.ResponseWriter, msg string) {
	e := enc{}
	e.open()
	e.str("errors", msg)
	e.b = append(e.b, '}')
	writeJSONBytes(w, http.StatusBadRequest, e.b)
}

func forbidden(w http.ResponseWriter, msg string) {
	e := enc{}
	e.open()
	e.str("errors", msg)
	e.b = append(e.b, '}')
	writeJSONBytes(w, http.StatusForbidden, e.b)
}

// fieldErrors collects Rails-style validation errors in insertion order.
type fieldErrors struct {
	keys []string
	msgs map[string][]string
}

func (f *fieldErrors) add(field, msg string) {
	if f.msgs == nil {
		f.msgs = map[string][]string{}
	}
	if _, ok := f.msgs[field]; !ok {
		f.keys = append(f.keys, field)
	}
	f.msgs[field] = append(f.msgs[field], msg)
}

func (f *fieldErrors) any() bool { return len(f.keys) > 0 }

// write sends 422 {"errors":{"field":["msg"]}}.
func (f *fieldErrors) write(w http.ResponseWriter) {
	e := enc{}
	e.open()
	e.obj("errors")
	for _, k := range f.keys {
		e.arr(k)
		for _, m := range f.msgs[k] {
			e.elemStr(m)
		}
		e.closeArr()
	}
	e.b = append(e.b, '}', '}')
	writeJSONBytes(w, http.StatusUnprocessableEntity, e.b)
}

func invalid(w http.ResponseWriter, field, msg string) {
	var f fieldErrors
	f.add(field, msg)
	f.write(w)
}

// refuse sends a business-rule 422 {"error":{"code":"unprocessable_entity","message":...}}.
func refuse(w http.ResponseWriter, msg string) {
	e := enc{}
	e.open()
	e.obj("error")
	e.str("code", "unprocessable_entity")
	e.str("message", msg)
	e.b = append(e.b, '}', '}')
	writeJSONBytes(w, http.StatusUnprocessableEntity, e.b)
}

var errBody = errors.New("malformed JSON body")
