package settings

import (
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"
)

// declare returns a registry of one setting of each kind and the values.
type values struct {
	d    time.Duration
	b    bool
	off  bool
	e    string
	n    int
	size int64
	f    float64
	path string
	pin  int
}

func declare() (*Registry, *values) {
	v := &values{}
	r := New("t")
	g := r.Group("g")
	g.ConfigFile("CONFIG_FILE", "config", "file")
	g.Duration(&v.d, "WAIT", "wait", time.Second, "a duration", AtLeast(time.Duration(0)))
	g.Bool(&v.b, "ON", "on", false, "a boolean")
	g.Switch(&v.off, "FEATURE", "no-feature", "a switch")
	g.Enum(&v.e, "MODE", "mode", "a", []string{"a", "b"}, "an enum")
	g.Int(&v.n, "COUNT", "count", 3, "a number", Range(1, 10))
	g.Bytes(&v.size, "SIZE", "size", "1MiB", "a size")
	g.Float(&v.f, "SHARE", "share", 0.5, "a share")
	g.String(&v.path, "TOKEN", "token", "", "a secret", Secret())
	g.Int(&v.pin, "PIN", "pin", 1, "a secret number", Secret())
	return r, v
}

func load(t *testing.T, args []string, env map[string]string, files map[string]string) (*values, error) {
	t.Helper()
	r, v := declare()
	_, err := r.Load(args, func(k string) string { return env[k] }, func(p string) ([]byte, error) {
		s, ok := files[p]
		if !ok {
			return nil, fs.ErrNotExist
		}
		return []byte(s), nil
	}, io.Discard)
	return v, err
}

func TestLayersApplyInOrderDefaultFileEnvironmentFlag(t *testing.T) {
	files := map[string]string{"/c.yaml": "wait: 2s\ncount: 4\nmode: b\nsize: 2MiB\n"}
	v, err := load(t, []string{"-count=6", "-no-feature"}, map[string]string{"CONFIG_FILE": "/c.yaml", "COUNT": "5", "SIZE": "3MiB"}, files)
	if err != nil {
		t.Fatal(err)
	}
	if v.d != 2*time.Second || v.e != "b" || v.size != 3<<20 || v.n != 6 || !v.off || v.f != 0.5 {
		t.Fatalf("%+v: want the file's wait and mode, the environment's size, the flag's count and switch, the default share", *v)
	}
}

func TestMalformedValuesAreRefusedNamingTheSetting(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		env    map[string]string
		errHas string
	}{
		{"DurationWithoutUnit", nil, map[string]string{"WAIT": "5"}, `WAIT: want a duration with a unit, such as 30s, 5m or 1h (a bare number has none) (got "5" from the environment; flag -wait)`},
		{"NegativeDuration", []string{"-wait=-1s"}, nil, `WAIT: want at least 0s (got "-1s" from the flag; flag -wait)`},
		{"BadBoolean", nil, map[string]string{"ON": "yes"}, "ON: want true or false"},
		{"BadSwitch", nil, map[string]string{"FEATURE": "maybe"}, "FEATURE: want on or off"},
		{"UnknownEnumValue", nil, map[string]string{"MODE": "c"}, "MODE: want a or b"},
		{"OutOfRange", nil, map[string]string{"COUNT": "11"}, "COUNT: want 1 to 10"},
		{"NotANumber", nil, map[string]string{"COUNT": "3x"}, "COUNT: want a whole number"},
		{"SizeInDecimalUnits", nil, map[string]string{"SIZE": "1GB"}, "SIZE: want a positive size"},
		{"SecretIsNotRepeated", nil, map[string]string{"PIN": "s3cret"}, "PIN: want a whole number (value hidden from the environment; flag -pin)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.args, tc.env, nil)
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("err = %v, want one containing %q", err, tc.errHas)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("a secret repeated: %v", err)
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("%T is not a *settings.Error", err)
			}
		})
	}
}

func TestSwitchTakesOnOffAndTheNegatingFlag(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		env     string
		wantOff bool
	}{
		{nil, "", false}, {nil, "off", true}, {nil, "on", false}, {nil, "false", true},
		{[]string{"-no-feature"}, "", true}, {[]string{"-no-feature=false"}, "off", false},
	} {
		v, err := load(t, tc.args, map[string]string{"FEATURE": tc.env}, nil)
		if err != nil || v.off != tc.wantOff {
			t.Errorf("%v FEATURE=%q: off %v (%v), want %v", tc.args, tc.env, v.off, err, tc.wantOff)
		}
	}
}

func TestFileErrors(t *testing.T) {
	for _, tc := range []struct{ name, file, errHas string }{
		{"Unknown", "wiat: 1s\n", `unknown setting "wiat"`},
		{"Twice", "wait: 1s\nwait: 2s\n", `"wait" is set twice`},
		{"Bare", "wait: 5\n", "WAIT: want a duration with a unit"},
		{"List", "count: [1, 2]\n", "COUNT: want a single value"},
		{"NotYAML", "wait: [\n", "not YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, nil, map[string]string{"CONFIG_FILE": "/c.yaml"}, map[string]string{"/c.yaml": tc.file})
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("err = %v, want one containing %q", err, tc.errHas)
			}
		})
	}
	if _, err := load(t, nil, map[string]string{"CONFIG_FILE": "/missing.yaml"}, nil); err == nil || !strings.Contains(err.Error(), "CONFIG_FILE") {
		t.Fatalf("a missing file: %v", err)
	}
	if v, err := load(t, nil, map[string]string{"CONFIG_FILE": "/empty.yaml"}, map[string]string{"/empty.yaml": ""}); err != nil || v.n != 3 {
		t.Fatalf("an empty file: %v %+v", err, v)
	}
}

func TestParseDurationNeedsAUnit(t *testing.T) {
	for in, want := range map[string]time.Duration{"0": 0, "0s": 0, "1h30m": 90 * time.Minute, " 5s ": 5 * time.Second} {
		if d, err := ParseDuration(in); err != nil || d != want {
			t.Errorf("%q: %v %v, want %v", in, d, err, want)
		}
	}
	for _, in := range []string{"5", "1.5", "", "soon", "5 s"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
