// Package settings reads a program's configuration from one declaration per
// setting: its environment variable, its flag, its default, its help and a
// strict parser. A Registry holds the declarations (grouped by concern) and
// Load fills their destinations from, in increasing precedence:
//
//  1. the declared default;
//  2. an optional YAML file (ConfigFile's setting), whose keys are the
//     environment names in lower case;
//  3. the environment (an empty variable counts as unset);
//  4. the command-line flags.
//
// Every value present in any layer is parsed, so a malformed value stops the
// start even when a higher layer overrides it. Every error names the setting
// (environment name and flag) and where the value came from; a Secret
// setting's value is never repeated.
//
// Parsing is strict: a duration needs a unit ("5" is refused; only "0" may
// go without), a boolean is what strconv.ParseBool accepts, an enum one of
// its listed values, a number a whole number within its bounds.
package settings

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind names how a setting's text is read; tests and documentation use it.
type Kind string

// The kinds of settings.
const (
	KindString   Kind = "string"   // free text
	KindInt      Kind = "int"      // a whole number
	KindBytes    Kind = "bytes"    // a size: bytes or B, KiB, MiB, GiB, TiB
	KindDuration Kind = "duration" // a Go duration with a unit
	KindBool     Kind = "bool"     // strconv.ParseBool
	KindSwitch   Kind = "switch"   // on or off (or strconv.ParseBool's forms)
	KindEnum     Kind = "enum"     // one of Values
	KindFloat    Kind = "float"    // a decimal number
	KindURL      Kind = "url"      // an absolute URL of listed schemes
	KindAddr     Kind = "addr"     // host:port
	KindList     Kind = "list"     // comma- or space-separated text
	KindCustom   Kind = "custom"   // the declaration's own parser
)

// Setting is one declared setting.
type Setting struct {
	// Env is the environment variable, e.g. POLL_INTERVAL.
	Env string
	// Flag is the flag's name without the dash, e.g. poll-interval. For a
	// Switch it is the negating boolean flag (no-response-cache).
	Flag string
	// Group is the concern the setting belongs to (Procore, cache, ...).
	Group string
	// Default is the default in its text form, as the parser reads it.
	Default string
	// Help says what the setting does.
	Help string
	// Kind is how the text is read; Values are an enum's values.
	Kind   Kind
	Values []string
	// Secret settings' values are never repeated in messages.
	Secret bool

	parse  func(text string) error
	format func() string
	bounds []func(v any) error
	// yaml turns a YAML node's value into the setting's text (Load).
	yaml func(n yamlValue) (string, error)
}

// Key is the setting's key in the YAML file: Env in lower case.
func (s *Setting) Key() string { return strings.ToLower(s.Env) }

// Value is the destination's current value in text form (secrets masked
// when set).
func (s *Setting) Value() string {
	v := s.format()
	if s.Secret && v != "" {
		return "(set)"
	}
	return v
}

// Registry holds a program's declared settings in declaration order.
type Registry struct {
	name     string
	settings []*Setting
	file     *Setting
	filePath string
}

// New returns an empty registry for the program name (the flag set's name).
func New(name string) *Registry { return &Registry{name: name} }

// Settings are the declared settings in declaration order.
func (r *Registry) Settings() []*Setting { return slices.Clone(r.settings) }

// Lookup finds a setting by environment name.
func (r *Registry) Lookup(env string) (*Setting, bool) {
	i := slices.IndexFunc(r.settings, func(s *Setting) bool { return s.Env == env })
	if i < 0 {
		return nil, false
	}
	return r.settings[i], true
}

// Group declares settings of one concern.
func (r *Registry) Group(name string) *Group { return &Group{r: r, name: name} }

// Group declares the settings of one concern.
type Group struct {
	r    *Registry
	name string
}

// Option refines a declaration.
type Option func(*Setting)

// Secret marks a setting whose value must never be repeated.
func Secret() Option { return func(s *Setting) { s.Secret = true } }

// YAMLList lets the YAML file give the setting as a sequence of scalars,
// joined with sep into the setting's text.
func YAMLList(sep string) Option {
	return func(s *Setting) { s.yaml = func(n yamlValue) (string, error) { return n.join(sep, "") } }
}

// YAMLMap lets the YAML file give the setting as a mapping of scalars,
// written key=value and joined with sep into the setting's text.
func YAMLMap(sep string) Option {
	return func(s *Setting) { s.yaml = func(n yamlValue) (string, error) { return n.join(sep, "=") } }
}

// YAML converts the YAML file's node (decoded as by yaml.Unmarshal into
// any: string, int, float64, bool, []any or map[string]any) into the
// setting's text.
func YAML(f func(v any) (string, error)) Option {
	return func(s *Setting) { s.yaml = func(n yamlValue) (string, error) { return n.decode(f) } }
}

// Range bounds a number, size or duration setting (inclusive).
func Range[T cmp.Ordered](lo, hi T) Option { return check(lo, hi, true) }

// AtLeast bounds a number, size or duration setting from below.
func AtLeast[T cmp.Ordered](lo T) Option { var zero T; return check(lo, zero, false) }

func check[T cmp.Ordered](lo, hi T, upper bool) Option {
	return func(s *Setting) {
		s.bounds = append(s.bounds, func(v any) error {
			x, ok := v.(T)
			if !ok {
				panic(fmt.Sprintf("settings: %s: bound of type %T on a %T setting", s.Env, lo, v))
			}
			if x < lo || upper && x > hi {
				if upper {
					return fmt.Errorf("want %v to %v", lo, hi)
				}
				return fmt.Errorf("want at least %v", lo)
			}
			return nil
		})
	}
}

func (g *Group) add(s *Setting, opts []Option) *Setting {
	s.Group = g.name
	for _, o := range g.r.settings {
		if o.Env == s.Env || s.Flag != "" && o.Flag == s.Flag {
			panic(fmt.Sprintf("settings: %s (-%s) declared twice", s.Env, s.Flag))
		}
	}
	for _, o := range opts {
		o(s)
	}
	g.r.settings = append(g.r.settings, s)
	// The default must parse: a declaration error is a programming error.
	if err := s.set(s.Default); err != nil {
		panic(fmt.Sprintf("settings: %s: default %q: %v", s.Env, s.Default, err))
	}
	return s
}

// typed declares a setting whose destination is of type T.
func typed[T any](g *Group, dst *T, env, flagName, def, help string, kind Kind, parse func(string) (T, error), format func(T) string, opts []Option) *Setting {
	s := &Setting{Env: env, Flag: flagName, Default: def, Help: help, Kind: kind}
	s.parse = func(text string) error {
		v, err := parse(text)
		if err != nil {
			return err
		}
		for _, b := range s.bounds {
			if err := b(v); err != nil {
				return err
			}
		}
		*dst = v
		return nil
	}
	s.format = func() string { return format(*dst) }
	return g.add(s, opts)
}

// String declares free text.
func (g *Group) String(dst *string, env, flagName, def, help string, opts ...Option) *Setting {
	return typed(g, dst, env, flagName, def, help, KindString,
		func(s string) (string, error) { return s, nil }, func(v string) string { return v }, opts)
}

// Int declares a whole number.
func (g *Group) Int(dst *int, env, flagName string, def int, help string, opts ...Option) *Setting {
	return typed(g, dst, env, flagName, strconv.Itoa(def), help, KindInt, func(s string) (int, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, strconv.IntSize)
		if err != nil {
			return 0, errors.New("want a whole number")
		}
		return int(n), nil
	}, strconv.Itoa, opts)
}

// Int64 declares a whole number of 64 bits.
func (g *Group) Int64(dst *int64, env, flagName string, def int64, help string, opts ...Option) *Setting {
	return typed(g, dst, env, flagName, strconv.FormatInt(def, 10), help, KindInt, func(s string) (int64, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return 0, errors.New("want a whole number")
		}
		return n, nil
	}, func(v int64) string { return strconv.FormatInt(v, 10) }, opts)
}

// Bytes declares a size in bytes, written as GOMEMLIMIT is (e.g. 64MiB).
func (g *Group) Bytes(dst *int64, env, flagName, def, help string, opts ...Option) *Setting {
	return typed(g, dst, env, flagName, def, help, KindBytes, ParseByteSize, FormatByteSize, opts)
}

// Duration declares a duration, which must carry a unit.
func (g *Group) Duration(dst *time.Duration, env, flagName string, def time.Duration, help string, opts ...Option) *Setting {
	return typed(g, dst, env, flagName, def.String(), help, KindDuration, ParseDuration, time.Duration.String, opts)
}

// Bool declares a boolean (strconv.ParseBool's forms); its flag may be
// given alone (-flag means true).
func (g *Group) Bool(dst *bool, env, flagName string, def bool, help string, opts ...Option) *Setting {
	return typed(g, dst, env, flagName, strconv.FormatBool(def), help, KindBool, parseBool, strconv.FormatBool, opts)
}

// Switch declares an on/off setting whose destination off is true when it
// is off. Its environment variable takes on or off (or strconv.ParseBool's
// forms); its flag is the negating boolean flag -no-…, so -no-x means off.
func (g *Group) Switch(off *bool, env, negFlag, help string, opts ...Option) *Setting {
	return typed(g, off, env, negFlag, "on", help, KindSwitch, func(s string) (bool, error) {
		switch strings.TrimSpace(s) {
		case "on":
			return false, nil
		case "off":
			return true, nil
		}
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return false, errors.New("want on or off")
		}
		return !b, nil
	}, func(off bool) string {
		if off {
			return "off"
		}
		return "on"
	}, opts)
}

// Enum declares one of values. An empty default means "chosen at start"
// and stays allowed.
func (g *Group) Enum(dst *string, env, flagName, def string, values []string, help string, opts ...Option) *Setting {
	s := typed(g, dst, env, flagName, def, help, KindEnum, func(s string) (string, error) {
		s = strings.TrimSpace(s)
		if slices.Contains(values, s) || s == "" && def == "" {
			return s, nil
		}
		return "", fmt.Errorf("want %s", orList(values))
	}, func(v string) string { return v }, opts)
	s.Values = slices.Clone(values)
	return s
}

// Check adds a check of the parsed value (after the parser's own).
func Check[T any](f func(T) error) Option {
	return func(s *Setting) {
		s.bounds = append(s.bounds, func(v any) error {
			x, ok := v.(T)
			if !ok {
				panic(fmt.Sprintf("settings: %s: check of %T on a %T setting", s.Env, x, v))
			}
			return f(x)
		})
	}
}

// URL declares an absolute URL whose scheme is one of schemes; empty means
// unset and stays allowed.
func (g *Group) URL(dst *string, env, flagName, def string, schemes []string, help string, opts ...Option) *Setting {
	return typed(g, dst, env, flagName, def, help, KindURL, func(s string) (string, error) {
		s = strings.TrimSpace(s)
		if s == "" {
			return "", nil
		}
		u, err := url.Parse(s)
		if err != nil || !slices.Contains(schemes, u.Scheme) || u.Host == "" {
			return "", fmt.Errorf("want %s://host (an absolute URL)", strings.Join(schemes, "://host or "))
		}
		return s, nil
	}, func(v string) string { return v }, opts)
}

// Addr declares a listen address, host:port (the host may be empty);
// empty means unset and stays allowed.
func (g *Group) Addr(dst *string, env, flagName, def, help string, opts ...Option) *Setting {
	return typed(g, dst, env, flagName, def, help, KindAddr, func(s string) (string, error) {
		s = strings.TrimSpace(s)
		if s == "" {
			return "", nil
		}
		bad := errors.New("want host:port, such as 127.0.0.1:8080 or :8080")
		_, port, err := net.SplitHostPort(s)
		if err != nil {
			return "", bad
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return "", bad
		}
		return s, nil
	}, func(v string) string { return v }, opts)
}

// List declares a list written with commas or spaces; the YAML file may
// give it as a sequence.
func (g *Group) List(dst *[]string, env, flagName, def, help string, opts ...Option) *Setting {
	return typed(g, dst, env, flagName, def, help, KindList, func(s string) ([]string, error) {
		return SplitList(s), nil
	}, func(v []string) string { return strings.Join(v, ",") }, append([]Option{YAMLList(",")}, opts...))
}

// SplitList splits a comma- or space-separated setting, dropping empties.
func SplitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })
}

// Float declares a decimal number.
func (g *Group) Float(dst *float64, env, flagName string, def float64, help string, opts ...Option) *Setting {
	return typed(g, dst, env, flagName, strconv.FormatFloat(def, 'g', -1, 64), help, KindFloat, func(s string) (float64, error) {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, errors.New("want a decimal number such as 0.2")
		}
		return f, nil
	}, func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }, opts)
}

// Func declares a setting with its own parser: parse reads the text (the
// default included) and stores the result; format renders the current
// value for the defaults listing.
func (g *Group) Func(env, flagName, def, help string, parse func(string) error, format func() string, opts ...Option) *Setting {
	s := &Setting{Env: env, Flag: flagName, Default: def, Help: help, Kind: KindCustom, parse: parse, format: format}
	return g.add(s, opts)
}

// ConfigFile declares the setting naming the YAML file (read before the
// others; see Load).
func (g *Group) ConfigFile(env, flagName, help string) *Setting {
	s := g.String(&g.r.filePath, env, flagName, "", help)
	g.r.file = s
	return s
}

// set parses text into the destination, with the bounds.
func (s *Setting) set(text string) error { return s.parse(text) }

// ParseDuration reads a Go duration that carries a unit ("0" may go
// without); "5" is refused rather than read as nothing.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	d, err := time.ParseDuration(s)
	if err != nil {
		if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			return 0, errors.New("want a duration with a unit, such as 30s, 5m or 1h (a bare number has none)")
		}
		return 0, errors.New("want a duration with a unit, such as 30s, 5m or 1h")
	}
	return d, nil
}

func parseBool(s string) (bool, error) {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return false, errors.New("want true or false")
	}
	return b, nil
}

// ParseByteSize parses a size as GOMEMLIMIT does: a whole number of bytes,
// optionally followed by B, KiB, MiB, GiB or TiB. It must be positive.
func ParseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, errors.New("want a positive size in bytes, optionally with B, KiB, MiB, GiB or TiB (e.g. 512MiB)")
	}
	return n * mult, nil
}

// FormatByteSize renders n in the largest binary unit that divides it.
func FormatByteSize(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

func orList(vs []string) string {
	switch len(vs) {
	case 0:
		return "nothing"
	case 1:
		return vs[0]
	}
	return strings.Join(vs[:len(vs)-1], ", ") + " or " + vs[len(vs)-1]
}

// Error is a value that did not parse.
type Error struct {
	Setting *Setting
	// Source is where the value came from: "environment", "flag" or the
	// YAML file's path.
	Source string
	Value  string
	Err    error
}

// Error reads "POLL_INTERVAL: want a duration with a unit, such as 30s,
// 5m or 1h (got "5" from the environment; flag -poll-interval)".
func (e *Error) Error() string {
	got := "got " + strconv.Quote(e.Value) + " "
	switch {
	case e.Setting.Secret:
		got = "value hidden "
	case e.Value == "" && e.Source != "environment" && e.Source != "flag":
		got = "" // the file's value could not become text
	}
	flagNote := ""
	if e.Setting.Flag != "" {
		flagNote = "; flag -" + e.Setting.Flag
	}
	return fmt.Sprintf("%s: %v (%sfrom the %s%s)", e.Setting.Env, e.Err, got, e.Source, flagNote)
}

func (e *Error) Unwrap() error { return e.Err }

// recorder is a flag.Value that records what was given.
type recorder struct {
	s      *Setting
	isBool bool
	given  *[]given
}

type given struct {
	s    *Setting
	text string
}

func (r recorder) String() string { return "" }
func (r recorder) Set(v string) error {
	*r.given = append(*r.given, given{r.s, v})
	return nil
}
func (r recorder) IsBoolFlag() bool { return r.isBool }

// Load fills every declared destination: defaults, then the YAML file (when
// the ConfigFile setting names one), then getenv, then args' flags. It
// returns the arguments left after the flags and every error at once.
// A flag that does not exist, or -h, ends with the flag package's error.
func (r *Registry) Load(args []string, getenv func(string) string, readFile func(string) ([]byte, error), stderr io.Writer) ([]string, error) {
	fs := flag.NewFlagSet(r.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var flags []given
	for _, s := range r.settings {
		if s.Flag == "" {
			continue
		}
		help := strings.ReplaceAll(s.Help, "`", "'") + " (" + s.Env
		if s.Default != "" && !s.Secret {
			help += "; default " + s.Default
		}
		help += ")"
		fs.Var(recorder{s: s, isBool: s.Kind == KindBool || s.Kind == KindSwitch, given: &flags}, s.Flag, help)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage of %s (every flag also has an environment variable, named in its help):\n", r.name)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}

	var errs []error
	for _, s := range r.settings {
		_ = s.set(s.Default)
	}
	apply := func(s *Setting, source, text string) {
		if err := s.set(text); err != nil {
			errs = append(errs, &Error{Setting: s, Source: source, Value: text, Err: err})
		}
	}
	// Switch flags are negating booleans: -no-x[=true] means off.
	flagText := func(s *Setting, text string) string {
		if s.Kind != KindSwitch {
			return text
		}
		if b, err := strconv.ParseBool(text); err == nil {
			if b {
				return "off"
			}
			return "on"
		}
		return text
	}

	// The file's path first (flag over environment), then its values.
	if r.file != nil {
		from := "environment"
		if v := getenv(r.file.Env); v != "" {
			r.filePath = v
		}
		for _, f := range flags {
			if f.s == r.file {
				r.filePath, from = f.text, "flag"
			}
		}
		if r.filePath != "" {
			errs = append(errs, r.loadFile(r.filePath, from, readFile)...)
		}
	}
	for _, s := range r.settings {
		if s == r.file {
			continue
		}
		if v := getenv(s.Env); v != "" {
			apply(s, "environment", v)
		}
	}
	for _, f := range flags {
		if f.s == r.file {
			continue
		}
		apply(f.s, "flag", flagText(f.s, f.text))
	}
	return fs.Args(), errors.Join(errs...)
}

// Describe renders every setting's current value, one line each:
// group, environment name, flag, kind and value (secrets masked when set).
// Right after Load with nothing set, it lists the defaults.
func (r *Registry) Describe() string {
	var b strings.Builder
	for _, s := range r.settings {
		fl := "-"
		if s.Flag != "" {
			fl = "-" + s.Flag
		}
		kind := string(s.Kind)
		if s.Kind == KindEnum {
			kind += "(" + strings.Join(s.Values, "|") + ")"
		}
		fmt.Fprintf(&b, "%-10s %-26s %-28s %-22s %q\n", s.Group, s.Env, fl, kind, s.Value())
	}
	return b.String()
}
