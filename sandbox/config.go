package sandbox

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"procoregraph/sandbox/auth"
	"procoregraph/sandbox/data"
)

// Defaults of Config.
const (
	DefaultClientID       = "sandbox-client-id"
	DefaultClientSecret   = "sandbox-client-secret"
	DefaultDemoEmail      = data.DemoEmail
	DefaultDemoPassword   = "sandbox-password"
	DefaultDemoTOTPSecret = "SANDBOXDEMOTOTPSECRETPROCOREGRAP" // base32, 160 bits; SHA-1, 6 digits, 30 s
	DefaultHourlyLimit    = 3600
	DefaultSpikeLimit     = 100
	DefaultSpikeWindow    = 10 * time.Second
	DefaultHourlyWindow   = time.Hour
	DefaultOverloadRetry  = 2 * time.Second
)

// Values of Config.Contract.
const (
	// ContractRecord serves every request and counts the ways it leaves
	// Procore's published contract in Stats.ContractViolations.
	ContractRecord = "record"
	// ContractEnforce answers a request outside the contract as Procore
	// would (400 for query parameters, 422 for body keys), before the handler.
	ContractEnforce = "enforce"
	// ContractOff does not check.
	ContractOff = "off"
)

// Config configures a sandbox Server. Zero values mean the documented default.
type Config struct {
	// Seed drives the generated data (and the fault PRNG). Same seed, same bytes.
	Seed int64
	// Data sizes the generated dataset (companies, projects per company, items
	// per project, per-type overrides); see data.Options for its defaults.
	// Data.Seed is ignored: Seed is used.
	Data data.Options

	// ClientID and ClientSecret are the default OAuth app's credentials.
	// Defaults "sandbox-client-id" / "sandbox-client-secret".
	ClientID     string
	ClientSecret string
	// ClientCompanyIDs are the companies where the default app is installed
	// (what its client_credentials tokens see). Nil means every company.
	ClientCompanyIDs []int64
	// ExtraClients are further OAuth apps. A nil CompanyIDs means every company;
	// a zero ServiceUserID means the dataset's service account.
	ExtraClients []auth.Client

	// DemoEmail, DemoPassword and DemoTOTPSecret are the demo web user's login
	// (the dataset's demo person, a member of every company and project).
	// Defaults demo@procoregraph.dev / "sandbox-password" / DefaultDemoTOTPSecret.
	DemoEmail      string
	DemoPassword   string
	DemoTOTPSecret string
	// DemoMFA is the demo user's second factor: "totp" (default), "sms",
	// "email", or "none".
	DemoMFA string
	// DemoAdmin makes the demo user a company admin (any invoice status).
	// Default false: a standard user, who may only set draft or under_review.
	DemoAdmin bool
	// ExtraUsers are further web users; UserID must be a dataset person.
	ExtraUsers []auth.WebUser

	// TokenTTL is the access token lifetime. Default 5400 s.
	TokenTTL time.Duration
	// SessionTTL is the web session lifetime. Default: auth's (2 h).
	SessionTTL time.Duration

	// HourlyLimit is the per-token request budget of the hourly window.
	// Default 3600; -1 disables the window.
	HourlyLimit int
	// SpikeLimit is the per-token budget of the spike window. Default 100; -1 disables.
	SpikeLimit int
	// SpikeWindow is the spike window's length. Default 10 s.
	SpikeWindow time.Duration
	// HourlyWindow is the hourly window's length. Default 1 h.
	HourlyWindow time.Duration

	// Faults are the fault settings at start (changeable at runtime).
	Faults Faults

	// Now is the clock for tokens, sessions, rate limits, storms and the
	// updated_at of writes. Default time.Now. Generated data never reads it.
	Now func() time.Time
	// Logger receives request errors. Default: discard.
	Logger *slog.Logger

	// WebhookClient posts webhook deliveries. Default: webhooks' (5 s timeout).
	WebhookClient *http.Client
	// WebhookMinBackoff and WebhookMaxBackoff bound delivery retries.
	// Defaults: webhooks' (1 s and 1 h).
	WebhookMinBackoff time.Duration
	WebhookMaxBackoff time.Duration
	// UploadTTL is how long presigned upload URLs accept bytes. Default 1 h.
	UploadTTL time.Duration
	// BaseURL is the sandbox's absolute URL for links it hands out (upload
	// URLs). Default: set by Start, else taken from the first request's Host.
	BaseURL string

	// Contract is how /rest requests are checked against Procore's published
	// contract (operation, query parameters, body keys; package
	// sandbox/contract): ContractEnforce (default) refuses a request outside
	// it as Procore would, ContractRecord counts violations in
	// Stats.ContractViolations and serves the request anyway, ContractOff
	// does not check. Any other value means ContractEnforce. Every mode
	// counts violations except ContractOff.
	Contract string
}

func (c Config) withDefaults() Config {
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.ClientSecret == "" {
		c.ClientSecret = DefaultClientSecret
	}
	if c.DemoEmail == "" {
		c.DemoEmail = DefaultDemoEmail
	}
	if c.DemoPassword == "" {
		c.DemoPassword = DefaultDemoPassword
	}
	if c.DemoTOTPSecret == "" {
		c.DemoTOTPSecret = DefaultDemoTOTPSecret
	}
	switch c.DemoMFA {
	case "":
		c.DemoMFA = "totp"
	case "none":
		c.DemoMFA = ""
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = 5400 * time.Second
	}
	if c.HourlyLimit == 0 {
		c.HourlyLimit = DefaultHourlyLimit
	}
	if c.SpikeLimit == 0 {
		c.SpikeLimit = DefaultSpikeLimit
	}
	if c.SpikeWindow <= 0 {
		c.SpikeWindow = DefaultSpikeWindow
	}
	if c.HourlyWindow <= 0 {
		c.HourlyWindow = DefaultHourlyWindow
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch c.Contract = strings.ToLower(strings.TrimSpace(c.Contract)); c.Contract {
	case ContractRecord, ContractEnforce, ContractOff:
	default:
		c.Contract = ContractEnforce
	}
	c.Data.Seed = c.Seed
	return c
}
