// Package sandbox is procoregraph's Procore simulator: a seeded, deterministic,
// fault-injectable Procore that the demo (`go run .`), every test and every
// benchmark reach over real HTTP, through the same adapter that reaches real
// Procore. It follows ../shared/procore-api.md and the route contract in
// sandbox/ROUTES.md, quirks included.
//
// # Serving
//
// New(cfg) builds a Server; Handler() serves everything on one listener: the
// login host (/oauth/*, the web portal /login…/app, from package
// sandbox/auth), the API host (/rest/*) and the admin paths (/_sandbox/*).
// Start(ctx, cfg, "127.0.0.1:0") serves it on a loopback port and returns a
// Running with its URL; it stops on Close or when ctx is done. Main is the
// `sandbox` subcommand (flags -addr 127.0.0.1:9400 -seed -companies -projects
// -items -latency -jitter -hourly-limit -spike-limit -client-id -client-secret);
// it prints the URL and credentials and serves until ctx is done.
//
// # Defaults and credentials
//
//   - OAuth client: client_id "sandbox-client-id", client_secret
//     "sandbox-client-secret" (client_credentials sees every company; its
//     /me is the "Sandbox Service Account" person).
//   - Demo web user: demo@procoregraph.dev / "sandbox-password", MFA TOTP
//     (RFC 6238, SHA-1, 6 digits, 30 s) with the base32 secret
//     SANDBOXDEMOTOTPSECRETPROCOREGRAP. A member of every company and project;
//     a standard user (Config.DemoAdmin makes it an admin).
//   - Data: seed 0, 2 companies × 3 projects × 20 items (RFIs, submittals,
//     observations, punch items), 20 people and 12 vendors per company; see
//     data.Options. Ids are int64 above 2^32; timestamps derive from the seed.
//   - Rate limits per token (auth.Principal.TokenID): 3600 per hour and 100
//     per 10 s (fixed windows; -1 disables one). Token TTL 5400 s.
//
// # REST behaviour
//
// Every /rest request passes, in order: fault latency; authentication (Bearer
// token or _procore_session cookie plus X-CSRF-Token on writes) and statistics;
// 429 storm and 503 overload faults; 401 {"error":"invalid_token",…}; the rate
// limit (X-Rate-Limit-Limit/Remaining/Reset on every response, for the window
// closer to exhaustion; 429 with the legacy text body once either is spent;
// every request that is not itself refused with 429 counts, failures
// included); injected 5xx; the Procore-Company-Id header (missing → 400
// {"errors":"Missing Procore-Company-Id header!"}, a company the caller cannot
// see → 404; optional only for people calling /rest/v1.0/me and
// /rest/v1.0/companies); a {project_id} path of another company or invisible
// project → 404; then the handler (whose body the stall_body fault holds).
//
// Lists are bare arrays with Total, Per-Page and Link (absolute, every query
// parameter kept, rel first/prev/next/last); per_page is clamped to the
// endpoint's maximum; filters[id][] / filters[id], filters[updated_at]=A...B
// (RFC 3339 or dates, a date as upper bound includes its day), filters[status]
// and friends; sort=f,-g and sort[attribute]/sort[direction]. Validation
// errors are 422 {"errors":{"field":["can't be blank"]}}; business-rule
// refusals are 422 {"error":{"code":"unprocessable_entity","message":…}};
// missing permission is 403 {"errors":…}; what the caller may not see is 404
// {"errors":"Resource not found"}.
//
// Business rules: RFI creates get the next number (drafts none) and put the
// ball in court with the assignees (else the manager); accepted:true closes,
// false reopens; advance_ball_in_court toggles manager ↔ assignees;
// forward_for_review hands it to the forwardee; a reply by an assignee holding
// the ball returns it to the manager once all of them answered. Submittal
// ball in court follows the approval workflow (pending approvers of the first
// unfinished step). Approved/Complete work orders and Approved/Closed
// purchase orders lock their SOV (422 on line item changes). Invoices
// (requisitions) need an invoiceable (approved) commitment; their G702 is
// computed from the G703 items to the cent (retainage rounded half away from
// zero per line); only the latest invoice of a commitment is editable; status
// changes follow a transition table (approved and approved_as_noted are final)
// and roles (client_credentials and admins may set any status, standard users
// only draft and under_review, else 403). Writes bump updated_at (strictly
// increasing, from Config.Now) and emit webhook events after the data lock is
// released: "RFIs", "RFI Replies", "Submittals", "Work Order Contracts",
// "Purchase Order Contracts" (+ " Line Items"), "Change Order Packages"
// (commitment change orders; prime change orders and 3-tier packages changed
// by /_sandbox/mutate too), "Change Events" and "Potential Change Orders"
// (by /_sandbox/mutate), "Requisitions" (subcontractor invoices; Procore's
// "Payment Applications" is the owner side: owner invoices, by
// /_sandbox/mutate), "Observation Items", "Punch Items".
// Every /rest request is checked against Procore's published contract
// (sandbox/contract, Config.Contract: record, enforce or off); commitment
// change orders are served on 1- and 2-tier projects only, their amounts as
// v2.0 line items (ROUTES.md).
//
// # Faults (GET/PUT /_sandbox/faults, Server.SetFaults)
//
//	{
//	  "latency": "50ms", "jitter": "20ms",    // added to every /rest request
//	  "error_rate": 0.2,                      // fraction answered 500/502/503 (seeded PRNG)
//	  "rate_limit_storm": "30s",              // every /rest request 429 for 30 s from now
//	  "overload": true, "overload_retry_after": "2s", // 503 + Retry-After
//	  "stall_body": true,                     // headers and one byte, then the body is held
//	  "drift": {"extra_fields": true, "missing_optional_field": true, "unknown_enum": true},
//	  "duplicate_webhooks": 0.5, "reorder_webhooks": 0.5
//	}
//
// PUT replaces the settings (absent fields are off). Durations are Go duration
// strings or milliseconds. See Faults and Drift for the exact effects.
//
// # Admin (/_sandbox/, no auth)
//
//	GET  /_sandbox/health            {"status":"ok"}
//	GET  /_sandbox/stats             Stats: total, by_route (ServeMux pattern), by_token, by_client, token_requests, logins
//	POST /_sandbox/stats/reset       zero the counters
//	POST /_sandbox/ratelimits/reset  full budgets for every token
//	GET|PUT /_sandbox/faults         the fault settings
//	POST /_sandbox/expire            {"tokens":true,"sessions":true}
//	GET  /_sandbox/outbox?to=        [{to, channel, code, sent_at}] MFA codes sent by SMS/email
//	POST /_sandbox/mutate            a Mutation: change an item as another Procore user would, firing webhooks
//
// Go accessors for tests in the same process: Stats, ResetStats,
// ResetRateLimits, Faults, SetFaults, ExpireTokens, ExpireSessions, Outbox,
// Mutate, Dataset and ReadDataset (on Server and so on Running).
package sandbox
