package sandbox

import (
	"maps"
	"sync"
)

// Stats counts the requests the sandbox served since start or the last reset,
// so tests can assert exact upstream-call counts.
type Stats struct {
	// Total is the number of /rest requests (every outcome, faults included).
	Total int64 `json:"total"`
	// ByRoute counts /rest requests by ServeMux pattern, e.g.
	// "GET /rest/v1.0/projects/{project_id}/rfis"; unknown paths count as "/rest/".
	ByRoute map[string]int64 `json:"by_route"`
	// ByToken counts authenticated /rest requests by auth.Principal.TokenID.
	ByToken map[string]int64 `json:"by_token"`
	// ByClient counts authenticated /rest requests by OAuth client id
	// ("" keys, i.e. web sessions, are counted under "session").
	ByClient map[string]int64 `json:"by_client"`
	// ByCompany counts /rest requests by the Procore-Company-Id header they
	// carried, as sent ("" when absent), so tests can prove which company a
	// gateway asked for.
	ByCompany map[string]int64 `json:"by_company"`
	// TokenRequests counts POST /oauth/token calls.
	TokenRequests int64 `json:"token_requests"`
	// RateLimited counts 429s answered because a token spent its hourly or
	// spike window (storms are not counted): a client that paces itself from
	// X-Rate-Limit-* keeps it at 0.
	RateLimited int64 `json:"rate_limited"`
	// Logins counts completed web portal logins.
	Logins int `json:"logins"`
	// ContractViolations counts /rest requests outside Procore's published
	// contract (Config.Contract record or enforce), by contract.Violation.Key:
	// "<operationId or METHOD path> <kind> <name>", e.g.
	// "RestV11ProjectsGet unknown-query-parameter by_status".
	ContractViolations map[string]int64 `json:"contract_violations"`
	// StalledBodies is the number of response bodies Faults.StallBody holds
	// open now (not reset by ResetStats).
	StalledBodies int64 `json:"stalled_bodies"`
}

type statsCounter struct {
	mu            sync.Mutex
	s             Stats
	loginsAtReset int
}

func newStats() *statsCounter {
	c := &statsCounter{}
	c.resetLocked(0)
	return c
}

func (c *statsCounter) resetLocked(logins int) {
	c.s = Stats{ByRoute: map[string]int64{}, ByToken: map[string]int64{}, ByClient: map[string]int64{}, ByCompany: map[string]int64{}, ContractViolations: map[string]int64{}}
	c.loginsAtReset = logins
}

func (c *statsCounter) reset(logins int) {
	c.mu.Lock()
	c.resetLocked(logins)
	c.mu.Unlock()
}

func (c *statsCounter) rest(route, token, client, company string, authed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Total++
	c.s.ByRoute[route]++
	if len(c.s.ByCompany) < 1024 || c.s.ByCompany[company] > 0 { // bounded: a client choosing headers cannot grow it forever
		c.s.ByCompany[company]++
	}
	if authed {
		c.s.ByToken[token]++
		if client == "" {
			client = "session"
		}
		c.s.ByClient[client]++
	}
}

func (c *statsCounter) rateLimited() {
	c.mu.Lock()
	c.s.RateLimited++
	c.mu.Unlock()
}

// contract counts one request's contract violations by key.
func (c *statsCounter) contract(keys []string) {
	c.mu.Lock()
	for _, k := range keys {
		c.s.ContractViolations[k]++
	}
	c.mu.Unlock()
}

func (c *statsCounter) tokenRequest() {
	c.mu.Lock()
	c.s.TokenRequests++
	c.mu.Unlock()
}

func (c *statsCounter) snapshot(logins int) Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.s
	s.ByRoute = maps.Clone(c.s.ByRoute)
	s.ByToken = maps.Clone(c.s.ByToken)
	s.ByClient = maps.Clone(c.s.ByClient)
	s.ByCompany = maps.Clone(c.s.ByCompany)
	s.ContractViolations = maps.Clone(c.s.ContractViolations)
	s.Logins = logins - c.loginsAtReset
	return s
}
