package spans

import "go.opentelemetry.io/otel/attribute"

// Attribute keys of the project's spans. Standard semantic-convention keys
// are used where one fits (http.*); the rest are procoregraph's own.
const (
	// GraphQL operation span ("graphql.operation").
	GraphQLOperationName = attribute.Key("graphql.operation.name")
	GraphQLOperationType = attribute.Key("graphql.operation.type")
	// GraphQLEstimatedCalls is the operation's estimated cost in Procore
	// calls (limits.Analyzer), the figure rate limits spend.
	GraphQLEstimatedCalls = attribute.Key("procoregraph.estimated_procore_calls")
	GraphQLErrors         = attribute.Key("graphql.errors")

	// Procore call spans ("procore.call", one per HTTP request on the wire,
	// each retry attempt included).
	ProcoreRoute   = attribute.Key("procore.route") // template: ids are {id}
	HTTPMethod     = attribute.Key("http.request.method")
	HTTPStatus     = attribute.Key("http.response.status_code")
	ProcoreRetries = attribute.Key("procore.retries")
	// ProcoreRetries is the attempts before this one (attempt - 1).
	// ProcoreRateLimitWaitMS is the time this attempt waited for the
	// rate-limit budget before going out, in milliseconds.
	ProcoreRateLimitWaitMS = attribute.Key("procore.rate_limit.wait_ms")
	ProcoreRateRemaining   = attribute.Key("procore.rate_limit.remaining")
	ProcoreAttempt         = attribute.Key("procore.attempt")

	// Loader batch spans ("loader.batch").
	LoaderKind = attribute.Key("procoregraph.loader")
	LoaderKeys = attribute.Key("procoregraph.loader.keys")
)
