package rest

import (
	"bytes"
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

// DeleteWebhookTrigger removes one of a hook's triggers.
func (c *Client) DeleteWebhookTrigger(ctx context.Context, companyID, hookID, triggerID int64) error {
	if err := validID("hook id", hookID); err != nil {
		return err
	}
	if err := validID("trigger id", triggerID); err != nil {
		return err
	}
	_, err := c.do(ctx, call{what: "delete a webhook trigger", method: http.MethodDelete,
		path: pathf("/rest/v1.0/webhooks/hooks/%d/triggers/%d", hookID, triggerID), query: companyQuery(companyID), company: companyID})
	return err
}

// WebhookResource is one entry of Procore's webhook resources catalog: a
// name triggers may use (Procore's human string, e.g. "RFIs",
// "Purchase Order Contracts") and the event types it does not fire.
type WebhookResource struct {
	Name            string
	APIVersion      string
	ProductCategory string
	Except          []string // lower case: create, update, delete
}

// Allows reports whether the resource fires eventType.
func (r WebhookResource) Allows(eventType string) bool {
	for _, e := range r.Except {
		if strings.EqualFold(e, eventType) {
			return false
		}
	}
	return true
}

// wireWebhookResource is a catalog entry as GET /rest/v1.0/webhooks/resources
// documents it: {api_version, product_category, tools, except[], create,
// update, delete}, where tools holds the resource name ("Budget Line Items")
// and create/update/delete are legacy strings (documented example: null).
// resource_name and name (the v2.0 catalog's field) are read too, in case a
// deployment sends them; tools may also come as a list.
type wireWebhookResource struct {
	APIVersion      flexString `json:"api_version"`
	ProductCategory flexString `json:"product_category"`
	Tools           flexNames  `json:"tools"`
	ResourceName    flexString `json:"resource_name"`
	Name            flexString `json:"name"`
	Except          flexNames  `json:"except"`
}

func (w wireWebhookResource) resource() WebhookResource {
	name := string(w.ResourceName)
	if name == "" {
		name = string(w.Name)
	}
	if name == "" && len(w.Tools) > 0 {
		name = w.Tools[0]
	}
	r := WebhookResource{Name: strings.TrimSpace(name), APIVersion: string(w.APIVersion), ProductCategory: string(w.ProductCategory)}
	for _, e := range w.Except {
		r.Except = append(r.Except, strings.ToLower(strings.TrimSpace(e)))
	}
	return r
}

// flexNames is a list of strings sent as a JSON array or as one string;
// null is empty, and non-string elements are skipped.
type flexNames []string

func (v *flexNames) UnmarshalJSON(b []byte) error {
	*v = nil
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, jsonNull) {
		return nil
	}
	if b[0] == '[' {
		var raw []flexString
		if err := unmarshal(b, &raw); err != nil {
			return err
		}
		for _, s := range raw {
			if s != "" {
				*v = append(*v, string(s))
			}
		}
		return nil
	}
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	if s != "" {
		*v = flexNames{string(s)}
	}
	return nil
}

// WebhookResources reads the webhook resources catalog for the company scope
// (GET /rest/v1.0/webhooks/resources?company_id=): the resource names its
// hooks' triggers may use. Entries without a name are left out.
func (c *Client) WebhookResources(ctx context.Context, companyID int64) ([]WebhookResource, error) {
	if err := validID("company id", companyID); err != nil {
		return nil, err
	}
	var ws []wireWebhookResource
	if err := c.getJSON(ctx, call{what: "list webhook resources", method: http.MethodGet, path: "/rest/v1.0/webhooks/resources",
		query: companyQuery(companyID), company: companyID}, &ws); err != nil {
		return nil, err
	}
	out := make([]WebhookResource, 0, len(ws))
	for _, w := range ws {
		if r := w.resource(); r.Name != "" {
			out = append(out, r)
		}
	}
	return out, nil
}
