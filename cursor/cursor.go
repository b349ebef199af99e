// Package cursor is the codec of the opaque Relay cursors the graph hands
// out: base64 of "cursor:<offset>", the item's position in its list.
package cursor

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// MaxOffset is the largest position a cursor may name. A cursor past it is
// past the end of any list the gateway serves: the page after it is empty
// and costs no Procore call.
const MaxOffset = 100_000

const prefix = "cursor:"

// ErrInvalid is returned for a string that is not a cursor of this gateway.
var ErrInvalid = errors.New("invalid cursor")

// Encode returns the cursor of the item at position i.
func Encode(i int) string {
	return base64.StdEncoding.EncodeToString([]byte(prefix + strconv.Itoa(i)))
}

// Decode returns the position a cursor names; beyond is true when it is
// past MaxOffset (then pos is MaxOffset). Anything that is not a cursor of
// this gateway (bad base64, another prefix, a negative or non-decimal
// position) is ErrInvalid; no input makes it fail otherwise.
func Decode(s string) (pos int, beyond bool, err error) {
	if len(s) > 64 {
		return 0, false, ErrInvalid
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return 0, false, ErrInvalid
	}
	digits, ok := strings.CutPrefix(string(raw), prefix)
	if !ok || digits == "" || len(digits) > 20 {
		return 0, false, ErrInvalid
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false, ErrInvalid
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n > MaxOffset {
		return MaxOffset, true, nil // only overflow can fail here: a huge position
	}
	return int(n), false, nil
}
