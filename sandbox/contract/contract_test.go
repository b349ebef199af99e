package contract

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func mustLoad(t *testing.T) *Table {
	t.Helper()
	tbl, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func TestEmbeddedTableIsWellFormed(t *testing.T) {
	tbl := mustLoad(t)
	if n := len(tbl.Operations); n < 60 {
		t.Fatalf("%d operations, want every /rest route the sandbox serves (64 when written)", n)
	}
	ids := map[string]bool{}
	for _, op := range tbl.Operations {
		if !op.Published {
			if op.ID != "" || len(op.Notes) == 0 || op.Body != nil || len(op.Query.Allowed) > 0 {
				t.Errorf("%s %s: an unpublished entry has no operationId, parameters or body, and a note saying why", op.Method, op.Path)
			}
			continue
		}
		if ids[op.ID] {
			t.Errorf("%s twice", op.ID)
		}
		ids[op.ID] = true
		for _, r := range op.Query.Required {
			if !op.query.has(r) {
				t.Errorf("%s: required query parameter %s is not allowed", op.ID, r)
			}
		}
		for _, g := range op.OneOf {
			for _, k := range g {
				if !op.query.has(k) && (op.Body == nil || !op.body.has(k)) {
					t.Errorf("%s: one-of name %s is allowed nowhere", op.ID, k)
				}
			}
		}
		if op.Body == nil {
			continue
		}
		for _, r := range op.Body.Required {
			if !op.body.has(r) {
				t.Errorf("%s: required body key %s is not allowed", op.ID, r)
			}
		}
		for k, w := range op.Body.Wrappers {
			if !op.body.has(k) {
				t.Errorf("%s: wrapper %s is not an allowed body key", op.ID, k)
			}
			for _, r := range w.Required {
				if !op.wrappers[k].has(r) {
					t.Errorf("%s: required key %s.%s is not allowed", op.ID, k, r)
				}
			}
		}
	}
}

func TestParseRefusesABrokenTable(t *testing.T) {
	for name, doc := range map[string]string{
		"NotJSON":                 `{`,
		"PathOutsideRest":         `{"operations":[{"operation_id":"X","method":"GET","path":"/v1/x","published":true}]}`,
		"PublishedWithoutID":      `{"operations":[{"method":"GET","path":"/rest/v1.0/x","published":true}]}`,
		"SameShapeTwice":          `{"operations":[{"operation_id":"A","method":"GET","path":"/rest/v1.0/x/{id}","published":true},{"operation_id":"B","method":"GET","path":"/rest/v1.0/x/{x_id}","published":true}]}`,
		"OperationWithoutAMethod": `{"operations":[{"operation_id":"A","path":"/rest/v1.0/x","published":true}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(doc)); err == nil {
				t.Fatal("parsed")
			}
		})
	}
}

func TestMatch(t *testing.T) {
	tbl := mustLoad(t)
	custom, err := Parse([]byte(`{"operations":[
		{"operation_id":"Show","method":"GET","path":"/rest/v1.0/rfis/{id}","published":true,"query":{"allowed":[]}},
		{"operation_id":"RecycleBin","method":"GET","path":"/rest/v1.0/rfis/recycle_bin","published":true,"query":{"allowed":[]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name         string
		tbl          *Table
		method, path string
		want         string // operation name, "" for no match
	}{
		{"ConcretePathMatchesItsTemplate", tbl, "GET", "/rest/v1.0/projects/123/rfis", "RestV10ProjectsProjectIdRfisGet"},
		{"PlaceholderNamesDoNotMatter", tbl, "POST", "/rest/v1.0/projects/1/rfis/2/replies", "RestV10ProjectsProjectIdRfisRfiIdRepliesPost"},
		{"MethodSelectsTheOperation", tbl, "PATCH", "/rest/v1.0/projects/1/rfis/2", "RestV10ProjectsProjectIdRfisIdPatch"},
		{"LowercaseMethodMatches", tbl, "get", "/rest/v1.1/requisitions/9", "RestV11RequisitionsIdGet"},
		{"UnservedMethodMatchesNothing", tbl, "DELETE", "/rest/v1.0/projects/1/rfis/2", ""},
		{"TrailingSlashIsAnotherPath", tbl, "GET", "/rest/v1.0/projects/1/rfis/", ""},
		{"EmptySegmentIsNoPlaceholder", tbl, "GET", "/rest/v1.0/projects//rfis", ""},
		{"ExtraSegmentMatchesNothing", tbl, "GET", "/rest/v1.0/projects/1/rfis/2/3", ""},
		{"UnpublishedRouteMatchesItsEntry", tbl, "GET", "/rest/v1.0/webhooks/hooks/7", "GET /rest/v1.0/webhooks/hooks/{id}"},
		{"UploadUUIDPlaceholder", tbl, "PATCH", "/rest/v1.1/projects/1/uploads/01J0ABCDEF", "RestV11ProjectsProjectIdUploadsUuidPatch"},
		{"LiteralSegmentBeatsPlaceholder", custom, "GET", "/rest/v1.0/rfis/recycle_bin", "RecycleBin"},
		{"PlaceholderTakesTheRest", custom, "GET", "/rest/v1.0/rfis/42", "Show"},
	} {
		t.Run(c.name, func(t *testing.T) {
			op, ok := c.tbl.Match(c.method, c.path)
			got := ""
			if ok {
				got = op.Name()
			}
			if got != c.want {
				t.Fatalf("Match(%s %s) = %q, want %q", c.method, c.path, got, c.want)
			}
		})
	}
}

func multipartBody(t *testing.T, fields ...string) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range fields {
		if name, ok := strings.CutSuffix(f, "@file"); ok {
			w, err := mw.CreateFormFile(name, "a.pdf")
			if err != nil {
				t.Fatal(err)
			}
			_, _ = w.Write([]byte("%PDF"))
			continue
		}
		if err := mw.WriteField(f, "x"); err != nil {
			t.Fatal(err)
		}
	}
	_ = mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

func TestCheck(t *testing.T) {
	tbl := mustLoad(t)
	mpType, mpRFI := multipartBody(t, "rfi[subject]", "rfi[rfi_manager_id]", "rfi[question][body]", "rfi[question][attachments][]@file",
		"rfi[assignee_ids][]", "rfi[assignee_ids][]", "rfi[custom_field_42]", "rfi[colour]", "attachments[]@file")
	mpPartialType, mpPartial := multipartBody(t, "rfi[subject]")
	const form = "application/x-www-form-urlencoded"
	for _, c := range []struct {
		name, method, target, contentType, body string
		want                                    []string
	}{
		{name: "ConformingListPasses", method: "GET",
			target: "/rest/v1.1/projects?company_id=1&filters[by_status]=All&filters[name]=x&page=1&per_page=300"},
		{name: "ArrayParameterAcceptsBracketSpelling", method: "GET", target: "/rest/v1.1/projects?company_id=1&filters[id][]=1&filters[id][]=2"},
		{name: "ArrayParameterAcceptsBareSpelling", method: "GET", target: "/rest/v1.1/projects?company_id=1&filters[id]=1"},
		{name: "SpecArraySpelledWithBracketsAcceptsBare", method: "GET", target: "/rest/v1.0/vendors?company_id=1&filters[id]=1&filters[trade_id]=2"},
		{name: "ObjectParameterAcceptsSubKeys", method: "GET", target: "/rest/v1.1/projects?company_id=1&filters[custom_fields][12]=x"},
		{name: "UnknownQueryParameterIsNamed", method: "GET", target: "/rest/v1.1/projects?company_id=1&by_status=All",
			want: []string{"RestV11ProjectsGet unknown-query-parameter by_status"}},
		{name: "MissingRequiredQueryParameterIsNamed", method: "GET", target: "/rest/v1.1/projects?page=1",
			want: []string{"RestV11ProjectsGet missing-required-query-parameter company_id"}},
		{name: "EmptyRequiredValueCountsAsMissing", method: "GET", target: "/rest/v1.0/cost_codes?project_id=",
			want: []string{"RestV10CostCodesGet missing-required-query-parameter project_id"}},
		{name: "ScalarParameterSentAsArrayIsUnknown", method: "GET", target: "/rest/v1.0/projects/1/users?filters[id][]=1",
			want: []string{"RestV10ProjectsProjectIdUsersGet unknown-query-parameter filters[id][]"}},
		{name: "FilterTheOperationLacksIsUnknown", method: "GET", target: "/rest/v1.0/cost_codes?project_id=1&filters[updated_at]=a...b",
			want: []string{"RestV10CostCodesGet unknown-query-parameter filters[updated_at]"}},
		{name: "PathParameterRepeatedInQueryIsUnknown", method: "GET", target: "/rest/v1.0/projects/1/rfis?project_id=1",
			want: []string{"RestV10ProjectsProjectIdRfisGet unknown-query-parameter project_id"}},
		{name: "OneOfSatisfiedByEitherName", method: "GET", target: "/rest/v1.0/webhooks/hooks?project_id=1&namespace=x"},
		{name: "OneOfMissingNamesTheGroup", method: "GET", target: "/rest/v1.0/webhooks/hooks?namespace=x",
			want: []string{"RestV10WebhooksHooksGet missing-required-query-parameter company_id|project_id"}},
		{name: "OneOfSatisfiedByABodyKey", method: "POST", target: "/rest/v1.0/webhooks/hooks", contentType: "application/json",
			body: `{"company_id":1,"hook":{"namespace":"a","destination_url":"https://x","api_version":"v2"}}`},
		{name: "ConformingJSONBodyPasses", method: "POST", target: "/rest/v1.1/requisitions", contentType: "application/json",
			body: `{"project_id":1,"commitment_id":2,"requisition":{"period_id":3,"items":[{"x":1}]}}`},
		{name: "UnknownWrapperKeyAndMissingRequiredOne", method: "PATCH", target: "/rest/v1.0/submittal_approvers/5?project_id=1&submittal_id=2",
			contentType: "application/json", body: `{"submittal_approver":{"response_id":7,"comment":"ok"}}`,
			want: []string{"RestV10SubmittalApproversIdPatch missing-required-body-key submittal_approver.submittal_response_id",
				"RestV10SubmittalApproversIdPatch unknown-body-key submittal_approver.response_id"}},
		{name: "MissingRequiredTopLevelKeys", method: "PATCH", target: "/rest/v1.1/requisitions/5", contentType: "application/json",
			body: `{"requisition":{"status":"under_review"}}`,
			want: []string{"RestV11RequisitionsIdPatch missing-required-body-key commitment_id", "RestV11RequisitionsIdPatch missing-required-body-key project_id"}},
		{name: "NullCountsAsMissing", method: "POST", target: "/rest/v1.1/requisitions", contentType: "application/json",
			body: `{"project_id":null,"commitment_id":2}`, want: []string{"RestV11RequisitionsPost missing-required-body-key project_id"}},
		{name: "EmptyBodyMissesRequiredKeys", method: "POST", target: "/rest/v1.0/projects/1/commitment_change_orders",
			want: []string{"RestV10ProjectsProjectIdCommitmentChangeOrdersPost missing-required-body-key change_order"}},
		{name: "UnknownTopLevelKey", method: "POST", target: "/rest/v1.0/work_order_contracts", contentType: "application/json",
			body: `{"project_id":1,"work_order_contract":{"title":"t"},"colour":"red"}`,
			want: []string{"RestV10WorkOrderContractsPost unknown-body-key colour"}},
		{name: "WrapperKeysAreCheckedOneLevelDeepOnly", method: "POST", target: "/rest/v1.0/projects/1/rfis", contentType: "application/json",
			body: `{"rfi":{"subject":"s","rfi_manager_id":1,"question":{"body":"q","anything":1}}}`},
		{name: "CustomFieldKeysMatchTheirPrefix", method: "POST", target: "/rest/v1.0/projects/1/rfis", contentType: "application/json",
			body: `{"rfi":{"subject":"s","rfi_manager_id":1,"question":{"body":"q"},"custom_field_123":"v"}}`},
		{name: "BodyKeysOnAnOperationWithoutBody", method: "PATCH", target: "/rest/v1.0/projects/1/rfis/2/advance_ball_in_court",
			contentType: "application/json", body: `{"rfi":{}}`,
			want: []string{"RestV10ProjectsProjectIdRfisIdAdvanceBallInCourtPatch unknown-body-key rfi"}},
		{name: "EmptyObjectOnAnOperationWithoutBodyPasses", method: "PATCH", target: "/rest/v1.0/projects/1/rfis/2/advance_ball_in_court",
			contentType: "application/json", body: `{}`},
		{name: "MultipartFieldNamesMapToBodyKeys", method: "POST", target: "/rest/v1.0/projects/1/rfis", contentType: mpType, body: string(mpRFI),
			want: []string{"RestV10ProjectsProjectIdRfisPost unknown-body-key attachments", "RestV10ProjectsProjectIdRfisPost unknown-body-key rfi.colour"}},
		{name: "MultipartMissingRequiredWrapperKeys", method: "POST", target: "/rest/v1.0/projects/1/rfis", contentType: mpPartialType, body: string(mpPartial),
			want: []string{"RestV10ProjectsProjectIdRfisPost missing-required-body-key rfi.question", "RestV10ProjectsProjectIdRfisPost missing-required-body-key rfi.rfi_manager_id"}},
		{name: "URLEncodedFieldNamesMapToBodyKeys", method: "POST", target: "/rest/v1.0/work_order_contracts/9/line_items", contentType: form,
			body: "project_id=1&line_item%5Bamount%5D=5&line_item%5Bcolour%5D=red",
			want: []string{"RestV10WorkOrderContractsWorkOrderContractIdLineItemsPost unknown-body-key line_item.colour"}},
		{name: "MalformedJSONIsLeftToTheHandler", method: "PATCH", target: "/rest/v1.1/requisitions/5?project_id=1", contentType: "application/json",
			body: `{"requisition":`, want: []string{"RestV11RequisitionsIdPatch unknown-query-parameter project_id"}},
		{name: "JSONArrayBodyIsNotChecked", method: "POST", target: "/rest/v1.1/requisitions", contentType: "application/json", body: `[1]`},
		{name: "UnknownOperationIsNamedByShape", method: "GET", target: "/rest/v1.0/nothing/42?x=1",
			want: []string{"GET /rest/v1.0/nothing/{id} unknown-operation"}},
		{name: "UnpublishedRouteIsNotChecked", method: "GET", target: "/rest/v1.0/webhooks/hooks/7?anything=1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, c.target, strings.NewReader(c.body))
			if c.contentType != "" {
				r.Header.Set("Content-Type", c.contentType)
			}
			var got []string
			for _, v := range tbl.Check(r, []byte(c.body)) {
				got = append(got, v.Key())
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("violations\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestCheckRequestLeavesTheBodyForTheHandler(t *testing.T) {
	tbl := mustLoad(t)
	body := `{"project_id":1,"commitment_id":2,"colour":"red"}`
	for _, c := range []struct {
		name  string
		limit int64
		want  []string
	}{
		{"WithinTheLimitTheBodyIsChecked", 1 << 20, []string{"RestV11RequisitionsPost unknown-body-key colour"}},
		{"OverTheLimitTheBodyIsNotChecked", 10, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/rest/v1.1/requisitions", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			var got []string
			for _, v := range tbl.CheckRequest(r, c.limit) {
				got = append(got, v.Key())
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("violations %q, want %q", got, c.want)
			}
			rest, err := io.ReadAll(r.Body)
			if err != nil || string(rest) != body {
				t.Fatalf("the handler reads %q (%v), want the whole body", rest, err)
			}
			if err := r.Body.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAnswer(t *testing.T) {
	for _, c := range []struct {
		name   string
		vs     []Violation
		status int
		body   string
	}{
		{"NothingToRefuse", nil, 0, ""},
		{"UnknownOperationIsNotFound", []Violation{{Operation: "GET /rest/x", Kind: UnknownOperation}}, 404, `{"errors":"Resource not found"}`},
		{"QueryProblemsAre400NamingTheParameters", []Violation{
			{"RestV11ProjectsGet", MissingRequiredQueryParameter, "company_id"},
			{"RestV11ProjectsGet", UnknownQueryParameter, "by_status"},
			{"RestV11ProjectsGet", UnknownBodyKey, "x"}},
			400, `{"errors":"param is missing or the value is empty: company_id; found unpermitted parameter: by_status"}`},
		{"OneOfGroupReadsAsAlternatives", []Violation{{"RestV10WebhooksHooksGet", MissingRequiredQueryParameter, "company_id|project_id"}},
			400, `{"errors":"param is missing or the value is empty: company_id or project_id"}`},
		{"BodyProblemsAre422PerKey", []Violation{
			{"RestV10SubmittalApproversIdPatch", MissingRequiredBodyKey, "submittal_approver.submittal_response_id"},
			{"RestV10SubmittalApproversIdPatch", UnknownBodyKey, "submittal_approver.response_id"}},
			422, `{"errors":{"submittal_approver.response_id":["is not a permitted parameter"],"submittal_approver.submittal_response_id":["can't be blank"]}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body, ok := Answer(c.vs)
			if ok != (c.status != 0) || status != c.status || string(body) != c.body {
				t.Fatalf("Answer = %d %s %v, want %d %s", status, body, ok, c.status, c.body)
			}
		})
	}
}

func TestViolationKey(t *testing.T) {
	if k := (Violation{"RestV11ProjectsGet", UnknownQueryParameter, "by_status"}).Key(); k != "RestV11ProjectsGet unknown-query-parameter by_status" {
		t.Fatal(k)
	}
	if k := (Violation{Operation: "GET /rest/v9/x", Kind: UnknownOperation}).Key(); k != "GET /rest/v9/x unknown-operation" {
		t.Fatal(k)
	}
}
