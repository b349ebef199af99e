package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
)

// protoType and protoMessage have the shape of gqlgen's protocol messages
// (graphqltransportwsMessage, graphqlwsMessage).
type protoType string

type protoMessage struct {
	Payload json.RawMessage `json:"payload,omitempty"`
	ID      string          `json:"id,omitempty"`
	Type    protoType       `json:"type"`
	noOp    bool
}

func TestEncodeMessageWritesWhatEncodingJSONWrites(t *testing.T) {
	sc := &shapeCache{}
	for _, tc := range []struct {
		name string
		msg  any
		// sameBytes: encoding/json would write the same bytes; otherwise it
		// HTML-escapes the payload and only the decoded values agree.
		sameBytes bool
	}{
		{"next with a payload", &protoMessage{ID: "1", Type: "next", Payload: json.RawMessage(`{"data":{"a":1}}`)}, true},
		{"complete without a payload", &protoMessage{ID: "17", Type: "complete"}, true},
		{"ack without id or payload", protoMessage{Type: "connection_ack"}, true},
		{"id needing escapes", &protoMessage{ID: "a\"b\\c\n<&>\u2028é", Type: "next", Payload: json.RawMessage(`{}`)}, true},
		{"payload with HTML characters", &protoMessage{ID: "2", Type: "next", Payload: json.RawMessage(`{"data":{"s":"<a&b>"}}`)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := sc.encodeMessage(tc.msg)
			if !ok {
				t.Fatal("a protocol message was not encoded")
			}
			want, err := json.Marshal(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if tc.sameBytes && !bytes.Equal(got, want) {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("not JSON: %s: %v", got, err)
			}
			_ = json.Unmarshal(want, &w)
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("decoded %v, want %v", g, w)
			}
		})
	}
}

func TestEncodeMessageLeavesOtherValuesToEncodingJSON(t *testing.T) {
	sc := &shapeCache{}
	type withInt struct {
		ID   string `json:"id"`
		Code int    `json:"code"`
	}
	type withStringOption struct {
		ID string `json:"id,string"`
	}
	type embedded struct{ protoMessage }
	var nilMsg *protoMessage
	for name, v := range map[string]any{
		"a map":              map[string]any{"type": "next"},
		"a string":           "next",
		"a nil pointer":      nilMsg,
		"a struct with int":  withInt{ID: "1", Code: 2},
		"a ,string option":   withStringOption{ID: "1"},
		"an embedded struct": embedded{},
		"no exported fields": struct{ a string }{"x"},
	} {
		if b, ok := sc.encodeMessage(v); ok {
			t.Errorf("%s: encoded as a protocol message: %s", name, b)
		}
	}
}

// TestGqlgenMessagesTakeTheDirectPath runs a subscription through gqlgen's
// websocket transport on frameWebsockets, on both subprotocols: the frames
// are what the protocol says, and every type gqlgen wrote was a protocol
// message encodeMessage handled (were gqlgen to change its message types,
// this fails rather than every frame silently taking encoding/json).
func TestGqlgenMessagesTakeTheDirectPath(t *testing.T) {
	for _, sub := range []struct{ protocol, subscribe, next string }{
		{"graphql-transport-ws", "subscribe", "next"},
		{"graphql-ws", "start", "data"},
	} {
		t.Run(sub.protocol, func(t *testing.T) {
			fw := newFrameWebsockets(coderws.AcceptOptions{})
			srv := testserver.New()
			srv.AddTransport(transport.Websocket{Implementation: fw})
			ctx, c, write := dialTestServer(t, srv, sub.protocol)
			read := func() map[string]any {
				for {
					_, b, err := c.Read(ctx)
					if err != nil {
						t.Fatal(err)
					}
					var m map[string]any
					if err := json.Unmarshal(b, &m); err != nil {
						t.Fatalf("frame is not JSON: %s", b)
					}
					if m["type"] != "ka" && m["type"] != "ping" {
						return m
					}
				}
			}
			write(`{"type":"connection_init"}`)
			if m := read(); m["type"] != "connection_ack" {
				t.Fatalf("got %v, want connection_ack", m)
			}
			write(`{"type":"` + sub.subscribe + `","id":"s<1>","payload":{"query":"subscription { name }"}}`)
			// The test server's subscription answers once per
			// SendNextSubscriptionMessage; it may not have subscribed yet.
			deadline := time.Now().Add(5 * time.Second)
			got := make(chan map[string]any, 1)
			go func() { got <- read() }()
			var m map[string]any
		wait:
			for {
				srv.SendNextSubscriptionMessage()
				select {
				case m = <-got:
					break wait
				case <-time.After(20 * time.Millisecond):
					if time.Now().After(deadline) {
						t.Fatal("no answer")
					}
				}
			}
			if m["type"] != sub.next || m["id"] != "s<1>" {
				t.Fatalf("got %v, want %s of s<1>", m, sub.next)
			}
			if data, _ := m["payload"].(map[string]any)["data"].(map[string]any); data["name"] != "test" {
				t.Fatalf("payload %v", m["payload"])
			}
			n := 0
			fw.shapes.m.Range(func(k, v any) bool {
				n++
				if !v.(messageShape).ok {
					t.Errorf("gqlgen wrote a %v, which took encoding/json", k)
				}
				return true
			})
			if n == 0 {
				t.Fatal("no message went through encodeMessage")
			}
		})
	}
}

func TestAppendJSONStringEqualsEncodingJSON(t *testing.T) {
	inputs := []string{"", "1", "sub-42_x.y:z", "a b", "\x7f", "\x00", "é", "<", "&amp;", `"`, `\`, "\u2028", "\xff"}
	for i := range 2000 { // every byte value, alone and inside text
		inputs = append(inputs, "id"+string(rune(i%256))+"x", string([]byte{byte(i % 256)}))
	}
	for _, s := range inputs {
		got, ok := appendJSONString([]byte("prefix"), s)
		want, err := json.Marshal(s)
		if err != nil || !ok {
			t.Fatalf("%q: ok %v, err %v", s, ok, err)
		}
		if string(got) != "prefix"+string(want) {
			t.Fatalf("%q: got %s, want %s", s, got[len("prefix"):], want)
		}
	}
}

// dialTestServer serves srv and opens a socket of protocol to it, for at
// most 10 s; everything is closed when the test ends. write writes one text
// message.
func dialTestServer(t *testing.T, srv http.Handler, protocol string) (ctx context.Context, c *coderws.Conn, write func(string)) {
	t.Helper()
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	c, _, err := coderws.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http"), &coderws.DialOptions{Subprotocols: []string{protocol}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return ctx, c, func(s string) {
		t.Helper()
		if err := c.Write(ctx, coderws.MessageText, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
}
