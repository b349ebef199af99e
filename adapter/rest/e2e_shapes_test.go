package rest

// End to end over the sandbox, which takes exactly Procore's published
// shapes and ignores the parameters an endpoint does not have (as Procore
// does): lookups and filters that depended on parameters Procore ignores
// must still find what they look for.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"procoregraph/adapter"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

func TestE2EInactiveProjectsAreFound(t *testing.T) {
	// Every seventh generated project is inactive: eight give one.
	e := startE2E(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 8, ItemsPerProject: 2}}, nil)
	ctx := context.Background()
	var active, inactive, all []int64
	e.read(func(ds *data.Dataset, _ *data.Project) {
		for _, p := range ds.Projects {
			if p.CompanyID != e.companyID {
				continue
			}
			all = append(all, p.ID)
			if p.Active {
				active = append(active, p.ID)
			} else {
				inactive = append(inactive, p.ID)
			}
		}
	})
	if len(inactive) == 0 {
		t.Fatal("no inactive project in the dataset")
	}
	projectID := func(p adapter.Project) int64 { return p.ID }
	for status, want := range map[adapter.ProjectStatus][]int64{adapter.ProjectStatusActive: active,
		adapter.ProjectStatusInactive: inactive, adapter.ProjectStatusAll: all} {
		page, err := e.client.Projects(ctx, e.companyID, adapter.ProjectFilter{Status: &status}, adapter.ListOptions{})
		if err != nil || !slices.Equal(ids(page.Items, projectID), want) || page.Total != len(want) {
			t.Fatalf("%s: %v (Total %d) %v, want %v", status, ids(page.Items, projectID), page.Total, err, want)
		}
	}
	// The lookup by id behind project(id:) and federation: every status.
	st := adapter.ProjectStatusAll
	page, err := e.client.Projects(ctx, e.companyID, adapter.ProjectFilter{Status: &st}, adapter.ListOptions{IDs: []int64{inactive[0], active[0]}})
	want := []int64{active[0], inactive[0]}
	slices.Sort(want)
	if err != nil || !slices.Equal(ids(page.Items, projectID), want) {
		t.Fatalf("by id: %v %v, want %v", ids(page.Items, projectID), err, want)
	}
}

func TestE2EUpdatedSinceOnListsWithoutTheFilter(t *testing.T) {
	e := startE2E(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 5}}, nil)
	ctx := context.Background()
	// Generated cost codes share one updated_at: before any call, move every
	// other one a day later so that a filter has something to split.
	for i, cc := range e.run.Dataset().Project(e.projectID).CostCodes {
		if i%2 == 1 {
			cc.UpdatedAt = cc.UpdatedAt.Add(24 * time.Hour)
		}
	}
	var codes, vendors []time.Time
	var codeIDs, vendorIDs []int64
	e.read(func(ds *data.Dataset, p *data.Project) {
		for _, cc := range p.CostCodes {
			codeIDs, codes = append(codeIDs, cc.ID), append(codes, cc.UpdatedAt)
		}
		co := ds.Company(e.companyID)
		for _, id := range p.VendorIDs {
			vendorIDs, vendors = append(vendorIDs, id), append(vendors, co.Vendor(id).UpdatedAt)
		}
	})
	since := func(ts []time.Time) time.Time { // the latest: fewer than all are as recent
		return slices.MaxFunc(ts, time.Time.Compare)
	}
	keep := func(all []int64, ts []time.Time, since time.Time) []int64 {
		var out []int64
		for i, id := range all {
			if !ts[i].Before(since) {
				out = append(out, id)
			}
		}
		return out
	}
	s := since(codes)
	cc, err := e.client.CostCodes(ctx, e.projectID, adapter.ListOptions{UpdatedSince: &s})
	want := keep(codeIDs, codes, s)
	if got := ids(cc.Items, func(c adapter.CostCode) int64 { return c.ID }); err != nil || !slices.Equal(got, want) || cc.Total != len(want) ||
		len(want) == len(codeIDs) {
		t.Fatalf("cost codes updated since %v: %d (Total %d) %v, want %d of %d", s, len(got), cc.Total, err, len(want), len(codeIDs))
	}
	s = since(vendors)
	pv, err := e.client.ProjectVendors(ctx, e.projectID, adapter.ListOptions{UpdatedSince: &s})
	want = keep(vendorIDs, vendors, s)
	slices.Sort(want)
	got := ids(pv.Items, func(v adapter.Vendor) int64 { return v.ID })
	slices.Sort(got)
	if err != nil || !slices.Equal(got, want) || len(want) == len(vendorIDs) {
		t.Fatalf("project vendors updated since %v: %v %v, want %v of %d", s, got, err, want, len(vendorIDs))
	}
}

func TestE2EUsersByID(t *testing.T) {
	e := startE2E(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 1, ItemsPerProject: 2, UsersPerCompany: 250}}, nil)
	ctx := context.Background()
	var company, project []int64
	e.read(func(ds *data.Dataset, p *data.Project) {
		company = slices.Clone(ds.Company(e.companyID).UserIDs)
		project = slices.Clone(p.UserIDs)
	})
	userID := func(u adapter.User) int64 { return u.ID }
	for name, want := range map[string][]int64{"one": {company[200]}, "several": {company[3], company[150], company[240]}} {
		page, err := e.client.CompanyUsers(ctx, e.companyID, adapter.ListOptions{IDs: append(slices.Clone(want), 1)})
		if got := ids(page.Items, userID); err != nil || !slices.Equal(got, want) || page.Total != len(want) {
			t.Fatalf("company users, %s: %v %v, want %v", name, got, err, want)
		}
	}
	want := []int64{project[1], project[3]}
	slices.Sort(want)
	page, err := e.client.ProjectUsers(ctx, e.projectID, adapter.ListOptions{IDs: []int64{project[3], project[1], 1}})
	if got := ids(page.Items, userID); err != nil || !slices.Equal(got, want) {
		t.Fatalf("project users: %v %v, want %v", got, err, want)
	}
	page, err = e.client.ProjectUsers(ctx, e.projectID, adapter.ListOptions{IDs: []int64{project[2]}})
	if got := ids(page.Items, userID); err != nil || !slices.Equal(got, []int64{project[2]}) {
		t.Fatalf("one project user: %v %v", got, err)
	}
}

func TestE2ESubmittalWithAnUpload(t *testing.T) {
	e := startE2E(t, sandbox.Config{}, nil)
	ctx := context.Background()
	fx := pickWriteFixture(e)
	content := []byte("%PDF-1.4 anchor bolt shop drawing\n")
	sum := sha256.Sum256(content)
	id, err := e.client.Upload(ctx, e.projectID, adapter.UploadInput{Filename: "bolts.pdf", ContentType: "application/pdf",
		Data: content, SHA256: hex.EncodeToString(sum[:])})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.client.CreateSubmittal(ctx, e.projectID, adapter.SubmittalCreate{Number: "UP-1", Title: "Anchor bolts",
		Steps: []adapter.SubmittalStep{{ApproverIDs: []int64{fx.users[0]}}}, UploadIDs: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	var atts []data.Attachment
	e.read(func(_ *data.Dataset, p *data.Project) { atts = slices.Clone(p.Submittal(s.ID).Attachments) })
	if len(atts) != 1 || atts[0].Filename != "bolts.pdf" {
		t.Fatalf("the submittal's attachments in the sandbox: %+v", atts)
	}
}
