package gateway

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"procoregraph/events"
	"procoregraph/resolvers"
	"procoregraph/subshare"
	"procoregraph/tenant"
)

// newSubscriptionGroups returns the groups in which identical subscriptions
// share one execution (package subshare), or nil when d turns sharing off.
// Each subscription may hold as many unread answers as the bus lets a
// subscriber hold events; the active-subscriptions gauge (events.Live.Active)
// counts every subscription of a group, procoregraph_subscription_groups
// the groups.
func newSubscriptionGroups(d Deps) *subshare.Groups {
	if d.UnsharedSubscriptions {
		return nil
	}
	o := subshare.Options{
		Key: shareKey,
		Dropped: func(last string) *graphql.Response {
			return &graphql.Response{Errors: gqlerror.List{resolvers.SlowSubscriberError(last)}}
		},
	}
	if d.Live != nil {
		if ss, ok := d.Live.Bus.(events.SinkSubscriber); ok {
			o.Buffer = ss.SubscriberBuffer()
		}
		if a := d.Live.Active; a != nil {
			o.Count = func(delta int64) { a.Add(delta) }
		}
	}
	groups := subshare.New(o)
	if d.Metrics != nil {
		d.Metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "procoregraph_subscription_groups",
			Help: "Shared subscription executions on this replica: identical subscriptions count once (subscriptions resumed with after run alone, outside any).",
		}, func() float64 { return float64(groups.Len()) }))
	}
	return groups
}

// shareKey is the sharing key of a subscription: its connection and the
// Procore user behind it (the key the response cache also keys answers
// by: narrower credentials have their own), the companies it may use, the
// document, the operation and the variables. Subscriptions that resume
// from a cursor (after:) replay their own past, and requests that asked
// for their own statistics (the debug header) get their own answers: they
// run alone.
func shareKey(ctx context.Context, oc *graphql.OperationContext) (string, bool) {
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Subscription || oc.RawQuery == "" || debugRequested(ctx) {
		return "", false
	}
	conn, ok := tenant.From(ctx)
	if !ok {
		return "", false
	}
	for _, sel := range oc.Operation.SelectionSet {
		f, ok := sel.(*ast.Field)
		if !ok || f.Definition == nil {
			return "", false
		}
		if v, ok := f.ArgumentMap(oc.Variables)["after"]; ok && v != nil {
			return "", false
		}
	}
	vars, err := json.Marshal(oc.Variables) // map keys in order; numbers keep their text
	if err != nil {
		return "", false
	}
	var b strings.Builder
	for _, s := range []string{conn.ID, conn.UserKey, strconv.FormatInt(conn.CompanyID, 10)} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	if ids, ok := tenant.Companies(ctx); ok {
		for _, id := range ids {
			b.WriteString(strconv.FormatInt(id, 10))
			b.WriteByte(',')
		}
	}
	b.WriteByte(0)
	b.WriteString(oc.OperationName)
	b.WriteByte(0)
	b.Write(vars)
	b.WriteByte(0)
	b.WriteString(oc.RawQuery)
	return b.String(), true
}
