package loaders

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// TestKindsListsEveryKindTheLoadersUse scans this package's sources for the
// kinds its loaders pass to the cache and checks each is in Kinds, so a new
// loader cannot add a kind whose TTL operators cannot configure.
func TestKindsListsEveryKindTheLoadersUse(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	use := regexp.MustCompile(`\(l, "([a-z_]+)"`)
	found := map[string]bool{}
	for _, f := range files {
		if filepath.Base(f) == "kinds_test.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range use.FindAllStringSubmatch(string(src), -1) {
			found[m[1]] = true
		}
	}
	if len(found) < 10 {
		t.Fatalf("found only %d kinds in the sources: the pattern no longer matches the call sites", len(found))
	}
	for k := range found {
		if !slices.Contains(Kinds, k) {
			t.Errorf("kind %q is used by a loader but missing from Kinds", k)
		}
	}
	for _, k := range Kinds {
		if !found[k] {
			t.Errorf("Kinds lists %q, which no loader uses", k)
		}
	}
}
