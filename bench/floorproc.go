package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"time"

	"procoregraph/sandbox"
)

// The floor as a process: the bench binary run with -serve-floor serves the
// floor client's dashboard over HTTP, so that in the interleaved run the
// floor, like each gateway, is a process of its own that the bench asks
// over HTTP and that asks the sandbox over HTTP. It then shares neither the
// bench's heap nor its garbage collector with the sandbox, and its answer
// crosses a connection as a gateway's does.

// serveFloor runs the floor server for api and company until interrupted.
// POST /dashboard answers the dashboard; GET /cpu the CPU seconds this
// process has used.
func serveFloor(api string, company int64) error {
	f := newFloorClient(api, company, sandbox.DefaultClientID, sandbox.DefaultClientSecret)
	// The access token at start, as the gateway obtains its own.
	if _, err := f.tokens.Token(); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /dashboard", func(w http.ResponseWriter, r *http.Request) {
		raw, _, err := f.dashboard(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(raw)
	})
	mux.HandleFunc("GET /cpu", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "%g", benchCPU())
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("floor listening on http://%s\n", ln.Addr())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt)
	go func() { <-stop; _ = srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// floorProc is a running floor process.
type floorProc struct {
	url string
	cmd *exec.Cmd
}

var floorListening = regexp.MustCompile(`floor listening on (http://\S+)`)

// startFloor starts this binary as a floor server.
func startFloor(api string, company int64) (*floorProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-serve-floor", api, "-serve-floor-company", strconv.FormatInt(company, 10))
	u, err := startListening(cmd, floorListening, "floor process")
	if err != nil {
		return nil, err
	}
	return &floorProc{url: u, cmd: cmd}, nil
}

// query asks the floor process for one dashboard and returns its latency.
func (f *floorProc) query(ctx context.Context) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url+"/dashboard", nil)
	if err != nil {
		return 0, err
	}
	d, status, raw, err := timedDo(req)
	if err != nil {
		return 0, err
	}
	if status != http.StatusOK {
		return 0, fmt.Errorf("floor: status %d: %.300s", status, raw)
	}
	return d, nil
}

// cpu is the CPU seconds the floor process has used.
func (f *floorProc) cpu() (float64, error) {
	resp, err := client.Get(f.url + "/cpu")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(string(raw), 64)
}

func (f *floorProc) stop() { stopProcess(f.cmd) }
