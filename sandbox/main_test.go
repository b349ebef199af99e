package sandbox_test

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"procoregraph/sandbox"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestMainServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- sandbox.Main(ctx, []string{"-addr", "127.0.0.1:0", "-seed", "4", "-companies", "1", "-projects", "1", "-items", "2", "-client-id", "cli", "-client-secret", "sec"}, &out, &errOut)
	}()
	urlRe := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var url string
	for deadline := time.Now().Add(5 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := urlRe.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		t.Fatalf("no URL printed: %q %q", out.String(), errOut.String())
	}
	if !regexp.MustCompile(`client_id=cli client_secret=sec`).MatchString(out.String()) ||
		!regexp.MustCompile(sandbox.DefaultDemoTOTPSecret).MatchString(out.String()) {
		t.Fatalf("credentials not printed: %s", out.String())
	}
	resp, err := http.Get(url + "/_sandbox/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Main did not return after cancel")
	}
	if _, err := http.Get(url + "/_sandbox/health"); err == nil {
		t.Fatal("still serving after cancel")
	}
}
