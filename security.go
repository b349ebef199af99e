package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"

	"procoregraph/apikeys"
	"procoregraph/audit"
	"procoregraph/cache"
	"procoregraph/principal"
)

// mintAPIKey is `procoregraph apikey -name NAME -scopes read,write,subscribe
// [-projects ID,...]`: it prints a new random key once, and the API_KEYS
// entry (its hash, never the key) to configure.
func mintAPIKey(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("procoregraph apikey", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "the key's name, for the audit log (letters, digits, '.', '_', '-')")
	scopes := fs.String("scopes", "read", "comma-separated scopes: read (queries), write (mutations and uploads), subscribe (subscriptions)")
	projects := fs.String("projects", "", "optional comma-separated Procore project ids: the only projects the key may see")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("apikey: unexpected argument %q", fs.Arg(0))
	}
	if *name == "" {
		return fmt.Errorf("apikey: -name is required")
	}
	sc, err := principal.ParseScopes(*scopes)
	if err != nil {
		return fmt.Errorf("apikey: -scopes: %w", err)
	}
	ids, err := apikeys.ParseProjects(*projects)
	if err != nil {
		return fmt.Errorf("apikey: -projects: %w", err)
	}
	secret, k, err := apikeys.Mint(*name, sc, ids)
	if err != nil {
		return fmt.Errorf("apikey: %w", err)
	}
	fmt.Fprintf(stdout, "key (shown once: give it to the client, which sends it as `Authorization: Bearer <key>`):\n%s\n\n", secret)
	fmt.Fprintf(stdout, "API_KEYS entry (the gateway keeps only this; join entries with ';'):\n%s\n", k.Entry())
	return nil
}

// newAudit returns the audit log and its closer: JSON lines on stderr, and
// with Redis a capped stream shared by the replicas.
func newAudit(cfg config, stderr io.Writer, logger *slog.Logger) (*audit.Logger, func()) {
	sinks := []audit.Sink{audit.NewJSONSink(stderr)}
	closer := func() {}
	if cfg.RedisURL != "" {
		if rdb, err := cache.ParseRedisURL(cfg.RedisURL); err == nil {
			sinks = append(sinks, audit.NewStreamSink(rdb, audit.StreamOptions{Prefix: cfg.CachePrefix, Logger: logger}))
			closer = func() { _ = rdb.Close() }
		}
	}
	return audit.New(sinks...), closer
}
