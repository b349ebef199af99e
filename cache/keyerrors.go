package cache

import (
	"fmt"
	"strings"
)

// KeyErrors is the error a FetchFunc or ValueFetchFunc returns when some of
// the keys it was asked for failed each on its own (Procore refused or timed
// out for one project's list, say) while the others were answered: each key
// in the map failed with its error; every other key is answered by the
// returned map as usual (present: found; absent: not found). A failed key is
// not cached, and every caller sharing its fetch gets its error, not "not
// found". A key both in the value map and in KeyErrors counts as found; a
// nil error, or a key the fetch was not asked for, is ignored. A fetch must
// return it as is, not wrapped: a wrapped KeyErrors is one error for every
// key without a value.
//
// GetOrFetchMany and GetOrFetchManyValues return a KeyErrors when some key of
// the call failed with an error a fetch reported per key (this call's fetch or
// the one it shared): it then holds every key of the call that has no value
// and failed, whatever its error; the call's keys in neither map are not
// found. Without per-key errors they return a failed fetch's error as is.
type KeyErrors map[Key]error

// Error names the failed key that sorts first (its kind and error) and how
// many others failed.
func (e KeyErrors) Error() string {
	var first Key
	var firstErr error
	n := 0
	for k, err := range e {
		if err == nil {
			continue
		}
		n++
		if firstErr == nil || k.String() < first.String() {
			first, firstErr = k, err
		}
	}
	if n == 0 {
		return "cache: no key failed"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "cache: %s: %v", first.Kind, firstErr)
	if n > 1 {
		fmt.Fprintf(&b, " (and %d more failed keys)", n-1)
	}
	return b.String()
}

// Unwrap returns the keys' errors, so that errors.Is and errors.As find them.
func (e KeyErrors) Unwrap() []error {
	errs := make([]error, 0, len(e))
	for _, err := range e {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// keyError returns why key k got no value from a fetch that returned err:
// its entry when err is a KeyErrors (nil: not found), else err itself.
// perKey reports the former.
func keyError(err error, k Key) (kerr error, perKey bool) {
	if ke, ok := err.(KeyErrors); ok {
		return ke[k], true
	}
	return err, false
}

// failures collects why keys of one GetOrFetchMany call got no value. The
// zero value is ready; nothing is allocated until a key fails.
type failures struct {
	plain  error     // the first failure not reported per key
	keys   KeyErrors // every failed key
	perKey bool      // some key's failure was reported per key
}

// add records that k failed with err (nil: not found, nothing to record).
func (fs *failures) add(k Key, err error, perKey bool) {
	if err == nil {
		return
	}
	if !perKey && fs.plain == nil {
		fs.plain = err
	}
	if fs.keys == nil {
		fs.keys = KeyErrors{}
	}
	if _, dup := fs.keys[k]; !dup {
		fs.keys[k] = err
	}
	fs.perKey = fs.perKey || perKey
}

// err is the call's error: a KeyErrors of every failed key when some
// failure was reported per key, else the first failure, or nil.
func (fs *failures) err() error {
	if fs.perKey {
		return fs.keys
	}
	return fs.plain
}

// recordFetch records the outcome of a fetch this call made for keys: each
// key without a value fails with its error (see keyError). A plain error is
// recorded even when every key got a value (FetchFunc: the values are used
// and the error returned).
func recordFetch[V any](fs *failures, keys []Key, vals map[Key]V, err error) {
	if err == nil {
		return
	}
	if _, perKey := err.(KeyErrors); !perKey && fs.plain == nil {
		fs.plain = err
	}
	for _, k := range keys {
		if _, ok := vals[k]; !ok {
			kerr, perKey := keyError(err, k)
			fs.add(k, kerr, perKey)
		}
	}
}

// fetchErr is the error of a call that made one fetch of keys and shared
// none: fetch's error as is, or a KeyErrors of the keys it failed.
func fetchErr[V any](keys []Key, vals map[Key]V, err error) error {
	if _, perKey := err.(KeyErrors); !perKey {
		return err
	}
	var fs failures
	recordFetch(&fs, keys, vals, err)
	return fs.err()
}
