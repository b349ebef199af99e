package portal

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"procoregraph/adapter/rest"
	"procoregraph/cache"
)

// CodeQuery asks a CodeProvider for the SMS or email code of one login.
type CodeQuery struct {
	// BaseURL is the login host the login runs against.
	BaseURL string
	// Email is the login email.
	Email string
	// Method is MFASMS or MFAEmail.
	Method MFAMethod
	// Address is where the code was sent: MFA.CodeAddress, else Email.
	Address string
	// SentAfter is when the login started: codes sent earlier belong to
	// other logins and must not be returned.
	SentAfter time.Time
}

// CodeProvider delivers the one-time codes Procore sends by SMS or email.
// Code blocks until a code sent after q.SentAfter to q.Address is available
// or ctx is done (then it returns ctx's error). Implementations must be safe
// for concurrent use and must not log codes.
type CodeProvider interface {
	Code(ctx context.Context, q CodeQuery) (string, error)
}

// Names of the providers this package offers, as conventionally registered
// in Options.CodeProviders.
const (
	// ProviderOutbox reads the sandbox's outbox (OutboxCodes).
	ProviderOutbox = "outbox"
	// ProviderInbox reads codes pushed to the Manager's webhook (CodeInbox).
	ProviderInbox = "inbox"
)

// OutboxCodes reads codes from the Procore sandbox's outbox,
// GET {BaseURL}/_sandbox/outbox?to=<address>, polling until one sent after
// the login started appears. It is for the sandbox only: real Procore has no
// outbox.
type OutboxCodes struct {
	// BaseURL is the sandbox's URL. Default: the login's BaseURL.
	BaseURL string
	// HTTPClient makes the requests. Default: a client with a 5s timeout.
	HTTPClient *http.Client
	// Poll is the wait between two reads. Default: 50ms.
	Poll time.Duration
	// Clock paces the polling. Default: the wall clock.
	Clock rest.Clock
}

// Code implements CodeProvider.
func (o *OutboxCodes) Code(ctx context.Context, q CodeQuery) (string, error) {
	base := o.BaseURL
	if base == "" {
		base = q.BaseURL
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	poll := o.Poll
	if poll <= 0 {
		poll = 50 * time.Millisecond
	}
	clock := o.Clock
	if clock == nil {
		clock = rest.WallClock{}
	}
	u := strings.TrimRight(base, "/") + "/_sandbox/outbox?" + url.Values{"to": {q.Address}}.Encode()
	for {
		code, err := o.read(ctx, hc, u, q)
		if err != nil {
			return "", err
		}
		if code != "" {
			return code, nil
		}
		if err := clock.Sleep(ctx, poll); err != nil {
			return "", err
		}
	}
}

func (o *OutboxCodes) read(ctx context.Context, hc *http.Client, u string, q CodeQuery) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("portal: reading the sandbox outbox: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("portal: the sandbox outbox answered %d", resp.StatusCode)
	}
	var msgs []struct {
		Channel string    `json:"channel"`
		Code    string    `json:"code"`
		SentAt  time.Time `json:"sent_at"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(&msgs); err != nil {
		return "", fmt.Errorf("portal: decoding the sandbox outbox: %w", err)
	}
	// Newest first: a resent code replaces the earlier one.
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if (m.Channel == "" || MFAMethod(m.Channel) == q.Method) && !m.SentAt.Before(q.SentAfter) && m.Code != "" {
			return m.Code, nil
		}
	}
	return "", nil
}

// InboxOptions configures a CodeInbox. Zero values mean the defaults.
type InboxOptions struct {
	// Store keeps the delivered codes; share it between replicas (Redis) so
	// that a code delivered to one reaches a login on another. Required.
	Store cache.Store
	// Key encrypts the codes at rest (32 bytes, AES-256-GCM). Required.
	Key []byte
	// Secret is the bearer token a delivering webhook must send
	// (Authorization: Bearer <Secret>). Required.
	Secret string
	// TTL is how long a delivered code is kept. Default: 10 minutes.
	TTL time.Duration
	// Poll is the wait between two store reads while a login waits for a
	// code. Default: 100ms.
	Poll time.Duration
	// Clock stamps deliveries and paces polling. Default: the wall clock.
	Clock rest.Clock
}

// CodeInbox is a CodeProvider fed by a webhook: an SMS gateway (Twilio-style
// form posts with To and Body), a mail forwarder or any program POSTs the
// message it received, and the login waiting for that address takes the code
// out of it. Codes are kept encrypted in the store, single-use, for TTL.
type CodeInbox struct {
	o    InboxOptions
	seal *sealer
}

// NewCodeInbox returns a CodeInbox; it fails when a required option is
// missing.
func NewCodeInbox(o InboxOptions) (*CodeInbox, error) {
	if o.Store == nil {
		return nil, errors.New("portal: InboxOptions.Store is required")
	}
	if o.Secret == "" {
		return nil, errors.New("portal: InboxOptions.Secret is required")
	}
	s, err := newSealer(o.Key, nil)
	if err != nil {
		return nil, err
	}
	if o.TTL <= 0 {
		o.TTL = 10 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 100 * time.Millisecond
	}
	if o.Clock == nil {
		o.Clock = rest.WallClock{}
	}
	return &CodeInbox{o: o, seal: s}, nil
}

// codePattern finds a one-time code (4 to 8 digits) in a message.
var codePattern = regexp.MustCompile(`\b\d{4,8}\b`)

type inboxItem struct {
	Code string    `json:"c"`
	At   time.Time `json:"at"`
}

func inboxKey(address string) string {
	return cache.AuxKey("portal-inbox", "code", strings.ToLower(strings.TrimSpace(address)))
}

// Deliver records the code found in text (the first run of 4 to 8 digits)
// for address, replacing an earlier one.
func (b *CodeInbox) Deliver(ctx context.Context, address, text string) error {
	code := codePattern.FindString(text)
	if strings.TrimSpace(address) == "" || code == "" {
		return errors.New("portal: a delivery needs an address and a message with a code")
	}
	plain, err := json.Marshal(inboxItem{Code: code, At: b.o.Clock.Now()})
	if err != nil {
		return err
	}
	key := inboxKey(address)
	blob, err := b.seal.seal(key, plain)
	if err != nil {
		return err
	}
	return b.o.Store.Set(ctx, key, blob, b.o.TTL)
}

// Code implements CodeProvider: it waits for a code delivered for q.Address
// after q.SentAfter and consumes it.
func (b *CodeInbox) Code(ctx context.Context, q CodeQuery) (string, error) {
	key := inboxKey(q.Address)
	for {
		it, ok, err := b.o.Store.Get(ctx, key)
		if err != nil {
			return "", fmt.Errorf("portal: reading the code inbox: %w", err)
		}
		if ok {
			if plain, err := b.seal.open(key, it.Value); err == nil {
				var item inboxItem
				if json.Unmarshal(plain, &item) == nil && !item.At.Before(q.SentAfter) {
					// Single use: only the caller that removes it gets it.
					if took, err := b.o.Store.CompareAndDelete(ctx, key, it.Value); err == nil && took {
						return item.Code, nil
					}
				}
			}
		}
		if err := b.o.Clock.Sleep(ctx, b.o.Poll); err != nil {
			return "", err
		}
	}
}

// ServeHTTP receives deliveries: POST with Authorization: Bearer <Secret>
// and either a JSON body {"to": "...", "text": "..."} ("code" instead of
// "text" works too) or form fields To and Body (Twilio's SMS webhook). It
// answers 204 when the code was recorded, 400 for a message without one,
// 401 without the secret and 405 for other methods.
func (b *CodeInbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(b.o.Secret)) != 1 {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	var to, text string
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		var body struct {
			To, Text, Code string
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "invalid JSON", http.StatusBadRequest)
			return
		}
		to, text = body.To, body.Text
		if text == "" {
			text = body.Code
		}
	} else {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "invalid form", http.StatusBadRequest)
			return
		}
		to, text = r.PostForm.Get("To"), r.PostForm.Get("Body")
		if to == "" {
			to, text = r.PostForm.Get("to"), r.PostForm.Get("text")
		}
	}
	if err := b.Deliver(r.Context(), to, text); err != nil {
		http.Error(w, "a delivery needs an address (to) and a message with a code", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
