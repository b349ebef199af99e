package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"procoregraph/sandbox"
)

// floorClient is the floor every gateway figure is stated against: a
// hand-written REST client for the dashboard's data with no GraphQL, no
// cache, no resilience stack and no concurrency bound. It makes the same
// Procore calls the gateway makes (one projects page, then per project the
// RFI, submittal, subcontract, purchase order and requisition lists, all at
// once), decodes the fields the dashboard selects into typed structs, joins
// invoices to their commitments and encodes the same shape of answer.
type floorClient struct {
	api     string
	company int64
	http    *http.Client
	tokens  oauth2.TokenSource
}

// newFloorClient returns a client with its own connection pool and OAuth
// token source (client credentials against the sandbox), as a fresh process
// would have.
func newFloorClient(api string, company int64, clientID, clientSecret string) *floorClient {
	cc := &clientcredentials.Config{ClientID: clientID, ClientSecret: clientSecret, TokenURL: api + "/oauth/token",
		AuthStyle: oauth2.AuthStyleInParams}
	base := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0, IdleConnTimeout: 90 * time.Second}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: base})
	tokens := oauth2.ReuseTokenSource(nil, cc.TokenSource(ctx))
	hc := &http.Client{Transport: &oauth2.Transport{Source: tokens, Base: base}, Timeout: 2 * time.Minute}
	return &floorClient{api: api, company: company, http: hc, tokens: tokens}
}

type floorPerson struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Login string `json:"login,omitempty"`
}

type floorRFI struct {
	ID      int64   `json:"id"`
	Number  string  `json:"number"`
	Subject string  `json:"subject"`
	Status  string  `json:"status"`
	DueDate *string `json:"due_date"`
	// Procore sends ball_in_court as one person and ball_in_courts as
	// the list; the dashboard wants the list.
	BallInCourt  *floorPerson  `json:"ball_in_court"`
	BallInCourts []floorPerson `json:"ball_in_courts"`
}

type floorSubmittal struct {
	ID     int64  `json:"id"`
	Number string `json:"number"`
	Title  string `json:"title"`
	Status *struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"status"`
	BallInCourt []floorPerson `json:"ball_in_court"`
}

type floorCommitment struct {
	ID         int64        `json:"id"`
	Number     string       `json:"number"`
	Title      string       `json:"title"`
	Status     string       `json:"status"`
	Kind       string       `json:"kind"`
	GrandTotal json.Number  `json:"grand_total"`
	Vendor     *floorPerson `json:"vendor"`
	Invoices   []floorInvoice
}

type floorInvoice struct {
	ID            int64  `json:"id"`
	CommitmentID  int64  `json:"commitment_id"`
	Number        int    `json:"number"`
	InvoiceNumber string `json:"invoice_number"`
	Status        string `json:"status"`
	Summary       *struct {
		TotalRetainage    json.Number `json:"total_retainage"`
		CurrentPaymentDue json.Number `json:"current_payment_due"`
	} `json:"summary"`
}

type floorProject struct {
	ID            int64  `json:"id"`
	Name          string `json:"name"`
	ProjectNumber string `json:"project_number"`
	RFIs          []floorRFI
	Submittals    []floorSubmittal
	Commitments   []floorCommitment
}

// dashboard fetches and assembles the dashboard; it returns the encoded
// answer and the number of Procore calls made.
func (f *floorClient) dashboard(ctx context.Context) ([]byte, int, error) {
	var calls int
	var mu sync.Mutex
	count := func(n int) { mu.Lock(); calls += n; mu.Unlock() }

	var projects []floorProject
	n, err := getAll(ctx, f, "/rest/v1.1/projects", url.Values{"company_id": {strconv.FormatInt(f.company, 10)}}, 300, &projects)
	count(n)
	if err != nil {
		return nil, calls, err
	}
	if len(projects) > 50 {
		projects = projects[:50]
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(projects)*5)
	joins := make([]func(), 0, len(projects))
	for i := range projects {
		p := &projects[i]
		pid := strconv.FormatInt(p.ID, 10)
		inProject := url.Values{"project_id": {pid}}
		var subs, pos []floorCommitment
		var invoices []floorInvoice
		fetch := func(get func() (int, error)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := get()
				count(n)
				if err != nil {
					errs <- err
				}
			}()
		}
		fetch(func() (int, error) { return getAll(ctx, f, "/rest/v1.0/projects/"+pid+"/rfis", nil, 100, &p.RFIs) })
		fetch(func() (int, error) {
			return getAll(ctx, f, "/rest/v1.1/projects/"+pid+"/submittals", nil, 100, &p.Submittals)
		})
		fetch(func() (int, error) { return getAll(ctx, f, "/rest/v1.0/work_order_contracts", inProject, 100, &subs) })
		fetch(func() (int, error) {
			return getAll(ctx, f, "/rest/v1.0/purchase_order_contracts", inProject, 100, &pos)
		})
		fetch(func() (int, error) { return getAll(ctx, f, "/rest/v1.1/requisitions", inProject, 100, &invoices) })
		// Join once every list is in.
		joins = append(joins, func() {
			for j := range subs {
				subs[j].Kind = "SUBCONTRACT"
			}
			for j := range pos {
				pos[j].Kind = "PURCHASE_ORDER"
			}
			p.Commitments = append(subs, pos...)
			byID := make(map[int64]*floorCommitment, len(p.Commitments))
			for j := range p.Commitments {
				byID[p.Commitments[j].ID] = &p.Commitments[j]
			}
			for _, inv := range invoices {
				if c := byID[inv.CommitmentID]; c != nil {
					c.Invoices = append(c.Invoices, inv)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, calls, err
	}
	for _, join := range joins {
		join()
	}
	raw, err := json.Marshal(map[string]any{"data": map[string]any{"projects": map[string]any{"totalCount": len(projects), "nodes": projects}}})
	return raw, calls, err
}

// getAll reads every page of a list into into (a pointer to a slice) and
// returns the number of calls made.
func getAll[T any](ctx context.Context, f *floorClient, path string, q url.Values, perPage int, into *[]T) (int, error) {
	calls := 0
	for page := 1; page <= 100; page++ {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("page", strconv.Itoa(page))
		v.Set("per_page", strconv.Itoa(perPage))
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.api+path+"?"+v.Encode(), nil)
		if err != nil {
			return calls, err
		}
		req.Header.Set("Procore-Company-Id", strconv.FormatInt(f.company, 10))
		resp, err := f.http.Do(req)
		calls++
		if err != nil {
			return calls, err
		}
		var items []T
		err = json.NewDecoder(resp.Body).Decode(&items)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return calls, fmt.Errorf("GET %s: status %d", path, resp.StatusCode)
		}
		if err != nil {
			return calls, fmt.Errorf("GET %s: %w", path, err)
		}
		*into = append(*into, items...)
		total, terr := strconv.Atoi(resp.Header.Get("Total"))
		if len(items) < perPage || (terr == nil && len(*into) >= total) {
			return calls, nil
		}
	}
	return calls, fmt.Errorf("GET %s: more than 100 pages", path)
}

// measureFloor runs the floor client through the same measurements as a
// gateway mode: cold in a fresh client (new connections and a new token,
// like a fresh process), cold in a running client (nothing is cached, so
// every query is cold), and throughput with o.clients concurrent clients
// sharing one client. The floor has no warm path and no separate process,
// so warm latency, CPU and allocation figures are not reported for it.
func measureFloor(ctx context.Context, o options, api string, company int64) (result, error) {
	r := result{mode: mode{name: "floor: hand-written REST client"}}
	for i := 0; i < o.coldRuns; i++ {
		c := newFloorClient(api, company, sandbox.DefaultClientID, sandbox.DefaultClientSecret)
		start := time.Now()
		_, calls, err := c.dashboard(ctx)
		if err != nil {
			return r, err
		}
		r.cold = append(r.cold, time.Since(start))
		r.callsCold += float64(calls) / float64(o.coldRuns)
		c.http.CloseIdleConnections()
	}
	c := newFloorClient(api, company, sandbox.DefaultClientID, sandbox.DefaultClientSecret)
	if _, _, err := c.dashboard(ctx); err != nil { // token and connections
		return r, err
	}
	var calls int
	for i := 0; i < o.coldRunning; i++ {
		start := time.Now()
		_, n, err := c.dashboard(ctx)
		if err != nil {
			return r, err
		}
		r.coldRunning = append(r.coldRunning, time.Since(start))
		calls += n
	}
	r.callsColdRunning = float64(calls) / float64(max(o.coldRunning, 1))
	var done, failed int64
	var mu sync.Mutex
	deadline := time.Now().Add(o.throughputFor)
	cpu0 := benchCPU()
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < o.clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				_, _, err := c.dashboard(ctx)
				mu.Lock()
				if err != nil {
					failed++
				} else {
					done++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r.throughput = float64(done) / time.Since(start).Seconds()
	r.loadBenchCPU = (benchCPU() - cpu0) / float64(max(done, 1))
	if failed > 0 {
		return r, fmt.Errorf("%d floor dashboards failed in the throughput run", failed)
	}
	return r, nil
}

// renderFloor writes the floor's own row and every mode's ratio to it.
func renderFloor(b *strings.Builder, o options, rs []result, f result) {
	fmt.Fprintf(b, "\nThe floor (a hand-written Go REST client, no GraphQL, no cache, no concurrency bound, same sandbox, same run): %.0f calls cold; cold p50 %s / p99 %s in a running client; %s for the first query of a fresh client (new connections and token); %.1f dashboards/s with %d clients.\n\n",
		f.callsCold, ms(pct(f.coldRunning, .5)), ms(pct(f.coldRunning, .99)), ms(pct(f.cold, .5)), f.throughput, o.clients)
	if len(rs) == 0 {
		return
	}
	b.WriteString("Ratios to the floor (1.00× is the floor; lower is better for latency, higher for throughput):\n\n")
	b.WriteString("| mode | calls cold vs floor | cold p50 (running) vs floor | cold p99 (running) vs floor | fresh-process first query vs fresh floor client | throughput vs floor |\n|---|---|---|---|---|---|\n")
	for _, r := range rs {
		fmt.Fprintf(b, "| %s | %.2f× | %.2f× | %.2f× | %.2f× | %.2f× |\n", r.mode.name, r.callsCold/f.callsCold,
			float64(pct(r.coldRunning, .5))/float64(pct(f.coldRunning, .5)), float64(pct(r.coldRunning, .99))/float64(pct(f.coldRunning, .99)),
			float64(pct(r.cold, .5))/float64(pct(f.cold, .5)), r.throughput/f.throughput)
	}
}
