// Package graphiql serves GraphiQL from the binary: the page (gqlgen's
// playground template) and the scripts and styles it loads, embedded at
// pinned versions, so that GraphiQL works with no network at all. The
// builds are the ones gqlgen's playground loads from a CDN — graphiql 4.1.2
// (graphiql.min.js, graphiql.min.css), react and react-dom 18.2.0 (UMD) —
// verified against the same SRI hashes, which the page also carries as
// integrity attributes. update.sh regenerates assets/ from npm.
//
// Embedded size: 1.63 MB (graphiql.min.js 1.07 MB, graphiql.min.css 0.42 MB,
// react-dom 0.13 MB, react 0.01 MB); 0.66 MB on the wire to clients that
// accept gzip (each asset is compressed once, on first request).
package graphiql

import (
	"bytes"
	"compress/gzip"
	"embed"
	"net/http"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql/playground"
)

//go:embed assets
var assets embed.FS

// Asset is one embedded file the page loads.
type Asset struct {
	// Path is where the handler serves it (versioned, so it is cached for good).
	Path string
	// File is its name in assets/.
	File string
	// SRI is its pinned subresource-integrity hash (sha256, base64).
	SRI         string
	ContentType string
}

// Assets are the pinned files, in the order the page loads them.
func Assets() []Asset {
	return []Asset{
		{"/graphiql/react-18.2.0/react.production.min.js", "react.production.min.js",
			"sha256-S0lp+k7zWUMk2ixteM6HZvu8L9Eh//OVrt+ZfbCpmgY=", "text/javascript; charset=utf-8"},
		{"/graphiql/react-dom-18.2.0/react-dom.production.min.js", "react-dom.production.min.js",
			"sha256-IXWO0ITNDjfnNXIu5POVfqlgYoop36bDzhodR6LW5Pc=", "text/javascript; charset=utf-8"},
		{"/graphiql/graphiql-4.1.2/graphiql.min.css", "graphiql.min.css",
			"sha256-MEh+B2NdMSpj9kexQNN3QKc8UzMrCXW/Sx/phcpuyIU=", "text/css; charset=utf-8"},
		{"/graphiql/graphiql-4.1.2/graphiql.min.js", "graphiql.min.js",
			"sha256-hnImuor1znlJkD/FOTL3jayfS/xsyNoP04abi8bFJWs=", "text/javascript; charset=utf-8"},
	}
}

// Open returns the embedded bytes of an asset file.
func Open(file string) ([]byte, error) {
	return assets.ReadFile("assets/" + file)
}

// Handler serves the GraphiQL page and its assets.
type Handler struct {
	page  http.Handler
	files map[string]*file
}

type file struct {
	a    Asset
	raw  []byte
	once sync.Once
	gz   []byte
}

// New returns a Handler whose page queries endpoint (a path on this host;
// subscriptions go over graphql-ws to the same path).
func New(title, endpoint string) (*Handler, error) {
	h := &Handler{files: map[string]*file{}}
	byName := map[string]Asset{}
	for _, a := range Assets() {
		raw, err := Open(a.File)
		if err != nil {
			return nil, err
		}
		h.files[a.Path] = &file{a: a, raw: raw}
		byName[a.File] = a
	}
	js, css := byName["graphiql.min.js"], byName["graphiql.min.css"]
	react, reactDOM := byName["react.production.min.js"], byName["react-dom.production.min.js"]
	h.page = playground.Handler(title, endpoint,
		playground.WithGraphiqlVersion(js.Path, css.Path, js.SRI, css.SRI),
		playground.WithGraphiqlReactVersion(react.Path, reactDOM.Path, react.SRI, reactDOM.SRI))
	return h, nil
}

// Register adds GET / (the page) and GET /graphiql/... (the assets) to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("GET /{$}", h.page)
	mux.HandleFunc("GET /graphiql/", h.serveAsset)
}

func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	f := h.files[r.URL.Path]
	if f == nil {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.a.ContentType)
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	hd.Set("ETag", `"`+f.a.SRI+`"`)
	hd.Set("Vary", "Accept-Encoding")
	hd.Set("X-Content-Type-Options", "nosniff")
	if r.Header.Get("If-None-Match") == `"`+f.a.SRI+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.raw
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		f.once.Do(func() {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			_, _ = zw.Write(f.raw)
			if zw.Close() == nil {
				f.gz = buf.Bytes()
			}
		})
		if f.gz != nil {
			hd.Set("Content-Encoding", "gzip")
			body = f.gz
		}
	}
	_, _ = w.Write(body)
}
