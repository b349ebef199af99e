package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"procoregraph/adapter"
	"procoregraph/audit"
	"procoregraph/authn"
	"procoregraph/loaders"
	"procoregraph/multipartsub"
	"procoregraph/principal"
	"procoregraph/streams"
	"procoregraph/tenant"
)

// WebsocketOptions tune the subscription transports. Zero values mean the
// defaults.
type WebsocketOptions struct {
	// KeepAlive is the legacy graphql-ws "ka" interval and the SSE keep-alive
	// interval. Default 15 s.
	KeepAlive time.Duration
	// PingPong is the graphql-transport-ws ping interval; a peer that does
	// not answer within twice this is disconnected. Default 15 s.
	PingPong time.Duration
	// InitTimeout bounds the wait for connection_init (then close 4408).
	// Default 10 s.
	InitTimeout time.Duration
	// MultipartHeartbeat is the interval of the `{}` heartbeat parts of
	// multipart subscriptions (package multipartsub). Default 5 s, Apollo
	// Router's.
	MultipartHeartbeat time.Duration
	// OriginPatterns are the browser origins allowed besides the request's
	// own host (coder/websocket AcceptOptions). Default none: same origin,
	// and clients that send no Origin (Node, curl).
	OriginPatterns []string
}

func (o WebsocketOptions) withDefaults() WebsocketOptions {
	if o.KeepAlive <= 0 {
		o.KeepAlive = 15 * time.Second
	}
	if o.PingPong <= 0 {
		o.PingPong = 15 * time.Second
	}
	if o.InitTimeout <= 0 {
		o.InitTimeout = 10 * time.Second
	}
	return o
}

// Close codes of the graphql-transport-ws protocol the gateway uses at
// connection_init: no credential (where one is needed), and a credential
// that was refused.
const (
	CloseUnauthorized = 4401
	CloseForbidden    = 4403
)

// CloseTryAgainLater (RFC 6455's 1013) closes a websocket over the bound
// of those open at once (Deps.Websockets): graphql-ws clients retry it with
// backoff.
const CloseTryAgainLater = 1013

// addSubscriptionTransports adds server-sent events (graphql-sse distinct
// connections mode) and multipart HTTP (Apollo's subscription protocol), both
// of which must come before POST, which would otherwise take the request, and
// websockets (graphql-transport-ws and the legacy graphql-ws). Identical
// subscriptions on any of them share one execution (newSubscriptionGroups),
// and every subscription counts against d.Subscriptions while it is open.
// A websocket's shared subscriptions are written to it directly, each answer
// encoded once (directAnswers).
func addSubscriptionTransports(srv *handler.Server, d Deps) {
	o := d.Websocket.withDefaults()
	wrap := newSubscriptionWrap(d, d.Subscriptions, newSubscriptionGroups(d))
	srv.AddTransport(subscriptionTransport{Transport: transport.SSE{KeepAlivePingInterval: o.KeepAlive}, wrap: wrap})
	srv.AddTransport(subscriptionTransport{Transport: multipartsub.Transport{Heartbeat: o.MultipartHeartbeat,
		OperationTimeout: d.OperationTimeout, Ended: streamEnded(d)}, wrap: wrap})
	srv.AddTransport(subscriptionTransport{Transport: transport.Websocket{
		KeepAlivePingInterval: o.KeepAlive,
		PingPongInterval:      o.PingPong,
		InitTimeout:           o.InitTimeout,
		InitFunc:              websocketInit(d, newRefusedCounter(d, "websockets")),
		Implementation:        websocketImplementation(o, d.Stopping),
	}, wrap: wrap, direct: true, fallbacks: newDirectFallbacks(d)})
}

// websocketInit authenticates a websocket at connection_init: the upgrade
// request (its cookie), with the Authorization connection parameter
// (browsers cannot set headers on a websocket) as its Authorization header,
// goes through the authenticator. A refused credential closes with 4403, a
// missing one (where anonymous access is off) with 4401, each with a reason
// the graphql-ws client reports at once.
//
// An accepted websocket counts against d.Websockets until it closes; one
// over a bound closes with CloseTryAgainLater and the refusal as its reason
// (clients retry with backoff), counted in refused.
func websocketInit(d Deps, refused *prometheus.CounterVec) transport.WebsocketInitFunc {
	return func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		r, _ := ctx.Value(upgradeKey{}).(*http.Request)
		if r == nil {
			return transport.WithWebsocketCloseCode(ctx, CloseForbidden), nil, errors.New("forbidden")
		}
		req := r.Clone(ctx)
		if a := p.Authorization(); a != "" {
			req.Header.Set("Authorization", a)
		}
		if c, ok := payloadCompany(p); ok {
			req.Header.Set(authn.CompanyHeader, c)
		}
		id, err := d.Auth.Authenticate(req)
		if err != nil {
			recordRefusal(ctx, d.Audit, err)
			msg := "forbidden"
			var ae *adapter.Error
			if errors.As(err, &ae) && ae.Message != "" {
				msg = ae.Message
			}
			ctx = transport.AppendCloseReason(ctx, truncate(msg, 120))
			return transport.WithWebsocketCloseCode(ctx, CloseForbidden), nil, errors.New(msg)
		}
		if id.Conn == nil {
			msg := "authentication required: send the Authorization connection parameter"
			ctx = transport.AppendCloseReason(ctx, msg)
			return transport.WithWebsocketCloseCode(ctx, CloseUnauthorized), nil, errors.New(msg)
		}
		release, over := d.Websockets.Acquire(id.Principal.RateKey(audit.RemoteFrom(ctx)), id.Principal.MaxSubscriptions)
		if over != nil {
			refused.WithLabelValues(string(over.Scope)).Inc()
			ctx = transport.AppendCloseReason(ctx, truncate(over.Error(), 120))
			return transport.WithWebsocketCloseCode(ctx, CloseTryAgainLater), nil, over
		}
		// The upgrade request's context ends when the websocket closes.
		context.AfterFunc(ctx, release)
		ctx = trackStream(ctx, d, req, id.Principal)
		ctx = principal.With(ctx, id.Principal)
		ctx = tenant.With(ctx, id.Conn)
		ctx = tenant.WithCompanies(ctx, id.Companies)
		ctx = loaders.With(ctx, loaders.New(id.Conn, d.Loaders))
		return ctx, nil, nil
	}
}

// payloadCompany reads the company a websocket acts in from its
// connection_init payload: "Procore-Company-Id" (as the header) or
// "companyId", a string or a number. A value of another type is passed on
// as text, so that the authenticator refuses it rather than ignoring it.
func payloadCompany(p transport.InitPayload) (string, bool) {
	for _, k := range []string{authn.CompanyHeader, "companyId"} {
		switch v := p[k].(type) {
		case nil:
			continue
		case string:
			return v, true
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64), true
		default:
			return fmt.Sprint(v), true
		}
	}
	return "", false
}

// truncate keeps a websocket close reason within the protocol's 123 bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

type upgradeKey struct{}

// isWebsocketUpgrade reports whether r asks for a websocket; its credentials
// are then checked at connection_init instead of on the upgrade.
func isWebsocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// perEventLoaders gives every event of a subscription that selects the item
// behind the event (rfi, submittal, punchItem, invoice, commitment) its own
// loaders. The request's loaders live as long as the websocket or SSE stream
// (gqlgen#1368: a stale dataloader cache), so without this an item would be
// read once and then served from memory forever. Events that select only the
// event's own fields skip the cost of building loaders.
func perEventLoaders(d Deps) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		if graphql.HasOperationContext(ctx) {
			oc := graphql.GetOperationContext(ctx)
			if oc.Operation != nil && oc.Operation.Operation == ast.Subscription && selectsItem(oc.Operation.SelectionSet, oc.Doc, 0) {
				if conn, ok := tenant.From(ctx); ok {
					ctx = loaders.With(ctx, loaders.New(conn, d.Loaders))
				}
			}
		}
		return next(ctx)
	}
}

// itemFields are the fields of subscription events that read Procore.
var itemFields = map[string]bool{"rfi": true, "submittal": true, "punchItem": true, "invoice": true, "commitment": true}

// selectsItem reports whether set selects an item field below the root.
func selectsItem(set ast.SelectionSet, doc *ast.QueryDocument, depth int) bool {
	if depth > 32 {
		return true // be safe with pathological documents
	}
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if depth > 0 && itemFields[s.Name] || selectsItem(s.SelectionSet, doc, depth+1) {
				return true
			}
		case *ast.InlineFragment:
			if selectsItem(s.SelectionSet, doc, depth) {
				return true
			}
		case *ast.FragmentSpread:
			def := s.Definition
			if def == nil && doc != nil {
				def = doc.Fragments.ForName(s.Name)
			}
			if def == nil || selectsItem(def.SelectionSet, doc, depth) {
				return true
			}
		}
	}
	return false
}

// websocketImplementation accepts websockets with coder/websocket, whose
// messages are written without a second JSON pass (frameWebsockets) and
// whose writes are coalesced per socket (coalescingWebsockets). Once stopping is
// done (the server shuts down), a websocket the transport closes normally
// closes with CloseServiceRestart instead.
func websocketImplementation(o WebsocketOptions, stopping context.Context) transport.WebsocketImplementation {
	var impl transport.WebsocketImplementation = coalescingWebsockets{buffers: &sync.Pool{}, next: newFrameWebsockets(
		coderws.AcceptOptions{OriginPatterns: o.OriginPatterns})}
	if stopping == nil {
		return impl
	}
	return restartingWebsockets{next: impl, stopping: stopping}
}

// isStream reports whether r opens a long-lived stream: a websocket, or a
// request the server-sent events or multipart subscription transport takes.
// An Accept header alone does not make a stream: a GET (or an upload) that
// asks for one is served by another transport, as a plain request with the
// operation deadline and the answer's byte bound.
func isStream(r *http.Request) bool {
	return isWebsocketUpgrade(r) || (transport.SSE{}).Supports(r) || (multipartsub.Transport{}).Supports(r)
}

// CodeServiceRestart is the extensions.code of the transport error that ends
// a multipart subscription when the gateway shuts down (the websocket's 1012):
// subscribe again, through the load balancer, with after: the last cursor.
const CodeServiceRestart = "SERVICE_RESTART"

// streamEnded says why a multipart subscription's stream ended under it: its
// session was revoked (UNAUTHENTICATED) or the gateway shuts down
// (SERVICE_RESTART). A client that went away needs no answer.
func streamEnded(d Deps) func(ctx context.Context) *gqlerror.Error {
	return func(ctx context.Context) *gqlerror.Error {
		switch {
		case errors.Is(context.Cause(ctx), streams.ErrRevoked):
			return &gqlerror.Error{Message: "the session was revoked",
				Extensions: map[string]any{"code": string(adapter.CodeUnauthenticated)}}
		case d.Stopping != nil && d.Stopping.Err() != nil:
			return &gqlerror.Error{Message: "the gateway is restarting: subscribe again with after: the last cursor you received",
				Extensions: map[string]any{"code": CodeServiceRestart}}
		}
		return nil
	}
}

// endStreamsOnStop ties a stream's context to d.Stopping, so that shutting
// the server down ends websocket and SSE streams instead of waiting for them.
// The returned func releases the tie.
func endStreamsOnStop(d Deps, r *http.Request, ctx context.Context) (context.Context, func()) {
	if d.Stopping == nil || !isStream(r) {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(d.Stopping, cancel)
	return ctx, func() { stop(); cancel() }
}
