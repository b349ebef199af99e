package rest

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// BenchmarkDecodePage measures the adapter's tolerant decoding of one list
// page per resource, as the sandbox renders them (100 RFIs, 100 submittals,
// a project's contracts and requisitions):
//
//	go test ./adapter/rest -run '^$' -bench DecodePage -benchmem
func BenchmarkDecodePage(b *testing.B) {
	run, err := sandbox.Start(context.Background(), sandbox.Config{Seed: 1, HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 100, CommitmentsPerProject: 12}}, "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer run.Close()
	var company, project int64
	run.ReadDataset(func(d *data.Dataset) { company, project = d.Companies[0].ID, d.Projects[0].ID })
	resp, err := http.PostForm(run.URL+"/oauth/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {sandbox.DefaultClientID}, "client_secret": {sandbox.DefaultClientSecret}})
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	token := strings.Split(strings.Split(string(tok), `"access_token":"`)[1], `"`)[0]
	get := func(path string) []byte {
		req, _ := http.NewRequest(http.MethodGet, run.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Procore-Company-Id", strconv.FormatInt(company, 10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		return body
	}
	p := strconv.FormatInt(project, 10)
	bench := func(name string, body []byte, decode func([]byte) (int, error)) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				n, err := decode(body)
				if err != nil || n == 0 {
					b.Fatalf("decoded %d items: %v", n, err)
				}
			}
		})
	}
	bench("rfis", get("/rest/v1.0/projects/"+p+"/rfis?per_page=100"), func(body []byte) (int, error) {
		var out []wireRFI
		err := decodeBody(body, &out)
		return len(out), err
	})
	bench("submittals", get("/rest/v1.1/projects/"+p+"/submittals?per_page=100"), func(body []byte) (int, error) {
		var out []wireSubmittal
		err := decodeBody(body, &out)
		return len(out), err
	})
	bench("contracts", get("/rest/v1.0/work_order_contracts?project_id="+p), func(body []byte) (int, error) {
		var out []wireCommitment
		err := decodeBody(body, &out)
		return len(out), err
	})
	bench("requisitions", get("/rest/v1.1/requisitions?project_id="+p+"&per_page=100"), func(body []byte) (int, error) {
		var out []wireRequisition
		err := decodeBody(body, &out)
		return len(out), err
	})
}
