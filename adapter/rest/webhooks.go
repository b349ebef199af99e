package rest

import (
	"context"
	"net/http"
	"strings"

	"procoregraph/adapter"
)

// Procore's Webhooks API v1.0 (procore-api.md §6): company-scoped hooks and
// their triggers.

var _ adapter.Webhooks = (*Client)(nil)

type wireHook struct {
	ID                 flexID            `json:"id"`
	APIVersion         flexString        `json:"api_version"`
	Namespace          flexString        `json:"namespace"`
	DestinationURL     flexString        `json:"destination_url"`
	DestinationHeaders map[string]string `json:"destination_headers"`
	OwnedByCompanyID   flexID            `json:"owned_by_company_id"`
	OwnedByProjectID   flexID            `json:"owned_by_project_id"`
}

func (w wireHook) hook(companyID int64) adapter.WebhookHook {
	h := adapter.WebhookHook{
		ID: int64(w.ID), Namespace: string(w.Namespace), DestinationURL: string(w.DestinationURL),
		APIVersion: string(w.APIVersion), CompanyID: int64(w.OwnedByCompanyID), ProjectID: int64(w.OwnedByProjectID),
	}
	if h.CompanyID == 0 {
		h.CompanyID = companyID
	}
	for k, v := range w.DestinationHeaders {
		if strings.EqualFold(k, "Authorization") && v != "" {
			h.HasAuthorization = true
		}
	}
	return h
}

type wireTrigger struct {
	ID           flexID     `json:"id"`
	HookID       flexID     `json:"webhook_hook_id"`
	ResourceName flexString `json:"resource_name"`
	EventType    flexString `json:"event_type"`
}

func (w wireTrigger) trigger() adapter.WebhookTrigger {
	return adapter.WebhookTrigger{ID: int64(w.ID), HookID: int64(w.HookID), ResourceName: string(w.ResourceName),
		EventType: strings.ToLower(string(w.EventType))}
}

func hookBody(companyID int64, in adapter.WebhookHookInput) map[string]any {
	v := in.APIVersion
	if v == "" {
		v = "v2"
	}
	hook := map[string]any{"api_version": v, "namespace": in.Namespace, "destination_url": in.DestinationURL}
	if in.Authorization != "" {
		hook["destination_headers"] = map[string]string{"Authorization": in.Authorization}
	}
	return map[string]any{"company_id": companyID, "hook": hook}
}

// WebhookHooks lists the company's hooks in namespace ("" = all).
func (c *Client) WebhookHooks(ctx context.Context, companyID int64, namespace string) ([]adapter.WebhookHook, error) {
	if err := validID("company id", companyID); err != nil {
		return nil, err
	}
	q := companyQuery(companyID)
	if namespace != "" {
		q.Set("namespace", namespace)
	}
	var ws []wireHook
	if err := c.getJSON(ctx, call{what: "list webhook hooks", method: http.MethodGet, path: "/rest/v1.0/webhooks/hooks",
		query: q, company: companyID}, &ws); err != nil {
		return nil, err
	}
	out := make([]adapter.WebhookHook, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.hook(companyID))
	}
	return out, nil
}

// CreateWebhookHook creates a company hook.
func (c *Client) CreateWebhookHook(ctx context.Context, companyID int64, in adapter.WebhookHookInput) (adapter.WebhookHook, error) {
	if err := validID("company id", companyID); err != nil {
		return adapter.WebhookHook{}, err
	}
	var w wireHook
	if err := c.getJSON(ctx, call{what: "create a webhook hook", method: http.MethodPost, path: "/rest/v1.0/webhooks/hooks",
		query: companyQuery(companyID), body: hookBody(companyID, in), company: companyID}, &w); err != nil {
		return adapter.WebhookHook{}, err
	}
	return w.hook(companyID), nil
}

// UpdateWebhookHook changes a hook's destination, headers or payload version.
func (c *Client) UpdateWebhookHook(ctx context.Context, companyID, hookID int64, in adapter.WebhookHookInput) (adapter.WebhookHook, error) {
	if err := validID("company id", companyID); err != nil {
		return adapter.WebhookHook{}, err
	}
	if err := validID("hook id", hookID); err != nil {
		return adapter.WebhookHook{}, err
	}
	var w wireHook
	if err := c.getJSON(ctx, call{what: "update a webhook hook", method: http.MethodPatch,
		path: pathf("/rest/v1.0/webhooks/hooks/%d", hookID), query: companyQuery(companyID),
		body: hookBody(companyID, in), company: companyID}, &w); err != nil {
		return adapter.WebhookHook{}, err
	}
	return w.hook(companyID), nil
}

// WebhookTriggers lists a hook's triggers.
func (c *Client) WebhookTriggers(ctx context.Context, companyID, hookID int64) ([]adapter.WebhookTrigger, error) {
	if err := validID("hook id", hookID); err != nil {
		return nil, err
	}
	var ws []wireTrigger
	if err := c.getJSON(ctx, call{what: "list webhook triggers", method: http.MethodGet,
		path: pathf("/rest/v1.0/webhooks/hooks/%d/triggers", hookID), query: companyQuery(companyID), company: companyID}, &ws); err != nil {
		return nil, err
	}
	out := make([]adapter.WebhookTrigger, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.trigger())
	}
	return out, nil
}

// CreateWebhookTrigger makes the hook fire on (resourceName, eventType).
func (c *Client) CreateWebhookTrigger(ctx context.Context, companyID, hookID int64, resourceName, eventType string) (adapter.WebhookTrigger, error) {
	if err := validID("hook id", hookID); err != nil {
		return adapter.WebhookTrigger{}, err
	}
	body := map[string]any{"company_id": companyID, "api_version": "v2",
		"trigger": map[string]string{"resource_name": resourceName, "event_type": eventType}}
	var w wireTrigger
	if err := c.getJSON(ctx, call{what: "create a webhook trigger", method: http.MethodPost,
		path: pathf("/rest/v1.0/webhooks/hooks/%d/triggers", hookID), query: companyQuery(companyID),
		body: body, company: companyID}, &w); err != nil {
		return adapter.WebhookTrigger{}, err
	}
	return w.trigger(), nil
}
