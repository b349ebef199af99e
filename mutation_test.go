package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/shopspring/decimal"

	"procoregraph/adapter/rest"
	"procoregraph/cache"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// mutationEnv is a sandbox, a gateway over it, and the dataset facts the
// mutation tests build their inputs from.
type mutationEnv struct {
	sb  *sandbox.Running
	gw  *gatewayProc
	env map[string]string

	project    string   // a project of the connection's company
	people     []string // its directory, at least 4 people
	outsider   string   // a person of the company who is not on the project
	vendor     string
	statuses   map[string]string // submittal status name → id
	responses  map[string]string // submittal response name → id
	submittals []string          // existing submittal numbers of the project
}

func newMutationEnv(t *testing.T) *mutationEnv {
	t.Helper()
	sb, env := startSandbox(t, sandbox.Config{HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 6}})
	m := &mutationEnv{sb: sb, env: env, statuses: map[string]string{}, responses: map[string]string{}}
	sb.ReadDataset(func(d *data.Dataset) {
		co := d.Companies[0]
		var p *data.Project
		for _, x := range d.Projects {
			if x.CompanyID == co.ID {
				p = x
				break
			}
		}
		m.project = id64(p.ID)
		for _, u := range p.UserIDs {
			m.people = append(m.people, id64(u))
		}
		for _, u := range co.UserIDs {
			if !p.HasUser(u) {
				m.outsider = id64(u)
				break
			}
		}
		m.vendor = id64(co.Vendors[0].ID)
		for _, s := range co.Statuses {
			m.statuses[s.Name] = id64(s.ID)
		}
		for _, r := range co.Responses {
			m.responses[r.Name] = id64(r.ID)
		}
		for _, s := range p.Submittals {
			m.submittals = append(m.submittals, s.Number)
		}
	})
	if len(m.people) < 4 || m.outsider == "" {
		t.Fatalf("dataset too small: %d project people, outsider %q", len(m.people), m.outsider)
	}
	m.gw = startGateway(t, env)
	return m
}

func id64(n int64) string { return strconv.FormatInt(n, 10) }

// do sends one GraphQL request with extra headers and decodes data into out
// (when not nil). It fails the test on GraphQL errors.
// Every mutation it sends is held to its audit records (checkMutationAudit).
func (m *mutationEnv) do(t *testing.T, query string, vars map[string]any, out any, headers ...string) {
	t.Helper()
	isMutation := strings.HasPrefix(strings.TrimSpace(query), "mutation")
	recsBefore, writesBefore := len(m.gw.auditRecords(t)), writeCount(m.sb)
	resp := gqlPost(t, m.gw.URL, query, vars, headers...)
	if len(resp.Errors) > 0 {
		t.Fatalf("GraphQL errors: %+v", resp.Errors)
	}
	if isMutation {
		checkMutationAudit(t, m.gw.auditRecords(t)[recsBefore:], resp.Data, vars, writeCount(m.sb)-writesBefore)
	}
	if out != nil {
		if err := json.Unmarshal(resp.Data, out); err != nil {
			t.Fatalf("decode %s: %v", resp.Data, err)
		}
	}
}

func gqlPost(t testing.TB, base, query string, vars map[string]any, headers ...string) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return sendGraphQL(t, req)
}

func sendGraphQL(t testing.TB, req *http.Request) gqlResponse {
	t.Helper()
	resp, err := http.DefaultClient.Do(withHarnessKey(req))
	if err != nil {
		t.Errorf("POST /graphql: %v", err)
		return gqlResponse{}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Errorf("decode response (status %d): %v\n%s", resp.StatusCode, err, raw)
	}
	return out
}

// writes returns the upstream write requests (POST, PATCH, PUT, DELETE on
// /rest) the sandbox served since its last stats reset, by route.
func writes(sb *sandbox.Running) map[string]int64 {
	out := map[string]int64{}
	for route, n := range sb.Stats().ByRoute {
		for _, m := range []string{"POST ", "PATCH ", "PUT ", "DELETE "} {
			if strings.HasPrefix(route, m) {
				out[route] += n
			}
		}
	}
	return out
}

type userError struct {
	Field   []string `json:"field"`
	Message string   `json:"message"`
	Code    string   `json:"code"`
}

const userErrorsSel = `userErrors { field message code }`

type person struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type rfiOut struct {
	ID          string   `json:"id"`
	Subject     string   `json:"subject"`
	Status      string   `json:"status"`
	Draft       bool     `json:"draft"`
	DueDate     *string  `json:"dueDate"`
	BallInCourt []person `json:"ballInCourt"`
	Assignees   []person `json:"assignees"`
	RFIManager  *person  `json:"rfiManager"`
	CostImpact  *struct {
		Status string  `json:"status"`
		Value  *string `json:"value"`
	} `json:"costImpact"`
	Questions []struct {
		Body        string `json:"body"`
		Attachments []struct {
			Name string `json:"name"`
		} `json:"attachments"`
		Answers []struct {
			Body     string `json:"body"`
			Official bool   `json:"official"`
		} `json:"answers"`
	} `json:"questions"`
}

const rfiSel = `id subject status draft dueDate ballInCourt { id name } assignees { id } rfiManager { id }
  costImpact { status value } questions { body attachments { name } answers { body official } }`

// readRFI reads an RFI back through the project's RFI list.
func (m *mutationEnv) readRFI(t *testing.T, id string) rfiOut {
	t.Helper()
	var out struct {
		Project struct {
			RFIs struct {
				Nodes []rfiOut `json:"nodes"`
			} `json:"rfis"`
		} `json:"project"`
	}
	m.do(t, `query($p: ID!) { project(id: $p) { rfis(first: 500) { nodes { `+rfiSel+` } } } }`, map[string]any{"p": m.project}, &out)
	for _, r := range out.Project.RFIs.Nodes {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("RFI %s is not in the project's RFIs read back", id)
	return rfiOut{}
}

// createRFI creates an RFI and returns it (failing on user errors).
func (m *mutationEnv) createRFI(t *testing.T, input map[string]any) rfiOut {
	t.Helper()
	input["projectId"] = m.project
	var out struct {
		CreateRFI struct {
			RFI        *rfiOut     `json:"rfi"`
			UserErrors []userError `json:"userErrors"`
		} `json:"createRFI"`
	}
	m.do(t, `mutation($in: CreateRFIInput!) { createRFI(input: $in) { rfi { `+rfiSel+` } `+userErrorsSel+` } }`, map[string]any{"in": input}, &out)
	if len(out.CreateRFI.UserErrors) > 0 || out.CreateRFI.RFI == nil {
		t.Fatalf("createRFI: %+v", out.CreateRFI.UserErrors)
	}
	return *out.CreateRFI.RFI
}

// rfiMutation runs one of the RFI update mutations and returns its RFI.
func (m *mutationEnv) rfiMutation(t *testing.T, name string, input map[string]any) (*rfiOut, []userError) {
	t.Helper()
	input["projectId"] = m.project
	typ := strings.ToUpper(name[:1]) + name[1:] + "Input"
	var out map[string]struct {
		RFI        *rfiOut     `json:"rfi"`
		UserErrors []userError `json:"userErrors"`
	}
	m.do(t, fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { rfi { %s } %s } }`, typ, name, rfiSel, userErrorsSel), map[string]any{"in": input}, &out)
	return out[name].RFI, out[name].UserErrors
}

func ids(ps []person) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.ID)
	}
	slices.Sort(out)
	return out
}

func TestMutations(t *testing.T) {
	m := newMutationEnv(t)
	manager, a1, a2, reviewer := m.people[0], m.people[1], m.people[2], m.people[3]

	// Warm the cache, so read-backs prove the write invalidated it.
	m.readRFIs(t)

	var open rfiOut
	t.Run("CreateRFIIsReadBack", func(t *testing.T) {
		created := m.createRFI(t, map[string]any{"subject": "Beam size at grid C4", "question": "Which beam size governs at C4?",
			"managerId": manager, "assigneeIds": []string{a1, a2}, "dueDate": "2030-05-01",
			"costImpact": map[string]any{"status": "YES_KNOWN", "value": "1250.50"}, "idempotencyKey": "create-rfi-1"})
		got := m.readRFI(t, created.ID)
		if got.Subject != "Beam size at grid C4" || got.Status != "OPEN" || got.RFIManager == nil || got.RFIManager.ID != manager ||
			got.DueDate == nil || *got.DueDate != "2030-05-01" || got.CostImpact == nil || got.CostImpact.Value == nil || *got.CostImpact.Value != "1250.5" && *got.CostImpact.Value != "1250.50" {
			t.Fatalf("read back %+v", got)
		}
		if want := []string{a1, a2}; !slices.Equal(ids(got.Assignees), sorted(want)) || !slices.Equal(ids(got.BallInCourt), sorted(want)) {
			t.Fatalf("assignees %v ball in court %v, want both %v", ids(got.Assignees), ids(got.BallInCourt), want)
		}
		if len(got.Questions) != 1 || got.Questions[0].Body != "Which beam size governs at C4?" {
			t.Fatalf("questions %+v", got.Questions)
		}
		open = got
	})

	t.Run("ReplyToRFIIsReadBack", func(t *testing.T) {
		rfi, errs := m.rfiMutation(t, "replyToRFI", map[string]any{"rfiId": open.ID, "body": "Use W12x26.", "official": true})
		if len(errs) > 0 || rfi == nil {
			t.Fatalf("replyToRFI: %+v", errs)
		}
		got := m.readRFI(t, open.ID)
		answers := got.Questions[0].Answers
		if len(answers) != 1 || answers[0].Body != "Use W12x26." || !answers[0].Official {
			t.Fatalf("answers read back %+v", answers)
		}
	})

	t.Run("AdvanceRFIBallInCourtIsReadBack", func(t *testing.T) {
		rfi, errs := m.rfiMutation(t, "advanceRFIBallInCourt", map[string]any{"rfiId": open.ID})
		if len(errs) > 0 || rfi == nil {
			t.Fatalf("advanceRFIBallInCourt: %+v", errs)
		}
		if got := m.readRFI(t, open.ID); !slices.Equal(ids(got.BallInCourt), []string{manager}) {
			t.Fatalf("ball in court read back %v, want the manager %s", ids(got.BallInCourt), manager)
		}
	})

	t.Run("ForwardRFIIsReadBack", func(t *testing.T) {
		rfi, errs := m.rfiMutation(t, "forwardRFI", map[string]any{"rfiId": open.ID, "forwardeeId": reviewer})
		if len(errs) > 0 || rfi == nil {
			t.Fatalf("forwardRFI: %+v", errs)
		}
		if got := m.readRFI(t, open.ID); !slices.Equal(ids(got.BallInCourt), []string{reviewer}) {
			t.Fatalf("ball in court read back %v, want the reviewer %s", ids(got.BallInCourt), reviewer)
		}
	})

	t.Run("CloseRFIIsReadBackAndClosingAgainWritesNothing", func(t *testing.T) {
		rfi, errs := m.rfiMutation(t, "closeRFI", map[string]any{"rfiId": open.ID})
		if len(errs) > 0 || rfi == nil || rfi.Status != "CLOSED" {
			t.Fatalf("closeRFI: %+v %+v", rfi, errs)
		}
		if got := m.readRFI(t, open.ID); got.Status != "CLOSED" || len(got.BallInCourt) != 0 {
			t.Fatalf("read back status %s ball in court %v", got.Status, ids(got.BallInCourt))
		}
		m.sb.ResetStats()
		rfi, errs = m.rfiMutation(t, "closeRFI", map[string]any{"rfiId": open.ID})
		if len(errs) > 0 || rfi == nil || rfi.Status != "CLOSED" {
			t.Fatalf("closing a closed RFI: %+v %+v", rfi, errs)
		}
		if w := writes(m.sb); len(w) != 0 {
			t.Fatalf("closing a closed RFI wrote upstream: %v", w)
		}
	})

	t.Run("ReopenRFIIsReadBack", func(t *testing.T) {
		rfi, errs := m.rfiMutation(t, "reopenRFI", map[string]any{"rfiId": open.ID})
		if len(errs) > 0 || rfi == nil {
			t.Fatalf("reopenRFI: %+v", errs)
		}
		if got := m.readRFI(t, open.ID); got.Status != "OPEN" {
			t.Fatalf("read back status %s, want OPEN", got.Status)
		}
	})

	var submittal submittalOut
	t.Run("CreateSubmittalIsReadBack", func(t *testing.T) {
		var out struct {
			CreateSubmittal struct {
				Submittal  *submittalOut `json:"submittal"`
				UserErrors []userError   `json:"userErrors"`
			} `json:"createSubmittal"`
		}
		m.do(t, `mutation($in: CreateSubmittalInput!) { createSubmittal(input: $in) { submittal { `+submittalSel+` } `+userErrorsSel+` } }`,
			map[string]any{"in": map[string]any{"projectId": m.project, "number": "05-120-T1", "title": "Structural steel shop drawings",
				"type": "Shop Drawing", "dueDate": "2030-06-01", "distributionIds": []string{manager},
				"workflow": []map[string]any{{"approverIds": []string{a1}, "daysToRespond": 5}, {"approverIds": []string{a2, reviewer}}}}}, &out)
		if len(out.CreateSubmittal.UserErrors) > 0 || out.CreateSubmittal.Submittal == nil {
			t.Fatalf("createSubmittal: %+v", out.CreateSubmittal.UserErrors)
		}
		got := m.readSubmittal(t, out.CreateSubmittal.Submittal.ID)
		if got.Number != "05-120-T1" || got.Title != "Structural steel shop drawings" || got.Status.Name != "Open" || len(got.Workflow) != 2 ||
			len(got.Workflow[0].Approvers) != 1 || got.Workflow[0].Approvers[0].User.ID != a1 || len(got.Workflow[1].Approvers) != 2 {
			t.Fatalf("read back %+v", got)
		}
		if !slices.Equal(ids(got.BallInCourt), []string{a1}) {
			t.Fatalf("ball in court %v, want the first step's approver %s", ids(got.BallInCourt), a1)
		}
		submittal = got
	})

	t.Run("SubmittalResponsesListWhatApproversCanAnswer", func(t *testing.T) {
		var out struct {
			Responses []struct {
				ID, Name, Considered string
			} `json:"submittalResponses"`
		}
		m.do(t, `query($p: ID!) { submittalResponses(projectId: $p) { id name considered } }`, map[string]any{"p": m.project}, &out)
		got := map[string]string{}
		for _, r := range out.Responses {
			got[r.Name] = r.ID
			if r.Considered == "" {
				t.Errorf("response %s has no considered value", r.Name)
			}
		}
		if len(got) == 0 || !maps.Equal(got, m.responses) {
			t.Fatalf("submittalResponses = %v, want the company's responses %v", got, m.responses)
		}
	})

	t.Run("RespondToSubmittalIsReadBack", func(t *testing.T) {
		approver := submittal.Workflow[0].Approvers[0].ID
		var out struct {
			R struct {
				Submittal  *submittalOut `json:"submittal"`
				UserErrors []userError   `json:"userErrors"`
			} `json:"respondToSubmittal"`
		}
		m.do(t, `mutation($in: RespondToSubmittalInput!) { respondToSubmittal(input: $in) { submittal { id } `+userErrorsSel+` } }`,
			map[string]any{"in": map[string]any{"projectId": m.project, "submittalId": submittal.ID, "approverId": approver,
				"responseId": m.responses["Approved"], "comment": "No exceptions taken."}}, &out)
		if len(out.R.UserErrors) > 0 || out.R.Submittal == nil {
			t.Fatalf("respondToSubmittal: %+v", out.R.UserErrors)
		}
		got := m.readSubmittal(t, submittal.ID)
		a := got.Workflow[0].Approvers[0]
		if a.Response == nil || a.Response.Name != "Approved" || a.Comment != "No exceptions taken." {
			t.Fatalf("approver read back %+v", a)
		}
		if !slices.Equal(ids(got.BallInCourt), sorted([]string{a2, reviewer})) {
			t.Fatalf("ball in court %v, want step 2's approvers", ids(got.BallInCourt))
		}
	})

	t.Run("UpdateSubmittalStatusIsReadBack", func(t *testing.T) {
		var statuses struct {
			SubmittalStatuses []struct{ ID, Name string } `json:"submittalStatuses"`
		}
		m.do(t, `{ submittalStatuses { id name } }`, nil, &statuses)
		closedID := ""
		for _, s := range statuses.SubmittalStatuses {
			if s.Name == "Closed" {
				closedID = s.ID
			}
		}
		if closedID == "" || closedID != m.statuses["Closed"] {
			t.Fatalf("submittalStatuses %+v has no Closed %s", statuses, m.statuses["Closed"])
		}
		var out struct {
			U struct {
				Submittal  *submittalOut `json:"submittal"`
				UserErrors []userError   `json:"userErrors"`
			} `json:"updateSubmittalStatus"`
		}
		m.do(t, `mutation($in: UpdateSubmittalStatusInput!) { updateSubmittalStatus(input: $in) { submittal { id } `+userErrorsSel+` } }`,
			map[string]any{"in": map[string]any{"projectId": m.project, "submittalId": submittal.ID, "statusId": closedID}}, &out)
		if len(out.U.UserErrors) > 0 {
			t.Fatalf("updateSubmittalStatus: %+v", out.U.UserErrors)
		}
		if got := m.readSubmittal(t, submittal.ID); got.Status.Name != "Closed" || len(got.BallInCourt) != 0 {
			t.Fatalf("read back status %q ball in court %v", got.Status.Name, ids(got.BallInCourt))
		}
	})

	// The subcontract's schedule of values and retainage percent, as this
	// test creates them; the invoice below is checked against these inputs.
	subcontractSOV := []string{"120000.00", "3333.33", "1000.01"}
	const subcontractRetainage = "10"
	var subcontract commitmentOut
	t.Run("CreateCommitmentIsReadBack", func(t *testing.T) {
		got := m.createCommitment(t, map[string]any{"kind": "SUBCONTRACT", "title": "Structural steel", "vendorId": m.vendor,
			"status": "APPROVED", "retainagePercent": subcontractRetainage, "lineItems": []map[string]any{
				{"description": "Steel erection", "amount": subcontractSOV[0]},
				{"description": "Anchor bolts", "amount": subcontractSOV[1], "quantity": "3", "unitCost": "1111.11"},
				{"description": "Touch-up paint", "amount": subcontractSOV[2]}}})
		back := m.readCommitment(t, got.ID)
		if back.Kind != "SUBCONTRACT" || back.Status != "APPROVED" || back.Title != "Structural steel" || back.Vendor == nil || back.Vendor.ID != m.vendor ||
			back.RetainagePercent == nil || !decimal.RequireFromString(*back.RetainagePercent).Equal(decimal.NewFromInt(10)) {
			t.Fatalf("read back %+v", back)
		}
		if len(back.LineItems) != 3 || !dec(t, back.GrandTotal).Equal(decimal.RequireFromString("124333.34")) {
			t.Fatalf("line items %+v grand total %s, want 3 lines totalling 124333.34", back.LineItems, back.GrandTotal)
		}
		subcontract = back
	})

	t.Run("UpdateCommitmentStatusIsReadBack", func(t *testing.T) {
		po := m.createCommitment(t, map[string]any{"kind": "PURCHASE_ORDER", "title": "Rebar supply", "lineItems": []map[string]any{{"description": "#5 rebar", "amount": "8400"}}})
		if po.Status != "DRAFT" {
			t.Fatalf("new purchase order status %s, want DRAFT", po.Status)
		}
		var out struct {
			U struct {
				Commitment *commitmentOut `json:"commitment"`
				UserErrors []userError    `json:"userErrors"`
			} `json:"updateCommitmentStatus"`
		}
		// No kind given: the gateway looks it up.
		m.do(t, `mutation($in: UpdateCommitmentStatusInput!) { updateCommitmentStatus(input: $in) { commitment { id status } `+userErrorsSel+` } }`,
			map[string]any{"in": map[string]any{"projectId": m.project, "commitmentId": po.ID, "status": "SUBMITTED"}}, &out)
		if len(out.U.UserErrors) > 0 || out.U.Commitment == nil || out.U.Commitment.Status != "SUBMITTED" {
			t.Fatalf("updateCommitmentStatus: %+v %+v", out.U.Commitment, out.U.UserErrors)
		}
		if back := m.readCommitment(t, po.ID); back.Status != "SUBMITTED" {
			t.Fatalf("read back status %s, want SUBMITTED", back.Status)
		}
	})

	t.Run("CreateCommitmentChangeOrderIsReadBack", func(t *testing.T) {
		// The amount is a Procore v2.0 change order line item, which needs the
		// WBS (budget) code of one of the commitment's lines.
		var costCode int64
		m.sb.ReadDataset(func(d *data.Dataset) {
			for _, p := range d.Projects {
				if id64(p.ID) == m.project {
					costCode = p.CostCodes[len(p.CostCodes)-1].ID
				}
			}
		})
		bracing := m.createCommitment(t, map[string]any{"kind": "SUBCONTRACT", "title": "Bracing", "vendorId": m.vendor, "status": "APPROVED",
			"lineItems": []map[string]any{{"description": "Bracing", "amount": "9000.00", "costCodeId": id64(costCode)}}})
		var out struct {
			C struct {
				ChangeOrder *struct{ ID, Number, Title, Status, GrandTotal string } `json:"changeOrder"`
				UserErrors  []userError                                             `json:"userErrors"`
			} `json:"createCommitmentChangeOrder"`
		}
		m.do(t, `mutation($in: CreateCommitmentChangeOrderInput!) { createCommitmentChangeOrder(input: $in) { changeOrder { id number title status grandTotal } `+userErrorsSel+` } }`,
			map[string]any{"in": map[string]any{"projectId": m.project, "commitmentId": bracing.ID, "title": "Added bracing",
				"amount": "-250.75", "status": "APPROVED"}}, &out)
		if len(out.C.UserErrors) > 0 || out.C.ChangeOrder == nil {
			t.Fatalf("createCommitmentChangeOrder: %+v", out.C.UserErrors)
		}
		if got := out.C.ChangeOrder; got.Status != "APPROVED" || !dec(t, got.GrandTotal).Equal(decimal.RequireFromString("-250.75")) {
			t.Fatalf("createCommitmentChangeOrder answered %+v, want APPROVED with grand total -250.75", got)
		}
		back := m.readCommitment(t, bracing.ID)
		var found bool
		for _, co := range back.ChangeOrders {
			if co.ID == out.C.ChangeOrder.ID {
				found = co.Title == "Added bracing" && co.Status == "APPROVED" && dec(t, co.GrandTotal).Equal(decimal.RequireFromString("-250.75"))
			}
		}
		if !found {
			t.Fatalf("change order %+v not read back as created: %+v", out.C.ChangeOrder, back.ChangeOrders)
		}
	})

	t.Run("ChangeOrderOnACommitmentWithoutABudgetCodeIsAUserError", func(t *testing.T) {
		var out struct {
			C struct {
				ChangeOrder *struct{ ID string } `json:"changeOrder"`
				UserErrors  []userError          `json:"userErrors"`
			} `json:"createCommitmentChangeOrder"`
		}
		// subcontract's lines have no cost code, so no WBS code.
		m.do(t, `mutation($in: CreateCommitmentChangeOrderInput!) { createCommitmentChangeOrder(input: $in) { changeOrder { id } `+userErrorsSel+` } }`,
			map[string]any{"in": map[string]any{"projectId": m.project, "commitmentId": subcontract.ID, "amount": "10"}}, &out)
		if out.C.ChangeOrder != nil || len(out.C.UserErrors) != 1 || !slices.Equal(out.C.UserErrors[0].Field, []string{"input", "commitmentId"}) {
			t.Fatalf("%+v, want no change order and a userError on commitmentId", out.C)
		}
		if back := m.readCommitment(t, subcontract.ID); len(back.ChangeOrders) != 0 {
			t.Fatalf("change orders %+v created", back.ChangeOrders)
		}
	})

	var invoice invoiceOut
	t.Run("CreateInvoiceSummaryAgreesWithItemsToTheCent", func(t *testing.T) {
		if len(subcontract.LineItems) != len(subcontractSOV) {
			t.Fatalf("subcontract read back with %d lines, created with %d", len(subcontract.LineItems), len(subcontractSOV))
		}
		// The G703 rows sent; line 2 is not billed.
		rows := []g703Input{
			{line: 0, work: "40000.05", materials: "1234.57"},
			{line: 1, work: "1111.11", workRetainagePercent: "5.5"},
		}
		var items []map[string]any
		for _, r := range rows {
			item := map[string]any{"lineItemId": subcontract.LineItems[r.line].ID, "workCompletedThisPeriod": r.work}
			if r.materials != "" {
				item["materialsPresentlyStored"] = r.materials
			}
			if r.workRetainagePercent != "" {
				item["workCompletedRetainagePercent"] = r.workRetainagePercent
			}
			items = append(items, item)
		}
		var out struct {
			C struct {
				Invoice    *invoiceOut `json:"invoice"`
				UserErrors []userError `json:"userErrors"`
			} `json:"createInvoice"`
		}
		m.do(t, `mutation($in: CreateInvoiceInput!) { createInvoice(input: $in) { invoice { id } `+userErrorsSel+` } }`,
			map[string]any{"in": map[string]any{"projectId": m.project, "commitmentId": subcontract.ID, "invoiceNumber": "INV-7", "items": items}}, &out)
		if len(out.C.UserErrors) > 0 || out.C.Invoice == nil {
			t.Fatalf("createInvoice: %+v", out.C.UserErrors)
		}
		invoice = m.readInvoice(t, out.C.Invoice.ID)
		lineIDs := make([]string, len(subcontract.LineItems))
		for i, li := range subcontract.LineItems {
			lineIDs[i] = li.ID
		}
		want := expectG702(t, subcontractSOV, subcontractRetainage, rows)
		checkG702(t, invoice, lineIDs, want)
		// The same figures worked out by hand, so that expectG702 is checked too:
		// work retainage 10% of 40000.05 = 4000.005 -> 4000.01, 5.5% of 1111.11
		// = 61.11105 -> 61.11; materials 10% of 1234.57 = 123.457 -> 123.46.
		for k, v := range map[string]string{
			"originalContractSum": "124333.34", "contractSumToDate": "124333.34", "totalCompletedAndStoredToDate": "42345.73",
			"completedWorkRetainageAmount": "4061.12", "storedMaterialsRetainageAmount": "123.46", "totalRetainage": "4184.58",
			"totalEarnedLessRetainage": "38161.15", "lessPreviousCertificates": "0", "currentPaymentDue": "38161.15",
			"balanceToFinishIncludingRetainage": "86172.19",
		} {
			if !want.summary[k].Equal(decimal.RequireFromString(v)) {
				t.Errorf("expectG702 %s = %s, worked out by hand %s", k, want.summary[k], v)
			}
		}
		if invoice.InvoiceNumber != "INV-7" || invoice.Status != "DRAFT" {
			t.Fatalf("invoice %s status %s", invoice.InvoiceNumber, invoice.Status)
		}
	})

	t.Run("UpdateInvoiceStatusIsReadBack", func(t *testing.T) {
		for _, st := range []string{"UNDER_REVIEW", "APPROVED"} {
			var out struct {
				U struct {
					Invoice    *invoiceOut `json:"invoice"`
					UserErrors []userError `json:"userErrors"`
				} `json:"updateInvoiceStatus"`
			}
			m.do(t, `mutation($in: UpdateInvoiceStatusInput!) { updateInvoiceStatus(input: $in) { invoice { id status } `+userErrorsSel+` } }`,
				map[string]any{"in": map[string]any{"projectId": m.project, "invoiceId": invoice.ID, "status": st}}, &out)
			if len(out.U.UserErrors) > 0 || out.U.Invoice == nil || out.U.Invoice.Status != st {
				t.Fatalf("updateInvoiceStatus %s: %+v %+v", st, out.U.Invoice, out.U.UserErrors)
			}
			if back := m.readInvoice(t, invoice.ID); back.Status != st {
				t.Fatalf("read back status %s, want %s", back.Status, st)
			}
		}
	})

	t.Run("UploadAttachmentAttachesToAnRFI", func(t *testing.T) {
		content := []byte("%PDF-1.4\nsketch of the beam connection\n")
		sum := sha256.Sum256(content)
		up, errs := m.upload(t, "connection-sketch.pdf", content, hex.EncodeToString(sum[:]))
		if len(errs) > 0 || up == nil || up.ID == "" || up.Sha256 != hex.EncodeToString(sum[:]) || up.Size != len(content) {
			t.Fatalf("uploadAttachment: %+v %+v", up, errs)
		}
		created := m.createRFI(t, map[string]any{"subject": "Connection detail", "question": "See the attached sketch.",
			"managerId": manager, "attachmentIds": []string{up.ID}})
		got := m.readRFI(t, created.ID)
		if len(got.Questions) != 1 || len(got.Questions[0].Attachments) != 1 || got.Questions[0].Attachments[0].Name != "connection-sketch.pdf" {
			t.Fatalf("attachments read back %+v", got.Questions)
		}
	})

	t.Run("UploadWithWrongChecksumFailsCleanly", func(t *testing.T) {
		m.sb.ResetStats()
		up, errs := m.upload(t, "wrong.pdf", []byte("these bytes"), strings.Repeat("ab", 32))
		if up != nil || len(errs) != 1 || errs[0].Code != "CHECKSUM_MISMATCH" || !slices.Equal(errs[0].Field, []string{"input", "sha256"}) {
			t.Fatalf("upload with a wrong sha256: %+v %+v", up, errs)
		}
		if s := m.sb.Stats(); s.Total != 0 {
			t.Fatalf("a refused upload called Procore: %v", s.ByRoute)
		}
	})

	t.Run("MultipartWithoutPreflightHeaderIsRefused", func(t *testing.T) {
		req := uploadRequest(t, m.gw.URL, m.project, "x.txt", []byte("x"), "")
		req.Header.Del("Apollo-Require-Preflight")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("multipart without a preflight header: status %d, want 400", resp.StatusCode)
		}
	})

	// Invalid inputs: user errors, and not one upstream write.
	draft := m.createRFI(t, map[string]any{"subject": "Draft question", "question": "Not issued yet", "managerId": manager, "draft": true})
	draftPO := m.createCommitment(t, map[string]any{"kind": "PURCHASE_ORDER", "title": "Unapproved", "lineItems": []map[string]any{{"description": "x", "amount": "10"}}})
	for _, tc := range []struct {
		name, mutation, inputType string
		input                     map[string]any
		field                     []string
		code                      string
	}{
		{"CreateRFIBlankSubject", "createRFI", "CreateRFIInput", map[string]any{"subject": "  ", "question": "q", "managerId": manager}, []string{"input", "subject"}, "REQUIRED"},
		{"CreateRFIManagerNotOnProject", "createRFI", "CreateRFIInput", map[string]any{"subject": "s", "question": "q", "managerId": m.outsider}, []string{"input", "managerId"}, "NOT_FOUND"},
		{"CreateRFICostImpactFractionOfACent", "createRFI", "CreateRFIInput", map[string]any{"subject": "s", "question": "q", "managerId": manager,
			"costImpact": map[string]any{"status": "YES_KNOWN", "value": "10.001"}}, []string{"input", "costImpact", "value"}, "INVALID_DECIMAL"},
		{"CreateRFIDueDateOutOfRange", "createRFI", "CreateRFIInput", map[string]any{"subject": "s", "question": "q", "managerId": manager, "dueDate": "1850-01-01"}, []string{"input", "dueDate"}, "OUT_OF_RANGE"},
		{"ReplyToDraftRFI", "replyToRFI", "ReplyToRFIInput", map[string]any{"rfiId": draft.ID, "body": "answer"}, []string{"input", "rfiId"}, "INVALID_TRANSITION"},
		{"CloseDraftRFI", "closeRFI", "CloseRFIInput", map[string]any{"rfiId": draft.ID}, []string{"input", "rfiId"}, "INVALID_TRANSITION"},
		{"ReopenDraftRFI", "reopenRFI", "ReopenRFIInput", map[string]any{"rfiId": draft.ID}, []string{"input", "rfiId"}, "INVALID_TRANSITION"},
		{"ForwardToOutsider", "forwardRFI", "ForwardRFIInput", map[string]any{"rfiId": open.ID, "forwardeeId": m.outsider}, []string{"input", "forwardeeId"}, "NOT_FOUND"},
		{"AdvanceDraftRFI", "advanceRFIBallInCourt", "AdvanceRFIBallInCourtInput", map[string]any{"rfiId": draft.ID}, []string{"input", "rfiId"}, "INVALID_TRANSITION"},
		{"CloseUnknownRFI", "closeRFI", "CloseRFIInput", map[string]any{"rfiId": "4300000000999"}, []string{"input", "rfiId"}, "NOT_FOUND"},
		{"CreateSubmittalEmptyStep", "createSubmittal", "CreateSubmittalInput", map[string]any{"number": "X-1", "workflow": []map[string]any{{"approverIds": []string{}}}}, []string{"input", "workflow", "0", "approverIds"}, "REQUIRED"},
		{"CreateSubmittalApproverNotOnProject", "createSubmittal", "CreateSubmittalInput", map[string]any{"number": "X-2", "workflow": []map[string]any{{"approverIds": []string{a1, m.outsider}}}}, []string{"input", "workflow", "0", "approverIds", "1"}, "NOT_FOUND"},
		{"RespondOnClosedSubmittal", "respondToSubmittal", "RespondToSubmittalInput", map[string]any{"submittalId": submittal.ID, "approverId": submittal.Workflow[1].Approvers[0].ID, "responseId": m.responses["Approved"]}, []string{"input", "submittalId"}, "INVALID_TRANSITION"},
		{"UpdateSubmittalUnknownStatus", "updateSubmittalStatus", "UpdateSubmittalStatusInput", map[string]any{"submittalId": submittal.ID, "statusId": "4300000000777"}, []string{"input", "statusId"}, "NOT_FOUND"},
		{"CreateCommitmentRetainageOver100", "createCommitment", "CreateCommitmentInput", map[string]any{"kind": "SUBCONTRACT", "retainagePercent": "100.01"}, []string{"input", "retainagePercent"}, "OUT_OF_RANGE"},
		{"CreateCommitmentNegativeLine", "createCommitment", "CreateCommitmentInput", map[string]any{"kind": "SUBCONTRACT", "lineItems": []map[string]any{{"description": "x", "amount": "-5"}}}, []string{"input", "lineItems", "0", "amount"}, "MUST_BE_POSITIVE"},
		{"CreateCommitmentLineFractionOfACent", "createCommitment", "CreateCommitmentInput", map[string]any{"kind": "SUBCONTRACT", "lineItems": []map[string]any{{"description": "x", "amount": "1.005"}}}, []string{"input", "lineItems", "0", "amount"}, "INVALID_DECIMAL"},
		{"CreateCommitmentAmountNotQuantityTimesUnitCost", "createCommitment", "CreateCommitmentInput", map[string]any{"kind": "SUBCONTRACT", "lineItems": []map[string]any{{"description": "x", "amount": "10", "quantity": "3", "unitCost": "3"}}}, []string{"input", "lineItems", "0", "amount"}, "INCONSISTENT"},
		{"CreatePurchaseOrderWithSubcontractStatus", "createCommitment", "CreateCommitmentInput", map[string]any{"kind": "PURCHASE_ORDER", "status": "OUT_FOR_BID"}, []string{"input", "status"}, "INVALID_VALUE"},
		{"CreateCommitmentUnknownVendor", "createCommitment", "CreateCommitmentInput", map[string]any{"kind": "SUBCONTRACT", "vendorId": "4300000000555"}, []string{"input", "vendorId"}, "NOT_FOUND"},
		{"UpdateCommitmentStatusWrongKind", "updateCommitmentStatus", "UpdateCommitmentStatusInput", map[string]any{"commitmentId": subcontract.ID, "status": "RECEIVED"}, []string{"input", "status"}, "INVALID_VALUE"},
		{"ChangeOrderOfZero", "createCommitmentChangeOrder", "CreateCommitmentChangeOrderInput", map[string]any{"commitmentId": subcontract.ID, "amount": "0"}, []string{"input", "amount"}, "MUST_BE_POSITIVE"},
		{"ChangeOrderUnknownCommitment", "createCommitmentChangeOrder", "CreateCommitmentChangeOrderInput", map[string]any{"commitmentId": "4300000000444", "amount": "5"}, []string{"input", "commitmentId"}, "NOT_FOUND"},
		{"InvoiceOnUnapprovedCommitment", "createInvoice", "CreateInvoiceInput", map[string]any{"commitmentId": draftPO.ID, "items": []map[string]any{}}, []string{"input", "commitmentId"}, "INVALID_TRANSITION"},
		{"InvoiceLineBilledTwice", "createInvoice", "CreateInvoiceInput", map[string]any{"commitmentId": subcontract.ID, "items": []map[string]any{{"lineItemId": subcontract.LineItems[0].ID}, {"lineItemId": subcontract.LineItems[0].ID}}}, []string{"input", "items", "1", "lineItemId"}, "DUPLICATE"},
		{"InvoiceLineOfAnotherCommitment", "createInvoice", "CreateInvoiceInput", map[string]any{"commitmentId": subcontract.ID, "items": []map[string]any{{"lineItemId": "4300000000333"}}}, []string{"input", "items", "0", "lineItemId"}, "NOT_FOUND"},
		{"InvoiceRetainageNegative", "createInvoice", "CreateInvoiceInput", map[string]any{"commitmentId": subcontract.ID, "items": []map[string]any{{"lineItemId": subcontract.LineItems[0].ID, "workCompletedRetainagePercent": "-1"}}}, []string{"input", "items", "0", "workCompletedRetainagePercent"}, "OUT_OF_RANGE"},
		{"InvoiceApprovedBackToDraft", "updateInvoiceStatus", "UpdateInvoiceStatusInput", map[string]any{"invoiceId": invoice.ID, "status": "DRAFT"}, []string{"input", "status"}, "INVALID_TRANSITION"},
	} {
		t.Run("InvalidInputWritesNothing/"+tc.name, func(t *testing.T) {
			tc.input["projectId"] = m.project
			m.sb.ResetStats()
			var out map[string]struct {
				UserErrors []userError `json:"userErrors"`
			}
			m.do(t, fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { %s } }`, tc.inputType, tc.mutation, userErrorsSel), map[string]any{"in": tc.input}, &out)
			errs := out[tc.mutation].UserErrors
			found := false
			for _, e := range errs {
				found = found || (e.Code == tc.code && slices.Equal(e.Field, tc.field) && e.Message != "")
			}
			if !found {
				t.Fatalf("user errors %+v, want %s at %v", errs, tc.code, tc.field)
			}
			if w := writes(m.sb); len(w) != 0 {
				t.Fatalf("invalid input wrote upstream: %v", w)
			}
		})
	}

	t.Run("ProcoreRefusalBecomesUserErrors", func(t *testing.T) {
		// The sandbox (like Procore) refuses a submittal number already
		// taken; the gateway does not check it, so this is Procore's 422.
		var out struct {
			C struct {
				Submittal  *submittalOut `json:"submittal"`
				UserErrors []userError   `json:"userErrors"`
			} `json:"createSubmittal"`
		}
		m.do(t, `mutation($in: CreateSubmittalInput!) { createSubmittal(input: $in) { submittal { id } `+userErrorsSel+` } }`,
			map[string]any{"in": map[string]any{"projectId": m.project, "number": "05-120-T1"}}, &out)
		errs := out.C.UserErrors
		if out.C.Submittal != nil || len(errs) != 1 || errs[0].Code != "DUPLICATE" || !slices.Equal(errs[0].Field, []string{"input", "number"}) {
			t.Fatalf("duplicate submittal number: %+v %+v", out.C.Submittal, errs)
		}
	})
}

// readRFIs reads the project's RFIs (to warm the cache).
func (m *mutationEnv) readRFIs(t *testing.T) {
	t.Helper()
	m.do(t, `query($p: ID!) { project(id: $p) { rfis(first: 500) { totalCount } } }`, map[string]any{"p": m.project}, nil)
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func dec(t *testing.T, s string) decimal.Decimal {
	t.Helper()
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatalf("not a decimal: %q", s)
	}
	return d
}

type submittalOut struct {
	ID     string `json:"id"`
	Number string `json:"number"`
	Title  string `json:"title"`
	Status struct {
		Name string `json:"name"`
	} `json:"status"`
	BallInCourt []person `json:"ballInCourt"`
	Workflow    []struct {
		Step      int `json:"step"`
		Approvers []struct {
			ID       string `json:"id"`
			User     person `json:"user"`
			Comment  string `json:"comment"`
			Response *struct {
				Name string `json:"name"`
			} `json:"response"`
		} `json:"approvers"`
	} `json:"workflow"`
}

const submittalSel = `id number title status { name } ballInCourt { id }
  workflow { step approvers { id user { id } comment response { name } } }`

func (m *mutationEnv) readSubmittal(t *testing.T, id string) submittalOut {
	t.Helper()
	var out struct {
		Project struct {
			Submittals struct {
				Nodes []submittalOut `json:"nodes"`
			} `json:"submittals"`
		} `json:"project"`
	}
	m.do(t, `query($p: ID!) { project(id: $p) { submittals(first: 500) { nodes { `+submittalSel+` } } } }`, map[string]any{"p": m.project}, &out)
	for _, s := range out.Project.Submittals.Nodes {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("submittal %s is not in the project's submittals read back", id)
	return submittalOut{}
}

type commitmentOut struct {
	ID               string  `json:"id"`
	Kind             string  `json:"kind"`
	Title            string  `json:"title"`
	Status           string  `json:"status"`
	RetainagePercent *string `json:"retainagePercent"`
	GrandTotal       string  `json:"grandTotal"`
	Vendor           *struct {
		ID string `json:"id"`
	} `json:"vendor"`
	LineItems []struct {
		ID     string `json:"id"`
		Amount string `json:"amount"`
	} `json:"lineItems"`
	ChangeOrders []struct{ ID, Title, Status, GrandTotal string } `json:"changeOrders"`
}

const commitmentSel = `id kind title status retainagePercent grandTotal vendor { id } lineItems { id amount }
  changeOrders { id title status grandTotal }`

func (m *mutationEnv) createCommitment(t *testing.T, input map[string]any) commitmentOut {
	t.Helper()
	input["projectId"] = m.project
	var out struct {
		C struct {
			Commitment *commitmentOut `json:"commitment"`
			UserErrors []userError    `json:"userErrors"`
		} `json:"createCommitment"`
	}
	m.do(t, `mutation($in: CreateCommitmentInput!) { createCommitment(input: $in) { commitment { `+commitmentSel+` } `+userErrorsSel+` } }`, map[string]any{"in": input}, &out)
	if len(out.C.UserErrors) > 0 || out.C.Commitment == nil {
		t.Fatalf("createCommitment: %+v", out.C.UserErrors)
	}
	return *out.C.Commitment
}

func (m *mutationEnv) readCommitment(t *testing.T, id string) commitmentOut {
	t.Helper()
	var out struct {
		Project struct {
			Commitments struct {
				Nodes []commitmentOut `json:"nodes"`
			} `json:"commitments"`
		} `json:"project"`
	}
	m.do(t, `query($p: ID!) { project(id: $p) { commitments(first: 500) { nodes { `+commitmentSel+` } } } }`, map[string]any{"p": m.project}, &out)
	for _, c := range out.Project.Commitments.Nodes {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("commitment %s is not in the project's commitments read back", id)
	return commitmentOut{}
}

type invoiceOut struct {
	ID            string            `json:"id"`
	InvoiceNumber string            `json:"invoiceNumber"`
	Status        string            `json:"status"`
	Summary       map[string]string `json:"summary"`
	Items         []struct {
		LineItemID                       string `json:"lineItemId"`
		ScheduledValue                   string `json:"scheduledValue"`
		WorkCompletedThisPeriod          string `json:"workCompletedThisPeriod"`
		MaterialsPresentlyStored         string `json:"materialsPresentlyStored"`
		TotalCompletedAndStoredToDate    string `json:"totalCompletedAndStoredToDate"`
		WorkCompletedRetainagePercent    string `json:"workCompletedRetainagePercent"`
		WorkCompletedRetainageRetained   string `json:"workCompletedRetainageRetained"`
		WorkCompletedRetainageReleased   string `json:"workCompletedRetainageReleased"`
		MaterialsStoredRetainagePercent  string `json:"materialsStoredRetainagePercent"`
		MaterialsStoredRetainageRetained string `json:"materialsStoredRetainageRetained"`
	} `json:"items"`
}

const invoiceSel = `id invoiceNumber status
  summary { originalContractSum contractSumToDate totalCompletedAndStoredToDate completedWorkRetainageAmount
    storedMaterialsRetainageAmount totalRetainage totalEarnedLessRetainage lessPreviousCertificates currentPaymentDue
    balanceToFinishIncludingRetainage }
  items { lineItemId scheduledValue workCompletedThisPeriod materialsPresentlyStored totalCompletedAndStoredToDate
    workCompletedRetainagePercent workCompletedRetainageRetained workCompletedRetainageReleased
    materialsStoredRetainagePercent materialsStoredRetainageRetained }`

func (m *mutationEnv) readInvoice(t *testing.T, id string) invoiceOut {
	t.Helper()
	var out struct {
		Project struct {
			Invoices struct {
				Nodes []invoiceOut `json:"nodes"`
			} `json:"invoices"`
		} `json:"project"`
	}
	m.do(t, `query($p: ID!) { project(id: $p) { invoices(first: 500) { nodes { `+invoiceSel+` } } } }`, map[string]any{"p": m.project}, &out)
	for _, inv := range out.Project.Invoices.Nodes {
		if inv.ID == id {
			return inv
		}
	}
	t.Fatalf("invoice %s is not in the project's invoices read back", id)
	return invoiceOut{}
}

// g703Input is one G703 row a test sends to createInvoice: the index of the
// schedule-of-values line it bills and the amounts it gives ("" = not sent).
type g703Input struct {
	line                               int
	work, materials                    string
	workRetainagePercent, workReleased string
	materialsRetainagePercent          string
}

// g702Want is the first invoice of a commitment as worked out from the test's
// own inputs: one G703 row per schedule-of-values line and the G702 summary.
type g702Want struct {
	rows    []map[string]decimal.Decimal
	summary map[string]decimal.Decimal
}

// expectG702 works out the first invoice of a commitment (no change orders,
// no previous invoices) from the schedule of values and retainage percent the
// test created and the G703 rows it sent, with exact decimals, following the
// schema's defaults (work and materials retainage percent: the commitment's;
// everything else 0; lines not sent bill nothing):
//
//	retained             = round(amount × percent / 100, 2), work and materials apart
//	total completed      = Σ (work this period + materials stored)
//	total retainage      = Σ work retained − Σ work released + Σ materials retained
//	earned less retainage= total completed − total retainage
//	current payment due  = earned less retainage − previous certificates (0)
//	balance to finish    = contract sum to date − earned less retainage
func expectG702(t *testing.T, sov []string, retainage string, sent []g703Input) g702Want {
	t.Helper()
	or := func(s, def string) decimal.Decimal {
		if s == "" {
			s = def
		}
		return dec(t, s)
	}
	hundred := decimal.NewFromInt(100)
	var w g702Want
	var contract, completed, workRet, workRel, matRet decimal.Decimal
	for i, amount := range sov {
		in := g703Input{line: i}
		for _, r := range sent {
			if r.line == i {
				in = r
			}
		}
		work, mat, released := or(in.work, "0"), or(in.materials, "0"), or(in.workReleased, "0")
		workPct, matPct := or(in.workRetainagePercent, retainage), or(in.materialsRetainagePercent, retainage)
		wr, mr := work.Mul(workPct).Div(hundred).Round(2), mat.Mul(matPct).Div(hundred).Round(2)
		w.rows = append(w.rows, map[string]decimal.Decimal{
			"scheduledValue": dec(t, amount), "workCompletedThisPeriod": work, "materialsPresentlyStored": mat,
			"totalCompletedAndStoredToDate": work.Add(mat), "workCompletedRetainagePercent": workPct,
			"workCompletedRetainageRetained": wr, "workCompletedRetainageReleased": released,
			"materialsStoredRetainagePercent": matPct, "materialsStoredRetainageRetained": mr,
		})
		contract = contract.Add(dec(t, amount))
		completed = completed.Add(work).Add(mat)
		workRet, workRel, matRet = workRet.Add(wr), workRel.Add(released), matRet.Add(mr)
	}
	totalRet := workRet.Sub(workRel).Add(matRet)
	earned := completed.Sub(totalRet)
	w.summary = map[string]decimal.Decimal{
		"originalContractSum":               contract,
		"contractSumToDate":                 contract,
		"totalCompletedAndStoredToDate":     completed,
		"completedWorkRetainageAmount":      workRet.Sub(workRel),
		"storedMaterialsRetainageAmount":    matRet,
		"totalRetainage":                    totalRet,
		"totalEarnedLessRetainage":          earned,
		"lessPreviousCertificates":          decimal.Zero,
		"currentPaymentDue":                 earned,
		"balanceToFinishIncludingRetainage": contract.Sub(earned),
	}
	// Guard against a vacuous pass: the invoice has retainage and a payment.
	if !totalRet.IsPositive() || !earned.IsPositive() {
		t.Fatalf("the invoice bills nothing (retainage %s, earned %s)", totalRet, earned)
	}
	return w
}

// checkG702 compares an invoice read back through the gateway with what
// expectG702 worked out, row by row (rows matched to lines by lineItemIds, in
// schedule-of-values order) and figure by figure, to the cent.
func checkG702(t *testing.T, inv invoiceOut, lineItemIDs []string, want g702Want) {
	t.Helper()
	if len(inv.Items) != len(want.rows) {
		t.Fatalf("%d G703 rows, want one per schedule-of-values line (%d)", len(inv.Items), len(want.rows))
	}
	for i, it := range inv.Items {
		line := slices.Index(lineItemIDs, it.LineItemID)
		if line < 0 {
			t.Fatalf("G703 row %d bills line %s, not one of the commitment's %v", i, it.LineItemID, lineItemIDs)
		}
		got := map[string]string{
			"scheduledValue": it.ScheduledValue, "workCompletedThisPeriod": it.WorkCompletedThisPeriod,
			"materialsPresentlyStored": it.MaterialsPresentlyStored, "totalCompletedAndStoredToDate": it.TotalCompletedAndStoredToDate,
			"workCompletedRetainagePercent": it.WorkCompletedRetainagePercent, "workCompletedRetainageRetained": it.WorkCompletedRetainageRetained,
			"workCompletedRetainageReleased":  it.WorkCompletedRetainageReleased,
			"materialsStoredRetainagePercent": it.MaterialsStoredRetainagePercent, "materialsStoredRetainageRetained": it.MaterialsStoredRetainageRetained,
		}
		for k, v := range want.rows[line] {
			if !dec(t, got[k]).Equal(v) {
				t.Errorf("G703 row of line %d: %s = %s, want %s", line, k, got[k], v)
			}
		}
	}
	for k, v := range want.summary {
		if !dec(t, inv.Summary[k]).Equal(v) {
			t.Errorf("summary.%s = %s, want %s", k, inv.Summary[k], v)
		}
	}
}

type uploadOut struct {
	ID     string `json:"id"`
	Sha256 string `json:"sha256"`
	Size   int    `json:"size"`
}

// uploadRequest builds a GraphQL multipart request for uploadAttachment.
func uploadRequest(t *testing.T, base, project, filename string, content []byte, sha string) *http.Request {
	t.Helper()
	vars := map[string]any{"p": project, "f": nil}
	if sha != "" {
		vars["s"] = sha
	}
	ops, _ := json.Marshal(map[string]any{
		"query":     `mutation($p: ID!, $f: Upload!, $s: String) { uploadAttachment(input: {projectId: $p, file: $f, sha256: $s}) { upload { id sha256 size } ` + userErrorsSel + ` } }`,
		"variables": vars,
	})
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("operations", string(ops))
	_ = mw.WriteField("map", `{"0": ["variables.f"]}`)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="0"; filename=%q`, filename))
	h.Set("Content-Type", "application/pdf")
	fw, _ := mw.CreatePart(h)
	_, _ = fw.Write(content)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Apollo-Require-Preflight", "true")
	return req
}

func (m *mutationEnv) upload(t *testing.T, filename string, content []byte, sha string) (*uploadOut, []userError) {
	t.Helper()
	recsBefore, writesBefore := len(m.gw.auditRecords(t)), writeCount(m.sb)
	resp := sendGraphQL(t, uploadRequest(t, m.gw.URL, m.project, filename, content, sha))
	if len(resp.Errors) > 0 {
		t.Fatalf("uploadAttachment errors: %+v", resp.Errors)
	}
	checkMutationAudit(t, m.gw.auditRecords(t)[recsBefore:], resp.Data, map[string]any{"in": map[string]any{"projectId": m.project}}, writeCount(m.sb)-writesBefore)
	var out struct {
		U struct {
			Upload     *uploadOut  `json:"upload"`
			UserErrors []userError `json:"userErrors"`
		} `json:"uploadAttachment"`
	}
	if err := json.Unmarshal(resp.Data, &out); err != nil {
		t.Fatal(err)
	}
	return out.U.Upload, out.U.UserErrors
}

// --- idempotency ---

const createRFIForKey = `mutation($in: CreateRFIInput!) { createRFI(input: $in) { rfi { id subject } ` + userErrorsSel + ` } }`

type createRFIResult struct {
	CreateRFI struct {
		RFI *struct {
			ID      string `json:"id"`
			Subject string `json:"subject"`
		} `json:"rfi"`
		UserErrors []userError `json:"userErrors"`
	} `json:"createRFI"`
}

func decodeCreate(t testing.TB, resp gqlResponse) createRFIResult {
	t.Helper()
	var out createRFIResult
	if len(resp.Errors) > 0 {
		t.Errorf("GraphQL errors: %+v", resp.Errors)
		return out
	}
	if err := json.Unmarshal(resp.Data, &out); err != nil {
		t.Errorf("decode: %v", err)
	}
	return out
}

func randomKey(t testing.TB) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return t.Name() + "-" + hex.EncodeToString(b)
}

const rfiCreateRoute = "POST /rest/v1.0/projects/{project_id}/rfis"

// concurrentCreates sends n createRFI requests with the same key, spread
// over the gateways, at once, and returns the RFI ids they answered.
func concurrentCreates(t *testing.T, gws []*gatewayProc, n int, input map[string]any, headers ...string) []string {
	t.Helper()
	got := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out := decodeCreate(t, gqlPost(t, gws[i%len(gws)].URL, createRFIForKey, map[string]any{"in": input}, headers...))
			if out.CreateRFI.RFI == nil {
				t.Errorf("request %d: no RFI (user errors %+v)", i, out.CreateRFI.UserErrors)
				return
			}
			got[i] = out.CreateRFI.RFI.ID
		}()
	}
	close(start)
	wg.Wait()
	return got
}

// TestThreeTierCommitmentChangeOrdersArePackages: on a project with 3-tier
// change management (every fifth sandbox project), Procore's commitment
// change order list refuses the project; the commitments' change orders are
// then its change order packages naming them as contract_id. The project's
// and each commitment's changeOrders list exactly the dataset's change
// orders (grand totals to the cent from their lines), without the prime
// contract's packages, in three calls (refused list, packages, prime
// contracts: one each, shared by every commitment); changeOrderPackages
// keeps only the prime contract's packages.
// createCommitmentChangeOrder is a userError saying why, creating nothing.
func TestThreeTierCommitmentChangeOrdersArePackages(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 5, ItemsPerProject: 3}})
	m := &mutationEnv{sb: sb, env: env}
	var commitment string
	var before, primePackages int
	wantCOs := map[string]struct{ commitment, total string }{} // by change order id
	sb.ReadDataset(func(d *data.Dataset) {
		for _, p := range d.Projects {
			if p.ThreeTierChangeOrders() && len(p.Commitments) > 0 {
				m.project, commitment, before = id64(p.ID), id64(p.Commitments[0].ID), len(p.ChangeOrders)
				primePackages = len(p.ChangeMgmt.Packages)
				for _, co := range p.ChangeOrders {
					var total data.Fixed
					for _, l := range co.Lines {
						total += l.Amount
					}
					wantCOs[id64(co.ID)] = struct{ commitment, total string }{id64(co.ContractID), decimal.New(int64(total), -2).StringFixed(2)}
				}
			}
		}
	})
	if m.project == "" || before == 0 || primePackages == 0 {
		t.Fatal("no 3-tier project with commitments, (package) change orders and prime packages in the dataset")
	}
	m.gw = startGateway(t, env)

	type co struct {
		ID           string `json:"id"`
		CommitmentID string `json:"commitmentId"`
		GrandTotal   string `json:"grandTotal"`
	}
	var q struct {
		Project struct {
			ChangeOrders struct {
				TotalCount int  `json:"totalCount"`
				Nodes      []co `json:"nodes"`
			} `json:"changeOrders"`
			Commitments struct {
				Nodes []struct {
					ID           string `json:"id"`
					ChangeOrders []co   `json:"changeOrders"`
				} `json:"nodes"`
			} `json:"commitments"`
			ChangeOrderPackages struct {
				TotalCount int `json:"totalCount"`
			} `json:"changeOrderPackages"`
		} `json:"project"`
	}
	// m.do fails on any GraphQL error.
	sb.ResetStats()
	m.do(t, `query($p: ID!) { project(id: $p) { changeOrders(first: 1000) { totalCount nodes { id commitmentId grandTotal } }
  commitments(first: 100) { nodes { id changeOrders { id commitmentId grandTotal } } } } }`, map[string]any{"p": m.project}, &q)
	st := sb.Stats()
	m.do(t, `query($p: ID!) { project(id: $p) { changeOrderPackages(first: 1000) { totalCount } } }`, map[string]any{"p": m.project}, &q)
	for _, route := range []string{"GET /rest/v1.0/projects/{project_id}/commitment_change_orders", "GET /rest/v1.0/change_order_packages", "GET /rest/v1.0/prime_contracts"} {
		if st.ByRoute[route] != 1 {
			t.Errorf("%s called %d times, want 1 (by route: %v)", route, st.ByRoute[route], st.ByRoute)
		}
	}
	check := func(where string, got []co) {
		for _, c := range got {
			w, ok := wantCOs[c.ID]
			total, err := decimal.NewFromString(c.GrandTotal)
			if !ok || c.CommitmentID != w.commitment || err != nil || total.StringFixed(2) != w.total {
				t.Errorf("%s: change order %+v, want %+v (known: %v)", where, c, w, ok)
			}
		}
	}
	if q.Project.ChangeOrders.TotalCount != len(wantCOs) || len(q.Project.ChangeOrders.Nodes) != len(wantCOs) {
		t.Fatalf("project change orders: %d (%d nodes), want %d", q.Project.ChangeOrders.TotalCount, len(q.Project.ChangeOrders.Nodes), len(wantCOs))
	}
	check("project", q.Project.ChangeOrders.Nodes)
	perCommitment := 0
	for _, c := range q.Project.Commitments.Nodes {
		for _, x := range c.ChangeOrders {
			if x.CommitmentID != c.ID {
				t.Errorf("commitment %s lists change order %+v of another", c.ID, x)
			}
		}
		check("commitment "+c.ID, c.ChangeOrders)
		perCommitment += len(c.ChangeOrders)
	}
	if perCommitment != len(wantCOs) {
		t.Errorf("commitments list %d change orders, want %d", perCommitment, len(wantCOs))
	}
	if q.Project.ChangeOrderPackages.TotalCount != primePackages {
		t.Errorf("changeOrderPackages: %d, want the prime contract's %d", q.Project.ChangeOrderPackages.TotalCount, primePackages)
	}

	var out struct {
		C struct {
			ChangeOrder *struct{ ID string } `json:"changeOrder"`
			UserErrors  []userError          `json:"userErrors"`
		} `json:"createCommitmentChangeOrder"`
	}
	m.do(t, `mutation($in: CreateCommitmentChangeOrderInput!) { createCommitmentChangeOrder(input: $in) { changeOrder { id } `+userErrorsSel+` } }`,
		map[string]any{"in": map[string]any{"projectId": m.project, "commitmentId": commitment, "amount": "100"}}, &out)
	if out.C.ChangeOrder != nil || len(out.C.UserErrors) != 1 {
		t.Fatalf("%+v, want one userError and no change order", out.C)
	}
	if ue := out.C.UserErrors[0]; ue.Code != "REJECTED" || ue.Message != rest.ThreeTierChangeOrdersMessage {
		t.Fatalf("userError %+v, want REJECTED: %q", ue, rest.ThreeTierChangeOrdersMessage)
	}
	var after int
	sb.ReadDataset(func(d *data.Dataset) {
		for _, p := range d.Projects {
			if id64(p.ID) == m.project {
				after = len(p.ChangeOrders)
			}
		}
	})
	if after != before {
		t.Fatalf("%d change orders after the refusal, want %d", after, before)
	}
}

func TestIdempotentCreates(t *testing.T) {
	m := newMutationEnv(t)
	input := func(subject, key string) map[string]any {
		in := map[string]any{"projectId": m.project, "subject": subject, "question": "Idempotent?", "managerId": m.people[0]}
		if key != "" {
			in["idempotencyKey"] = key
		}
		return in
	}

	t.Run("RetryWithSameKeyReturnsTheFirstResult", func(t *testing.T) {
		key := randomKey(t)
		m.sb.ResetStats()
		first := decodeCreate(t, gqlPost(t, m.gw.URL, createRFIForKey, map[string]any{"in": input("Retry me", key)}))
		second := decodeCreate(t, gqlPost(t, m.gw.URL, createRFIForKey, map[string]any{"in": input("Retry me", key)}))
		if first.CreateRFI.RFI == nil || second.CreateRFI.RFI == nil || first.CreateRFI.RFI.ID != second.CreateRFI.RFI.ID {
			t.Fatalf("first %+v second %+v, want the same RFI", first.CreateRFI, second.CreateRFI)
		}
		if n := m.sb.Stats().ByRoute[rfiCreateRoute]; n != 1 {
			t.Fatalf("%d upstream creates, want 1", n)
		}
	})

	t.Run("HeaderKeyWorksLikeTheInputKey", func(t *testing.T) {
		key := randomKey(t)
		m.sb.ResetStats()
		var seen []string
		for range 3 {
			out := decodeCreate(t, gqlPost(t, m.gw.URL, createRFIForKey, map[string]any{"in": input("Header key", "")}, "Idempotency-Key", key))
			if out.CreateRFI.RFI == nil {
				t.Fatalf("no RFI: %+v", out.CreateRFI.UserErrors)
			}
			seen = append(seen, out.CreateRFI.RFI.ID)
		}
		if seen[0] != seen[1] || seen[1] != seen[2] {
			t.Fatalf("ids %v, want one RFI", seen)
		}
		if n := m.sb.Stats().ByRoute[rfiCreateRoute]; n != 1 {
			t.Fatalf("%d upstream creates, want 1", n)
		}
	})

	t.Run("SameKeyWithDifferentInputIsAConflict", func(t *testing.T) {
		key := randomKey(t)
		first := decodeCreate(t, gqlPost(t, m.gw.URL, createRFIForKey, map[string]any{"in": input("Original", key)}))
		if first.CreateRFI.RFI == nil {
			t.Fatalf("first create: %+v", first.CreateRFI.UserErrors)
		}
		m.sb.ResetStats()
		second := decodeCreate(t, gqlPost(t, m.gw.URL, createRFIForKey, map[string]any{"in": input("Changed", key)}))
		errs := second.CreateRFI.UserErrors
		if second.CreateRFI.RFI != nil || len(errs) != 1 || errs[0].Code != "CONFLICT" || !slices.Equal(errs[0].Field, []string{"input", "idempotencyKey"}) {
			t.Fatalf("reused key with another input: %+v", second.CreateRFI)
		}
		if w := writes(m.sb); len(w) != 0 {
			t.Fatalf("conflicting key wrote upstream: %v", w)
		}
	})

	t.Run("TwentyConcurrentDuplicatesMakeOneCreate", func(t *testing.T) {
		key := randomKey(t)
		m.sb.ResetStats()
		got := concurrentCreates(t, []*gatewayProc{m.gw}, 20, input("Concurrent", key))
		for _, id := range got {
			if id != got[0] {
				t.Fatalf("ids %v, want one RFI", got)
			}
		}
		if n := m.sb.Stats().ByRoute[rfiCreateRoute]; n != 1 {
			t.Fatalf("%d upstream creates for 20 concurrent duplicates, want 1", n)
		}
	})
}

// TestIdempotentCreatesAcrossReplicas runs two gateway instances sharing a
// real Redis: duplicates spread over both make one upstream create.
func TestIdempotentCreatesAcrossReplicas(t *testing.T) {
	redisURL := requireRedis(t)
	sb, env := startSandbox(t, sandbox.Config{HourlyLimit: -1, SpikeLimit: -1, Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 4}})
	var project, manager string
	sb.ReadDataset(func(d *data.Dataset) {
		project, manager = id64(d.Projects[0].ID), id64(d.Projects[0].UserIDs[0])
	})
	env = copyEnv(env)
	env["REDIS_URL"] = redisURL
	prefix := "test-mutations-" + randomKey(t)[len(t.Name())+1:] + ":"
	env["CACHE_PREFIX"] = prefix
	rdb, err := cache.ParseRedisURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		var keys []string
		for iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator(); iter.Next(ctx); {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			_ = rdb.Del(ctx, keys...).Err()
		}
		_ = rdb.Close()
	})
	a, b := startGateway(t, env), startGateway(t, env)

	key := randomKey(t)
	in := map[string]any{"projectId": project, "subject": "Two replicas", "question": "Once?", "managerId": manager}
	sb.ResetStats()
	got := concurrentCreates(t, []*gatewayProc{a, b}, 20, in, "Idempotency-Key", key)
	for _, id := range got {
		if id != got[0] {
			t.Fatalf("ids %v, want one RFI", got)
		}
	}
	if n := sb.Stats().ByRoute[rfiCreateRoute]; n != 1 {
		t.Fatalf("%d upstream creates for 20 duplicates over two replicas, want 1", n)
	}
	// A later retry on either replica still returns it, without a create.
	for _, gw := range []*gatewayProc{a, b} {
		out := decodeCreate(t, gqlPost(t, gw.URL, createRFIForKey, map[string]any{"in": in}, "Idempotency-Key", key))
		if out.CreateRFI.RFI == nil || out.CreateRFI.RFI.ID != got[0] {
			t.Fatalf("retry on %s: %+v, want RFI %s", gw.URL, out.CreateRFI, got[0])
		}
	}
	if n := sb.Stats().ByRoute[rfiCreateRoute]; n != 1 {
		t.Fatalf("%d upstream creates after retries, want 1", n)
	}
}
