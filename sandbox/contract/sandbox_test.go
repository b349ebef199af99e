package contract_test

// The table against the sandbox that enforces it: every /rest route the
// sandbox serves has an entry and every entry is served; Config.Contract
// records, enforces or ignores violations, and the handler still reads the
// body the check read.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/contract"
	"procoregraph/sandbox/data"
	"procoregraph/sandbox/uploads"
	"procoregraph/sandbox/webhooks"
)

// servedRoutes lists the sandbox's /rest patterns: the literal api(...)
// patterns of routes.go, the commitment routes its loop builds, and the
// webhooks and uploads services' /rest routes.
func servedRoutes(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("../routes.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`api\("([A-Z]+ /rest/[^"]+)"`).FindAllStringSubmatch(string(src), -1) {
		out = append(out, m[1])
	}
	bases := regexp.MustCompile(`\{"(\w+_contracts)", data\.\w+\}`).FindAllStringSubmatch(string(src), -1)
	suffixes := regexp.MustCompile(`api\("([A-Z]+) "\+base(?:\+"([^"]*)")?,`).FindAllStringSubmatch(string(src), -1)
	if len(bases) == 0 || len(suffixes) == 0 {
		t.Fatal("routes.go no longer builds the commitment routes in a loop over {\"..._contracts\", data.Kind}: update servedRoutes")
	}
	for _, b := range bases {
		for _, s := range suffixes {
			out = append(out, s[1]+" /rest/v1.0/"+b[1]+s[2])
		}
	}
	hooks := webhooks.New(webhooks.Config{})
	defer hooks.Close()
	for p := range hooks.Routes() {
		out = append(out, p)
	}
	for p := range uploads.New(uploads.Config{}).Routes() {
		if strings.Contains(p, " /rest/") {
			out = append(out, p)
		}
	}
	if len(out) < 60 {
		t.Fatalf("found only %d routes in routes.go: update servedRoutes", len(out))
	}
	return out
}

func TestEveryServedRouteHasAnEntry(t *testing.T) {
	tbl := contract.Must()
	for _, p := range servedRoutes(t) {
		method, path, _ := strings.Cut(p, " ")
		if _, ok := tbl.Match(method, path); !ok {
			t.Errorf("the sandbox serves %s but contract.json has no entry for it (add one, published:false with a note if Procore has no such operation)", p)
		}
	}
}

// concrete fills a template's placeholders with 1.
func concrete(path string) string {
	return regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "1")
}

func TestEveryEntryIsServed(t *testing.T) {
	s, err := sandbox.New(sandbox.Config{Contract: sandbox.ContractOff, Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, op := range contract.Must().Operations {
		s.ResetStats()
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(op.Method, concrete(op.Path), nil))
		var routes []string
		for r := range s.Stats().ByRoute {
			routes = append(routes, r)
		}
		if len(routes) != 1 || routes[0] == "/rest/" {
			t.Errorf("%s (%s %s): the sandbox routes it to %q, want its own route", op.Name(), op.Method, op.Path, routes)
		}
	}
}

// live is a sandbox on a loopback port with a client_credentials token.
type live struct {
	run     *sandbox.Running
	token   string
	company int64
	project *data.Project
}

func startLive(t *testing.T, mode string) *live {
	t.Helper()
	run, err := sandbox.Start(context.Background(), sandbox.Config{Contract: mode, HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 3}}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run.Close)
	l := &live{run: run}
	run.ReadDataset(func(ds *data.Dataset) { l.company, l.project = ds.Companies[0].ID, ds.Projects[0] })
	resp, err := http.PostForm(run.URL+"/oauth/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {sandbox.DefaultClientID}, "client_secret": {sandbox.DefaultClientSecret}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	l.token = tok.AccessToken
	return l
}

func (l *live) do(t *testing.T, method, target, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, l.run.URL+target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+l.token)
	req.Header.Set("Procore-Company-Id", strconv.FormatInt(l.company, 10))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestContractModes(t *testing.T) {
	const byStatus = "RestV11ProjectsGet unknown-query-parameter by_status"
	const lineItems = "RestV10ProjectsProjectIdCommitmentChangeOrdersPost unknown-body-key change_order.line_items"
	for _, c := range []struct {
		name string
		mode string
		// query: a list with by_status; body: a change order with line_items
		// (which the change order handler itself refuses in every mode, with
		// the enforcing answer: taking it would drop the amount silently);
		// good: a conforming reply, whose body the handler must still read.
		queryStatus, bodyStatus, goodStatus int
		queryBody, bodyBody                 string
		counted                             bool
	}{
		{name: "RecordServesAndCounts", mode: sandbox.ContractRecord, queryStatus: 200, bodyStatus: 422, goodStatus: 201, counted: true,
			bodyBody: `{"errors":{"change_order.line_items":["is not a permitted parameter"]}}`},
		{name: "EnforceRefusesAsProcore", mode: sandbox.ContractEnforce, queryStatus: 400, bodyStatus: 422, goodStatus: 201, counted: true,
			queryBody: `{"errors":"found unpermitted parameter: by_status"}`,
			bodyBody:  `{"errors":{"change_order.line_items":["is not a permitted parameter"]}}`},
		{name: "DefaultEnforces", mode: "", queryStatus: 400, bodyStatus: 422, goodStatus: 201, counted: true,
			queryBody: `{"errors":"found unpermitted parameter: by_status"}`,
			bodyBody:  `{"errors":{"change_order.line_items":["is not a permitted parameter"]}}`},
		{name: "OffNeitherRefusesNorCounts", mode: sandbox.ContractOff, queryStatus: 200, bodyStatus: 422, goodStatus: 201,
			bodyBody: `{"errors":{"change_order.line_items":["is not a permitted parameter"]}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := startLive(t, c.mode)
			p := l.project
			var contractID, rfiID int64
			for _, x := range p.Commitments {
				if x.Kind == data.WorkOrder {
					contractID = x.ID
					break
				}
			}
			rfiID = p.RFIs[0].ID

			status, body := l.do(t, "GET", "/rest/v1.1/projects?company_id="+strconv.FormatInt(l.company, 10)+"&by_status=All", "")
			if status != c.queryStatus || c.queryBody != "" && body != c.queryBody {
				t.Errorf("a list with by_status: %d %s, want %d %s", status, body, c.queryStatus, c.queryBody)
			}
			status, body = l.do(t, "POST", "/rest/v1.0/projects/"+strconv.FormatInt(p.ID, 10)+"/commitment_change_orders",
				`{"change_order":{"contract_id":`+strconv.FormatInt(contractID, 10)+`,"title":"t","status":"draft","line_items":[{"amount":"5"}]}}`)
			if status != c.bodyStatus || c.bodyBody != "" && body != c.bodyBody {
				t.Errorf("a change order with line_items: %d %s, want %d %s", status, body, c.bodyStatus, c.bodyBody)
			}
			status, body = l.do(t, "POST", "/rest/v1.0/projects/"+strconv.FormatInt(p.ID, 10)+"/rfis/"+strconv.FormatInt(rfiID, 10)+"/replies",
				`{"reply":{"body":"conforming reply","official":false}}`)
			if status != c.goodStatus {
				t.Errorf("a conforming reply: %d %s, want %d (the handler reads the body the check read)", status, body, c.goodStatus)
			}

			got := l.run.Stats().ContractViolations
			want := map[string]int64{}
			if c.counted {
				want = map[string]int64{byStatus: 1, lineItems: 1}
			}
			if len(got) != len(want) || got[byStatus] != want[byStatus] || got[lineItems] != want[lineItems] {
				t.Errorf("Stats.ContractViolations = %v, want %v", got, want)
			}
		})
	}
}
