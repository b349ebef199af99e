package resolvers

import (
	"context"
	"errors"
	"strconv"

	"procoregraph/adapter"
	"procoregraph/audit"
	"procoregraph/bulk"
	"procoregraph/graph/model"
	"procoregraph/mutate"
	"procoregraph/principal"
)

// bulkOwner returns the bulk export service and the caller as its owner: the
// connection and the principal's rate key (API key, person, token; the
// address of anonymous callers) name whose exports these are.
func bulkOwner(ctx context.Context) (*bulk.Service, bulk.Owner, error) {
	s := bulk.For(ctx)
	if s == nil {
		return nil, bulk.Owner{}, adapter.Errorf(adapter.CodeInternal, "bulk exports are not configured")
	}
	c, err := conn(ctx)
	if err != nil {
		return nil, bulk.Owner{}, err
	}
	p := principal.From(ctx)
	rk := p.RateKey(audit.RemoteFrom(ctx))
	return s, bulk.Owner{Key: c.ID + "|" + rk, RateKey: rk, Principal: p, Conn: c}, nil
}

// bulkUserError is a refused start as a userError on field, or nil.
func bulkUserError(err error, field string) *mutate.UserError {
	var se *bulk.StartError
	if !errors.As(err, &se) {
		return nil
	}
	return &mutate.UserError{Field: []string{"input", field}, Message: se.Message, Code: bulkCode(se.Code)}
}

// bulkCode is the UserErrorCode of a bulk.StartError's code.
func bulkCode(code string) mutate.UserErrorCode {
	switch code {
	case bulk.CodeInProgress:
		return mutate.CodeInProgress
	case bulk.CodeBusy:
		return mutate.CodeBusy
	case bulk.CodeTooLarge:
		return mutate.CodeTooLarge
	default:
		return mutate.CodeInvalidValue
	}
}

func bulkID(id int64) string { return strconv.FormatInt(id, 10) }

func bulkModel(e bulk.Export) *model.BulkExport {
	id, _ := strconv.ParseInt(e.ID, 10, 64)
	m := &model.BulkExport{ID: id, Status: model.BulkExportStatus(e.Status), Query: e.Query,
		ObjectCount: int(e.Objects), FileSize: int(e.Bytes), CreatedAt: e.CreatedAt}
	if e.ErrorCode != "" {
		m.ErrorCode, m.ErrorMessage = &e.ErrorCode, &e.Error
	}
	if !e.FinishedAt.IsZero() {
		m.CompletedAt, m.ExpiresAt = &e.FinishedAt, &e.ExpiresAt
	}
	if e.URL != "" {
		m.URL = &e.URL
	}
	return m
}
