package rest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"

	"procoregraph/adapter"
)

// segmentSize is the part size of a segmented upload. Procore wants parts of
// at least 5 MB (except the last) and at most 5 GB.
const segmentSize = 16 << 20

// Upload runs Procore's segmented presigned upload: POST the upload with each
// segment's size and sha256, PUT each segment's bytes to its presigned URL
// with exactly the returned headers and no Procore credentials, then PATCH the
// upload with the segments' ETags. It returns the upload id (uuid) to attach.
//
// A declared SHA256 that does not match Data is BAD_USER_INPUT before any
// call; Procore refusing the completed bytes (422) is BAD_USER_INPUT too.
func (c *Client) Upload(ctx context.Context, projectID int64, in adapter.UploadInput) (string, error) {
	if err := validID("project id", projectID); err != nil {
		return "", err
	}
	if strings.TrimSpace(in.Filename) == "" {
		return "", badInput([]string{"filename"}, "can't be blank")
	}
	sum := sha256.Sum256(in.Data)
	whole := hex.EncodeToString(sum[:])
	if in.SHA256 != "" && !strings.EqualFold(strings.TrimSpace(in.SHA256), whole) {
		return "", badInput([]string{"sha256"}, "does not match the file's content")
	}
	contentType := in.ContentType
	if contentType == "" {
		contentType = http.DetectContentType(in.Data)
	}

	type segment struct {
		Size   int    `json:"size"`
		SHA256 string `json:"sha256"`
	}
	var parts [][]byte
	for off := 0; off < len(in.Data) || off == 0; off += segmentSize {
		parts = append(parts, in.Data[off:min(off+segmentSize, len(in.Data))])
		if len(in.Data) == 0 {
			break
		}
	}
	segs := make([]segment, len(parts))
	for i, p := range parts {
		s := sha256.Sum256(p)
		segs[i] = segment{Size: len(p), SHA256: hex.EncodeToString(s[:])}
	}
	var created struct {
		UUID     flexString `json:"uuid"`
		ID       flexString `json:"id"`
		Status   flexString `json:"status"`
		Segments []struct {
			URL     string            `json:"url"`
			Headers map[string]string `json:"headers"`
		} `json:"segments"`
	}
	k := call{what: "create upload", method: http.MethodPost, path: pathf("/rest/v1.1/projects/%d/uploads", projectID),
		body: map[string]any{"response_filename": in.Filename, "response_content_type": contentType, "segments": segs}}
	if err := c.getJSON(ctx, k, &created); err != nil {
		return "", err
	}
	id := firstNonEmpty(string(created.UUID), string(created.ID))
	if id == "" || len(created.Segments) != len(parts) {
		return "", &adapter.Error{Code: adapter.CodeInternal, Message: "create upload: Procore's answer lacks the upload id or segment URLs"}
	}

	etags := make([]map[string]string, len(parts))
	for i, p := range parts {
		etag, err := c.putSegment(ctx, created.Segments[i].URL, created.Segments[i].Headers, p)
		if err != nil {
			return "", err
		}
		etags[i] = map[string]string{"etag": etag}
	}

	var done struct {
		Status flexString `json:"status"`
	}
	k = call{what: "complete upload", method: http.MethodPatch, path: pathf("/rest/v1.1/projects/%d/uploads/%s", projectID, id),
		body: map[string]any{"segments": etags}}
	if err := c.getJSON(ctx, k, &done); err != nil {
		var ae *adapter.Error
		if asAdapterError(err, &ae) && ae.Code == adapter.CodeBadUserInput && len(ae.Fields) == 0 {
			ae.Fields = []adapter.FieldError{{Field: []string{"sha256"}, Message: ae.Message, Code: adapter.CodeBadUserInput}}
		}
		return "", err
	}
	if st := normEnum(string(done.Status)); st != "" && st != "COMPLETE" && st != "AVAILABLE" {
		return "", &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Message: "complete upload: Procore left the upload " + strings.ToLower(st)}
	}
	return id, nil
}

// putSegment sends one segment to its presigned URL: only the returned
// headers, never Procore's Authorization or company header. It returns the
// ETag the storage answered. Config.CallTimeout bounds it, body read
// included.
func (c *Client) putSegment(ctx context.Context, rawURL string, headers map[string]string, data []byte) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, rawURL, bytes.NewReader(data))
	if err != nil {
		return "", &adapter.Error{Code: adapter.CodeInternal, Message: "upload: Procore returned an unusable segment URL", Err: err}
	}
	for k, v := range headers {
		if strings.EqualFold(k, "content-length") || strings.EqualFold(k, "host") {
			continue // set by net/http from the body and URL
		}
		req.Header.Set(k, v)
	}
	resp, err := c.upload.Do(req)
	if err != nil {
		return "", transportError("upload segment", withContextErr(ctx, err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := statusError("upload segment", resp.StatusCode, resp.Header, body, c.clock.Now())
		if resp.StatusCode == http.StatusForbidden {
			e.Code = adapter.CodeUpstreamUnavailable // an expired presigned URL, not a permission
			e.Message = "upload segment: the presigned URL was refused (expired?)"
		}
		return "", e
	}
	etag := strings.TrimSpace(resp.Header.Get("ETag"))
	if etag == "" {
		return "", &adapter.Error{Code: adapter.CodeUpstreamUnavailable, Message: "upload segment: storage returned no ETag"}
	}
	return etag, nil
}
