package events

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"procoregraph/adapter"
)

// CatalogResource is one entry of Procore's webhook resources catalog
// (GET /rest/v1.0/webhooks/resources): a resource name triggers may use and
// the event types it does not fire.
type CatalogResource struct {
	Name   string
	Except []string // "create", "update" or "delete"
}

// Allows reports whether the resource fires eventType.
func (r CatalogResource) Allows(eventType string) bool {
	return !slices.ContainsFunc(r.Except, func(e string) bool { return strings.EqualFold(e, eventType) })
}

// RegisterOptions configure Register.
type RegisterOptions struct {
	// Namespace isolates this gateway's hooks (lowercase a-z, 0-9, '-').
	// Default "procoregraph".
	Namespace string
	// DestinationURL is where Procore posts deliveries: the gateway's public
	// https URL ending in /webhooks/procore. Required.
	DestinationURL string
	// Authorization is the header value Procore sends with every delivery
	// and the receiver checks (WebhookOptions.Authorization). Required.
	Authorization string
	// Catalog reads the company's webhook resources catalog. Required:
	// triggers are created only for resource names it lists.
	Catalog func(ctx context.Context, companyID int64) ([]CatalogResource, error)
	// Items to trigger on. Default WatchedItems.
	Items []WatchedItem
	// EventTypes to trigger on. Default create, update and delete (delete
	// feeds the DELETED tombstones of the change feed).
	EventTypes []string
}

// Registration is what Register found or made.
type Registration struct {
	Hook            adapter.WebhookHook
	CreatedHook     bool
	CreatedTriggers []adapter.WebhookTrigger
	// DeletedTriggers are triggers of our hook that no watched item needs
	// any more (a resource an older version followed), removed
	// when the client can delete triggers.
	DeletedTriggers []adapter.WebhookTrigger
	// Resources maps each watched item kind that the catalog carries to the
	// resource names registered for it.
	Resources map[ItemKind][]string
	// Missing lists the watched items none of whose names is in the catalog:
	// webhooks cannot report them (the poller and mutations still do).
	Missing []WatchedItem
}

// TriggerDeleter is the optional part of a Webhooks client that Register
// uses to remove our hook's stale triggers.
type TriggerDeleter interface {
	DeleteWebhookTrigger(ctx context.Context, companyID, hookID, triggerID int64) error
}

var namespaceRE = regexp.MustCompile(`^[a-z0-9-]+$`)

// Register makes sure company has one hook in the namespace pointing at
// DestinationURL with the Authorization header, and exactly the triggers the
// watched items need: for each item, the first of its names that the catalog
// lists, with each event type the resource fires. It is idempotent: an
// existing hook for the same destination is updated (so a rotated
// Authorization value takes effect), existing triggers are kept, and triggers
// of that hook that nothing needs are deleted (when api is a TriggerDeleter).
func Register(ctx context.Context, api adapter.Webhooks, companyID int64, o RegisterOptions) (Registration, error) {
	if o.Namespace == "" {
		o.Namespace = "procoregraph"
	}
	if !namespaceRE.MatchString(o.Namespace) {
		return Registration{}, fmt.Errorf("events: webhook namespace %q: use lowercase letters, digits and '-'", o.Namespace)
	}
	if o.DestinationURL == "" || o.Authorization == "" {
		return Registration{}, errors.New("events: registering webhooks needs a destination URL and an Authorization value")
	}
	if o.Catalog == nil {
		return Registration{}, errors.New("events: registering webhooks needs Procore's resources catalog (RegisterOptions.Catalog)")
	}
	if len(o.Items) == 0 {
		o.Items = WatchedItems
	}
	if len(o.EventTypes) == 0 {
		o.EventTypes = []string{"create", "update", "delete"}
	}
	catalog, err := o.Catalog(ctx, companyID)
	if err != nil {
		return Registration{}, fmt.Errorf("read the webhook resources catalog: %w", err)
	}
	reg := Registration{Resources: map[ItemKind][]string{}}
	want := wantedTriggers(catalog, o.Items, o.EventTypes, &reg)

	in := adapter.WebhookHookInput{Namespace: o.Namespace, DestinationURL: o.DestinationURL,
		Authorization: o.Authorization, APIVersion: "v2"}
	hooks, err := api.WebhookHooks(ctx, companyID, o.Namespace)
	if err != nil {
		return reg, fmt.Errorf("list webhook hooks: %w", err)
	}
	found := false
	for _, h := range hooks {
		if h.Namespace == o.Namespace && h.DestinationURL == o.DestinationURL && h.ProjectID == 0 {
			// The stored Authorization cannot be read back: set it again.
			if reg.Hook, err = api.UpdateWebhookHook(ctx, companyID, h.ID, in); err != nil {
				return reg, fmt.Errorf("update webhook hook %d: %w", h.ID, err)
			}
			found = true
			break
		}
	}
	if !found {
		if reg.Hook, err = api.CreateWebhookHook(ctx, companyID, in); err != nil {
			return reg, fmt.Errorf("create webhook hook: %w", err)
		}
		reg.CreatedHook = true
	}

	existing, err := api.WebhookTriggers(ctx, companyID, reg.Hook.ID)
	if err != nil {
		return reg, fmt.Errorf("list webhook triggers: %w", err)
	}
	have := map[[2]string]bool{}
	deleter, canDelete := api.(TriggerDeleter)
	for _, t := range existing {
		k := [2]string{t.ResourceName, strings.ToLower(t.EventType)}
		if !slices.Contains(want, k) && canDelete {
			if err := deleter.DeleteWebhookTrigger(ctx, companyID, reg.Hook.ID, t.ID); err != nil && !adapter.IsNotFound(err) {
				return reg, fmt.Errorf("delete stale webhook trigger %s/%s: %w", t.ResourceName, t.EventType, err)
			}
			reg.DeletedTriggers = append(reg.DeletedTriggers, t)
			continue
		}
		have[k] = true
	}
	relisted := false
	for _, k := range want {
		if have[k] {
			continue
		}
		t, err := api.CreateWebhookTrigger(ctx, companyID, reg.Hook.ID, k[0], k[1])
		if err != nil {
			// Replicas starting together race to create the same
			// triggers, and Procore refuses the loser's ("has already
			// been taken"). Read the hook's triggers again, once: a
			// trigger that exists now is registered.
			if !relisted {
				relisted = true
				if now, lerr := api.WebhookTriggers(ctx, companyID, reg.Hook.ID); lerr == nil {
					for _, x := range now {
						have[[2]string{x.ResourceName, strings.ToLower(x.EventType)}] = true
					}
				}
			}
			if have[k] {
				continue
			}
			return reg, fmt.Errorf("create webhook trigger %s/%s: %w", k[0], k[1], err)
		}
		reg.CreatedTriggers = append(reg.CreatedTriggers, t)
	}
	return reg, nil
}

// wantedTriggers picks, for each item, the first of its names the catalog
// lists (in the catalog's spelling), and the event types it fires. Items with
// no listed name go to reg.Missing.
func wantedTriggers(catalog []CatalogResource, items []WatchedItem, eventTypes []string, reg *Registration) [][2]string {
	byName := make(map[string]CatalogResource, len(catalog))
	for _, r := range catalog {
		byName[strings.ToLower(r.Name)] = r
	}
	var want [][2]string
	for _, it := range items {
		var res CatalogResource
		found := false
		for _, n := range it.Names {
			if res, found = byName[strings.ToLower(n)]; found {
				break
			}
		}
		if !found {
			reg.Missing = append(reg.Missing, it)
			continue
		}
		if !slices.Contains(reg.Resources[it.Kind], res.Name) {
			reg.Resources[it.Kind] = append(reg.Resources[it.Kind], res.Name)
		}
		for _, et := range eventTypes {
			k := [2]string{res.Name, strings.ToLower(et)}
			if res.Allows(et) && !slices.Contains(want, k) {
				want = append(want, k)
			}
		}
	}
	return want
}
