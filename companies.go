package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"procoregraph/adapter/rest"
	"procoregraph/tenant"
)

// maxCompanies bounds the companies one gateway serves (PROCORE_COMPANY_IDS,
// or discovered with `all`): each gets a connection, a poller and webhooks.
const maxCompanies = 100

// companiesSetting is PROCORE_COMPANY_IDS: the companies the service
// connection serves besides (or with) PROCORE_COMPANY_ID.
type companiesSetting struct {
	// IDs are the configured companies, the default first; nil with All or
	// when the setting is empty.
	IDs []int64
	// All discovers every company the credential sees at start
	// (GET /rest/v1.0/companies, sent with the default company's header,
	// as Procore wants for client-credentials tokens).
	All bool
}

// many reports whether the gateway may serve more than one company.
func (s companiesSetting) many() bool { return s.All || len(s.IDs) > 1 }

// parseCompaniesSetting reads PROCORE_COMPANY_IDS: empty, "all", or a
// comma-separated list of positive company ids. defaultID
// (PROCORE_COMPANY_ID, 0 when unset) must be among them and is moved first;
// unset, the first listed is the default.
func parseCompaniesSetting(s string, defaultID int64) (companiesSetting, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return companiesSetting{}, nil
	}
	if strings.EqualFold(s, "all") {
		return companiesSetting{All: true}, nil
	}
	var ids []int64
	for _, f := range splitList(s) {
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil || id <= 0 {
			return companiesSetting{}, fmt.Errorf("PROCORE_COMPANY_IDS: %q is not a company id: want comma-separated positive Procore company ids, or all", f)
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return companiesSetting{}, fmt.Errorf("PROCORE_COMPANY_IDS %q: want comma-separated positive Procore company ids, or all", s)
	}
	if len(ids) > maxCompanies {
		return companiesSetting{}, fmt.Errorf("PROCORE_COMPANY_IDS lists %d companies: at most %d per gateway", len(ids), maxCompanies)
	}
	if defaultID != 0 {
		i := slices.Index(ids, defaultID)
		if i < 0 {
			return companiesSetting{}, fmt.Errorf("PROCORE_COMPANY_ID %d is not in PROCORE_COMPANY_IDS (%s): the default company must be one of the companies served", defaultID, s)
		}
		ids = append([]int64{defaultID}, slices.Delete(ids, i, i+1)...)
	}
	return companiesSetting{IDs: ids}, nil
}

// serviceCompanies are the service connections of every company the
// gateway serves: Default (PROCORE_COMPANY_ID, else the first) and the
// others, each with its own connection id, so that caches, response caches,
// events and pollers never mix companies. They share one Procore client's
// credential, token, rate-limit budget and concurrency bound
// (rest.Client.ForCompany).
type serviceCompanies struct {
	Default *tenant.Connection
	// All are every served company's connection, the default first.
	All []*tenant.Connection
}

// ByCompany returns the connection of company id, if the gateway serves it.
func (s *serviceCompanies) ByCompany(id int64) (*tenant.Connection, bool) {
	for _, c := range s.All {
		if c.CompanyID == id {
			return c, true
		}
	}
	return nil, false
}

// IDs are the served companies, the default first.
func (s *serviceCompanies) IDs() []int64 {
	out := make([]int64, len(s.All))
	for i, c := range s.All {
		out[i] = c.CompanyID
	}
	return out
}

// others are the connections besides the default.
func (s *serviceCompanies) others() []*tenant.Connection { return s.All[1:] }

// newServiceCompanies builds the connections of the configured companies
// around the default connection def (whose client is procore). With more
// than one company (or all) it asks Procore once, at start, which companies
// the credential sees, and refuses to start, naming them, when a configured
// company is not among them.
func newServiceCompanies(ctx context.Context, cfg config, procore *rest.Client, def *tenant.Connection) (*serviceCompanies, error) {
	s := &serviceCompanies{Default: def, All: []*tenant.Connection{def}}
	set := cfg.Companies
	if !set.many() {
		if len(set.IDs) == 1 && set.IDs[0] != def.CompanyID {
			return nil, fmt.Errorf("PROCORE_COMPANY_IDS %d is not the gateway's company %d", set.IDs[0], def.CompanyID)
		}
		return s, nil
	}
	seen, err := procore.Companies(ctx)
	if err != nil {
		return nil, fmt.Errorf("PROCORE_COMPANY_IDS: cannot list the companies the Procore credential sees (sent with Procore-Company-Id %d, the default company): %w", def.CompanyID, err)
	}
	visible := make([]int64, len(seen))
	for i, c := range seen {
		visible[i] = c.ID
	}
	want := set.IDs
	if set.All {
		want = append([]int64{def.CompanyID}, slices.DeleteFunc(slices.Clone(visible), func(id int64) bool { return id == def.CompanyID })...)
		if len(want) > maxCompanies {
			return nil, fmt.Errorf("PROCORE_COMPANY_IDS=all: the credential sees %d companies, at most %d per gateway: list the ones to serve", len(want), maxCompanies)
		}
	}
	if want[0] != def.CompanyID {
		return nil, fmt.Errorf("PROCORE_COMPANY_IDS: the default company %d must come first", def.CompanyID)
	}
	for _, id := range want {
		if !slices.Contains(visible, id) {
			return nil, fmt.Errorf("PROCORE_COMPANY_IDS: the Procore credential does not see company %d (it sees %s): install the app in that company or remove it", id, joinIDs(visible))
		}
	}
	for _, id := range want[1:] {
		client, err := procore.ForCompany(id)
		if err != nil {
			return nil, err
		}
		s.All = append(s.All, &tenant.Connection{
			ID:        connectionID(cfg.APIURL, cfg.ClientID, id),
			CompanyID: id,
			UserKey:   def.UserKey,
			Procore:   client,
		})
	}
	return s, nil
}

func joinIDs(ids []int64) string {
	if len(ids) == 0 {
		return "none"
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ", ")
}
