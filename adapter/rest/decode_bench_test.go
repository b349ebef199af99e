package rest

import (
	"context"
	"fmt"
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
	pages := samplePages(b)
	for _, name := range []string{"rfis", "submittals", "contracts", "requisitions"} {
		body := pages[name]
		for _, path := range []struct {
			name   string
			decode func([]byte) (int, error)
		}{{"standard", decoders[name].standard}, {"easyjson", decoders[name].easy}} {
			b.Run(name+"/"+path.name, func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					n, err := path.decode(body)
					if err != nil || n == 0 {
						b.Fatalf("decoded %d items: %v", n, err)
					}
				}
			})
		}
	}
}

// pageDecoders decode one list page with decodeBody (encoding/json/v2) or
// with the generated easyjson decoders, returning how many items they read.
type pageDecoders struct {
	standard, easy func([]byte) (int, error)
}

func decodersFor[W any]() pageDecoders {
	return pageDecoders{
		standard: func(body []byte) (int, error) {
			var out []W
			err := decodeBody(body, &out)
			return len(out), err
		},
		easy: func(body []byte) (int, error) {
			var out []W
			ok, err := decodeListEasy(body, &out)
			if !ok {
				return 0, fmt.Errorf("no generated decoder for %T", out)
			}
			return len(out), err
		},
	}
}

var decoders = map[string]pageDecoders{
	"rfis":         decodersFor[wireRFI](),
	"submittals":   decodersFor[wireSubmittal](),
	"contracts":    decodersFor[wireCommitment](),
	"requisitions": decodersFor[wireRequisition](),
	"projects":     decodersFor[wireProject](),
}

// samplePages fetches one list page per resource from a seeded sandbox.
func samplePages(b testing.TB) map[string][]byte {
	b.Helper()
	run, err := sandbox.Start(context.Background(), sandbox.Config{Seed: 1, HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 100, CommitmentsPerProject: 12}}, "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(run.Close)
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
	c := strconv.FormatInt(company, 10)
	return map[string][]byte{
		"rfis":         get("/rest/v1.0/projects/" + p + "/rfis?per_page=100"),
		"submittals":   get("/rest/v1.1/projects/" + p + "/submittals?per_page=100"),
		"contracts":    get("/rest/v1.0/work_order_contracts?project_id=" + p),
		"requisitions": get("/rest/v1.1/requisitions?project_id=" + p + "&per_page=100"),
		"projects":     get("/rest/v1.0/projects?company_id=" + c),
	}
}
