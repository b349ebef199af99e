package gateway

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// TestWriteResponseEqualsEncodingJSON: every shape of answer postJSON writes
// decodes to what encoding/json's encoding of the same graphql.Response
// (gqlgen's own transport) decodes to, and is valid JSON.
func TestWriteResponseEqualsEncodingJSON(t *testing.T) {
	yes := true
	for _, tc := range []struct {
		name string
		resp *graphql.Response
	}{
		{"data only", &graphql.Response{Data: json.RawMessage(`{"projects":{"nodes":[{"id":"1","name":"<b>&\u2028"}]}}`)}},
		{"no data is null", &graphql.Response{}},
		{"errors and null data", &graphql.Response{Errors: gqlerror.List{{Message: "boom", Path: ast.Path{ast.PathName("a"), ast.PathIndex(2)}, Extensions: map[string]any{"code": "X"}}}}},
		{"errors, data and extensions", &graphql.Response{Errors: gqlerror.List{{Message: "partial"}}, Data: json.RawMessage(`{"a":null}`), Extensions: map[string]any{"serverTime": "t", "n": 3}}},
		{"incremental fields", &graphql.Response{Data: json.RawMessage(`{"b":1}`), Label: "l", Path: ast.Path{ast.PathName("x")}, HasNext: &yes}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got bytes.Buffer
			postJSON{}.writeResponse(&got, tc.resp)
			want, err := json.Marshal(tc.resp)
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got.Bytes(), &g); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, got.Bytes())
			}
			if err := json.Unmarshal(want, &w); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("got  %s\nwant %s", got.Bytes(), want)
			}
		})
	}
}

// TestPooledAnswerBuffersDoNotCarryOneAnswerIntoTheNext: answers written
// one after the other through one transport (its buffers pooled) are each
// exactly their own, whether the one before was larger or smaller.
func TestPooledAnswerBuffersDoNotCarryOneAnswerIntoTheNext(t *testing.T) {
	p := newPostJSON()
	for i, size := range []int{5000, 10, 70000, 3, 1 << 21, 8} {
		data := `{"s":"` + string(bytes.Repeat([]byte{byte('a' + i)}, size)) + `"}`
		var got bytes.Buffer
		p.writeResponse(&got, &graphql.Response{Data: json.RawMessage(data)})
		if want := `{"data":` + data + `}`; got.String() != want {
			t.Fatalf("answer %d (%d bytes): got %.60s… (%d bytes), want %.60s… (%d bytes)", i, size, got.String(), got.Len(), want, len(want))
		}
	}
}
