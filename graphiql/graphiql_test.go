package graphiql_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"procoregraph/graphiql"
)

// TestAssetsMatchTheirPinnedHashes: every embedded file is the pinned npm
// build (the hash gqlgen's playground pins for the same CDN file).
func TestAssetsMatchTheirPinnedHashes(t *testing.T) {
	for _, a := range graphiql.Assets() {
		b, err := graphiql.Open(a.File)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := "sha256-" + base64.StdEncoding.EncodeToString(sum[:]); got != a.SRI {
			t.Errorf("%s: %s, pinned %s (run graphiql/update.sh, or update the pin)", a.File, got, a.SRI)
		}
	}
}

var refRE = regexp.MustCompile(`(?:src|href)="([^"]*)"`)

// TestPageLoadsOnlyItsOwnAssets: the page names no external URL, and every
// script and stylesheet it references is served here, byte for byte the
// embedded file, gzip-encoded for clients that accept it.
func TestPageLoadsOnlyItsOwnAssets(t *testing.T) {
	h, err := graphiql.New("procoregraph", "/graphql")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	page := html.UnescapeString(get(t, srv.URL+"/", ""))
	for _, bad := range []string{"http://", "https://", "cdn", "unpkg"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	refs := refRE.FindAllStringSubmatch(page, -1)
	if len(refs) != len(graphiql.Assets()) {
		t.Fatalf("the page references %v, want the %d pinned assets", refs, len(graphiql.Assets()))
	}
	for _, m := range refs {
		ref := m[1]
		if !strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "//") {
			t.Fatalf("reference %q is not a path on this host", ref)
		}
		var a graphiql.Asset
		for _, x := range graphiql.Assets() {
			if x.Path == ref {
				a = x
			}
		}
		if a.File == "" {
			t.Fatalf("reference %q is no pinned asset", ref)
		}
		if !strings.Contains(page, `integrity="`+a.SRI+`"`) {
			t.Errorf("%s: the page does not pin its hash", ref)
		}
		want, _ := graphiql.Open(a.File)
		if got := get(t, srv.URL+ref, ""); got != string(want) {
			t.Errorf("%s: served %d bytes, embedded %d", ref, len(got), len(want))
		}
		if got := get(t, srv.URL+ref, "gzip"); got != string(want) {
			t.Errorf("%s gzip: %d bytes after decoding, embedded %d", ref, len(got), len(want))
		}
	}
	if resp, err := http.Get(srv.URL + "/graphiql/graphiql-4.1.2/nothing.js"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("an unknown asset: %v %v", resp, err)
	}
}

// get fetches url (with Accept-Encoding when encoding is set, decoding what
// comes back) and fails unless it answers 200.
func get(t *testing.T, url, encoding string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	tr := &http.Transport{DisableCompression: true}
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if resp.Header.Get("Content-Encoding") == "gzip" {
		if encoding != "gzip" {
			t.Fatalf("GET %s: gzip without asking", url)
		}
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(zr)
	} else if encoding == "gzip" && !strings.HasSuffix(url, "/") {
		t.Fatalf("GET %s: not gzip-encoded", url)
	}
	return string(b)
}
