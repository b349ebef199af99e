package portal

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
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
	// Address is where the code was sent, resolved by the Manager, never
	// chosen by the client: the login email for email codes, the number
	// configured for the login (Options.SMSNumbers) for SMS codes, or the
	// login email with the sandbox outbox.
	Address string
	// Login identifies the login attempt (random, new for every attempt):
	// CodeInbox binds the codes delivered to Address to this attempt alone.
	Login string
	// SentAfter is when the login started: codes sent earlier belong to
	// other logins and must not be returned.
	SentAfter time.Time
}

// CodeProvider delivers the one-time codes Procore sends by SMS or email.
// Code blocks until a code sent after q.SentAfter to q.Address is available
// for the login q.Login or ctx is done (then it returns ctx's error).
// Implementations must be safe for concurrent use and must not log codes.
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
// the login started appears. The address is the one the Manager resolved:
// the login email, or for SMS the number configured for the login; the
// sandbox matches it against a message's recipient or its login email. It
// is for the sandbox only: real Procore has no outbox.
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

// Errors of CodeInbox.
var (
	// ErrAddressBusy: another login is already waiting for a code sent to
	// the same address; a code arriving there could belong to either, so
	// the second login fails at once instead of racing the first.
	ErrAddressBusy = errors.New("portal: another login is already waiting for a code sent to this address")
	// ErrNoPendingLogin: a code was delivered for an address no login is
	// waiting on; it is not stored (CodeInbox.ServeHTTP answers 409).
	ErrNoPendingLogin = errors.New("portal: no login is waiting for a code sent to this address")
)

// errInvalidDelivery: a delivery without an address or without a code.
var errInvalidDelivery = errors.New("portal: a delivery needs an address and a message with a code")

// InboxOptions configures a CodeInbox. Zero values mean the defaults.
type InboxOptions struct {
	// Store keeps the address claims and the delivered codes; share it
	// between replicas (Redis) so that a code delivered to one reaches a
	// login on another. Required.
	Store cache.Store
	// Key encrypts the codes at rest (32 bytes, AES-256-GCM). Required.
	Key []byte
	// Secret is the bearer token a delivering webhook must send
	// (Authorization: Bearer <Secret>). Required.
	Secret string
	// TTL is how long a delivered code is kept for its login. Default: 10
	// minutes.
	TTL time.Duration
	// ClaimTTL is how long a waiting login's claim on its address lives
	// when it is not released (the replica died while waiting); a login
	// renews its claim while it waits. Default: 2 minutes.
	ClaimTTL time.Duration
	// Poll is the wait between two store reads while a login waits for a
	// code. Default: 100ms.
	Poll time.Duration
	// Clock stamps deliveries and paces polling. Default: the wall clock.
	Clock rest.Clock
}

// CodeInbox is a CodeProvider fed by a webhook: an SMS gateway (Twilio-style
// form posts with To and Body), a mail forwarder or any program POSTs the
// message it received for an address.
//
// Codes are bound to the login that waits for them, never to whoever names
// the address: a login waiting for a code (Code) first claims its address in
// the store (SET NX, one login per address at a time; a second one fails at
// once with ErrAddressBusy), and a delivery (Deliver) is stored, encrypted
// and for TTL, under the claiming login's own key, where only that login
// reads it, once. A delivery for an address no login has claimed is refused
// with ErrNoPendingLogin and stored nowhere, so no code waits for a login
// that starts later. The claim is released when Code returns.
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
	if o.ClaimTTL <= 0 {
		o.ClaimTTL = 2 * time.Minute
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

// normAddress is the form addresses are compared in.
func normAddress(address string) string { return strings.ToLower(strings.TrimSpace(address)) }

// claimKey holds the id of the login waiting for a code sent to address.
// The address is hashed: store keys carry no phone number or email.
func claimKey(address string) string {
	h := sha256.Sum256([]byte("procoregraph portal inbox address\x00" + normAddress(address)))
	return cache.AuxKey("portal-inbox", "claim", hex.EncodeToString(h[:16]))
}

// codeKey holds the (sealed) code delivered for one login attempt.
func codeKey(login string) string {
	return cache.AuxKey("portal-inbox", "code", login)
}

// newLoginID returns a random login attempt id (CodeQuery.Login).
func newLoginID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Deliver records the code found in text (the first run of 4 to 8 digits)
// for the login waiting on address, replacing a code delivered to it
// earlier. With no login waiting it stores nothing and returns
// ErrNoPendingLogin.
func (b *CodeInbox) Deliver(ctx context.Context, address, text string) error {
	code := codePattern.FindString(text)
	if strings.TrimSpace(address) == "" || code == "" {
		return errInvalidDelivery
	}
	it, ok, err := b.o.Store.Get(ctx, claimKey(address))
	if err != nil {
		return fmt.Errorf("portal: reading the code inbox: %w", err)
	}
	if !ok || len(it.Value) == 0 {
		return ErrNoPendingLogin
	}
	plain, err := json.Marshal(inboxItem{Code: code, At: b.o.Clock.Now()})
	if err != nil {
		return err
	}
	key := codeKey(string(it.Value))
	blob, err := b.seal.seal(key, plain)
	if err != nil {
		return err
	}
	if err := b.o.Store.Set(ctx, key, blob, b.o.TTL); err != nil {
		return fmt.Errorf("portal: writing the code inbox: %w", err)
	}
	return nil
}

// Code implements CodeProvider: it claims q.Address for the login q.Login
// (failing at once with ErrAddressBusy when another login holds it), waits
// for a code delivered to that login after q.SentAfter, consumes it and
// releases the claim. An empty q.Login gets a random id of its own.
func (b *CodeInbox) Code(ctx context.Context, q CodeQuery) (string, error) {
	if strings.TrimSpace(q.Address) == "" {
		return "", errors.New("portal: the code inbox needs the address the code is sent to")
	}
	login := q.Login
	if login == "" {
		login = newLoginID()
	}
	claim, own := claimKey(q.Address), []byte(login)
	took, err := b.o.Store.SetNX(ctx, claim, own, b.o.ClaimTTL)
	if err != nil {
		return "", fmt.Errorf("portal: claiming the address in the code inbox: %w", err)
	}
	if !took {
		return "", ErrAddressBusy
	}
	key := codeKey(login)
	defer func() {
		// Released even when ctx ended, but never waited on for long.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = b.o.Store.CompareAndDelete(rctx, claim, own)
		_ = b.o.Store.Delete(rctx, key) // a code that came too late
	}()
	renewed := b.o.Clock.Now()
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
		if now := b.o.Clock.Now(); now.Sub(renewed) >= b.o.ClaimTTL/2 {
			if err := b.renew(ctx, claim, own); err != nil {
				return "", err
			}
			renewed = now
		}
		if err := b.o.Clock.Sleep(ctx, b.o.Poll); err != nil {
			return "", err
		}
	}
}

// renew extends the login's claim on its address, taking it again when it
// expired meanwhile; it fails with ErrAddressBusy when another login took
// the address in between.
func (b *CodeInbox) renew(ctx context.Context, claim string, own []byte) error {
	ok, err := b.o.Store.CompareAndSwap(ctx, claim, own, own, b.o.ClaimTTL)
	if err == nil && !ok {
		ok, err = b.o.Store.SetNX(ctx, claim, own, b.o.ClaimTTL)
		if err == nil && !ok {
			return ErrAddressBusy
		}
	}
	if err != nil {
		return fmt.Errorf("portal: renewing the address claim in the code inbox: %w", err)
	}
	return nil
}

// ServeHTTP receives deliveries: POST with Authorization: Bearer <Secret>
// and either a JSON body {"to": "...", "text": "..."} ("code" instead of
// "text" works too) or form fields To and Body (Twilio's SMS webhook). It
// answers 204 when the code was recorded for the login waiting on the
// address, 409 when no login is waiting there (the code is dropped; a
// gateway may post it again while a login starts), 400 for a message
// without an address or a code, 401 without the secret, 405 for other
// methods and 503 when the store fails.
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
	switch err := b.Deliver(r.Context(), to, text); {
	case err == nil:
	case errors.Is(err, errInvalidDelivery):
		http.Error(w, "a delivery needs an address (to) and a message with a code", http.StatusBadRequest)
		return
	case errors.Is(err, ErrNoPendingLogin):
		http.Error(w, "no login is waiting for a code sent to this address", http.StatusConflict)
		return
	default:
		http.Error(w, "the code inbox is unavailable", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
