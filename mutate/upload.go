package mutate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"path"
	"regexp"
	"strings"

	"procoregraph/adapter"
)

var sha256Hex = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

// UploadAttachment sends a file (the multipart request's file part) to
// Procore's presigned upload and returns its id, to attach through the
// attachmentIds field of createRFI, replyToRFI, createSubmittal,
// createCommitment or createInvoice. A declared sha256 that does not match
// the bytes is CHECKSUM_MISMATCH with no upstream call.
func (s *Runner) UploadAttachment(ctx context.Context, in UploadAttachmentInput) (*UploadAttachmentPayload, error) {
	e, err := s.env(ctx)
	if err != nil {
		return nil, err
	}
	var c checker
	filename := strings.TrimSpace(deref(in.Filename))
	if filename == "" {
		filename = path.Base(strings.ReplaceAll(in.File.Filename, `\`, "/"))
	}
	if filename == "" || filename == "." || filename == "/" {
		c.add(CodeRequired, "the file has no name; give filename", "filename")
	}
	c.maxLen(filename, 255, "filename")
	if in.Sha256 != nil && !sha256Hex.MatchString(strings.TrimSpace(*in.Sha256)) {
		c.add(CodeInvalidValue, "must be 64 hexadecimal digits (a SHA-256 digest)", "sha256")
	}
	if in.File.Size > s.opt.MaxUploadBytes {
		c.add(CodeTooLarge, fmt.Sprintf("the file is %d bytes; the limit is %d", in.File.Size, s.opt.MaxUploadBytes), "file")
	}
	c.idempotencyKey(in.IdempotencyKey)
	if !c.ok() {
		return &UploadAttachmentPayload{UserErrors: c.result()}, nil
	}
	if in.File.File == nil {
		return &UploadAttachmentPayload{UserErrors: []UserError{{Field: inputPath("file"), Code: CodeRequired, Message: "no file part"}}}, nil
	}
	data, err := io.ReadAll(io.LimitReader(in.File.File, s.opt.MaxUploadBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read upload: %w", err)
	}
	if int64(len(data)) > s.opt.MaxUploadBytes {
		return &UploadAttachmentPayload{UserErrors: []UserError{{Field: inputPath("file"), Code: CodeTooLarge,
			Message: fmt.Sprintf("the file is larger than the limit of %d bytes", s.opt.MaxUploadBytes)}}}, nil
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	if in.Sha256 != nil && !strings.EqualFold(strings.TrimSpace(*in.Sha256), digest) {
		return &UploadAttachmentPayload{UserErrors: []UserError{{Field: inputPath("sha256"), Code: CodeChecksumMismatch,
			Message: "does not match the file's content; nothing was uploaded"}}}, nil
	}
	contentType := strings.TrimSpace(deref(in.ContentType))
	if contentType == "" {
		contentType = in.File.ContentType
	}
	if contentType == "" || contentType == "application/octet-stream" {
		contentType = http.DetectContentType(data)
	}
	hashed := struct {
		Filename, ContentType, Sha256 string
		Size                          int
	}{filename, contentType, digest, len(data)}
	up, uerrs, err := create(ctx, s, e, createOp[UploadedFile]{
		name: "uploadAttachment", projectID: in.ProjectID, key: in.IdempotencyKey, hashOf: hashed,
		do: func(ctx context.Context) (UploadedFile, error) {
			id, err := e.p.Upload(ctx, in.ProjectID, uploadInput(filename, contentType, data, digest))
			if err != nil {
				return UploadedFile{}, err
			}
			return UploadedFile{ID: id, Filename: filename, ContentType: contentType, Size: len(data), Sha256: digest}, nil
		},
		exists:         func(u UploadedFile) bool { return u.ID != "" },
		skipInvalidate: true, // an upload changes no project data until attached
	})
	return &UploadAttachmentPayload{Upload: up, UserErrors: uerrs}, err
}

func uploadInput(filename, contentType string, data []byte, digest string) adapter.UploadInput {
	return adapter.UploadInput{Filename: filename, ContentType: contentType, Data: data, SHA256: digest}
}
