package sandbox

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"procoregraph/sandbox/data"
)

// Running is a sandbox serving on a listener.
type Running struct {
	// URL is the base URL (login host and API host alike), e.g. http://127.0.0.1:41234.
	URL string
	*Server

	srv       *http.Server
	closeOnce sync.Once
	done      chan struct{}
}

// Start builds a Server from cfg and serves it on addr ("127.0.0.1:0" picks a
// free port). It stops when ctx is done or Close is called.
func Start(ctx context.Context, cfg Config, addr string) (*Running, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("sandbox: listen %s: %w", addr, err)
	}
	url := "http://" + ln.Addr().String()
	if cfg.BaseURL == "" {
		s.SetBaseURL(url)
	}
	run := &Running{URL: url, Server: s, done: make(chan struct{}),
		srv: &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := run.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("sandbox: serve", "err", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			run.Close()
		case <-run.done:
		}
	}()
	return run, nil
}

// Close stops serving (waiting up to 5 s for requests in flight) and stops
// webhook deliveries. It is safe to call more than once.
func (r *Running) Close() {
	r.closeOnce.Do(func() {
		close(r.done)
		// Shutdown waits for requests in flight, but also (for up to 5 s)
		// for connections a client dialed and never used, which HTTP clients
		// keeping many idle connections leave behind; a simulator need not
		// wait that long for them.
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		defer cancel()
		if err := r.srv.Shutdown(ctx); err != nil {
			_ = r.srv.Close()
		}
		r.Server.Close()
	})
}

// Main runs the `sandbox` subcommand: it parses args, starts the sandbox,
// prints its URL and credentials to stdout and serves until ctx is done.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg Config
	addr := fs.String("addr", "127.0.0.1:9400", "listen address")
	fs.Int64Var(&cfg.Seed, "seed", 1, "data seed (same seed, same data)")
	fs.IntVar(&cfg.Data.Companies, "companies", 0, "companies (default 2)")
	fs.IntVar(&cfg.Data.ProjectsPerCompany, "projects", 0, "projects per company (default 3)")
	fs.IntVar(&cfg.Data.ItemsPerProject, "items", 0, "RFIs, submittals, observations and punch items per project (default 20)")
	fs.IntVar(&cfg.Data.CommitmentsPerProject, "commitments", 0, "commitments per project (default: the generator's)")
	latency := fs.Duration("latency", 0, "fixed latency added to every /rest request")
	jitter := fs.Duration("jitter", 0, "random extra latency, up to this much")
	fs.IntVar(&cfg.HourlyLimit, "hourly-limit", DefaultHourlyLimit, "requests per token per hour (-1: unlimited)")
	fs.IntVar(&cfg.SpikeLimit, "spike-limit", DefaultSpikeLimit, "requests per token per 10 s (-1: unlimited)")
	fs.StringVar(&cfg.ClientID, "client-id", DefaultClientID, "OAuth client id")
	fs.StringVar(&cfg.ClientSecret, "client-secret", DefaultClientSecret, "OAuth client secret")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Faults.Latency, cfg.Faults.Jitter = Duration(*latency), Duration(*jitter)
	run, err := Start(ctx, cfg, *addr)
	if err != nil {
		return err
	}
	defer run.Close()
	c := run.cfg
	fmt.Fprintf(stdout, "Procore sandbox listening on %s (login and API host)\n", run.URL)
	fmt.Fprintf(stdout, "  OAuth client:   client_id=%s client_secret=%s (grant_type=client_credentials at %s/oauth/token)\n", c.ClientID, c.ClientSecret, run.URL)
	fmt.Fprintf(stdout, "  Web login:      %s/login  email=%s password=%s TOTP secret=%s\n", run.URL, c.DemoEmail, c.DemoPassword, c.DemoTOTPSecret)
	fmt.Fprintf(stdout, "  Admin:          %s/_sandbox/stats, /_sandbox/faults\n", run.URL)
	run.ReadDataset(func(ds *data.Dataset) {
		for _, co := range ds.Companies {
			fmt.Fprintf(stdout, "  Company:        %d %s\n", co.ID, co.Name)
		}
	})
	<-ctx.Done()
	return nil
}
