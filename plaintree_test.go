package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"procoregraph/graph"
	"procoregraph/sandbox"
	"procoregraph/sandbox/data"
)

type plainTreeQuery struct {
	name string
	q    string
	vars map[string]any
}

// plainTreeQueries, with the bench dashboard (bench/queries), exercise what the plain sub-tree renderer must write as
// gqlgen does: every plain field of the read types (scalars of each kind,
// enums, money, dates, nullable objects that are null and not, empty and
// full lists), aliases, __typename, named and inline fragments, fields
// selected twice (merged), @skip and @include on variables both ways, and
// plain sub-trees under fields gqlgen executes (resolvers between them).
var plainTreeQueries = []plainTreeQuery{
	{name: "EveryPlainFieldOfTheReadTypes", q: `{
  viewer { id login name company { id name isActive } }
  companies { id name isActive }
  projects(first: 3) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id } }
    nodes {
      id name displayName projectNumber address city stateCode countryCode zip timeZone active stage
      startDate completionDate totalValue createdAt updatedAt
      rfis(first: 30) {
        totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id subject } }
        nodes {
          id number fullNumber subject status draft private dueDate initiatedAt timeResolved ballInCourtRole
          ballInCourt { id login name firstName lastName jobTitle isActive }
          assignees { id login name firstName lastName jobTitle isActive }
          rfiManager { id login name firstName lastName jobTitle isActive }
          receivedFrom { id name }
          responsibleContractor { id name abbreviatedName tradeName city stateCode emailAddress businessPhone isActive }
          costCode { id code fullCode name }
          costImpact { status value }
          scheduleImpact { status value }
          createdAt updatedAt
        }
      }
      submittals(first: 30) {
        totalCount
        nodes {
          id number formattedNumber revision title description type specSection dueDate issueDate submitBy
          status { id name status }
          ballInCourt { id name }
          submittalManager { id name login }
          receivedFrom { id name }
          distribution { id name }
          createdAt updatedAt
        }
      }
      commitments(first: 20) {
        totalCount
        nodes {
          id kind number title status executed retainagePercent grandTotal revisedContract approvedChangeOrders
          pendingChangeOrders totalPayments remainingBalance contractDate createdAt updatedAt
          vendor { id name abbreviatedName tradeName city stateCode emailAddress businessPhone isActive }
          invoices(first: 20) {
            totalCount pageInfo { hasNextPage endCursor }
            nodes {
              id number invoiceNumber status periodStart periodEnd billingDate vendorName final createdAt updatedAt
              summary {
                originalContractSum netChangeByChangeOrders contractSumToDate totalCompletedAndStoredToDate
                completedWorkRetainagePercent completedWorkRetainageAmount storedMaterialsRetainagePercent
                storedMaterialsRetainageAmount totalRetainage totalEarnedLessRetainage lessPreviousCertificates
                currentPaymentDue balanceToFinishIncludingRetainage
              }
            }
          }
        }
      }
      observations(first: 20) { nodes { id number name description status priority typeName dueDate assignee { id name } createdAt updatedAt } }
      punchItems(first: 20) { nodes { id number name description status workflowStatus priority dueDate ballInCourt { id name } punchItemManager { id } closedAt createdAt updatedAt } }
      billingPeriods { id startDate endDate dueDate position status }
    }
  }
}`},
	{name: "AliasesTypenamesFragmentsAndMergedFields", q: `query Shapes($due: Boolean!, $people: Boolean!) {
  projects(first: 2) {
    nodes {
      __typename
      first: rfis(first: 5) {
        __typename
        count: totalCount
        items: nodes { __typename ...RFIBits key: id id subject ... on RFI { number status } dueDate @include(if: $due) }
        nodes { id }
        nodes { subject ballInCourt @skip(if: $people) { id } }
      }
      second: rfis(first: 3) { nodes { ...RFIBits ballInCourt @include(if: $people) { ...UserBits name } } }
      submittals(first: 4) { nodes { ... on Submittal { id status { __typename ... on SubmittalStatus { name } id } } } }
    }
  }
}
fragment RFIBits on RFI { id subject costImpact { status value } assignees { ...UserBits } }
fragment UserBits on User { __typename id login }`, vars: map[string]any{"due": true, "people": false}},
	{name: "TheSameShapesWithTheVariablesTurned", q: `query Shapes($due: Boolean!, $people: Boolean!) {
  projects(first: 2) {
    nodes {
      first: rfis(first: 5) {
        items: nodes { ...RFIBits dueDate @include(if: $due) }
        nodes { subject ballInCourt @skip(if: $people) { id } }
      }
      second: rfis(first: 3) { nodes { ...RFIBits ballInCourt @include(if: $people) { ...UserBits name } } }
    }
  }
}
fragment RFIBits on RFI { id subject costImpact { status value } assignees { ...UserBits } }
fragment UserBits on User { __typename id login }`, vars: map[string]any{"due": false, "people": true}},
	{name: "CommitmentInvoicesByVariablesAliasesAndCursors", q: `query Inv($n: Int, $since: DateTime, $vendor: Boolean!) {
  projects(first: 3) {
    nodes {
      commitments(first: 10) {
        nodes {
          id vendor @include(if: $vendor) { id name } v2: vendor { name }
          few: invoices(first: $n) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id } } }
          invoices(updatedSince: $since) { totalCount nodes { id updatedAt } }
          none: invoices(first: 0) { totalCount nodes { id } pageInfo { hasNextPage } }
          later: invoices(updatedSince: "2100-01-01T00:00:00Z") { totalCount nodes { id } }
        }
        edges { cursor node { id invoices(first: 1) { nodes { id number } } } }
      }
    }
  }
}`, vars: map[string]any{"n": 1, "since": "2000-01-01T00:00:00Z", "vendor": true}},
	{name: "CommitmentInvoicesWhoseArgumentsTheResolverRefuses", q: `{
  projects(first: 2) {
    nodes {
      commitments(first: 3) {
        nodes {
          id
          negative: invoices(first: -1) { totalCount }
          huge: invoices(first: 100000) { totalCount }
          garbage: invoices(after: "not a cursor") { totalCount }
          backwards: invoices(updatedSince: "2026-02-01T00:00:00Z", updatedBefore: "2026-01-01T00:00:00Z") { totalCount }
        }
      }
    }
  }
}`},
	{name: "ProjectListsByVariablesAliasesEdgesAndOrders", q: `query P($n: Int, $since: DateTime, $none: Int) {
  projects(first: 3) {
    totalCount
    edges { cursor node { id rfis(first: $n) { totalCount pageInfo { endCursor hasNextPage } nodes { id subject } } } }
    nodes {
      id name
      rfis(first: 5, updatedSince: $since) { totalCount edges { cursor node { id } } }
      later: rfis(updatedSince: "2100-01-01T00:00:00Z") { totalCount nodes { id } }
      submittals(first: 4) { totalCount nodes { id title } }
      none: submittals(first: $none) { totalCount pageInfo { hasNextPage } }
      commitments(first: 2) { totalCount pageInfo { hasNextPage endCursor } nodes { id vendor { name } invoices(first: 1) { totalCount nodes { id } } } }
      all: commitments { nodes { number } }
    }
  }
}`, vars: map[string]any{"n": 2, "since": "2000-01-01T00:00:00Z", "none": 0}},
	{name: "ProjectListsInAnOrderOrRefusedByTheResolver", q: `{
  projects(first: 2) {
    nodes {
      id
      byUpdate: rfis(first: 3, orderBy: {field: UPDATED_AT, direction: DESC}) { nodes { id updatedAt } }
      rfis(first: 2) { nodes { id } }
      negative: submittals(first: -1) { totalCount }
      garbage: commitments(after: "not a cursor") { totalCount }
    }
  }
}`},
	{name: "OneItemByIDWithResolversBelowIt", q: `{
  projects(first: 1) { nodes { rfis(first: 2) { nodes { id project { id name } questions { id body } } } } }
}`},
}

// TestPlainTreesAnswerTheBytesGqlgenDoes runs every plainTreeQueries query
// through two gateways over one sandbox, the default one and one with
// PLAIN_TREES=off (gqlgen executes every field), and asserts the same bytes
// of data and errors from both: over the in-memory cache (values read
// directly once warm) and over Redis (every value through the dataloaders,
// which is how the fields resolved in line find them there), the first
// query of each cold.
func TestPlainTreesAnswerTheBytesGqlgenDoes(t *testing.T) {
	for _, store := range []string{"Memory", "Redis"} {
		t.Run(store, func(t *testing.T) {
			// No rate limits: the two gateways' cold reads add up past the
			// sandbox's spike window, and waiting it out compares nothing more.
			_, env := startSandbox(t, sandbox.Config{HourlyLimit: -1, SpikeLimit: -1, Data: data.Options{Companies: 1, ProjectsPerCompany: 4, ItemsPerProject: 12}})
			env = copyEnv(env)
			if store == "Redis" {
				env["REDIS_URL"] = requireRedis(t)
				env["CACHE_PREFIX"] = randomPrefix(t)
			}
			plain := startGateway(t, env)
			off := copyEnv(env)
			off["PLAIN_TREES"] = "off"
			if store == "Redis" {
				off["CACHE_PREFIX"] = randomPrefix(t) // cold too
			}
			every := startGateway(t, off)
			dashboard := plainTreeQuery{name: "TheBenchDashboard", q: readQuery(t, "bench/queries/dashboard.graphql")}
			for _, c := range append([]plainTreeQuery{dashboard}, plainTreeQueries...) {
				t.Run(c.name, func(t *testing.T) {
					want := every.query(t, c.q, c.vars)
					got := plain.query(t, c.q, c.vars)
					if len(want.Data) < 100 || bytes.Contains(want.Data, []byte(`"projects":{"nodes":[]}`)) {
						t.Fatalf("the query answers too little to compare: %s", want.Data)
					}
					if !bytes.Equal(got.Data, want.Data) {
						t.Errorf("data differs from gqlgen's\n got: %s\nwant: %s", firstDifference(got.Data, want.Data), firstDifference(want.Data, got.Data))
					}
					if g, w := errorSet(got.Errors), errorSet(want.Errors); !slices.Equal(g, w) {
						t.Errorf("errors differ: got %v, want %v", g, w)
					}
				})
			}
		})
	}
}

// TestAnAnswerPastItsFieldBoundIsRefusedWithPlainTreesToo: the fields a
// plain sub-tree writes count against MAX_ANSWER_FIELDS as gqlgen's do.
func TestAnAnswerPastItsFieldBoundIsRefusedWithPlainTreesToo(t *testing.T) {
	_, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 4, ItemsPerProject: 12}})
	env = copyEnv(env)
	// The dashboard over 4 projects of 12 items has over 2,000 fields; the
	// projects list alone and one project's RFIs fit in 300.
	env["MAX_ANSWER_FIELDS"] = "300"
	g := startGateway(t, env)
	over := g.query(t, readQuery(t, "bench/queries/dashboard.graphql"), nil)
	if string(over.Data) != "" && string(over.Data) != "null" || len(over.Errors) != 1 || over.Errors[0].Extensions["code"] != "ANSWER_TOO_LARGE" {
		t.Errorf("dashboard past the bound: data %s, errors %v; want no data and ANSWER_TOO_LARGE", over.Data, over.Errors)
	}
	within := g.query(t, `{ projects(first: 1) { nodes { rfis(first: 12) { nodes { id subject status } } } } }`, nil)
	if len(within.Errors) != 0 || !bytes.Contains(within.Data, []byte(`"subject"`)) {
		t.Errorf("a small answer within the bound: data %s, errors %v", within.Data, within.Errors)
	}
}

// firstDifference is a's bytes around the first one that differs from b.
func firstDifference(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from, to := max(0, i-120), min(len(a), i+120)
	return strings.ToValidUTF8(string(a[from:to]), "?") + " (at byte " + strconv.Itoa(i) + ")"
}

// TestRandomSelectionsAnswerTheBytesGqlgenDoes is the same comparison over
// 60 generated documents (fixed seeds): random subsets of the read types'
// fields under projects, four levels deep, with aliases, __typename, fields
// selected twice, inline fragments and @include/@skip on variables and
// literals. Errors are compared as sets (gqlgen orders them as concurrent
// fields finish).
func TestRandomSelectionsAnswerTheBytesGqlgenDoes(t *testing.T) {
	_, env := startSandbox(t, sandbox.Config{HourlyLimit: -1, SpikeLimit: -1,
		Data: data.Options{Companies: 1, ProjectsPerCompany: 3, ItemsPerProject: 6}})
	env = copyEnv(env)
	env["MAX_COST"] = "100000"
	plain := startGateway(t, env)
	off := copyEnv(env)
	off["PLAIN_TREES"] = "off"
	every := startGateway(t, off)
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	vars := map[string]any{"yes": true, "no": false}
	compared := 0
	for seed := range 60 {
		g := selectionGen{rng: rand.New(rand.NewPCG(uint64(seed), 18)), schema: schema}
		q := `query Random($yes: Boolean!, $no: Boolean!) { projects(first: 2) { nodes ` + g.selection(schema.Types["Project"], 0) + ` } }`
		want := every.query(t, q, vars)
		got := plain.query(t, q, vars)
		if !bytes.Equal(got.Data, want.Data) {
			t.Errorf("seed %d: data differs from gqlgen's\nquery: %s\n got: %s\nwant: %s", seed, q, firstDifference(got.Data, want.Data), firstDifference(want.Data, got.Data))
		}
		if g, w := errorSet(got.Errors), errorSet(want.Errors); !slices.Equal(g, w) {
			t.Errorf("seed %d: errors differ\nquery: %s\n got: %v\nwant: %v", seed, q, g, w)
		}
		if len(want.Data) > 200 {
			compared++
		}
	}
	if compared < 50 {
		t.Errorf("only %d of 60 documents answered data to compare", compared)
	}
}

// selectionGen writes random selection sets over a schema.
type selectionGen struct {
	rng    *rand.Rand
	schema *ast.Schema
	n      int
}

const maxGenDepth = 4

func (g *selectionGen) selection(def *ast.Definition, depth int) string {
	var parts []string
	for _, f := range def.Fields {
		if strings.HasPrefix(f.Name, "__") || g.rng.IntN(100) >= 45 || !optionalArgs(f) {
			continue
		}
		named := g.schema.Types[f.Type.Name()]
		sub := ""
		switch named.Kind {
		case ast.Object:
			if depth >= maxGenDepth {
				continue
			}
			sub = " " + g.selection(named, depth+1)
		case ast.Interface, ast.Union:
			continue
		}
		field := f.Name + sub
		switch r := g.rng.IntN(100); {
		case r < 15:
			g.n++
			field = fmt.Sprintf("a%d: %s", g.n, field)
		case r < 25:
			field += " " + f.Name + sub // selected twice: merged
		case r < 35:
			field = "... on " + def.Name + " { " + field + " }"
		case r < 42:
			field = f.Name + " @include(if: $yes)" + sub
		case r < 47:
			field = f.Name + " @skip(if: $no)" + sub
		case r < 52:
			field = f.Name + " @include(if: false)" + sub
		}
		parts = append(parts, field)
	}
	if g.rng.IntN(100) < 20 {
		parts = append(parts, "__typename")
	}
	if len(parts) == 0 {
		parts = append(parts, "__typename")
	}
	return "{ " + strings.Join(parts, " ") + " }"
}

// optionalArgs: every argument of f may be left out.
func optionalArgs(f *ast.FieldDefinition) bool {
	for _, a := range f.Arguments {
		if a.Type.NonNull && a.DefaultValue == nil {
			return false
		}
	}
	return true
}

// errorSet is errs as a sorted list of "path: code: message".
func errorSet(errs []gqlError) []string {
	var out []string
	for _, e := range errs {
		out = append(out, fmt.Sprintf("%v: %v: %s", e.Path, e.Extensions["code"], e.Message))
	}
	slices.Sort(out)
	return out
}

// TestInlineInvoicesAfterACursorAnswerTheBytesGqlgenDoes: Commitment.invoices
// resolved in line pages after a cursor as its resolver does. The cursors
// are the ones the every-field gateway issued for each commitment's first
// invoice.
func TestInlineInvoicesAfterACursorAnswerTheBytesGqlgenDoes(t *testing.T) {
	_, env := startSandbox(t, sandbox.Config{Data: data.Options{Companies: 1, ProjectsPerCompany: 2, ItemsPerProject: 12}})
	plain := startGateway(t, env)
	off := copyEnv(env)
	off["PLAIN_TREES"] = "off"
	every := startGateway(t, off)
	first := every.query(t, `{ projects(first: 1) { nodes { commitments(first: 20) { nodes { invoices(first: 1) { pageInfo { hasNextPage endCursor } } } } } } }`, nil)
	var page struct {
		Projects struct {
			Nodes []struct {
				Commitments struct {
					Nodes []struct {
						Invoices struct {
							PageInfo struct {
								HasNextPage bool
								EndCursor   *string
							}
						}
					}
				}
			}
		}
	}
	if err := json.Unmarshal(first.Data, &page); err != nil || len(page.Projects.Nodes) != 1 {
		t.Fatalf("first page: %v %s", err, first.Data)
	}
	const q = `query After($c: String) { projects(first: 1) { nodes { commitments(first: 20) { nodes { id invoices(first: 2, after: $c) { totalCount pageInfo { hasNextPage endCursor } nodes { id number } } } } } } }`
	tried := 0
	for _, c := range page.Projects.Nodes[0].Commitments.Nodes {
		if c.Invoices.PageInfo.EndCursor == nil || !c.Invoices.PageInfo.HasNextPage {
			continue
		}
		vars := map[string]any{"c": *c.Invoices.PageInfo.EndCursor}
		want, got := every.query(t, q, vars), plain.query(t, q, vars)
		if !bytes.Contains(want.Data, []byte(`"number"`)) {
			t.Fatalf("no invoice after the cursor to compare: %s", want.Data)
		}
		if !bytes.Equal(got.Data, want.Data) {
			t.Errorf("after %s: data differs from gqlgen's\n got: %s\nwant: %s", vars["c"], firstDifference(got.Data, want.Data), firstDifference(want.Data, got.Data))
		}
		if g, w := errorSet(got.Errors), errorSet(want.Errors); !slices.Equal(g, w) {
			t.Errorf("after %s: errors differ: got %v, want %v", vars["c"], g, w)
		}
		tried++
	}
	if tried == 0 {
		t.Fatal("no commitment has a second invoice to page to")
	}
}
