package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"procoregraph/bulk"
	"procoregraph/graph"
	"procoregraph/limits"
	"procoregraph/loaders"
	"procoregraph/persisted"
	"procoregraph/principal"
	"procoregraph/reqstats"
	"procoregraph/resolvers"
	"procoregraph/tenant"
)

// bulkRoots are the mutations that only read (bulk exports): they need the
// read scope, not write.
var bulkRoots = map[string]bool{"startBulkExport": true, "cancelBulkExport": true}

// BulkExecutor runs a bulk export's page queries in process, as a request
// of the export's owner would run: same resolvers, errors and loaders (new
// ones per page), the connection's cache. It implements bulk.Executor.
type BulkExecutor struct {
	exec    *executor.Executor
	loaders loaders.Options
	timeout time.Duration
}

// BulkMaxFields bounds the fields of one bulk page query's answer (a
// page holds up to bulk.Options.PageItems nodes), as MaxNodes bounds a
// request's: past it the page, and so the export, fails with
// ANSWER_TOO_LARGE.
const BulkMaxFields = 2_000_000

// NewBulkExecutor returns the executor of bulk page queries; timeout bounds
// one page (default 2 minutes). Plain sub-trees of a page are written
// directly (package plaintree) unless everyField (Deps.ExecuteEveryField).
func NewBulkExecutor(lo loaders.Options, logger *slog.Logger, timeout time.Duration, everyField bool) *BulkExecutor {
	if logger == nil {
		logger = slog.Default()
	}
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	es := graph.NewExecutableSchema(graph.Config{Resolvers: resolvers.New()})
	e := executor.New(es)
	e.SetDefaultRulesFn(bulk.PageRules)
	e.SetErrorPresenter(presentError(logger))
	e.SetRecoverFunc(recoverFunc(logger))
	e.AroundResponses(boundAnswers(BulkMaxFields))
	var render graphql.FieldMiddleware
	if !everyField {
		pt := newPlainTrees(es)
		e.AroundOperations(pt.Operations)
		render = pt.Field
	}
	e.AroundFields(spendThen(render))
	return &BulkExecutor{exec: e, loaders: lo, timeout: timeout}
}

// Execute implements bulk.Executor.
func (b *BulkExecutor) Execute(ctx context.Context, owner bulk.Owner, query string, vars map[string]any) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	ctx = principal.With(ctx, owner.Principal)
	ctx = tenant.With(ctx, owner.Conn)
	ctx = loaders.With(ctx, loaders.New(owner.Conn, b.loaders))
	ctx, _ = reqstats.With(ctx)
	ctx = graphql.StartOperationTrace(ctx)
	oc, errs := b.exec.CreateOperationContext(ctx, &graphql.RawParams{Query: query, Variables: vars,
		ReadTime: graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()}})
	if len(errs) > 0 {
		return nil, execError(errs)
	}
	h, ctx := b.exec.DispatchOperation(ctx, oc)
	resp := h(ctx)
	if resp == nil {
		return nil, &bulk.ExecError{Code: "CANCELED", Message: "the page query ended without an answer"}
	}
	if len(resp.Errors) > 0 {
		return nil, execError(resp.Errors)
	}
	return resp.Data, nil
}

func execError(errs gqlerror.List) error {
	e := errs[0]
	code, _ := e.Extensions["code"].(string)
	if code == "" {
		code = "INTERNAL"
	}
	msg := e.Message
	if len(e.Path) > 0 {
		msg = fmt.Sprintf("%s (at %s)", msg, e.Path.String())
	}
	return &bulk.ExecError{Code: code, Message: msg}
}

// BulkCheck applies the document rules of requests to a bulk export's
// query: with onlyPersisted it must be one of the trusted documents of m
// (byte for byte), and the limits on depth, aliases and root fields hold.
// The estimated cost is not bounded: a bulk export reads everything, paced
// by bulk.BudgetPacer instead.
func BulkCheck(a *limits.Analyzer, m *persisted.Manifest, onlyPersisted bool) func(query string, doc *ast.QueryDocument, vars map[string]any) error {
	return func(query string, doc *ast.QueryDocument, vars map[string]any) error {
		if onlyPersisted {
			if _, ok := m.LookupText(query); !ok {
				return fmt.Errorf("this gateway runs only trusted documents (ONLY_PERSISTED): the query must be one of them, byte for byte")
			}
		}
		o := a.Options()
		for _, op := range doc.Operations {
			res := a.Analyze(op, doc, vars)
			switch {
			case res.Depth > o.MaxDepth:
				return fmt.Errorf("the query nests %d fields deep; the limit is %d", res.Depth, o.MaxDepth)
			case res.Aliases > o.MaxAliases:
				return fmt.Errorf("the query uses %d aliases; the limit is %d", res.Aliases, o.MaxAliases)
			case res.RootFields > o.MaxRootFields:
				return fmt.Errorf("the query selects %d root fields; the limit is %d", res.RootFields, o.MaxRootFields)
			}
		}
		return nil
	}
}
