package webhooks

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"procoregraph/sandbox/auth"
)

// Routes returns the Webhooks API keyed by Go 1.22 ServeMux patterns. Every
// route needs an auth.Principal in the request context.
func (s *Service) Routes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"GET /rest/v1.0/webhooks/hooks":                            s.listHooks,
		"POST /rest/v1.0/webhooks/hooks":                           s.createHook,
		"GET /rest/v1.0/webhooks/hooks/{id}":                       s.showHook,
		"PATCH /rest/v1.0/webhooks/hooks/{id}":                     s.updateHook,
		"DELETE /rest/v1.0/webhooks/hooks/{id}":                    s.deleteHook,
		"GET /rest/v1.0/webhooks/hooks/{hook_id}/triggers":         s.listTriggers,
		"POST /rest/v1.0/webhooks/hooks/{hook_id}/triggers":        s.createTrigger,
		"DELETE /rest/v1.0/webhooks/hooks/{hook_id}/triggers/{id}": s.deleteTrigger,
		"GET /rest/v1.0/webhooks/hooks/{hook_id}/deliveries":       s.listDeliveries,
		"GET /rest/v1.0/webhooks/resources":                        s.listResources,
	}
}

// --- wire shapes ---

type hookJSON struct {
	ID                 int64             `json:"id"`
	APIVersion         string            `json:"api_version"`
	Namespace          string            `json:"namespace"`
	DestinationURL     string            `json:"destination_url"`
	DestinationHeaders map[string]string `json:"destination_headers"`
	OwnedByCompanyID   *int64            `json:"owned_by_company_id"`
	OwnedByProjectID   *int64            `json:"owned_by_project_id"`
	OwnedByUserID      *int64            `json:"owned_by_user_id"`
}

func (h *hook) wire() hookJSON {
	headers := make(map[string]string, len(h.Headers))
	for k, v := range h.Headers {
		headers[k] = v
	}
	j := hookJSON{
		ID: h.ID, APIVersion: h.APIVersion, Namespace: h.Namespace,
		DestinationURL: h.DestinationURL, DestinationHeaders: headers,
		OwnedByProjectID: idPtr(h.ProjectID), OwnedByUserID: idPtr(h.UserID),
	}
	if h.ProjectID == 0 {
		j.OwnedByCompanyID = idPtr(h.CompanyID)
	}
	return j
}

type triggerJSON struct {
	ID           int64  `json:"id"`
	HookID       int64  `json:"webhook_hook_id"`
	ResourceName string `json:"resource_name"`
	ResourceID   *int64 `json:"resource_id"`
	EventType    string `json:"event_type"`
	CompanyID    *int64 `json:"company_id"`
	ProjectID    *int64 `json:"project_id"`
	UserID       *int64 `json:"user_id"`
}

func (t *trigger) wire() triggerJSON {
	return triggerJSON{
		ID: t.ID, HookID: t.HookID, ResourceName: t.ResourceName, EventType: t.EventType,
		CompanyID: idPtr(t.CompanyID), ProjectID: idPtr(t.ProjectID), UserID: idPtr(t.UserID),
	}
}

type deliveryJSON struct {
	ID              int64             `json:"id"`
	EventID         int64             `json:"event_id"`
	Event           json.RawMessage   `json:"event"`
	StartedAt       string            `json:"started_at"`
	CompletedAt     string            `json:"completed_at"`
	ResponseStatus  *int              `json:"response_status"`
	ResponseHeaders map[string]string `json:"response_headers"`
	ResponseBody    *string           `json:"response_body"`
	ResponseError   *string           `json:"response_error"`
	Outcome         string            `json:"outcome"`
}

func (d *delivery) wire() deliveryJSON {
	j := deliveryJSON{
		ID: d.ID, EventID: d.EventID, Event: d.Event,
		StartedAt: d.StartedAt.Format(time.RFC3339), CompletedAt: d.CompletedAt.Format(time.RFC3339),
		ResponseHeaders: d.ResponseHeaders, ResponseBody: d.ResponseBody, ResponseError: d.ResponseError,
		Outcome: d.Outcome,
	}
	if d.ResponseStatus != 0 {
		status := d.ResponseStatus
		j.ResponseStatus = &status
	}
	return j
}

// flexID decodes an id sent as a JSON number or string; null or "" is 0.
type flexID int64

func (f *flexID) UnmarshalJSON(b []byte) error {
	v := strings.Trim(string(b), `"`)
	if v == "" || v == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return errors.New("not an integer id: " + v)
	}
	*f = flexID(n)
	return nil
}

// --- caller and scope ---

// caller is the authenticated principal plus the company named by the
// Procore-Company-Id header (0 when absent).
type caller struct {
	p       auth.Principal
	company int64
}

func (s *Service) caller(w http.ResponseWriter, r *http.Request) (caller, bool) {
	p, ok := auth.PrincipalFrom(r.Context())
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{
			"error": "invalid_token", "error_description": "The access token is invalid",
		})
		return caller{}, false
	}
	c := caller{p: p}
	if h := r.Header.Get("Procore-Company-Id"); h != "" {
		id, err := strconv.ParseInt(strings.TrimSpace(h), 10, 64)
		if err != nil {
			notFound(w)
			return caller{}, false
		}
		c.company = id
	}
	return c, true
}

// sees reports whether c may act in company: the Procore-Company-Id header
// (which the core has checked against the token) must name it when present,
// and a client-credentials principal must list it. With neither there is no
// company context and nothing is visible.
func (c caller) sees(company int64) bool {
	if company == 0 || (c.company != 0 && c.company != company) {
		return false
	}
	if c.p.CompanyIDs == nil {
		return c.company != 0
	}
	return slices.Contains(c.p.CompanyIDs, company)
}

// scope resolves the company or project scope a request names. ok is false
// when the response has been written.
func (s *Service) scope(w http.ResponseWriter, r *http.Request, c caller, companyID, projectID int64) (company, project int64, ok bool) {
	switch {
	case projectID != 0:
		company = companyID
		if company == 0 {
			company = c.company
		}
		if s.cfg.ProjectCompany != nil {
			pc, found := s.cfg.ProjectCompany(r.Context(), projectID)
			if !found {
				notFound(w)
				return 0, 0, false
			}
			company = pc
		}
		if !c.sees(company) {
			notFound(w)
			return 0, 0, false
		}
		return company, projectID, true
	case companyID != 0:
		if !c.sees(companyID) {
			notFound(w)
			return 0, 0, false
		}
		return companyID, 0, true
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"errors": "company_id or project_id is required"})
		return 0, 0, false
	}
}

// queryScope reads company_id and project_id from the query string.
func queryScope(w http.ResponseWriter, r *http.Request) (companyID, projectID int64, ok bool) {
	q := r.URL.Query()
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"company_id", &companyID}, {"project_id", &projectID}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"errors": p.name + " must be an integer"})
				return 0, 0, false
			}
			*p.dst = n
		}
	}
	return companyID, projectID, true
}

// visibleHook returns a copy of hook id's scope if c may see it, writing 404
// otherwise.
func (s *Service) visibleHook(w http.ResponseWriter, r *http.Request, c caller, raw string) (id int64, ok bool) {
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		notFound(w)
		return 0, false
	}
	s.mu.Lock()
	h := s.hooks[id]
	var company, project int64
	if h != nil {
		company, project = h.CompanyID, h.ProjectID
	}
	s.mu.Unlock()
	if h == nil || !c.sees(company) {
		notFound(w)
		return 0, false
	}
	if project != 0 && s.cfg.ProjectCompany != nil {
		if pc, found := s.cfg.ProjectCompany(r.Context(), project); !found || pc != company {
			notFound(w)
			return 0, false
		}
	}
	return id, true
}

// --- hooks ---

type hookFields struct {
	APIVersion         *string            `json:"api_version"`
	Namespace          *string            `json:"namespace"`
	DestinationURL     *string            `json:"destination_url"`
	DestinationHeaders *map[string]string `json:"destination_headers"`
}

type hookBody struct {
	CompanyID flexID      `json:"company_id"`
	ProjectID flexID      `json:"project_id"`
	Hook      *hookFields `json:"hook"`
}

var namespacePattern = regexp.MustCompile(`^[a-z0-9-]+$`)

var apiVersions = []string{"v2", "v2.0", "v3", "v3.0", "v4.0"}

// apply validates f and copies it onto h. Missing fields are left alone;
// create passes a fresh hook so required fields are checked there.
func (f *hookFields) apply(h *hook) map[string][]string {
	errs := map[string][]string{}
	if f.APIVersion != nil {
		if !slices.Contains(apiVersions, *f.APIVersion) {
			errs["api_version"] = append(errs["api_version"], "is not included in the list")
		} else {
			h.APIVersion = *f.APIVersion
		}
	}
	if f.Namespace != nil {
		if !namespacePattern.MatchString(*f.Namespace) || len(*f.Namespace) > 255 {
			errs["namespace"] = append(errs["namespace"], "is invalid: use lowercase letters, digits and -")
		} else {
			h.Namespace = *f.Namespace
		}
	}
	if f.DestinationURL != nil {
		u, err := url.Parse(*f.DestinationURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs["destination_url"] = append(errs["destination_url"], "is invalid")
		} else {
			h.DestinationURL = *f.DestinationURL
		}
	}
	if f.DestinationHeaders != nil {
		headers := map[string]string{}
		for k, v := range *f.DestinationHeaders {
			if !validHeaderName(k) || strings.ContainsAny(v, "\r\n") {
				errs["destination_headers"] = append(errs["destination_headers"], "is invalid")
				break
			}
			headers[http.CanonicalHeaderKey(k)] = v
		}
		h.Headers = headers
	}
	if h.Namespace == "" {
		errs["namespace"] = append(errs["namespace"], "can't be blank")
	}
	if h.DestinationURL == "" {
		errs["destination_url"] = append(errs["destination_url"], "can't be blank")
	}
	for k, v := range errs {
		errs[k] = slices.Compact(v)
	}
	return errs
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if r > 127 || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

func (s *Service) listHooks(w http.ResponseWriter, r *http.Request) {
	c, ok := s.caller(w, r)
	if !ok {
		return
	}
	companyID, projectID, ok := queryScope(w, r)
	if !ok {
		return
	}
	company, project, ok := s.scope(w, r, c, companyID, projectID)
	if !ok {
		return
	}
	q := r.URL.Query()
	namespace, apiVersion := q.Get("namespace"), q.Get("api_version")
	s.mu.Lock()
	out := []hookJSON{}
	for _, h := range s.sortedHooks() {
		if h.CompanyID != company || h.ProjectID != project {
			continue
		}
		if namespace != "" && namespace != "*" && h.Namespace != namespace {
			continue
		}
		if apiVersion != "" && h.APIVersion != apiVersion {
			continue
		}
		out = append(out, h.wire())
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// sortedHooks returns every hook in id order. Called with s.mu held.
func (s *Service) sortedHooks() []*hook {
	out := make([]*hook, 0, len(s.hooks))
	for _, h := range s.hooks {
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *Service) createHook(w http.ResponseWriter, r *http.Request) {
	c, ok := s.caller(w, r)
	if !ok {
		return
	}
	qc, qp, ok := queryScope(w, r)
	if !ok {
		return
	}
	var body hookBody
	if !decode(w, r, &body) {
		return
	}
	companyID, projectID := int64(body.CompanyID), int64(body.ProjectID)
	if companyID == 0 {
		companyID = qc
	}
	if projectID == 0 {
		projectID = qp
	}
	company, project, ok := s.scope(w, r, c, companyID, projectID)
	if !ok {
		return
	}
	if body.Hook == nil {
		unprocessable(w, map[string][]string{"hook": {"can't be blank"}})
		return
	}
	h := &hook{APIVersion: "v2", Headers: map[string]string{}, CompanyID: company, ProjectID: project, UserID: c.p.UserID}
	if errs := body.Hook.apply(h); len(errs) > 0 {
		unprocessable(w, errs)
		return
	}
	s.mu.Lock()
	h.ID = s.nextHookID
	s.nextHookID++
	s.hooks[h.ID] = h
	out := h.wire()
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
}

func (s *Service) showHook(w http.ResponseWriter, r *http.Request) {
	c, ok := s.caller(w, r)
	if !ok {
		return
	}
	id, ok := s.visibleHook(w, r, c, r.PathValue("id"))
	if !ok {
		return
	}
	s.mu.Lock()
	h := s.hooks[id]
	var out hookJSON
	if h != nil {
		out = h.wire()
	}
	s.mu.Unlock()
	if h == nil {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Service) updateHook(w http.ResponseWriter, r *http.Request) {
	c, ok := s.caller(w, r)
	if !ok {
		return
	}
	id, ok := s.visibleHook(w, r, c, r.PathValue("id"))
	if !ok {
		return
	}
	var body hookBody
	if !decode(w, r, &body) {
		return
	}
	if body.Hook == nil {
		body.Hook = &hookFields{}
	}
	s.mu.Lock()
	h := s.hooks[id]
	if h == nil {
		s.mu.Unlock()
		notFound(w)
		return
	}
	next := *h
	if errs := body.Hook.apply(&next); len(errs) > 0 {
		s.mu.Unlock()
		unprocessable(w, errs)
		return
	}
	*h = next
	out := h.wire()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Service) deleteHook(w http.ResponseWriter, r *http.Request) {
	c, ok := s.caller(w, r)
	if !ok {
		return
	}
	id, ok := s.visibleHook(w, r, c, r.PathValue("id"))
	if !ok {
		return
	}
	s.mu.Lock()
	_, found := s.hooks[id]
	delete(s.hooks, id)
	s.mu.Unlock()
	if !found {
		notFound(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// --- triggers ---

type triggerFields struct {
	ResourceName string `json:"resource_name"`
	EventType    string `json:"event_type"`
}

// triggerBody accepts the documented {"trigger": {...}}, Pipedream's
// {"hook": {"trigger": {...}}} and the flat v2.0 {resource_name, event_type}.
type triggerBody struct {
	Trigger *triggerFields `json:"trigger"`
	Hook    *struct {
		Trigger *triggerFields `json:"trigger"`
	} `json:"hook"`
	triggerFields
}

func (b triggerBody) fields() triggerFields {
	switch {
	case b.Trigger != nil:
		return *b.Trigger
	case b.Hook != nil && b.Hook.Trigger != nil:
		return *b.Hook.Trigger
	default:
		return b.triggerFields
	}
}

func (s *Service) listTriggers(w http.ResponseWriter, r *http.Request) {
	c, ok := s.caller(w, r)
	if !ok {
		return
	}
	id, ok := s.visibleHook(w, r, c, r.PathValue("hook_id"))
	if !ok {
		return
	}
	s.mu.Lock()
	h := s.hooks[id]
	out := []triggerJSON{}
	if h != nil {
		for _, t := range h.triggers {
			out = append(out, t.wire())
		}
	}
	s.mu.Unlock()
	if h == nil {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Service) createTrigger(w http.ResponseWriter, r *http.Request) {
	c, ok := s.caller(w, r)
	if !ok {
		return
	}
	id, ok := s.visibleHook(w, r, c, r.PathValue("hook_id"))
	if !ok {
		return
	}
	var body triggerBody
	if !decode(w, r, &body) {
		return
	}
	f := body.fields()
	f.EventType = strings.ToLower(strings.TrimSpace(f.EventType))
	errs := map[string][]string{}
	res, known := findResource(strings.TrimSpace(f.ResourceName))
	switch {
	case strings.TrimSpace(f.ResourceName) == "":
		errs["resource_name"] = []string{"can't be blank"}
	case !known:
		errs["resource_name"] = []string{"is not included in the list"}
	}
	switch {
	case f.EventType == "":
		errs["event_type"] = []string{"can't be blank"}
	case f.EventType != "create" && f.EventType != "update" && f.EventType != "delete":
		errs["event_type"] = []string{"is not included in the list"}
	case known && !res.allows(f.EventType):
		errs["event_type"] = []string{"is not supported for " + res.Name}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hooks[id]
	if h == nil {
		notFound(w)
		return
	}
	if known && res.Company && h.ProjectID != 0 {
		errs["resource_name"] = []string{"is a company-level resource and cannot be used on a project hook"}
	}
	for _, t := range h.triggers {
		if t.ResourceName == res.Name && t.EventType == f.EventType {
			errs["event_type"] = []string{"has already been taken"}
		}
	}
	if len(errs) > 0 {
		unprocessable(w, errs)
		return
	}
	t := &trigger{
		ID: s.nextTriggerID, HookID: h.ID, ResourceName: res.Name, EventType: f.EventType,
		CompanyID: h.CompanyID, ProjectID: h.ProjectID, UserID: c.p.UserID,
	}
	s.nextTriggerID++
	h.triggers = append(h.triggers, t)
	writeJSON(w, http.StatusCreated, t.wire())
}

func (s *Service) deleteTrigger(w http.ResponseWriter, r *http.Request) {
	c, ok := s.caller(w, r)
	if !ok {
		return
	}
	hookID, ok := s.visibleHook(w, r, c, r.PathValue("hook_id"))
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		notFound(w)
		return
	}
	s.mu.Lock()
	found := false
	if h := s.hooks[hookID]; h != nil {
		h.triggers = slices.DeleteFunc(h.triggers, func(t *trigger) bool {
			if t.ID == id {
				found = true
				return true
			}
			return false
		})
	}
	s.mu.Unlock()
	if !found {
		notFound(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// --- deliveries and resources ---

const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

func (s *Service) listDeliveries(w http.ResponseWriter, r *http.Request) {
	c, ok := s.caller(w, r)
	if !ok {
		return
	}
	id, ok := s.visibleHook(w, r, c, r.PathValue("hook_id"))
	if !ok {
		return
	}
	q := r.URL.Query()
	size := defaultPageSize
	if n, err := strconv.Atoi(q.Get("page_size")); err == nil && n > 0 {
		size = min(n, maxPageSize)
	}
	var start int64
	if n, err := strconv.ParseInt(q.Get("page_start"), 10, 64); err == nil {
		start = n
	}
	status := q.Get("filters[status]")
	if status == "" {
		status = q.Get("filter[status]")
	}
	keep := func(outcome string) bool {
		switch status {
		case "successful":
			return outcome == outcomeOK
		case "failing":
			return outcome == outcomeFailed || outcome == outcomeRetried
		case "discarded":
			return outcome == outcomeDiscarded
		default: // any, empty or unknown
			return true
		}
	}
	s.mu.Lock()
	h := s.hooks[id]
	out := []deliveryJSON{}
	if h != nil {
		i := sort.Search(len(h.log), func(i int) bool { return h.log[i].ID > start })
		for ; i < len(h.log) && len(out) < size; i++ {
			if keep(h.log[i].Outcome) {
				out = append(out, h.log[i].wire())
			}
		}
	}
	s.mu.Unlock()
	if h == nil {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Service) listResources(w http.ResponseWriter, r *http.Request) {
	c, ok := s.caller(w, r)
	if !ok {
		return
	}
	companyID, projectID, ok := queryScope(w, r)
	if !ok {
		return
	}
	_, project, ok := s.scope(w, r, c, companyID, projectID)
	if !ok {
		return
	}
	out := []resourceJSON{}
	for _, res := range catalog() {
		if project != 0 && res.Company {
			continue
		}
		out = append(out, res.wire())
	}
	writeJSON(w, http.StatusOK, out)
}

// --- helpers ---

const maxBody = 1 << 20

func decode(w http.ResponseWriter, r *http.Request, dst any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"errors": "request body too large or unreadable"})
		return false
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return true
	}
	if err := json.Unmarshal(b, dst); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"errors": "malformed JSON: " + err.Error()})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"errors":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]string{"errors": "Resource not found"})
}

func unprocessable(w http.ResponseWriter, errs map[string][]string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"errors": errs})
}
