package settings

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yamlValue is one value of the YAML file.
type yamlValue struct{ n *yaml.Node }

// scalar is a scalar's text, verbatim: the setting's parser reads it as it
// reads the environment (so `poll_interval: 5` is refused like
// POLL_INTERVAL=5).
func (v yamlValue) scalar() (string, error) {
	if v.n.Kind != yaml.ScalarNode {
		return "", errors.New("want a single value here, not a list or a mapping")
	}
	return v.n.Value, nil
}

// join accepts a scalar, a sequence of scalars (joined with sep) or, when
// kv is not empty, a mapping of scalars (key kv value, joined with sep).
func (v yamlValue) join(sep, kv string) (string, error) {
	switch v.n.Kind {
	case yaml.ScalarNode:
		return v.n.Value, nil
	case yaml.SequenceNode:
		parts := make([]string, 0, len(v.n.Content))
		for _, c := range v.n.Content {
			if c.Kind != yaml.ScalarNode {
				return "", fmt.Errorf("line %d: want a list of single values", c.Line)
			}
			parts = append(parts, c.Value)
		}
		return strings.Join(parts, sep), nil
	case yaml.MappingNode:
		if kv == "" {
			return "", errors.New("want a single value or a list, not a mapping")
		}
		parts := make([]string, 0, len(v.n.Content)/2)
		for i := 0; i+1 < len(v.n.Content); i += 2 {
			k, val := v.n.Content[i], v.n.Content[i+1]
			if val.Kind != yaml.ScalarNode {
				return "", fmt.Errorf("line %d: want key: value pairs of single values", val.Line)
			}
			parts = append(parts, k.Value+kv+val.Value)
		}
		return strings.Join(parts, sep), nil
	}
	return "", errors.New("want a value, a list or a mapping")
}

// decode hands the value, decoded into any, to f.
func (v yamlValue) decode(f func(any) (string, error)) (string, error) {
	var x any
	if err := v.n.Decode(&x); err != nil {
		return "", err
	}
	return f(x)
}

// loadFile applies the YAML file at path: a mapping from setting keys
// (environment names in lower case) to values. An unknown key, a file that
// cannot be read and every value that does not parse are errors.
func (r *Registry) loadFile(path, from string, readFile func(string) ([]byte, error)) []error {
	src := r.file.Env + " " + path
	b, err := readFile(path)
	if err != nil {
		return []error{&Error{Setting: r.file, Source: from, Value: path, Err: err}}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) || len(bytes.TrimSpace(b)) == 0 {
			return nil // an empty file sets nothing
		}
		return []error{fmt.Errorf("%s: not YAML: %v", src, err)}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return []error{fmt.Errorf("%s: want a mapping of settings (e.g. poll_interval: 30s)", src)}
	}
	var errs []error
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, n := root.Content[i], root.Content[i+1]
		s := r.byKey(k.Value)
		if s == nil || s == r.file {
			errs = append(errs, fmt.Errorf("%s: line %d: unknown setting %q (the keys are the environment names in lower case; `%s -h` lists them)", src, k.Line, k.Value, r.name))
			continue
		}
		if seen[k.Value] {
			errs = append(errs, fmt.Errorf("%s: line %d: %q is set twice", src, k.Line, k.Value))
			continue
		}
		seen[k.Value] = true
		v := yamlValue{n}
		var text string
		if s.yaml != nil {
			text, err = s.yaml(v)
		} else {
			text, err = v.scalar()
		}
		if err != nil {
			errs = append(errs, &Error{Setting: s, Source: src + fmt.Sprintf(" (line %d)", n.Line), Value: "", Err: err})
			continue
		}
		if err := s.set(text); err != nil {
			errs = append(errs, &Error{Setting: s, Source: src + fmt.Sprintf(" (line %d)", n.Line), Value: text, Err: err})
		}
	}
	return errs
}

func (r *Registry) byKey(key string) *Setting {
	for _, s := range r.settings {
		if s.Key() == key {
			return s
		}
	}
	return nil
}

// Keys are the YAML file's keys, sorted.
func (r *Registry) Keys() []string {
	var ks []string
	for _, s := range r.settings {
		if s != r.file {
			ks = append(ks, s.Key())
		}
	}
	sort.Strings(ks)
	return ks
}
