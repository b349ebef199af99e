package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// drainOptions shape a graceful shutdown (SHUTDOWN_DELAY, SHUTDOWN_GRACE).
type drainOptions struct {
	// Delay is how long the listener keeps serving, with /readyz answering
	// 503, before it closes. 0: it closes at once.
	Delay time.Duration
	// Grace is how long in-flight requests and streams may take to end once
	// the listener has closed; what still runs then is cut.
	Grace time.Duration
}

// drain shuts srv down once the process is told to stop:
//
//  1. startDraining: /readyz answers 503 (liveness, /healthz, still 200);
//  2. for o.Delay the listener keeps serving, so load balancers that poll
//     /readyz stop sending new requests before it closes;
//  3. srv.Shutdown closes the listener and idle connections, ends the streams
//     (its OnShutdown hooks: websockets close with 1012 Service Restart, SSE
//     streams end), and waits for in-flight queries and mutations;
//  4. after o.Grace whatever still runs is cut (srv.Close).
//
// Websockets are hijacked connections that Shutdown does not wait for, so
// drain also waits, within the grace period, until active (the open
// subscriptions) is 0. It returns serveErr's error if Serve fails meanwhile,
// else the shutdown's error other than a cut-off grace period.
func drain(srv *http.Server, serveErr <-chan error, startDraining func(), active *atomic.Int64, o drainOptions, logger *slog.Logger) error {
	startDraining()
	logger.Info("draining: /readyz answers 503", "delay", o.Delay, "grace", o.Grace)
	if o.Delay > 0 {
		t := time.NewTimer(o.Delay)
		select {
		case <-t.C:
		case err := <-serveErr:
			t.Stop()
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Grace)
	defer cancel()
	err := srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		logger.Warn("shutdown grace period over: cutting the requests still running", "grace", o.Grace)
		err = srv.Close()
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for active != nil && active.Load() > 0 {
		select {
		case <-ctx.Done():
			logger.Warn("shutdown grace period over: subscriptions still open", "subscriptions", active.Load())
			return nil
		case <-tick.C:
		}
	}
	logger.Info("drained: every request and stream has ended")
	return nil
}
