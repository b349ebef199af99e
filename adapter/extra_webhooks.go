package adapter

import "context"

// WebhookHook is a Procore webhook hook: a destination for one company's (or
// one project's) events, isolated by namespace. Its Authorization header value
// is never returned: it is a secret.
type WebhookHook struct {
	ID             int64
	Namespace      string
	DestinationURL string
	// APIVersion is the payload format ("v2" is Procore's v2.0 payload).
	APIVersion string
	CompanyID  int64
	ProjectID  int64 // 0 for a company hook
	// HasAuthorization reports whether the hook sends an Authorization header.
	HasAuthorization bool
}

// WebhookHookInput creates or updates a hook.
type WebhookHookInput struct {
	// Namespace isolates an app's hooks: lowercase a-z, 0-9 and '-'.
	Namespace      string
	DestinationURL string
	// Authorization is sent by Procore as the Authorization header of every
	// delivery (destination_headers); the receiver compares it.
	Authorization string
	// APIVersion is the payload format; default "v2".
	APIVersion string
}

// WebhookTrigger makes a hook fire for one resource and event type.
type WebhookTrigger struct {
	ID           int64
	HookID       int64
	ResourceName string // Procore's human name, e.g. "RFIs", "Submittals"
	EventType    string // create, update or delete
}

// Webhooks is Procore's Webhooks API (v1.0) for one connection. Hooks are
// company-scoped here. Errors are *Error as for Reader: CodeForbidden when the
// app lacks the Webhooks API permission, CodeNotFound for an unknown hook,
// CodeBadUserInput for a refused input.
type Webhooks interface {
	// WebhookHooks lists the company's hooks in namespace ("" = every namespace).
	WebhookHooks(ctx context.Context, companyID int64, namespace string) ([]WebhookHook, error)
	CreateWebhookHook(ctx context.Context, companyID int64, in WebhookHookInput) (WebhookHook, error)
	UpdateWebhookHook(ctx context.Context, companyID, hookID int64, in WebhookHookInput) (WebhookHook, error)
	WebhookTriggers(ctx context.Context, companyID, hookID int64) ([]WebhookTrigger, error)
	CreateWebhookTrigger(ctx context.Context, companyID, hookID int64, resourceName, eventType string) (WebhookTrigger, error)
}
