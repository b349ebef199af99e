// Package uploads simulates Procore's v1.1 segmented (presigned) upload flow
// for the sandbox, and turns finished uploads into attachments.
//
// The flow, as Procore documents it (procore-api.md §5.14, flow 2):
//
//  1. POST /rest/v1.1/projects/{project_id}/uploads with
//     {"response_filename", "response_content_type", "segments": [{"size",
//     "sha256"}, ...]} answers 201 {"uuid": <26-char ULID>, "status":
//     "ready", "segments": [{"url", "headers": {"x-amz-content-sha256",
//     "content-length"}, "size", "sha256"}]}. response_filename is required;
//     every segment needs a positive size (at most MaxPartSize) and a
//     64-hex-digit sha256; every segment but the last must be at least
//     MinPartSize; at most 10,000 segments. Otherwise 422
//     {"errors": {"field": ["message"]}}.
//  2. The client PUTs each part's bytes to its url, with no Procore auth,
//     sending the returned headers. The url is presigned: it carries an
//     HMAC signature over the upload, the part number and its expiry, and
//     is valid for TTL. A wrong or missing signature, or an
//     x-amz-content-sha256 header other than the declared one, is 403
//     SignatureDoesNotMatch; an expired url is 403 AccessDenied (S3-style
//     XML bodies). Bytes are not checked here (as S3 would for a wrong
//     payload hash) but at completion. The answer is 200 with an ETag (the
//     quoted hex MD5 of the part, as S3 does). A part may be sent again.
//  3. PATCH /rest/v1.1/projects/{project_id}/uploads/{uuid} with
//     {"segments": [{"etag"}, ...]} in part order completes it: 200
//     {"uuid", "status": "complete", ...}. A missing part, a wrong etag or a
//     wrong number of segments is 422 and the upload stays ready. A part
//     whose bytes do not match the declared sha256 or size is 422 and the
//     upload becomes "failed": unusable for good. Completing again answers
//     the same 200.
//
// Uploads belong to their project and their creator: another project or
// another user gets 404. Config.ProjectVisible, when set, decides whether
// the caller may use a project at all (404 when not).
//
// Resolve turns upload ids into attachments for a resource of the same
// project: only complete uploads, at most AttachWithin after creation.
// Attachment.URL is an unauthenticated, signed download link served by
// GET /_uploads/{uuid}/download. Uploads older than TTL + AttachWithin are
// forgotten. Part bytes are kept in memory.
package uploads

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"procoregraph/sandbox/auth"
)

// Config configures a Service. Zero values mean the documented defaults.
type Config struct {
	// Now is the clock for expiry. Default time.Now.
	Now func() time.Time
	// TTL is how long presigned part URLs accept bytes. Default 1 h.
	TTL time.Duration
	// BaseURL returns the absolute base (scheme://host[:port]) for presigned
	// and download URLs, e.g. the sandbox's URL. Nil derives it from the
	// create request's Host.
	BaseURL func() string
	// AttachWithin is how long after creation a complete upload can be
	// attached (Resolve). Default 7 days (168 h), as Procore documents.
	AttachWithin time.Duration
	// MinPartSize is the smallest size of every segment but the last.
	// Default 5 MiB (S3's rule); -1 disables the check.
	MinPartSize int64
	// MaxPartSize is the largest segment the sandbox accepts (bytes are held
	// in memory). Default 100 MiB.
	MaxPartSize int64
	// ProjectVisible reports whether the caller in ctx (auth.PrincipalFrom)
	// may use project projectID; false answers 404. Nil allows every project.
	ProjectVisible func(ctx context.Context, projectID int64) bool
}

// Attachment is a completed upload as attached to a resource.
type Attachment struct {
	ID                               int64
	Name, Filename, URL, ContentType string
}

// ResolveError is Resolve's refusal of one upload id.
type ResolveError struct {
	UploadID string
	Reason   string // e.g. "not found", "not complete", "expired"
}

func (e *ResolveError) Error() string {
	return fmt.Sprintf("upload %s: %s", e.UploadID, e.Reason)
}

const (
	statusReady    = "ready"
	statusComplete = "complete"
	statusFailed   = "failed"

	maxSegments      = 10_000
	firstAttachment  = 9_000_000_001
	amzDateLayout    = "20060102T150405Z"
	headerContentSHA = "x-amz-content-sha256"
)

// Service is the uploads simulator. It is safe for concurrent use.
type Service struct {
	cfg Config
	key []byte // HMAC key for presigned URLs, random per Service

	mu        sync.Mutex
	entropy   io.Reader
	uploads   map[string]*upload
	nextID    int64
	lastPurge time.Time
}

type upload struct {
	uuid         string
	projectID    int64
	userID       int64
	filename     string
	contentType  string
	base         string
	createdAt    time.Time
	expiresAt    time.Time
	segments     []segment
	status       string
	failure      string
	attachmentID int64
	content      []byte
}

type segment struct {
	size     int64
	sha256   string
	received bool
	data     []byte
	etag     string
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TTL <= 0 {
		cfg.TTL = time.Hour
	}
	if cfg.AttachWithin <= 0 {
		cfg.AttachWithin = 7 * 24 * time.Hour
	}
	if cfg.MinPartSize == 0 {
		cfg.MinPartSize = 5 << 20
	}
	if cfg.MaxPartSize <= 0 {
		cfg.MaxPartSize = 100 << 20
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails on supported platforms
	return &Service{
		cfg:     cfg,
		key:     key,
		entropy: ulid.Monotonic(rand.Reader, 0),
		uploads: map[string]*upload{},
		nextID:  firstAttachment,
	}
}

// Routes returns the upload routes keyed by Go 1.22 ServeMux patterns. The
// /rest routes need an auth.Principal in the request context; the
// /_uploads routes are the presigned storage endpoints and must be mounted
// without Procore auth.
func (s *Service) Routes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"POST /rest/v1.1/projects/{project_id}/uploads":         s.create,
		"PATCH /rest/v1.1/projects/{project_id}/uploads/{uuid}": s.complete,
		"PUT /_uploads/{uuid}/{part}":                           s.putPart,
		"GET /_uploads/{uuid}/download":                         s.download,
	}
}

// Resolve returns the attachments for uploadIDs, in order, when every one is
// a complete upload of projectID created at most AttachWithin ago. Otherwise
// it returns a *ResolveError naming the first bad id.
func (s *Service) Resolve(projectID int64, uploadIDs []string) ([]Attachment, error) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Attachment, 0, len(uploadIDs))
	for _, id := range uploadIDs {
		u := s.uploads[strings.ToUpper(strings.TrimSpace(id))]
		switch {
		case u == nil || u.projectID != projectID:
			return nil, &ResolveError{UploadID: id, Reason: "not found in this project"}
		case u.status == statusFailed:
			return nil, &ResolveError{UploadID: id, Reason: "failed: " + u.failure}
		case u.status != statusComplete:
			return nil, &ResolveError{UploadID: id, Reason: "not complete"}
		case now.After(u.createdAt.Add(s.cfg.AttachWithin)):
			return nil, &ResolveError{UploadID: id, Reason: "expired"}
		}
		out = append(out, Attachment{
			ID:          u.attachmentID,
			Name:        u.filename,
			Filename:    u.filename,
			URL:         s.downloadURL(u),
			ContentType: u.contentType,
		})
	}
	return out, nil
}

// --- create ---

type createBody struct {
	ResponseFilename    string `json:"response_filename"`
	ResponseContentType string `json:"response_content_type"`
	Segments            []struct {
		Size   *int64 `json:"size"`
		SHA256 string `json:"sha256"`
	} `json:"segments"`
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

type segmentJSON struct {
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Size    int64             `json:"size"`
	SHA256  string            `json:"sha256"`
}

type uploadJSON struct {
	UUID                string        `json:"uuid"`
	Status              string        `json:"status"`
	ResponseFilename    string        `json:"response_filename"`
	ResponseContentType string        `json:"response_content_type"`
	Size                int64         `json:"size"`
	Segments            []segmentJSON `json:"segments"`
}

func (s *Service) create(w http.ResponseWriter, r *http.Request) {
	p, projectID, ok := s.authorize(w, r)
	if !ok {
		return
	}
	var body createBody
	if !decode(w, r, &body) {
		return
	}
	errs := map[string][]string{}
	if strings.TrimSpace(body.ResponseFilename) == "" {
		errs["response_filename"] = []string{"can't be blank"}
	}
	if body.ResponseContentType == "" {
		body.ResponseContentType = "application/octet-stream"
	}
	var segs []segment
	switch n := len(body.Segments); {
	case n == 0:
		errs["segments"] = []string{"can't be blank"}
	case n > maxSegments:
		errs["segments"] = []string{fmt.Sprintf("is too long (maximum is %d segments)", maxSegments)}
	}
	for i, sg := range body.Segments {
		field := fmt.Sprintf("segments[%d]", i)
		sum := strings.ToLower(sg.SHA256)
		switch {
		case sg.Size == nil || *sg.Size <= 0:
			errs[field+".size"] = []string{"must be greater than 0"}
		case *sg.Size > s.cfg.MaxPartSize:
			errs[field+".size"] = []string{fmt.Sprintf("must be less than or equal to %d", s.cfg.MaxPartSize)}
		case i < len(body.Segments)-1 && s.cfg.MinPartSize > 0 && *sg.Size < s.cfg.MinPartSize:
			errs[field+".size"] = []string{fmt.Sprintf("must be at least %d except for the last segment", s.cfg.MinPartSize)}
		}
		if !sha256Hex.MatchString(sum) {
			errs[field+".sha256"] = []string{"is invalid"}
		}
		if sg.Size != nil {
			segs = append(segs, segment{size: *sg.Size, sha256: sum})
		}
	}
	if len(errs) > 0 {
		unprocessable(w, errs)
		return
	}

	now := s.cfg.Now()
	u := &upload{
		projectID:   projectID,
		userID:      p.UserID,
		filename:    body.ResponseFilename,
		contentType: body.ResponseContentType,
		base:        s.base(r),
		createdAt:   now,
		expiresAt:   now.Add(s.cfg.TTL),
		segments:    segs,
		status:      statusReady,
	}
	s.mu.Lock()
	s.purge(now)
	u.uuid = ulid.MustNew(ulid.Timestamp(now), s.entropy).String()
	s.uploads[u.uuid] = u
	out := s.wire(u)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
}

// wire renders u; part URLs are included while it is ready. Called with s.mu held.
func (s *Service) wire(u *upload) uploadJSON {
	out := uploadJSON{
		UUID: u.uuid, Status: u.status,
		ResponseFilename: u.filename, ResponseContentType: u.contentType,
		Segments: []segmentJSON{},
	}
	for i, sg := range u.segments {
		out.Size += sg.size
		j := segmentJSON{Size: sg.size, SHA256: sg.sha256}
		if u.status == statusReady {
			j.URL = s.partURL(u, i+1)
			j.Headers = map[string]string{
				headerContentSHA: sg.sha256,
				"content-length": strconv.FormatInt(sg.size, 10),
			}
		}
		out.Segments = append(out.Segments, j)
	}
	return out
}

// purge forgets uploads past any use. Called with s.mu held, at most once a minute.
func (s *Service) purge(now time.Time) {
	if now.Sub(s.lastPurge) < time.Minute {
		return
	}
	s.lastPurge = now
	keep := s.cfg.TTL + s.cfg.AttachWithin
	for id, u := range s.uploads {
		if now.Sub(u.createdAt) > keep {
			delete(s.uploads, id)
		}
	}
}

// --- presigned part URLs ---

func (s *Service) base(r *http.Request) string {
	if s.cfg.BaseURL != nil {
		return strings.TrimRight(s.cfg.BaseURL(), "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Service) sign(parts ...string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Service) partURL(u *upload, part int) string {
	date := u.createdAt.UTC().Format(amzDateLayout)
	expires := strconv.FormatInt(int64(s.cfg.TTL/time.Second), 10)
	q := url.Values{}
	q.Set("X-Amz-Algorithm", "AWS4-HMAC-SHA256")
	q.Set("X-Amz-Date", date)
	q.Set("X-Amz-Expires", expires)
	q.Set("X-Amz-SignedHeaders", "content-length;host;"+headerContentSHA)
	q.Set("X-Amz-Signature", s.sign("PUT", u.uuid, strconv.Itoa(part), date, expires))
	return fmt.Sprintf("%s/_uploads/%s/%d?%s", u.base, u.uuid, part, q.Encode())
}

func (s *Service) downloadURL(u *upload) string {
	q := url.Values{}
	q.Set("X-Amz-Signature", s.sign("GET", u.uuid))
	base := u.base
	if s.cfg.BaseURL != nil {
		base = strings.TrimRight(s.cfg.BaseURL(), "/")
	}
	return fmt.Sprintf("%s/_uploads/%s/download?%s", base, u.uuid, q.Encode())
}

func (s *Service) putPart(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := r.PathValue("uuid")
	part, err := strconv.Atoi(r.PathValue("part"))
	date, expires := q.Get("X-Amz-Date"), q.Get("X-Amz-Expires")
	want := s.sign("PUT", id, r.PathValue("part"), date, expires)
	if err != nil || !hmac.Equal([]byte(want), []byte(q.Get("X-Amz-Signature"))) {
		s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
		return
	}
	signedAt, err1 := time.Parse(amzDateLayout, date)
	ttl, err2 := strconv.ParseInt(expires, 10, 64)
	if err1 != nil || err2 != nil || s.cfg.Now().After(signedAt.Add(time.Duration(ttl)*time.Second)) {
		s3Error(w, http.StatusForbidden, "AccessDenied", "Request has expired")
		return
	}

	s.mu.Lock()
	u := s.uploads[id]
	var declared string
	if u != nil && u.status == statusReady && part >= 1 && part <= len(u.segments) {
		declared = u.segments[part-1].sha256
	}
	s.mu.Unlock()
	if declared == "" {
		s3Error(w, http.StatusNotFound, "NoSuchUpload", "The specified upload does not exist.")
		return
	}
	if strings.ToLower(r.Header.Get(headerContentSHA)) != declared {
		s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", "The signed "+headerContentSHA+" header is missing or differs.")
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxPartSize))
	if err != nil {
		s3Error(w, http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
		return
	}
	sum := md5.Sum(data)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`

	s.mu.Lock()
	defer s.mu.Unlock()
	u = s.uploads[id]
	if u == nil || u.status != statusReady {
		s3Error(w, http.StatusNotFound, "NoSuchUpload", "The specified upload does not exist.")
		return
	}
	sg := &u.segments[part-1]
	sg.received, sg.data, sg.etag = true, data, etag
	w.Header().Set("ETag", etag)
	w.WriteHeader(http.StatusOK)
}

func (s *Service) download(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("uuid")
	if !hmac.Equal([]byte(s.sign("GET", id)), []byte(r.URL.Query().Get("X-Amz-Signature"))) {
		s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
		return
	}
	s.mu.Lock()
	u := s.uploads[id]
	var content []byte
	var name, ctype string
	ok := u != nil && u.status == statusComplete
	if ok {
		content, name, ctype = u.content, u.filename, u.contentType
	}
	s.mu.Unlock()
	if !ok {
		s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(content))
}

// --- complete ---

type completeBody struct {
	Segments []struct {
		ETag string `json:"etag"`
	} `json:"segments"`
}

func (s *Service) complete(w http.ResponseWriter, r *http.Request) {
	p, projectID, ok := s.authorize(w, r)
	if !ok {
		return
	}
	var body completeBody
	if !decode(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.uploads[r.PathValue("uuid")]
	if u == nil || u.projectID != projectID || u.userID != p.UserID {
		notFound(w)
		return
	}
	switch u.status {
	case statusComplete:
		writeJSON(w, http.StatusOK, s.wire(u))
		return
	case statusFailed:
		refuse(w, "upload "+u.uuid+" failed: "+u.failure)
		return
	}
	if len(body.Segments) != len(u.segments) {
		unprocessable(w, map[string][]string{"segments": {fmt.Sprintf("must list %d etags, one per segment", len(u.segments))}})
		return
	}
	for i, sg := range u.segments {
		if !sg.received {
			refuse(w, fmt.Sprintf("segment %d has not been uploaded", i+1))
			return
		}
		if strings.Trim(body.Segments[i].ETag, `"`) != strings.Trim(sg.etag, `"`) {
			refuse(w, fmt.Sprintf("segment %d: etag does not match the uploaded part", i+1))
			return
		}
	}
	for i, sg := range u.segments {
		sum := sha256.Sum256(sg.data)
		switch {
		case int64(len(sg.data)) != sg.size:
			u.failure = fmt.Sprintf("segment %d: received %d bytes, declared %d", i+1, len(sg.data), sg.size)
		case hex.EncodeToString(sum[:]) != sg.sha256:
			u.failure = fmt.Sprintf("segment %d: sha256 of the received bytes does not match the declared sha256", i+1)
		default:
			continue
		}
		u.status = statusFailed
		for j := range u.segments {
			u.segments[j].data = nil
		}
		refuse(w, "upload "+u.uuid+" failed: "+u.failure)
		return
	}
	var content []byte
	for j := range u.segments {
		content = append(content, u.segments[j].data...)
		u.segments[j].data = nil
	}
	u.content = content
	u.status = statusComplete
	u.attachmentID = s.nextID
	s.nextID++
	writeJSON(w, http.StatusOK, s.wire(u))
}

// --- helpers ---

// authorize checks the principal and the project path value. ok is false
// when the response has been written.
func (s *Service) authorize(w http.ResponseWriter, r *http.Request) (p auth.Principal, projectID int64, ok bool) {
	p, ok = auth.PrincipalFrom(r.Context())
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{
			"error": "invalid_token", "error_description": "The access token is invalid",
		})
		return p, 0, false
	}
	projectID, err := strconv.ParseInt(r.PathValue("project_id"), 10, 64)
	if err != nil || (s.cfg.ProjectVisible != nil && !s.cfg.ProjectVisible(r.Context(), projectID)) {
		notFound(w)
		return p, 0, false
	}
	return p, projectID, true
}

func decode(w http.ResponseWriter, r *http.Request, dst any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<20))
	if err == nil {
		err = json.Unmarshal(b, dst)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"errors": "malformed JSON body"})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"errors":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]string{"errors": "Resource not found"})
}

func unprocessable(w http.ResponseWriter, errs map[string][]string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"errors": errs})
}

// refuse is a business-rule 422 in the shape ROUTES.md fixes.
func refuse(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"error": map[string]string{"code": "unprocessable_entity", "message": msg},
	})
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>", code, msg)
}
