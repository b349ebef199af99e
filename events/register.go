package events

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"procoregraph/adapter"
)

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
	// Resources to trigger on. Default WatchedResources.
	Resources []string
	// EventTypes to trigger on. Default create and update.
	EventTypes []string
}

// Registration is what Register found or made.
type Registration struct {
	Hook            adapter.WebhookHook
	CreatedHook     bool
	CreatedTriggers []adapter.WebhookTrigger
}

var namespaceRE = regexp.MustCompile(`^[a-z0-9-]+$`)

// Register makes sure company has one hook in the namespace pointing at
// DestinationURL with the Authorization header, and a trigger for every
// (resource, event type). It is idempotent: an existing hook for the same
// destination is updated (so a rotated Authorization value takes effect) and
// existing triggers are kept.
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
	if len(o.Resources) == 0 {
		o.Resources = WatchedResources
	}
	if len(o.EventTypes) == 0 {
		o.EventTypes = []string{"create", "update"}
	}
	in := adapter.WebhookHookInput{Namespace: o.Namespace, DestinationURL: o.DestinationURL,
		Authorization: o.Authorization, APIVersion: "v2"}

	hooks, err := api.WebhookHooks(ctx, companyID, o.Namespace)
	if err != nil {
		return Registration{}, fmt.Errorf("list webhook hooks: %w", err)
	}
	var reg Registration
	found := false
	for _, h := range hooks {
		if h.Namespace == o.Namespace && h.DestinationURL == o.DestinationURL && h.ProjectID == 0 {
			// The stored Authorization cannot be read back: set it again.
			if reg.Hook, err = api.UpdateWebhookHook(ctx, companyID, h.ID, in); err != nil {
				return Registration{}, fmt.Errorf("update webhook hook %d: %w", h.ID, err)
			}
			found = true
			break
		}
	}
	if !found {
		if reg.Hook, err = api.CreateWebhookHook(ctx, companyID, in); err != nil {
			return Registration{}, fmt.Errorf("create webhook hook: %w", err)
		}
		reg.CreatedHook = true
	}

	existing, err := api.WebhookTriggers(ctx, companyID, reg.Hook.ID)
	if err != nil {
		return reg, fmt.Errorf("list webhook triggers: %w", err)
	}
	have := map[[2]string]bool{}
	for _, t := range existing {
		have[[2]string{t.ResourceName, t.EventType}] = true
	}
	for _, res := range o.Resources {
		for _, et := range o.EventTypes {
			if have[[2]string{res, et}] {
				continue
			}
			t, err := api.CreateWebhookTrigger(ctx, companyID, reg.Hook.ID, res, et)
			if err != nil {
				return reg, fmt.Errorf("create webhook trigger %s/%s: %w", res, et, err)
			}
			reg.CreatedTriggers = append(reg.CreatedTriggers, t)
		}
	}
	return reg, nil
}
