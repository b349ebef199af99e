package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"procoregraph/adapter"
	"procoregraph/adapter/portal"
	"procoregraph/adapter/rest"
	"procoregraph/audit"
	"procoregraph/cache"
	"procoregraph/reqstats"
	"procoregraph/sessions"
	"procoregraph/streams"
	"procoregraph/tenant"
)

// newSessions wires browser-session logins: a portal.Manager (its Chromium
// starts on the first login) keeping encrypted sessions in store, and the
// sessions.Service that maps their gateway tokens to connections.
// It also returns the code inbox handler for POST /sessions/codes (nil unless
// PORTAL_CODE_PROVIDER=inbox).
//
// watch, when not nil, runs for each session connection this process serves
// (the poller of its changes) until the session ends.
func newSessions(cfg config, key []byte, logger *slog.Logger, observe func(string, string, int, time.Duration), drift *rest.Drift, store cache.Store,
	watch func(context.Context, *tenant.Connection), rev streams.Publisher, auditLog *audit.Logger) (*sessions.Service, http.Handler, func(), error) {
	if cfg.LoginURL == "" {
		// parseConfig derives it; a config built elsewhere may not have.
		cfg.LoginURL = rest.LoginURLFor(cfg.APIURL)
	}
	providers := map[string]portal.CodeProvider{}
	var inboxHandler http.Handler
	provider := cfg.PortalCodeProvider
	if provider == "" && cfg.PortalInboxSecret != "" {
		provider = "inbox"
	}
	switch provider {
	case "outbox":
		providers[portal.ProviderOutbox] = &portal.OutboxCodes{BaseURL: cfg.LoginURL}
	case "inbox":
		inbox, err := portal.NewCodeInbox(portal.InboxOptions{Store: store, Key: key, Secret: cfg.PortalInboxSecret})
		if err != nil {
			return nil, nil, nil, err
		}
		providers[portal.ProviderInbox] = inbox
		inboxHandler = inbox
	}
	m, err := portal.New(portal.Options{
		Store:          store,
		Key:            key,
		CodeProviders:  providers,
		SMSNumbers:     cfg.PortalSMSNumbers,
		BrowserOptions: portal.BrowserOptions{Path: cfg.ChromiumPath, Logger: logger},
		Logger:         logger,
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("browser sessions: %w", err)
	}
	svc, err := sessions.New(sessions.Options{
		Manager:     m,
		LoginURL:    cfg.LoginURL,
		Watch:       watch,
		Revocations: rev,
		Audit:       auditLog,
		Store:       store, // login lockouts hold on every replica
		NewClient: func(creds rest.Credentials, companyID int64) (adapter.Procore, error) {
			return rest.New(rest.Config{
				APIURL: cfg.APIURL, LoginURL: cfg.LoginURL, Credentials: creds, CompanyID: companyID,
				MaxConcurrency: cfg.MaxConcurrency,
				HTTPClient:     &http.Client{Transport: reqstats.Transport{Next: rest.NewBaseTransport(cfg.MaxConcurrency)}},
				OnUpstreamCall: observe,
				Logger:         logger,
				Drift:          drift,
			})
		},
	})
	if err != nil {
		_ = m.Close()
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	go m.Run(ctx, 0)
	return svc, inboxHandler, func() { cancel(); svc.Close(); _ = m.Close() }, nil
}
