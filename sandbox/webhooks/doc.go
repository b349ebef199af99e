// Package webhooks simulates Procore's v1.0 Webhooks API and its delivery
// pipeline for the sandbox.
//
// # Configuration API
//
// Routes returns the HTTP surface as Go 1.22 ServeMux patterns; the sandbox core
// mounts them behind its auth, company-header, rate-limit and stats middleware.
// Handlers read the caller from procoregraph/sandbox/auth.PrincipalFrom and
// answer 401 when there is none.
//
//   - GET|POST /rest/v1.0/webhooks/hooks: list or create hooks. The scope is
//     company_id or project_id, from the query or the body (a body may carry
//     both, as Pipedream sends them; project_id wins). Create body
//     {"company_id"|"project_id", "hook": {"api_version", "namespace",
//     "destination_url", "destination_headers"}} answers 201 with the hook
//     {id, api_version, namespace, destination_url, destination_headers,
//     owned_by_company_id, owned_by_project_id, owned_by_user_id}. namespace is
//     required and must match [a-z0-9-]+; destination_url must be an absolute
//     http(s) URL; api_version is one of v2, v2.0, v3, v3.0, v4.0 (default
//     "v2"); otherwise 422 {"errors": {"field": ["message"]}}. Lists filter by
//     namespace ("*" or absent means every namespace) and api_version.
//   - PATCH|DELETE /rest/v1.0/webhooks/hooks/{id}: PATCH {"hook": {...}} changes
//     the given fields (200); DELETE answers 204, removes the hook's triggers
//     and drops its undelivered events.
//   - GET|POST /rest/v1.0/webhooks/hooks/{hook_id}/triggers and DELETE
//     …/triggers/{id}: a trigger is (resource_name, event_type). POST accepts the
//     documented body {"trigger": {...}}, Pipedream's nested
//     {"hook": {"trigger": {...}}} and the flat v2.0 body {resource_name,
//     event_type}. resource_name must be in the resources catalog and allow
//     the event type; a project hook cannot trigger on a company-level
//     resource; a repeated (resource_name, event_type) on one hook is 422.
//   - GET /rest/v1.0/webhooks/hooks/{hook_id}/deliveries: the delivery log,
//     oldest first, cursor-paginated by page_size (default 100, max 1000) and
//     page_start (the last id of the previous page; records with a greater id
//     follow); filters[status] (or filter[status]) = any|successful|failing|
//     discarded. Each record is {id, event_id, event{the payload},
//     started_at, completed_at, response_status, response_headers,
//     response_body, response_error, outcome}. The newest 10,000 records per
//     hook are kept.
//   - GET /rest/v1.0/webhooks/resources: the catalog for the scope
//     (company_id: every resource, since a company hook may trigger on
//     project-level ones; project_id: project-level ones), as Procore
//     documents it: [{api_version: "v2", product_category, tools: the
//     resource name, except: [event types it does not fire], create, update,
//     delete: null}]. The names are those of Procore's webhook-resources.csv
//     plus "Requisitions" for subcontractor invoices (ResourceRequisitions);
//     "Payment Applications" is the owner side (owner invoices).
//
// A hook is visible when its company is the one the Procore-Company-Id
// header names (the core has already checked the token may see it) and, for
// client-credentials principals, one of Principal.CompanyIDs; with neither a
// header nor CompanyIDs nothing is visible. Anything invisible is 404.
// Config.ProjectCompany, when set, maps a project to its company (unknown or
// invisible project → 404); without it a project hook belongs to the company
// of the header (or company_id). Delivery does not require HTTPS: http
// destinations are accepted so that tests can use loopback receivers.
//
// # Delivery
//
// Emit never blocks: it names the event's resource as the catalog spells it
// (the sandbox core emits subcontractor invoices as "Requisitions"), stamps the event (a seeded int64 id above 2^53, a
// ULID from a seeded monotonic source and the injected clock, a microsecond
// UTC timestamp) and queues one delivery per matching hook. A company hook
// matches every event of its company, a project hook only its project's, and
// a trigger matches on (resource_name, event_type). The payload follows the
// hook's api_version: v2/v2.0 is Procore's v2.0 object {id, ulid, timestamp,
// metadata{source_user_id, source_project_id, source_company_id,
// source_application_id, source_operation_id}, user_id, company_id,
// project_id, api_version, event_type, resource_name, resource_id}; v3 adds
// related_resources: []; v4.0 is {id: ulid, timestamp, reason, company_id,
// project_id, user_id, resource_type, resource_id} with string ids. Zero ids
// are sent as null. It is POSTed with Content-Type: application/json and the
// hook's destination_headers; there is no signature.
//
// Deliveries are queued per destination URL, in order, at least once. A
// non-2xx answer, a timeout (Config.Client, 5 s by default) or a connection
// error pauses that destination: its head event is retried after
// MinBackoff, doubling up to MaxBackoff, each wait plus up to a quarter of
// itself as jitter (never above MaxBackoff), while later events wait behind
// it. When the destination has been failing for DiscardAfter (measured with
// Config.Now), every queued event is flushed and logged as discarded. Any
// success resets the backoff. Log outcomes: ok (2xx), failed (the latest
// attempt failed and a retry is pending), retried (an attempt that failed and
// was tried again), discarded.
//
// Faults: when Config.Duplicate returns true for an event, every delivery of
// it is queued twice (same id and ulid). When Config.Reorder returns true, the
// event is held and queued right after the next emitted event (or after
// ReorderHold when no event follows). Both functions are called with the
// service's lock held and must not call back into the Service.
//
// Close stops every goroutine the Service started, cancelling in-flight
// requests; events still queued are dropped. Emit after Close does nothing.
package webhooks
