package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

// subscriptionPackages are the npm packages the subscription scripts import.
var subscriptionPackages = []string{"graphql-ws", "ws"}

// requireNodePackages is requireNode plus the given npm packages.
func requireNodePackages(t *testing.T, pkgs ...string) string {
	t.Helper()
	node := requireNode(t)
	var absent []string
	for _, pkg := range pkgs {
		if _, err := os.Stat(filepath.Join("node_modules", pkg, "package.json")); errors.Is(err, os.ErrNotExist) {
			absent = append(absent, pkg)
		}
	}
	if len(absent) > 0 {
		msg := fmt.Sprintf("npm packages missing from node_modules (%s): run `npm ci` in the repository root", strings.Join(absent, ", "))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true: the subscription checks must run)")
		}
		t.Skip(msg)
	}
	return node
}

// scriptLine is one line a subscription script writes.
type scriptLine struct {
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
	Message string          `json:"message"`
	Code    int             `json:"code"`
	Reason  string          `json:"reason"`
	URL     string          `json:"url"`
	Gen     int             `json:"gen"`
}

// nodeScript is a running conformance/*.mjs subscription script.
type nodeScript struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan scriptLine
	stderr *syncBuffer
	seen   []string // every line, for failure messages
	gen    int      // lines of older generations (dropped clients) are ignored
}

// startNodeScript runs `node conformance/<script> <args...>` until test
// cleanup, reading its JSON lines.
func startNodeScript(t *testing.T, node, script string, args ...string) *nodeScript {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join("conformance", script)}, args...)...)
	cmd.Env = nodeEnv()
	cmd.WaitDelay = 5 * time.Second
	s := &nodeScript{name: script, cmd: cmd, lines: make(chan scriptLine, 1024), stderr: &syncBuffer{}}
	cmd.Stderr = s.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.stdin = stdin
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l scriptLine
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				l = scriptLine{Type: "text", Message: sc.Text()}
			}
			s.lines <- l
		}
		close(s.lines)
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			cancel()
			<-done
		}
		cancel()
	})
	return s
}

// send writes one command line to the script; after a subscribe command,
// lines about the previous client are ignored.
func (s *nodeScript) send(t *testing.T, cmd map[string]any) {
	t.Helper()
	if cmd["cmd"] == "subscribe" {
		s.gen++
	}
	b, _ := json.Marshal(cmd)
	if _, err := s.stdin.Write(append(b, '\n')); err != nil {
		t.Fatalf("%s: write command: %v", s.name, err)
	}
}

// await returns the next line of type want ("a|b": either), failing on
// timeout or on a line of another type that is not in skip.
func (s *nodeScript) await(t *testing.T, timeout time.Duration, want string, skip ...string) scriptLine {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				t.Fatalf("%s exited while waiting for %q\nlines:\n%s\nstderr:\n%s", s.name, want, strings.Join(s.seen, "\n"), s.stderr)
			}
			s.seen = append(s.seen, fmt.Sprintf("%d %s %s %s %s", l.Gen, l.Type, l.Payload, l.Message, l.Reason))
			if l.Gen < s.gen {
				continue
			}
			if hasString(strings.Split(want, "|"), l.Type) {
				return l
			}
			if l.Type == "text" || hasString(skip, l.Type) {
				continue
			}
			t.Fatalf("%s: got %q (%s %s %d %s) while waiting for %q\nlines:\n%s\nstderr:\n%s", s.name, l.Type, l.Payload, l.Message, l.Code, l.Reason, want,
				strings.Join(s.seen, "\n"), s.stderr)
		case <-deadline:
			t.Fatalf("%s: no %q within %s\nlines:\n%s\nstderr:\n%s", s.name, want, timeout, strings.Join(s.seen, "\n"), s.stderr)
		}
	}
}

// quiet fails if the script reports an event within d, and unless the
// client is still subscribed and the script still running at the end of it: a
// client whose subscription failed, completed or lost its socket, or a script
// that exited, receives no events either, and must not pass for a quiet one.
// It ends with a ping the script must answer after every line before it.
func (s *nodeScript) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				t.Fatalf("%s exited while it should have stayed subscribed\nlines:\n%s\nstderr:\n%s", s.name, strings.Join(s.seen, "\n"), s.stderr)
			}
			s.seen = append(s.seen, fmt.Sprintf("%d %s %s %s %s", l.Gen, l.Type, l.Payload, l.Message, l.Reason))
			if l.Gen < s.gen {
				continue
			}
			switch l.Type {
			case "next":
				t.Fatalf("%s: unexpected extra event %s", s.name, l.Payload)
			case "error", "complete", "closed":
				t.Fatalf("%s: the subscription ended (%s %s %d %s) while it should have stayed open\nlines:\n%s\nstderr:\n%s", s.name,
					l.Type, l.Message, l.Code, l.Reason, strings.Join(s.seen, "\n"), s.stderr)
			}
		case <-deadline:
			s.send(t, map[string]any{"cmd": "ping"})
			s.await(t, 10*time.Second, "pong", "connected")
			return
		}
	}
}

func hasString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// bicEvent is a ballInCourtChanged event as the tests select it.
type bicEvent struct {
	Cursor              string `json:"cursor"`
	Kind                string `json:"kind"`
	ProjectID           string `json:"projectId"`
	ItemKind            string `json:"itemKind"`
	ItemID              string `json:"itemId"`
	PreviousBallInCourt []struct {
		ID string `json:"id"`
	} `json:"previousBallInCourt"`
	BallInCourt []struct {
		ID string `json:"id"`
	} `json:"ballInCourt"`
	Source string `json:"source"`
	RFI    *struct {
		ID          string `json:"id"`
		BallInCourt []struct {
			ID string `json:"id"`
		} `json:"ballInCourt"`
	} `json:"rfi"`
}

func (e bicEvent) court() []string {
	out := make([]string, len(e.BallInCourt))
	for i, p := range e.BallInCourt {
		out[i] = p.ID
	}
	return out
}

func (e bicEvent) previousCourt() []string {
	out := make([]string, len(e.PreviousBallInCourt))
	for i, p := range e.PreviousBallInCourt {
		out[i] = p.ID
	}
	return out
}

const bicSubscription = `subscription($projectId: ID, $after: String) {
  ballInCourtChanged(projectId: $projectId, after: $after) {
    cursor kind projectId itemKind itemId source
    previousBallInCourt { id } ballInCourt { id }
    rfi { id ballInCourt { id } }
  }
}`

// decodeBIC decodes a next payload of bicSubscription, failing on errors.
func decodeBIC(t *testing.T, payload json.RawMessage) bicEvent {
	t.Helper()
	var r struct {
		Data struct {
			BallInCourtChanged bicEvent `json:"ballInCourtChanged"`
		} `json:"data"`
		Errors []gqlError `json:"errors"`
	}
	if err := json.Unmarshal(payload, &r); err != nil || len(r.Errors) > 0 {
		t.Fatalf("event %s: %v %v", payload, err, r.Errors)
	}
	return r.Data.BallInCourtChanged
}

// nextBIC waits for the next event from a graphql-ws script.
func (s *nodeScript) nextBIC(t *testing.T, timeout time.Duration) bicEvent {
	t.Helper()
	return decodeBIC(t, s.await(t, timeout, "next", "connected").Payload)
}

var activeRE = regexp.MustCompile(`(?m)^procoregraph_subscriptions_active (\d+)`)

// waitActive waits until the gateway counts n open subscriptions (each one
// subscribed to the bus and primed: what happens next reaches it).
func waitActive(t *testing.T, p *gatewayProc, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	last := -1
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.URL + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if m := activeRE.FindSubmatch(b); m != nil {
				last, _ = strconv.Atoi(string(m[1]))
				if last == n {
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("gateway %s: %d active subscriptions, want %d\nstderr:\n%s", p.URL, last, n, tail(p.stderr.String(), 3000))
}

func wsURL(p *gatewayProc) string { return "ws" + strings.TrimPrefix(p.URL, "http") + "/graphql" }

// pickRFIs returns a project and open RFIs of it that have a ball in court
// and assignees (so that the ball can be advanced), plus a project user who
// is in nobody's court on the first of them.
func pickRFIs(t *testing.T, sb *sandbox.Running, n int) (project int64, rfis []int64, users []int64) {
	t.Helper()
	sb.ReadDataset(func(d *data.Dataset) {
		for _, p := range d.Projects {
			rfis = rfis[:0]
			for _, r := range p.RFIs {
				if r.Status == data.RFIOpen && len(r.BallInCourtIDs) > 0 && len(r.AssigneeIDs) > 0 {
					rfis = append(rfis, r.ID)
				}
			}
			if len(rfis) >= n {
				project = p.ID
				for _, u := range p.UserIDs {
					if u != d.ServiceUserID && u != d.DemoUserID {
						users = append(users, u)
					}
				}
				rfis = rfis[:n]
				return
			}
		}
	})
	if project == 0 {
		t.Fatalf("no project with %d open RFIs that have assignees", n)
	}
	return project, rfis, users
}

// ballInCourtOf returns an RFI's ball in court in the sandbox.
func ballInCourtOf(sb *sandbox.Running, project, rfi int64) []int64 {
	var out []int64
	sb.ReadDataset(func(d *data.Dataset) {
		for _, p := range d.Projects {
			if p.ID == project {
				out = append(out, p.RFI(rfi).BallInCourtIDs...)
			}
		}
	})
	return out
}

// otherUser returns a user of users that is not in court.
func otherUser(t *testing.T, users, court []int64) int64 {
	t.Helper()
	for _, u := range users {
		if !hasID(court, u) {
			return u
		}
	}
	t.Fatal("no project user outside the ball in court")
	return 0
}

func hasID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func idStrings(xs ...int64) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strconv.FormatInt(x, 10)
	}
	return out
}

// moveBall changes an RFI's ball in court directly in the sandbox, as another
// Procore user would (webhooks fire).
func moveBall(t *testing.T, sb *sandbox.Running, project, rfi, to int64) {
	t.Helper()
	if _, err := sb.Mutate(sandbox.Mutation{Kind: "rfi", ProjectID: project, ID: rfi,
		Set: map[string]json.RawMessage{"ball_in_court_ids": json.RawMessage("[" + strconv.FormatInt(to, 10) + "]")}}); err != nil {
		t.Fatalf("sandbox mutate: %v", err)
	}
}

// sseSubscription is a Go graphql-sse (distinct connections) subscriber.
type sseSubscription struct {
	events chan json.RawMessage
	cancel context.CancelFunc
}

// subscribeSSE opens a subscription over server-sent events.
func subscribeSSE(t *testing.T, url, query string, vars map[string]any) *sseSubscription {
	t.Helper()
	return subscribeSSEAs(t, url, "", query, vars)
}

// subscribeSSEAs is subscribeSSE with a gateway token ("" for the harness key).
func subscribeSSEAs(t *testing.T, url, token, query string, vars map[string]any) *sseSubscription {
	t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return subscribeSSEWith(t, url, h, query, vars)
}

// subscribeSSEWith is subscribeSSE with extra request headers.
func subscribeSSEWith(t *testing.T, url string, h http.Header, query string, vars map[string]any) *sseSubscription {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(withHarnessKey(req))
	if err != nil {
		cancel()
		t.Fatalf("SSE subscribe: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		cancel()
		t.Fatalf("SSE subscribe: %d %s", resp.StatusCode, b)
	}
	s := &sseSubscription{events: make(chan json.RawMessage, 256), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok && strings.HasPrefix(d, "{") {
				s.events <- json.RawMessage(d)
			}
		}
	}()
	t.Cleanup(cancel)
	return s
}

func (s *sseSubscription) nextBIC(t *testing.T, timeout time.Duration) bicEvent {
	t.Helper()
	select {
	case p, ok := <-s.events:
		if !ok {
			t.Fatal("SSE subscription ended")
		}
		return decodeBIC(t, p)
	case <-time.After(timeout):
		t.Fatalf("no SSE event within %s", timeout)
	}
	return bicEvent{}
}
