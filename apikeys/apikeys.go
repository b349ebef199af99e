// Package apikeys holds the gateway's service keys. A key is a random
// secret ("pgk_" and 43 base64url characters, 256 bits) that a client sends
// as `Authorization: Bearer <key>`; the gateway keeps only its SHA-256, with
// the key's name, scopes and optional project allowlist, in the API_KEYS
// setting. `procoregraph apikey` mints a key and prints the entry.
//
// # Entry format
//
//	NAME:SCOPES:PROJECTS:SHA256[:OPTIONS]
//
// NAME is 1 to 64 characters of letters, digits, '.', '_' and '-', unique
// among the entries; SCOPES is a comma-separated list of read, write and
// subscribe; PROJECTS is empty (every project the service account sees) or
// a comma-separated list of Procore project ids; SHA256 is the key's
// SHA-256 in lowercase hex; OPTIONS, when present, are comma-separated
// limits of this key: cost=N (estimated Procore calls per operation), rpm=N
// (requests a minute), cpm=N (estimated Procore calls a minute), subs=N
// (subscriptions, and websockets, open at once on a replica), and
// company=N, once per Procore company the key may use (none: every company
// the gateway serves; see PROCORE_COMPANY_IDS). Entries
// are separated by ';' or newlines, e.g.
//
//	API_KEYS="bi-sync:read,subscribe::9f86…08;field-app:read,write:562949953421312:60303a…7d"
//
// Because keys carry 256 random bits, a plain SHA-256 is as strong as a slow
// password hash here and lets every request be checked in microseconds.
package apikeys

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"procoregraph/principal"
)

// Prefix starts every key, so that a key is recognised (and never taken for
// another kind of token) and secret scanners can find leaked ones.
const Prefix = "pgk_"

// Key is one configured service key, without its secret.
type Key struct {
	// Name names the key in the audit log and metrics.
	Name string
	// Scopes are what the key may do.
	Scopes []principal.Scope
	// Projects, when not nil, are the only projects the key may see.
	Projects []int64
	// Limits override the gateway's defaults for this key (0: default).
	Limits Limits
	hash   [sha256.Size]byte
}

// Limits are a key's own limits.
type Limits struct {
	// MaxCost bounds the estimated Procore calls of one operation.
	MaxCost int
	// RequestsPerMinute and CallsPerMinute bound the key's rate.
	RequestsPerMinute, CallsPerMinute int
	// MaxSubscriptions bounds the subscriptions (and websockets) the key
	// holds open at once on one replica.
	MaxSubscriptions int
	// Companies, when not nil, are the only Procore companies the key may
	// use (company=N options, sorted, without repeats).
	Companies []int64
}

func (l Limits) String() string {
	var parts []string
	for _, o := range []struct {
		k string
		v int
	}{{"cost", l.MaxCost}, {"rpm", l.RequestsPerMinute}, {"cpm", l.CallsPerMinute}, {"subs", l.MaxSubscriptions}} {
		if o.v > 0 {
			parts = append(parts, o.k+"="+strconv.Itoa(o.v))
		}
	}
	for _, c := range l.Companies {
		parts = append(parts, "company="+strconv.FormatInt(c, 10))
	}
	return strings.Join(parts, ",")
}

// ParseLimits reads "cost=N,rpm=N,cpm=N,subs=N,company=N,company=M" (any
// subset; empty is none).
func ParseLimits(s string) (Limits, error) {
	var l Limits
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		k, v, ok := strings.Cut(f, "=")
		if strings.TrimSpace(k) == "company" {
			id, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || id <= 0 {
				return l, fmt.Errorf("option %q: want company=N with a positive Procore company id", f)
			}
			if !slices.Contains(l.Companies, id) {
				l.Companies = append(l.Companies, id)
			}
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if !ok || err != nil || n <= 0 {
			return l, fmt.Errorf("option %q: want cost=N, rpm=N, cpm=N, subs=N or company=N with a positive N", f)
		}
		switch strings.TrimSpace(k) {
		case "cost":
			l.MaxCost = n
		case "rpm":
			l.RequestsPerMinute = n
		case "cpm":
			l.CallsPerMinute = n
		case "subs":
			l.MaxSubscriptions = n
		default:
			return l, fmt.Errorf("unknown option %q (the options are cost, rpm, cpm, subs, company)", k)
		}
	}
	slices.Sort(l.Companies)
	return l, nil
}

// Entry is the key's API_KEYS entry.
func (k Key) Entry() string {
	scopes := make([]string, len(k.Scopes))
	for i, s := range k.Scopes {
		scopes[i] = string(s)
	}
	projects := make([]string, len(k.Projects))
	for i, p := range k.Projects {
		projects[i] = strconv.FormatInt(p, 10)
	}
	e := k.Name + ":" + strings.Join(scopes, ",") + ":" + strings.Join(projects, ",") + ":" + hex.EncodeToString(k.hash[:])
	if o := k.Limits.String(); o != "" {
		e += ":" + o
	}
	return e
}

// Principal is the principal a request holding this key acts as.
func (k Key) Principal() principal.Principal {
	return principal.Principal{Kind: principal.KindAPIKey, Name: k.Name, Scopes: slices.Clone(k.Scopes), Projects: slices.Clone(k.Projects),
		Companies: slices.Clone(k.Limits.Companies),
		MaxCost:   k.Limits.MaxCost, RequestsPerMinute: k.Limits.RequestsPerMinute, CallsPerMinute: k.Limits.CallsPerMinute,
		MaxSubscriptions: k.Limits.MaxSubscriptions}
}

// Set is the configured keys. The zero value holds none.
type Set struct{ keys []Key }

// Len is the number of keys.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

var (
	namePattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	hashPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Parse reads API_KEYS. Every malformed entry is reported, by position and
// name, with what to fix; a key itself is never part of a message.
func Parse(s string) (*Set, error) {
	set := &Set{}
	var errs []error
	n := 0
	for raw := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ';' || r == '\n' || r == '\r' }) {
		entry := strings.TrimSpace(raw)
		if entry == "" {
			continue
		}
		n++
		k, err := parseEntry(entry)
		if err != nil {
			errs = append(errs, fmt.Errorf("API_KEYS entry %d: %w", n, err))
			continue
		}
		if slices.ContainsFunc(set.keys, func(o Key) bool { return o.Name == k.Name }) {
			errs = append(errs, fmt.Errorf("API_KEYS entry %d: the name %q is used twice", n, k.Name))
			continue
		}
		if slices.ContainsFunc(set.keys, func(o Key) bool { return o.hash == k.hash }) {
			errs = append(errs, fmt.Errorf("API_KEYS entry %d (%s): the same key hash appears twice", n, k.Name))
			continue
		}
		set.keys = append(set.keys, k)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return set, nil
}

func parseEntry(entry string) (Key, error) {
	if strings.Contains(entry, Prefix) {
		// Never repeat a key in a message (start-up errors end up in logs).
		return Key{}, errors.New("looks like a key, not an entry: API_KEYS holds NAME:SCOPES:PROJECTS:SHA256 entries as `procoregraph apikey` prints them, never the key")
	}
	parts := strings.Split(entry, ":")
	if len(parts) != 4 && len(parts) != 5 {
		return Key{}, fmt.Errorf("want NAME:SCOPES:PROJECTS:SHA256[:OPTIONS] (4 or 5 fields separated by ':'), got %d field(s)", len(parts))
	}
	name, scopes, projects, hash := strings.TrimSpace(parts[0]), parts[1], parts[2], strings.TrimSpace(parts[3])
	if !namePattern.MatchString(name) {
		return Key{}, fmt.Errorf("name %q: want 1 to 64 letters, digits, '.', '_' or '-'", name)
	}
	k := Key{Name: name}
	sc, err := principal.ParseScopes(scopes)
	if err != nil {
		return Key{}, fmt.Errorf("%s: %w", name, err)
	}
	if len(sc) == 0 {
		return Key{}, fmt.Errorf("%s: no scope: give read, write and/or subscribe", name)
	}
	k.Scopes = sc
	if k.Projects, err = ParseProjects(projects); err != nil {
		return Key{}, fmt.Errorf("%s: %w", name, err)
	}
	if !hashPattern.MatchString(hash) {
		return Key{}, fmt.Errorf("%s: the fourth field must be the key's SHA-256 as 64 lowercase hex digits", name)
	}
	_, _ = hex.Decode(k.hash[:], []byte(hash))
	if len(parts) == 5 {
		if k.Limits, err = ParseLimits(parts[4]); err != nil {
			return Key{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	return k, nil
}

// ParseProjects reads a comma-separated list of project ids; empty means
// nil (no allowlist).
func ParseProjects(s string) ([]int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out []int64
	for f := range strings.SplitSeq(s, ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil || id <= 0 {
			return nil, fmt.Errorf("project %q: want a positive Procore project id", strings.TrimSpace(f))
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Lookup returns the key matching secret. Every configured hash is compared,
// in constant time, whatever matches, so the time taken says nothing about
// which key (or how much of one) matched.
func (s *Set) Lookup(secret string) (Key, bool) {
	if s == nil || !strings.HasPrefix(secret, Prefix) {
		return Key{}, false
	}
	h := sha256.Sum256([]byte(secret))
	found := -1
	for i := range s.keys {
		if subtle.ConstantTimeCompare(h[:], s.keys[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Key{}, false
	}
	return s.keys[found], true
}

// Mint returns a new random key and its configured form. The key is shown
// once; only its hash is kept.
func Mint(name string, scopes []principal.Scope, projects []int64, limits Limits) (secret string, k Key, err error) {
	if !namePattern.MatchString(name) {
		return "", Key{}, fmt.Errorf("name %q: want 1 to 64 letters, digits, '.', '_' or '-'", name)
	}
	if len(scopes) == 0 {
		return "", Key{}, errors.New("give at least one scope: read, write, subscribe")
	}
	for _, sc := range scopes {
		if !slices.Contains(principal.AllScopes, sc) {
			return "", Key{}, &principal.UnknownScopeError{Name: string(sc)}
		}
	}
	for _, p := range projects {
		if p <= 0 {
			return "", Key{}, fmt.Errorf("project %d: want a positive Procore project id", p)
		}
	}
	if len(projects) == 0 {
		projects = nil // no allowlist, as the printed entry says
	}
	for _, c := range limits.Companies {
		if c <= 0 {
			return "", Key{}, fmt.Errorf("company %d: want a positive Procore company id", c)
		}
	}
	if len(limits.Companies) == 0 {
		limits.Companies = nil
	}
	limits.Companies = slices.Clone(limits.Companies)
	slices.Sort(limits.Companies)
	limits.Companies = slices.Compact(limits.Companies)
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", Key{}, err
	}
	secret = Prefix + base64.RawURLEncoding.EncodeToString(b)
	k = Key{Name: name, Scopes: slices.Clone(scopes), Projects: slices.Clone(projects), Limits: limits, hash: sha256.Sum256([]byte(secret))}
	return secret, k, nil
}
