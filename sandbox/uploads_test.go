package sandbox_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

func TestUploadsAttachToRFIs(t *testing.T) {
	e := start(t, sandbox.Config{Seed: 21, Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 2}})
	p := e.project()
	content := []byte("%PDF-1.4 sketch SK-12")
	sum := sha256.Sum256(content)
	r := e.call("POST", fmt.Sprintf("/rest/v1.1/projects/%d/uploads", p.ID), e.company(), map[string]any{
		"response_filename": "SK-12.pdf", "response_content_type": "application/pdf",
		"segments": []map[string]any{{"size": len(content), "sha256": hex.EncodeToString(sum[:])}}})
	expectStatus(t, r, http.StatusCreated)
	var up struct {
		UUID     string
		Segments []struct {
			URL     string
			Headers map[string]string
		}
	}
	r.json(t, &up)
	req, _ := http.NewRequest("PUT", up.Segments[0].URL, bytes.NewReader(content))
	for k, v := range up.Segments[0].Headers {
		req.Header.Set(k, v)
	}
	put := e.send(e.hc, req)
	expectStatus(t, put, http.StatusOK)
	r = e.call("PATCH", fmt.Sprintf("/rest/v1.1/projects/%d/uploads/%s", p.ID, up.UUID), e.company(),
		map[string]any{"segments": []map[string]any{{"etag": put.header.Get("ETag")}}})
	expectStatus(t, r, http.StatusOK)

	body := func(ids ...string) map[string]any {
		return map[string]any{"rfi": map[string]any{"subject": "See sketch", "rfi_manager_id": p.UserIDs[1],
			"question": map[string]any{"body": "Per attached sketch?", "upload_ids": ids}}}
	}
	r = e.call("POST", fmt.Sprintf("/rest/v1.0/projects/%d/rfis", p.ID), e.company(), body(up.UUID))
	expectStatus(t, r, http.StatusCreated)
	if !strings.Contains(string(r.body), `"filename":"SK-12.pdf"`) {
		t.Fatalf("attachment missing: %s", r.body)
	}
	r = e.call("POST", fmt.Sprintf("/rest/v1.0/projects/%d/rfis", p.ID), e.company(), body("01HZZZZZZZZZZZZZZZZZZZZZZZ"))
	expectStatus(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(string(r.body), `"question.upload_ids"`) {
		t.Fatalf("body %s", r.body)
	}
}
