package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"procoregraph/graphiql"
	"procoregraph/limits"
	"procoregraph/persisted"
)

// routes is the whole HTTP surface.
func routes(d Deps, gql http.Handler) http.Handler {
	mux := http.NewServeMux()
	if !d.NoGraphiQL {
		// GraphiQL and its scripts come from the binary: it works offline.
		if gi, err := graphiql.New("procoregraph", "/graphql"); err != nil {
			d.Logger.Error("graphiql: embedded assets unreadable; no GraphiQL at /", "err", err)
		} else {
			gi.Register(mux)
		}
	}
	mux.Handle("/graphql", withSyncHeaders(withRequestState(d, withRateLimit(d, limits.Body(d.MaxBody,
		persisted.DocumentIDs(capAnswer(d, withResponseCache(d.ResponseCache, withMutations(d, legacyJSONStatus(gql))))))))))
	mux.HandleFunc("GET /healthz", healthz(d))
	mux.HandleFunc("GET /readyz", readyz(d))
	if d.Sessions != nil {
		d.Sessions.Register(mux)
	}
	if d.SignIn != nil {
		d.SignIn.Register(mux)
	}
	if d.SessionCodes != nil {
		mux.Handle("POST /sessions/codes", d.SessionCodes)
	}
	if d.Webhooks != nil {
		mux.Handle("POST /webhooks/procore", d.Webhooks)
	}
	if d.Bulk != nil {
		mux.Handle("GET /bulk/{id}", d.Bulk) // the signature is the credential
	}
	if d.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{}))
	}
	return mux
}

func healthz(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if d.Health != nil {
			if err := d.Health(r.Context()); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				_ = json.NewEncoder(w).Encode(map[string]string{"status": "unavailable", "error": err.Error()})
				return
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
	}
}

// ReadinessCheck is one condition of /readyz.
type ReadinessCheck struct {
	// Name names the dependency in a 503's body ("redis", "procore_token").
	Name string
	// Check returns nil when the dependency is ready. It must respect ctx
	// (/readyz gives all checks 2 s together) and its error must not carry
	// a secret: the message is shown to whoever asks.
	Check func(ctx context.Context) error
}

// readyz answers 200 while the replica takes new requests, and 503 once it
// drains for a shutdown (Deps.Draining), a dependency fails (Deps.Health) or
// a readiness check fails (Deps.Ready: Redis unreachable, no Procore token);
// the body names what is not ready. /healthz (liveness) stays 200 meanwhile.
func readyz(d Deps) http.HandlerFunc {
	live := healthz(d)
	return func(w http.ResponseWriter, r *http.Request) {
		if d.Draining != nil && d.Draining.Err() != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]string{"status": "draining"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		type failure struct {
			Check string `json:"check"`
			Error string `json:"error"`
		}
		var failed []failure
		for _, c := range d.Ready {
			if err := c.Check(ctx); err != nil {
				failed = append(failed, failure{Check: c.Name, Error: err.Error()})
			}
		}
		if len(failed) > 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]any{"status": "unavailable", "failed": failed})
			return
		}
		live(w, r)
	}
}

// capAnswer bounds the bytes of answers that are not streams.
func capAnswer(d Deps, next http.Handler) http.Handler {
	capped := limits.CapBytes(d.MaxAnswerBytes, next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isStream(r) {
			next.ServeHTTP(w, r)
			return
		}
		capped.ServeHTTP(w, r)
	})
}
