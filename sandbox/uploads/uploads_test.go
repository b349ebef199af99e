package uploads

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"procoregraph/sandbox/auth"
)

const (
	projectA = int64(8_100_000_001)
	projectB = int64(8_100_000_002)
	userA    = int64(4_400_000_001)
	userB    = int64(4_400_000_002)
)

// env is the uploads service on a real loopback server. Requests carry the
// principal named by the X-Test-User header; PUTs to presigned URLs carry none.
type env struct {
	t     *testing.T
	svc   *Service
	srv   *httptest.Server
	clock atomic.Int64 // offset from start
}

var start = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	e := &env{t: t}
	cfg.Now = func() time.Time { return start.Add(time.Duration(e.clock.Load())) }
	mux := http.NewServeMux()
	var srv *httptest.Server
	cfg.BaseURL = func() string { return srv.URL }
	e.svc = New(cfg)
	for pattern, h := range e.svc.Routes() {
		mux.HandleFunc(pattern, h)
	}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := r.Header.Get("X-Test-User"); u != "" {
			var id int64
			fmt.Sscan(u, &id)
			r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{UserID: id, Kind: "user"}))
		}
		mux.ServeHTTP(w, r)
	}))
	e.srv = srv
	t.Cleanup(srv.Close)
	return e
}

func (e *env) advance(d time.Duration) { e.clock.Add(int64(d)) }

func (e *env) call(method, rawURL string, user int64, headers map[string]string, body []byte) (int, http.Header, []byte) {
	e.t.Helper()
	if !strings.HasPrefix(rawURL, "http") {
		rawURL = e.srv.URL + rawURL
	}
	req, err := http.NewRequest(method, rawURL, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if user != 0 {
		req.Header.Set("X-Test-User", fmt.Sprint(user))
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

type created struct {
	UUID     string `json:"uuid"`
	Status   string `json:"status"`
	Segments []struct {
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
	} `json:"segments"`
}

// create declares parts (size and sha256 of each, or the given sha256 when
// declared is not empty) and returns the created upload.
func (e *env) create(project, user int64, parts [][]byte, declared ...string) created {
	e.t.Helper()
	var segs []map[string]any
	for i, p := range parts {
		sha := sum(p)
		if i < len(declared) && declared[i] != "" {
			sha = declared[i]
		}
		segs = append(segs, map[string]any{"size": len(p), "sha256": sha})
	}
	body, _ := json.Marshal(map[string]any{"response_filename": "photo.jpg", "response_content_type": "image/jpeg", "segments": segs})
	status, _, b := e.call("POST", fmt.Sprintf("/rest/v1.1/projects/%d/uploads", project), user, nil, body)
	if status != http.StatusCreated {
		e.t.Fatalf("create upload: %d %s", status, b)
	}
	var c created
	if err := json.Unmarshal(b, &c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// put sends part i's bytes to its presigned URL with the returned headers,
// and returns the status and ETag.
func (e *env) put(c created, i int, data []byte) (int, string, []byte) {
	e.t.Helper()
	status, h, b := e.call("PUT", c.Segments[i].URL, 0, c.Segments[i].Headers, data)
	return status, h.Get("ETag"), b
}

func (e *env) complete(project, user int64, uuid string, etags ...string) (int, []byte) {
	e.t.Helper()
	var segs []map[string]string
	for _, et := range etags {
		segs = append(segs, map[string]string{"etag": et})
	}
	body, _ := json.Marshal(map[string]any{"segments": segs})
	status, _, b := e.call("PATCH", fmt.Sprintf("/rest/v1.1/projects/%d/uploads/%s", project, uuid), user, nil, body)
	return status, b
}

func TestUploadFlow(t *testing.T) {
	t.Run("SegmentedUploadCompletesAndResolvesToAnAttachment", func(t *testing.T) {
		e := newEnv(t, Config{MinPartSize: -1})
		parts := [][]byte{[]byte("first part of a jpeg "), []byte("and the second part")}
		c := e.create(projectA, userA, parts)
		if _, err := ulid.ParseStrict(c.UUID); err != nil || len(c.UUID) != 26 || c.Status != "ready" || len(c.Segments) != 2 {
			t.Fatalf("created = %+v (ulid err %v)", c, err)
		}
		if c.Segments[0].Headers["x-amz-content-sha256"] != sum(parts[0]) || c.Segments[0].Headers["content-length"] != fmt.Sprint(len(parts[0])) {
			t.Errorf("segment headers = %v", c.Segments[0].Headers)
		}
		u, err := url.Parse(c.Segments[0].URL)
		if err != nil || !strings.HasPrefix(c.Segments[0].URL, e.srv.URL+"/_uploads/") || u.Query().Get("X-Amz-Signature") == "" {
			t.Errorf("part url = %q, want an absolute presigned URL", c.Segments[0].URL)
		}
		var etags []string
		for i, p := range parts {
			status, etag, body := e.put(c, i, p)
			if status != http.StatusOK || etag == "" {
				t.Fatalf("put part %d: %d %q %s", i+1, status, etag, body)
			}
			etags = append(etags, etag)
		}
		if _, err := e.svc.Resolve(projectA, []string{c.UUID}); err == nil {
			t.Error("Resolve accepted an upload that is not complete")
		}
		status, body := e.complete(projectA, userA, c.UUID, etags...)
		var done struct{ UUID, Status string }
		_ = json.Unmarshal(body, &done)
		if status != http.StatusOK || done.Status != "complete" || done.UUID != c.UUID {
			t.Fatalf("complete: %d %s", status, body)
		}
		if again, _ := e.complete(projectA, userA, c.UUID, etags...); again != http.StatusOK {
			t.Errorf("completing again: %d, want 200", again)
		}

		atts, err := e.svc.Resolve(projectA, []string{c.UUID})
		if err != nil || len(atts) != 1 {
			t.Fatalf("Resolve = %v, %v", atts, err)
		}
		a := atts[0]
		if a.ID <= 1<<32 || a.Filename != "photo.jpg" || a.Name != "photo.jpg" || a.ContentType != "image/jpeg" {
			t.Errorf("attachment = %+v", a)
		}
		status, h, content := e.call("GET", a.URL, 0, nil, nil)
		if status != http.StatusOK || string(content) != string(parts[0])+string(parts[1]) || h.Get("Content-Type") != "image/jpeg" {
			t.Errorf("download: %d %q %q", status, content, h.Get("Content-Type"))
		}
		if again, _ := e.svc.Resolve(projectA, []string{c.UUID}); again[0].ID != a.ID {
			t.Errorf("attachment id changed between resolves: %d then %d", a.ID, again[0].ID)
		}
	})

	t.Run("WrongSHA256IsRefusedAtCompletionAndNeverResolves", func(t *testing.T) {
		e := newEnv(t, Config{})
		data := []byte("the real bytes")
		c := e.create(projectA, userA, [][]byte{data}, sum([]byte("other bytes")))
		status, etag, _ := e.put(c, 0, data)
		if status != http.StatusOK {
			t.Fatalf("put: %d", status)
		}
		status, body := e.complete(projectA, userA, c.UUID, etag)
		if status != http.StatusUnprocessableEntity || !strings.Contains(string(body), "sha256") {
			t.Fatalf("complete: %d %s, want 422 naming sha256", status, body)
		}
		_, err := e.svc.Resolve(projectA, []string{c.UUID})
		var re *ResolveError
		if !errors.As(err, &re) || re.UploadID != c.UUID || !strings.Contains(err.Error(), c.UUID) {
			t.Errorf("Resolve error = %v, want a ResolveError naming %s", err, c.UUID)
		}
		if again, _ := e.complete(projectA, userA, c.UUID, etag); again != http.StatusUnprocessableEntity {
			t.Errorf("completing a failed upload again: %d, want 422", again)
		}
	})

	t.Run("WrongSizeIsRefusedAtCompletion", func(t *testing.T) {
		e := newEnv(t, Config{})
		data := []byte("twelve bytes")
		c := e.create(projectA, userA, [][]byte{data})
		_, etag, _ := e.put(c, 0, data[:5])
		if status, body := e.complete(projectA, userA, c.UUID, etag); status != http.StatusUnprocessableEntity {
			t.Errorf("complete: %d %s, want 422", status, body)
		}
	})

	t.Run("ExpiredPresignedURLIsRefused", func(t *testing.T) {
		e := newEnv(t, Config{TTL: time.Hour})
		data := []byte("late bytes")
		c := e.create(projectA, userA, [][]byte{data})
		e.advance(time.Hour + time.Second)
		status, _, body := e.put(c, 0, data)
		if status != http.StatusForbidden || !strings.Contains(string(body), "AccessDenied") {
			t.Errorf("put after TTL: %d %s, want 403 AccessDenied", status, body)
		}
	})

	t.Run("TamperedSignatureIsRefused", func(t *testing.T) {
		e := newEnv(t, Config{})
		data := []byte("bytes")
		c := e.create(projectA, userA, [][]byte{data})
		u, _ := url.Parse(c.Segments[0].URL)
		q := u.Query()
		q.Set("X-Amz-Expires", "999999") // extend the expiry without re-signing
		u.RawQuery = q.Encode()
		status, _, body := e.call("PUT", u.String(), 0, c.Segments[0].Headers, data)
		if status != http.StatusForbidden || !strings.Contains(string(body), "SignatureDoesNotMatch") {
			t.Errorf("tampered url: %d %s, want 403", status, body)
		}
	})

	t.Run("PartWithoutTheSignedSHA256HeaderIsRefused", func(t *testing.T) {
		e := newEnv(t, Config{})
		data := []byte("bytes")
		c := e.create(projectA, userA, [][]byte{data})
		status, _, _ := e.call("PUT", c.Segments[0].URL, 0, nil, data)
		if status != http.StatusForbidden {
			t.Errorf("put without headers: %d, want 403", status)
		}
	})

	t.Run("WrongProjectIsRefused", func(t *testing.T) {
		e := newEnv(t, Config{})
		data := []byte("bytes")
		c := e.create(projectA, userA, [][]byte{data})
		_, etag, _ := e.put(c, 0, data)
		if status, _ := e.complete(projectB, userA, c.UUID, etag); status != http.StatusNotFound {
			t.Errorf("complete under another project: %d, want 404", status)
		}
		if status, _ := e.complete(projectA, userA, c.UUID, etag); status != http.StatusOK {
			t.Fatalf("complete: %d", status)
		}
		if _, err := e.svc.Resolve(projectB, []string{c.UUID}); err == nil {
			t.Error("Resolve attached an upload to another project")
		}
	})

	t.Run("AnotherUserCannotCompleteIt", func(t *testing.T) {
		e := newEnv(t, Config{})
		data := []byte("bytes")
		c := e.create(projectA, userA, [][]byte{data})
		_, etag, _ := e.put(c, 0, data)
		if status, _ := e.complete(projectA, userB, c.UUID, etag); status != http.StatusNotFound {
			t.Errorf("complete by another user: %d, want 404", status)
		}
	})

	t.Run("WrongETagOrMissingPartKeepsTheUploadUsable", func(t *testing.T) {
		e := newEnv(t, Config{MinPartSize: -1})
		parts := [][]byte{[]byte("one"), []byte("two")}
		c := e.create(projectA, userA, parts)
		_, etag1, _ := e.put(c, 0, parts[0])
		if status, _ := e.complete(projectA, userA, c.UUID, etag1, `"00"`); status != http.StatusUnprocessableEntity {
			t.Errorf("missing part: %d, want 422", status)
		}
		_, etag2, _ := e.put(c, 1, parts[1])
		if status, _ := e.complete(projectA, userA, c.UUID, etag1, `"00"`); status != http.StatusUnprocessableEntity {
			t.Errorf("wrong etag: %d, want 422", status)
		}
		if status, body := e.complete(projectA, userA, c.UUID, etag1, etag2); status != http.StatusOK {
			t.Errorf("complete after fixing: %d %s", status, body)
		}
	})

	t.Run("UnattachedUploadExpiresForResolve", func(t *testing.T) {
		e := newEnv(t, Config{AttachWithin: 24 * time.Hour})
		data := []byte("bytes")
		c := e.create(projectA, userA, [][]byte{data})
		_, etag, _ := e.put(c, 0, data)
		e.complete(projectA, userA, c.UUID, etag)
		e.advance(25 * time.Hour)
		if _, err := e.svc.Resolve(projectA, []string{c.UUID}); err == nil || !strings.Contains(err.Error(), "expired") {
			t.Errorf("Resolve after the attach window: %v, want expired", err)
		}
	})

	t.Run("ResolveNamesTheUnknownID", func(t *testing.T) {
		e := newEnv(t, Config{})
		_, err := e.svc.Resolve(projectA, []string{"01ARZ3NDEKTSV4RRFFQ69G5FAV"})
		if err == nil || !strings.Contains(err.Error(), "01ARZ3NDEKTSV4RRFFQ69G5FAV") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestCreateValidation(t *testing.T) {
	fiveMiB := 5 << 20
	cases := []struct {
		name  string
		body  string
		field string
	}{
		{"RefusesMissingFilename", `{"segments":[{"size":3,"sha256":"` + sum([]byte("abc")) + `"}]}`, "response_filename"},
		{"RefusesMissingSegments", `{"response_filename":"a.txt"}`, "segments"},
		{"RefusesMalformedSHA256", `{"response_filename":"a.txt","segments":[{"size":3,"sha256":"xyz"}]}`, "segments[0].sha256"},
		{"RefusesZeroSize", `{"response_filename":"a.txt","segments":[{"size":0,"sha256":"` + sum(nil) + `"}]}`, "segments[0].size"},
		{"RefusesSmallNonLastSegment", fmt.Sprintf(`{"response_filename":"a.txt","segments":[{"size":%d,"sha256":"%s"},{"size":1,"sha256":"%s"}]}`, fiveMiB-1, sum(nil), sum(nil)), "segments[0].size"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			status, _, b := e.call("POST", fmt.Sprintf("/rest/v1.1/projects/%d/uploads", projectA), userA, nil, []byte(tc.body))
			var out struct {
				Errors map[string][]string `json:"errors"`
			}
			_ = json.Unmarshal(b, &out)
			if status != http.StatusUnprocessableEntity || len(out.Errors[tc.field]) == 0 {
				t.Errorf("status %d body %s, want 422 with errors[%q]", status, b, tc.field)
			}
		})
	}

	t.Run("RefusesCallerWithoutPrincipal", func(t *testing.T) {
		e := newEnv(t, Config{})
		status, _, _ := e.call("POST", fmt.Sprintf("/rest/v1.1/projects/%d/uploads", projectA), 0, nil, []byte(`{}`))
		if status != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", status)
		}
	})

	t.Run("InvisibleProjectIsNotFound", func(t *testing.T) {
		e := newEnv(t, Config{ProjectVisible: func(_ context.Context, p int64) bool { return p == projectA }})
		body := []byte(`{"response_filename":"a.txt","segments":[{"size":3,"sha256":"` + sum([]byte("abc")) + `"}]}`)
		if status, _, _ := e.call("POST", fmt.Sprintf("/rest/v1.1/projects/%d/uploads", projectB), userA, nil, body); status != http.StatusNotFound {
			t.Errorf("invisible project: %d, want 404", status)
		}
		if status, _, _ := e.call("POST", fmt.Sprintf("/rest/v1.1/projects/%d/uploads", projectA), userA, nil, body); status != http.StatusCreated {
			t.Errorf("visible project: %d, want 201", status)
		}
	})
}
