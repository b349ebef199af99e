package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// childEnv marks the test binary re-executed as a gateway process
// (startChildGateway): TestMain then runs the program instead of the tests.
const childEnv = "PROCOREGRAPH_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(childEnv); ok {
		os.Exit(runChild(args))
	}
	os.Exit(m.Run())
}

// runChild runs the gateway as `go run .` would, with the arguments the
// parent passed as JSON, until SIGTERM or SIGINT.
func runChild(argsJSON string) int {
	var args []string
	if err := json.Unmarshal([]byte(argsJSON), &args); err != nil {
		fmt.Fprintln(os.Stderr, "child gateway: bad arguments:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "child gateway:", err)
		return 1
	}
	return 0
}

// childGateway is the gateway in a process of its own (the test binary
// re-executed), so that a test can kill it with SIGKILL.
type childGateway struct {
	gatewayProc
	cmd *exec.Cmd
}

// startChildGateway starts the gateway as a separate process with env (and
// nothing else from the test's environment but PATH and HOME) and waits
// until it is healthy. It is killed at cleanup if still running.
func startChildGateway(t *testing.T, env map[string]string, args ...string) *childGateway {
	t.Helper()
	env = copyEnv(env)
	if _, ok := env["ADDR"]; !ok {
		env["ADDR"] = "127.0.0.1:0"
	}
	a, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0])
	cmd.Env = []string{childEnv + "=" + string(a), "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	c := &childGateway{cmd: cmd}
	c.stderr = &syncBuffer{}
	cmd.Stderr = c.stderr
	if strings.Contains(env["API_KEYS"], apiKeyEntry("harness", "read,write,subscribe", "", testAPIKey)) {
		c.key = testAPIKey
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urlc <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case c.URL = <-urlc:
	case <-exited:
		t.Fatalf("child gateway exited before listening\nstderr:\n%s", c.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("child gateway did not start within 60s\nstderr:\n%s", c.stderr)
	}
	c.done = make(chan error, 1)
	go func() { <-exited; c.done <- nil }()
	for range 200 {
		resp, err := http.Get(c.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("child gateway %s never became healthy\nstderr:\n%s", c.URL, c.stderr)
	return nil
}

// kill ends the process with SIGKILL (no shutdown path runs) and waits.
func (c *childGateway) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	<-c.done
}

// privateRedis is a redis-server of the test's own on a free port, so that
// a test can kill and restart it without disturbing other tests.
type privateRedis struct {
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// startPrivateRedis starts redis-server (Debian's package; CI installs it)
// on a free loopback port, without persistence.
func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server not found (CI=true: the chaos tests must run)")
		}
		t.Skip("redis-server not found")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	r := &privateRedis{port: port}
	r.start(t)
	t.Cleanup(func() { r.kill(t) })
	return r
}

// URL is the redis:// URL of the server.
func (r *privateRedis) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(r.port) + "/0" }

func (r *privateRedis) start(t *testing.T) {
	t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	r.done = make(chan struct{})
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := r.done
	cmd := r.cmd
	go func() { _ = cmd.Wait(); close(done) }()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(r.port)})
	defer c.Close()
	for range 500 {
		if c.Ping(context.Background()).Err() == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("redis-server on port %d did not answer", r.port)
}

// kill ends the server with SIGKILL (it loses everything) and waits.
func (r *privateRedis) kill(t *testing.T) {
	t.Helper()
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
}
