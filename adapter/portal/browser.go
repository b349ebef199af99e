package portal

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/proto"

	"procoregraph/adapter"
)

// BrowserOptions configures a Browser. Zero values mean the defaults.
type BrowserOptions struct {
	// Path is the Chromium (or Chrome) executable. Default: the first one
	// launcher.LookPath finds (chromium, google-chrome ... on PATH and the
	// usual install paths). A browser is never downloaded: with no executable
	// found, logins fail with ErrNoBrowser.
	Path string
	// NoSandbox adds --no-sandbox. Default: added when running as root, where
	// Chromium refuses to start with its sandbox.
	NoSandbox bool
	// ExtraFlags are appended to the command line as given ("--lang=en-US").
	ExtraFlags []string
	// StepTimeout bounds each step of a login: loading a page, waiting for its
	// outcome, typing, clicking. Default: 15s. The caller's context bounds the
	// whole login.
	StepTimeout time.Duration
	// LaunchTimeout bounds starting the browser process. Default: 30s.
	LaunchTimeout time.Duration
	// MaxConcurrent is the most logins running at once in the one browser
	// process; further logins wait their turn. Default: 2.
	MaxConcurrent int
	// Logger receives launch and crash reports; never page contents, inputs
	// or cookies. Default: slog.Default().
	Logger *slog.Logger
}

func (o BrowserOptions) withDefaults() BrowserOptions {
	if o.StepTimeout <= 0 {
		o.StepTimeout = 15 * time.Second
	}
	if o.LaunchTimeout <= 0 {
		o.LaunchTimeout = 30 * time.Second
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 2
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if os.Geteuid() == 0 {
		o.NoSandbox = true
	}
	return o
}

// Browser is one headless Chromium process shared by every login of a
// process: each login gets its own incognito browser context (no cookies
// shared between logins) and its own tab, both disposed of afterwards. The
// process starts on the first login (or Start) and is started again after it
// dies. Browser implements Driver and is safe for concurrent use.
type Browser struct {
	o     BrowserOptions
	slots chan struct{}

	mu      sync.Mutex
	proc    *chromeProcess
	closed  bool
	launchs int
}

// NewBrowser returns a Browser that launches Chromium when first needed.
func NewBrowser(o BrowserOptions) *Browser {
	o = o.withDefaults()
	return &Browser{o: o, slots: make(chan struct{}, o.MaxConcurrent)}
}

// ErrNoBrowser is wrapped by errors from a Browser that found no Chromium
// executable.
var ErrNoBrowser = errors.New("portal: no Chromium executable found (install Debian's chromium or set BrowserOptions.Path)")

// FindChromium returns the configured path when set, else the executable
// launcher.LookPath finds, else ErrNoBrowser.
func FindChromium(configured string) (string, error) {
	if configured != "" {
		p, err := exec.LookPath(configured)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrNoBrowser, err)
		}
		return p, nil
	}
	if p, ok := launcher.LookPath(); ok {
		return p, nil
	}
	return "", ErrNoBrowser
}

// chromeProcess is one running browser and the CDP connection to it.
type chromeProcess struct {
	cmd     *exec.Cmd
	dataDir string
	rod     *rod.Browser
	exited  chan struct{}
}

// Start launches the browser process unless it is running already.
func (b *Browser) Start(ctx context.Context) error {
	_, err := b.process(ctx)
	return err
}

// PID returns the browser's main process id, 0 when it is not running.
func (b *Browser) PID() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc == nil {
		return 0
	}
	return b.proc.cmd.Process.Pid
}

// Launches returns how many times a browser process was started.
func (b *Browser) Launches() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.launchs
}

// Memory measures the browser's whole process tree (the main process,
// zygotes, renderers, GPU and utility processes) from /proc. It fails when
// the browser is not running or /proc cannot be read (non-Linux systems).
func (b *Browser) Memory() (Memory, error) {
	pid := b.PID()
	if pid == 0 {
		return Memory{}, errors.New("portal: the browser is not running")
	}
	return processTree(pid)
}

// Close ends the browser process (politely, then by killing its process
// group) and removes its profile directory. Later logins fail.
func (b *Browser) Close() error {
	b.mu.Lock()
	p := b.proc
	b.proc, b.closed = nil, true
	b.mu.Unlock()
	if p != nil {
		p.stop()
	}
	return nil
}

// process returns the running browser, launching it when there is none or
// the last one died.
func (b *Browser) process(ctx context.Context) (*chromeProcess, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, &adapter.Error{Code: adapter.CodeInternal, Message: "the portal browser is closed"}
	}
	if b.proc != nil {
		select {
		case <-b.proc.exited:
			b.o.Logger.Warn("portal: the browser process exited; starting a new one")
			b.proc.stop()
			b.proc = nil
		default:
			return b.proc, nil
		}
	}
	p, err := b.launch(ctx)
	if err != nil {
		return nil, err
	}
	b.proc = p
	b.launchs++
	return p, nil
}

// discard drops the browser process after a failure that suggests it is
// unusable, so the next login starts a new one.
func (b *Browser) discard(p *chromeProcess) {
	b.mu.Lock()
	if b.proc == p {
		b.proc = nil
	} else {
		p = nil
	}
	b.mu.Unlock()
	if p != nil {
		b.o.Logger.Warn("portal: the browser stopped answering; it will be restarted")
		p.stop()
	}
}

var devtoolsLine = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

func (b *Browser) launch(ctx context.Context) (*chromeProcess, error) {
	bin, err := FindChromium(b.o.Path)
	if err != nil {
		return nil, &adapter.Error{Code: adapter.CodeInternal, Message: "cannot start the portal browser", Err: err}
	}
	dir, err := os.MkdirTemp("", "procoregraph-chromium-")
	if err != nil {
		return nil, &adapter.Error{Code: adapter.CodeInternal, Message: "cannot create the browser profile directory", Err: err}
	}
	args := []string{
		"--headless",
		"--disable-gpu",
		"--disable-quic",
		"--no-first-run",
		"--no-default-browser-check",
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-sync",
		"--disable-default-apps",
		"--disable-extensions",
		"--disable-breakpad",
		"--disable-dev-shm-usage",
		"--disable-features=Translate,OptimizationHints,MediaRouter",
		"--metrics-recording-only",
		"--password-store=basic",
		"--use-mock-keychain",
		"--mute-audio",
		"--remote-debugging-address=127.0.0.1",
		"--remote-debugging-port=0",
		"--user-data-dir=" + dir,
	}
	if b.o.NoSandbox {
		args = append(args, "--no-sandbox")
	}
	args = append(args, b.o.ExtraFlags...)
	args = append(args, "about:blank")

	cmd := exec.Command(bin, args...)
	// Its own process group, so Close can kill every child; and killed with
	// this process on Linux, so a crashed test leaves no browser behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, &adapter.Error{Code: adapter.CodeInternal, Message: "cannot start the portal browser", Err: err}
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, &adapter.Error{Code: adapter.CodeInternal, Message: "cannot start the portal browser", Err: err}
	}
	p := &chromeProcess{cmd: cmd, dataDir: dir, exited: make(chan struct{})}

	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			if !found {
				if m := devtoolsLine.FindStringSubmatch(sc.Text()); m != nil {
					found = true
					urls <- m[1]
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
		close(p.exited)
	}()

	lctx, cancel := context.WithTimeout(ctx, b.o.LaunchTimeout)
	defer cancel()
	var wsURL string
	select {
	case wsURL = <-urls:
	case <-p.exited:
		p.stop()
		return nil, &adapter.Error{Code: adapter.CodeInternal, Message: "the portal browser exited at start"}
	case <-lctx.Done():
		p.stop()
		return nil, &adapter.Error{Code: adapter.CodeInternal, Message: "the portal browser did not start in time", Err: context.Cause(lctx)}
	}

	r := rod.New().ControlURL(wsURL).Context(context.Background()).
		NoDefaultDevice().Trace(false).SlowMotion(0).Monitor("")
	connect := make(chan error, 1)
	go func() { connect <- r.Connect() }()
	select {
	case err = <-connect:
	case <-lctx.Done():
		err = context.Cause(lctx)
	}
	if err != nil {
		p.stop()
		return nil, &adapter.Error{Code: adapter.CodeInternal, Message: "cannot connect to the portal browser", Err: err}
	}
	p.rod = r
	b.o.Logger.Info("portal: browser started", "pid", cmd.Process.Pid)
	return p, nil
}

// stop closes the browser through CDP, kills what is left after a short
// wait, and removes the profile directory.
func (p *chromeProcess) stop() {
	if p.rod != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = proto.BrowserClose{}.Call(p.rod.Context(ctx))
		cancel()
	}
	select {
	case <-p.exited:
	case <-time.After(3 * time.Second):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
	}
	_ = os.RemoveAll(p.dataDir)
}

// alive reports whether the browser still answers CDP calls.
func (p *chromeProcess) alive() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := proto.BrowserGetVersion{}.Call(p.rod.Context(ctx))
	return err == nil
}
