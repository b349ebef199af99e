package gateway

import (
	"context"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// CloseServiceRestart is the close code (RFC 6455's registry: 1012 Service
// Restart) of websockets the gateway ends because it shuts down. graphql-ws
// clients reconnect after it (it is not one of their fatal codes), through the
// load balancer to another replica, and resume with their cursor.
const CloseServiceRestart = 1012

// restartingWebsockets wraps a websocket implementation so that, once
// stopping is done, a normal close (1000, what gqlgen sends when a
// connection's context ends) goes out as CloseServiceRestart.
type restartingWebsockets struct {
	next     transport.WebsocketImplementation
	stopping context.Context
}

func (r restartingWebsockets) Accept(w http.ResponseWriter, req *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	c, err := r.next.Accept(w, req, o)
	if err != nil {
		return nil, err
	}
	return &restartingConn{WebsocketConn: c, stopping: r.stopping}, nil
}

// restartingConn is a websocket whose normal close becomes
// CloseServiceRestart during a shutdown. It passes gqlgen's optional read
// limit and read deadline through to the connection it wraps.
type restartingConn struct {
	transport.WebsocketConn
	stopping context.Context
}

func (c *restartingConn) WriteClose(code int, msg string) error {
	if code == transport.WebsocketCloseNormalClosure && c.stopping.Err() != nil {
		code, msg = CloseServiceRestart, "service restart: reconnect"
	}
	return c.WebsocketConn.WriteClose(code, msg)
}

func (c *restartingConn) SetReadLimit(n int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(n)
	}
}

func (c *restartingConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}

var (
	_ transport.WebsocketReadLimiter   = (*restartingConn)(nil)
	_ transport.WebsocketReadDeadliner = (*restartingConn)(nil)
)
