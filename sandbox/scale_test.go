package sandbox_test

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"testing"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

func TestThousandProjectsStayUnderOneGiB(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 1,000 projects x 50 RFIs; skipped with -short")
	}
	s, err := sandbox.New(sandbox.Config{Seed: 1, Data: data.Options{Companies: 10, ProjectsPerCompany: 100, ItemsPerProject: 50}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	n := 0
	s.ReadDataset(func(ds *data.Dataset) {
		for _, p := range ds.Projects {
			n += len(p.RFIs)
		}
	})
	t.Logf("%d RFIs; heap in use %d MiB, sys %d MiB", n, m.HeapInuse>>20, m.Sys>>20)
	if n != 50_000 {
		t.Fatalf("%d RFIs, want 50,000", n)
	}
	if m.HeapInuse >= 1<<30 {
		t.Fatalf("heap in use %d MiB >= 1 GiB", m.HeapInuse>>20)
	}
	runtime.KeepAlive(s)
}

// BenchmarkListRFIs measures list throughput over loopback HTTP: one page of
// 100 RFIs per operation, through auth, rate limiting and rendering.
func BenchmarkListRFIs(b *testing.B) {
	e := start(b, sandbox.Config{Seed: 1, Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 5, RFIsPerProject: 500}})
	p := e.project()
	url := fmt.Sprintf("%s/rest/v1.0/projects/%d/rfis?per_page=100&page=2", e.run.URL, p.ID)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Authorization", "Bearer "+e.token)
			req.Header.Set("Procore-Company-Id", fmt.Sprint(e.company()))
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N)*100/b.Elapsed().Seconds(), "rfis/s")
}
