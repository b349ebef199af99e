package bulk

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// validate parses query against the schema with the standard rules, checks
// the variables and the gateway's document limits, and plans the export.
func (s *Service) validate(query string, vars map[string]any) (*plan, error) {
	doc, errs := gqlparser.LoadQueryWithRules(s.o.Schema, query, rules.NewDefaultRules())
	if len(errs) > 0 {
		return nil, refuse("the query is not valid: %s", errs[0].Message)
	}
	if len(doc.Operations) == 1 {
		if _, err := validator.VariableValues(s.o.Schema, doc.Operations[0], vars); err != nil {
			return nil, refuse("the variables are not valid: %s", err.Error())
		}
	}
	if s.o.Check != nil {
		if err := s.o.Check(query, doc, vars); err != nil {
			return nil, err
		}
	}
	return newPlan(s.o.Schema, doc, s.o.PageItems, s.o.PageSize)
}

// PageRules are the validation rules of generated page queries: the
// standard ones but NoUnusedVariables and NoUnusedFragments, since a page
// query carries every variable and fragment of the document while reading
// one of its connections.
func PageRules() *rules.Rules {
	r := rules.NewDefaultRules()
	r.RemoveRule("NoUnusedVariables")
	r.RemoveRule("NoUnusedFragments")
	return r
}

// page is a connection's page in a page query's data.
type page struct {
	Info struct {
		HasNextPage bool    `json:"hasNextPage"`
		EndCursor   *string `json:"endCursor"`
	} `json:"_bulkPage"`
	Nodes []map[string]json.RawMessage `json:"_bulkNodes"`
}

// runner reads one export.
type runner struct {
	s     *Service
	e     *export
	owner Owner
	vars  map[string]any
	enc   *json.Encoder
	count int64
}

// errTooLarge stops writing past MaxFileBytes.
var errTooLarge = errors.New("file too large")

// cappedFile counts what reaches the file and refuses more than max bytes.
type cappedFile struct {
	w   io.Writer
	n   int64
	max int64
	set func(int64)
}

func (c *cappedFile) Write(p []byte) (int, error) {
	if c.n+int64(len(p)) > c.max {
		return 0, errTooLarge
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.set(c.n)
	return n, err
}

func (s *Service) run(ctx context.Context, e *export, owner Owner, p *plan, vars map[string]any) {
	code, msg := s.write(ctx, e, owner, p, vars)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case code == "":
		s.finishLocked(e, StatusCompleted, "", "")
	case ctx.Err() != nil && s.ctx.Err() != nil:
		s.finishLocked(e, StatusCanceled, CodeShutdown, "the gateway shut down while the export ran")
	case ctx.Err() != nil:
		s.finishLocked(e, StatusCanceled, "", "")
	default:
		s.finishLocked(e, StatusFailed, code, msg)
	}
}

// write reads every page into e's file; it returns a code and message on
// failure.
func (s *Service) write(ctx context.Context, e *export, owner Owner, p *plan, vars map[string]any) (string, string) {
	f, err := os.OpenFile(e.file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		s.o.Logger.Error("bulk export: create file", "export", e.ID, "err", err)
		return CodeInternal, "the export's file could not be created"
	}
	defer f.Close()
	cf := &cappedFile{w: f, max: s.o.MaxFileBytes, set: func(n int64) {
		s.mu.Lock()
		e.Bytes = n
		s.mu.Unlock()
	}}
	bw := bufio.NewWriterSize(cf, 64<<10)
	zw := gzip.NewWriter(bw)
	enc := json.NewEncoder(zw)
	enc.SetEscapeHTML(false)
	r := &runner{s: s, e: e, owner: owner, vars: vars, enc: enc}
	err = r.all(ctx, p)
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	var xe *ExecError
	switch {
	case err == nil:
		return "", ""
	case errors.Is(err, errTooLarge):
		return CodeTooLarge, fmt.Sprintf("the file outgrew its limit of %d bytes", s.o.MaxFileBytes)
	case errors.As(err, &xe):
		return xe.Code, xe.Message
	case ctx.Err() != nil:
		return "CANCELED", "canceled"
	default:
		s.o.Logger.Error("bulk export: write", "export", e.ID, "err", err)
		return CodeInternal, "the export's file could not be written"
	}
}

// all reads the root connection page by page. Rows come depth first: each
// node, then every page of its first nested connection, then of the next.
func (r *runner) all(ctx context.Context, p *plan) error {
	after := ""
	for {
		data, err := r.exec(ctx, p.root.query, after, nil)
		if err != nil {
			return err
		}
		var d map[string]json.RawMessage
		if err := json.Unmarshal(data, &d); err != nil {
			return err
		}
		pg, err := decodePage(d[p.root.key])
		if err != nil {
			return err
		}
		if err := r.emitNodes(ctx, p.root, pg, ""); err != nil {
			return err
		}
		if !pg.Info.HasNextPage || pg.Info.EndCursor == nil || len(pg.Nodes) == 0 {
			return nil
		}
		after = *pg.Info.EndCursor
	}
}

// follow reads the pages of nested connection c of one parent after cursor
// after, through _entities lookups of the parent.
func (r *runner) follow(ctx context.Context, c *conn, parentType, parentID, after string) error {
	for {
		reps := []any{map[string]any{"__typename": parentType, "id": parentID}}
		data, err := r.exec(ctx, c.query, after, reps)
		if err != nil {
			return err
		}
		var d struct {
			Entities []map[string]json.RawMessage `json:"_bulkEntities"`
		}
		if err := json.Unmarshal(data, &d); err != nil {
			return err
		}
		if len(d.Entities) != 1 || d.Entities[0] == nil {
			return &ExecError{Code: "NOT_FOUND", Message: fmt.Sprintf("%s %s disappeared while its %s were read", parentType, parentID, c.key)}
		}
		pg, err := decodePage(d.Entities[0][c.key])
		if err != nil {
			return err
		}
		if err := r.emitNodes(ctx, c, pg, parentID); err != nil {
			return err
		}
		if !pg.Info.HasNextPage || pg.Info.EndCursor == nil || len(pg.Nodes) == 0 {
			return nil
		}
		after = *pg.Info.EndCursor
	}
}

func decodePage(raw json.RawMessage) (page, error) {
	var pg page
	if len(raw) == 0 || string(raw) == "null" {
		return pg, nil
	}
	err := json.Unmarshal(raw, &pg)
	return pg, err
}

// emitNodes writes a page's rows, each followed by every page of each of
// its nested connections (the first from this page, the rest read now).
func (r *runner) emitNodes(ctx context.Context, c *conn, pg page, parentID string) error {
	for _, n := range pg.Nodes {
		var id, typ string
		if err := json.Unmarshal(n[aliasID], &id); err != nil {
			return fmt.Errorf("node of %s without id: %w", c.path, err)
		}
		_ = json.Unmarshal(n[aliasType], &typ)
		row := make(map[string]json.RawMessage, len(n)+2)
		for k, v := range n {
			row[k] = v
		}
		delete(row, aliasID)
		delete(row, aliasType)
		for _, ch := range c.children {
			delete(row, ch.key)
		}
		if _, ok := row["id"]; !ok {
			row["id"] = n[aliasID]
		}
		path, _ := json.Marshal(c.path)
		row["__path"] = path
		if parentID != "" {
			pid, _ := json.Marshal(parentID)
			row["__parentId"] = pid
		}
		if err := r.enc.Encode(row); err != nil {
			return err
		}
		r.count++
		r.s.mu.Lock()
		r.e.Objects = r.count
		r.s.mu.Unlock()
		for _, ch := range c.children {
			cp, err := decodePage(n[ch.key])
			if err != nil {
				return err
			}
			if err := r.emitNodes(ctx, ch, cp, id); err != nil {
				return err
			}
			if cp.Info.HasNextPage && cp.Info.EndCursor != nil && len(cp.Nodes) > 0 {
				if err := r.follow(ctx, ch, typ, id, *cp.Info.EndCursor); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// exec runs one page query after the pacer admits it.
func (r *runner) exec(ctx context.Context, query, after string, reps []any) ([]byte, error) {
	vars := make(map[string]any, len(r.vars)+2)
	for k, v := range r.vars {
		vars[k] = v
	}
	if after != "" {
		vars[varAfter] = after
	}
	if reps != nil {
		vars[varReps] = reps
	}
	if r.s.o.Pace != nil {
		if err := r.s.o.Pace.Wait(ctx, r.owner, query, vars); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return r.s.o.Exec.Execute(ctx, r.owner, query, vars)
}
