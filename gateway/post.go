package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// postJSON is gqlgen's POST transport (application/json requests) with one
// difference that matters for speed: the answer gqlgen produced is written
// as it is. gqlgen's transport passes the whole response through
// encoding/json, which validates and copies the answer's bytes once more
// (about 6% of the CPU of a dashboard answered from the data cache); the
// answer is gqlgen's own compact JSON, so the copy proves nothing. Like the
// response cache's answers, strings are not HTML-escaped (<, > and & stay as
// they are), which JSON allows. A body that is not JSON is refused without
// repeating it (gqlgen's message quotes the body, which may carry
// variables the client considers secret).
//
// The buffers answers are assembled in are pooled (each up to
// maxPooledAnswer): an answer is written with one Write, so that
// limits.CapBytes can still replace one that is too large with its error,
// and the buffer is free again once Write returns.
type postJSON struct {
	answers *sync.Pool // *bytes.Buffer; nil pools none
}

// maxPooledAnswer bounds the answer buffers kept for reuse.
const maxPooledAnswer = 1 << 20

func newPostJSON() postJSON { return postJSON{answers: &sync.Pool{}} }

var _ graphql.Transport = postJSON{}

// Supports is gqlgen's rule: a POST with a JSON body that is not an upgrade.
func (postJSON) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" || r.Method != http.MethodPost {
		return false
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mediaType == "application/json"
}

// Do runs the request's operation and writes its answer. Status codes
// follow gqlgen's: a protocol error (unparsable or invalid document) is 422
// for application/json clients and 400 for application/graphql-response+json
// ones; a body that is not JSON is 400; anything else 200.
func (p postJSON) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	mediaType := responseMediaType(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", mediaType)
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		p.writeResponse(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("could not read request body: %v", err)}))
		return
	}
	var params graphql.RawParams
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&params); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		p.writeResponse(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("json request body could not be decoded: %v", err)}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	rc, opErr := exec.CreateOperationContext(ctx, &params)
	if opErr != nil {
		if errcode.GetErrorKind(opErr) == errcode.KindProtocol {
			if mediaType == "application/json" {
				w.WriteHeader(http.StatusUnprocessableEntity)
			} else {
				w.WriteHeader(http.StatusBadRequest)
			}
		}
		p.writeResponse(w, exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	p.writeResponse(w, responses(ctx))
}

// writeResponse writes resp as encoding/json would write a graphql.Response
// (the same keys in the same order), but with its data as it is, in one
// Write.
func (p postJSON) writeResponse(w io.Writer, resp *graphql.Response) {
	var b *bytes.Buffer
	if p.answers != nil {
		b, _ = p.answers.Get().(*bytes.Buffer)
	}
	if b == nil {
		b = new(bytes.Buffer)
	}
	appendResponse(b, resp)
	_, _ = w.Write(b.Bytes())
	if p.answers != nil && b.Cap() <= maxPooledAnswer {
		b.Reset()
		p.answers.Put(b)
	}
}

// appendResponse appends resp to b as writeResponse writes it.
func appendResponse(b *bytes.Buffer, resp *graphql.Response) {
	if resp == nil {
		resp = &graphql.Response{}
	}
	b.Grow(len(resp.Data) + 256)
	b.WriteByte('{')
	if len(resp.Errors) > 0 {
		if raw, err := json.Marshal(resp.Errors); err == nil {
			b.WriteString(`"errors":`)
			b.Write(raw)
			b.WriteByte(',')
		}
	}
	b.WriteString(`"data":`)
	if len(resp.Data) == 0 {
		b.WriteString("null")
	} else {
		b.Write(resp.Data)
	}
	rest := struct {
		Label      string         `json:"label,omitempty"`
		Path       any            `json:"path,omitempty"`
		HasNext    *bool          `json:"hasNext,omitempty"`
		Extensions map[string]any `json:"extensions,omitempty"`
	}{Label: resp.Label, HasNext: resp.HasNext, Extensions: resp.Extensions}
	if len(resp.Path) > 0 {
		rest.Path = resp.Path
	}
	if rest.Label != "" || rest.Path != nil || rest.HasNext != nil || len(rest.Extensions) > 0 {
		if raw, err := json.Marshal(rest); err == nil && len(raw) > 2 {
			b.WriteByte(',')
			b.Write(raw[1 : len(raw)-1])
		}
	}
	b.WriteByte('}')
}
