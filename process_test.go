package main

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"procoregraph/testwait"
	"strings"
	"syscall"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// helperProcessEnv marks the child process in which TestHelperGatewayProcess
// runs the real main.
const helperProcessEnv = "PROCOREGRAPH_HELPER_PROCESS"

// TestHelperGatewayProcess is not a test of its own: started by
// startGatewayProcess as a child process, it runs the real program (main:
// signal handling included) with the environment it was given.
func TestHelperGatewayProcess(t *testing.T) {
	if os.Getenv(helperProcessEnv) != "1" {
		return
	}
	os.Args = []string{"procoregraph"}
	main()
}

// realProcess is the program running in a child process.
type realProcess struct {
	URL    string
	cmd    *exec.Cmd
	exited chan error
	stderr *syncBuffer
}

// startGatewayProcess runs the program in a child process with env (ADDR
// 127.0.0.1:0) and returns once it listens. It is killed at cleanup if it
// still runs.
func startGatewayProcess(t *testing.T, env map[string]string) *realProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperGatewayProcess$")
	// Only the given settings: none leak in from the test's own environment
	// (REDIS_URL would share a cache between the test's processes).
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), helperProcessEnv + "=1", "ADDR=127.0.0.1:0"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &realProcess{cmd: cmd, exited: make(chan error, 1), stderr: &syncBuffer{}}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
	})
	select {
	case p.URL = <-urlc:
	case err := <-p.exited:
		t.Fatalf("gateway process exited before listening: %v\nstderr:\n%s", err, p.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("gateway process did not listen within 60s\nstderr:\n%s", p.stderr)
	}
	return p
}

// wait returns how the process ended, failing if it runs on for a minute (a
// guard against a hang, not a latency assertion).
func (p *realProcess) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err // for the cleanup
		return err
	case <-time.After(time.Minute):
		t.Fatalf("gateway process still running a minute after the signal\nstderr:\n%s", tail(p.stderr.String(), 3000))
		return nil
	}
}

// TestSIGTERMDrainsTheRealProcess sends real signals to the program running
// in a child process while a query waits for Procore (the sandbox holds its
// answer's body): the first SIGTERM drains (the listener closes, the query,
// once Procore answers, completes with 200 and its data) and the process
// exits 0; a second SIGTERM during the drain ends the process at once.
func TestSIGTERMDrainsTheRealProcess(t *testing.T) {
	sb, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 4}})
	const q = `{ projects(first: 5) { nodes { id rfis(first: 5) { nodes { id subject } } } } }`
	start := func(t *testing.T, grace string) (*realProcess, chan int) {
		t.Helper()
		e := copyEnv(env)
		e["SHUTDOWN_GRACE"] = grace
		p := startGatewayProcess(t, e)
		sb.SetFaults(sandbox.Faults{StallBody: true})
		t.Cleanup(func() { sb.SetFaults(sandbox.Faults{}) })
		answered := make(chan int, 1)
		go func() {
			status, body := drainQuery(&gatewayProc{URL: p.URL, key: testAPIKey}, q, nil)
			if status == http.StatusOK && (len(body.Errors) > 0 || !bytes.Contains(body.Data, []byte(`"rfis"`))) {
				status = -1 // answered, but without its data
			}
			answered <- status
		}()
		testwait.For(t, "the query waits for Procore", func() bool {
			select {
			case st := <-answered:
				t.Fatalf("the query was answered (%d) without waiting for Procore\nstderr:\n%s", st, tail(p.stderr.String(), 2000))
			default:
			}
			return sb.Stats().StalledBodies > 0
		})
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		testwait.For(t, "the listener stops accepting connections", func() bool {
			c, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
			if err == nil {
				_ = c.Close()
			}
			return err != nil
		})
		return p, answered
	}

	t.Run("FirstSignalDrainsAndExitsZero", func(t *testing.T) {
		p, answered := start(t, "25s")
		sb.SetFaults(sandbox.Faults{}) // Procore finishes the answer
		if status := <-answered; status != http.StatusOK {
			t.Fatalf("the in-flight query ended with %d, want 200 with its data", status)
		}
		if err := p.wait(t); err != nil {
			t.Fatalf("the process ended with %v, want exit code 0\nstderr:\n%s", err, tail(p.stderr.String(), 3000))
		}
	})

	t.Run("SecondSignalEndsAtOnce", func(t *testing.T) {
		p, answered := start(t, "10m") // the drain would wait for the query
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		err := p.wait(t)
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("the process ended with %v, want it killed by the second signal", err)
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
			t.Fatalf("the process ended with %v, want it killed by the second SIGTERM", err)
		}
		if status := <-answered; status != 0 {
			t.Fatalf("the held query was answered %d; the process should have died under it", status)
		}
	})
}
