// Package cursor is the codec of the opaque Relay cursors the graph hands
// out. Two kinds exist:
//
//   - keyset cursors (what the gateway issues): base64 of
//     "k1:<order><direction>:<updated_at unix ns>:<id>:<position>", the key
//     of the last item served in the list's order plus a position hint (the
//     item's index when it was served, used only to estimate and bound the
//     work of the next page). The next page starts strictly after the key,
//     so items inserted or deleted between page requests neither shift nor
//     repeat the rest.
//   - offset cursors (issued before keyset paging): base64 of
//     "cursor:<offset>", still decoded so that a sync in flight across an
//     upgrade keeps working in the default order.
//
// Both are bounded (at most 96 characters) and never make Decode panic; a
// cursor altered by a client names another position in the list (as any
// cursor it could be given), never anything else.
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

// maxLen bounds a cursor's text before any decoding.
const maxLen = 96

const (
	prefix    = "cursor:"
	keyPrefix = "k1:"
)

// Order is the field a keyset cursor's list is ordered by.
type Order byte

const (
	// ByID orders by Procore id.
	ByID Order = 'i'
	// ByUpdatedAt orders by (updated_at, id).
	ByUpdatedAt Order = 'u'
)

// ErrInvalid is returned for a string that is not a cursor of this gateway.
var ErrInvalid = errors.New("invalid cursor")

// Key is a keyset position: the last item served in its list's order.
type Key struct {
	Order Order
	Desc  bool
	// UpdatedAt is the item's updated_at in Unix nanoseconds (0 in ID order).
	UpdatedAt int64
	// ID is the item's Procore id (positive).
	ID int64
	// Pos is the item's index when it was served, in [0, MaxOffset]: a hint
	// for estimating the next page's cost, never for correctness.
	Pos int
}

// Cursor is a decoded cursor: a Key, or (for an offset cursor) Offset and
// Beyond as Decode reports them.
type Cursor struct {
	Key    *Key
	Offset int
	Beyond bool
}

// Encode returns the offset cursor of the item at position i.
func Encode(i int) string {
	return base64.StdEncoding.EncodeToString([]byte(prefix + strconv.Itoa(i)))
}

// EncodeKey returns the keyset cursor of k. Pos is clamped to [0, MaxOffset].
func EncodeKey(k Key) string {
	dir := byte('a')
	if k.Desc {
		dir = 'd'
	}
	pos := min(max(k.Pos, 0), MaxOffset)
	s := keyPrefix + string([]byte{byte(k.Order), dir}) + ":" + strconv.FormatInt(k.UpdatedAt, 10) + ":" +
		strconv.FormatInt(k.ID, 10) + ":" + strconv.Itoa(pos)
	return base64.StdEncoding.EncodeToString([]byte(s))
}

// Decode returns the position an offset cursor names; beyond is true when
// it is past MaxOffset (then pos is MaxOffset). Anything that is not an
// offset cursor of this gateway (bad base64, another prefix, a keyset
// cursor, a negative or non-decimal position) is ErrInvalid; no input makes
// it fail otherwise.
func Decode(s string) (pos int, beyond bool, err error) {
	c, err := Parse(s)
	if err != nil || c.Key != nil {
		return 0, false, ErrInvalid
	}
	return c.Offset, c.Beyond, nil
}

// Parse decodes an offset or a keyset cursor. Anything else is ErrInvalid.
// A keyset cursor needs a known order and direction, a positive id, a
// non-negative updated_at (zero in ID order) and a position within
// [0, MaxOffset].
func Parse(s string) (Cursor, error) {
	if len(s) > maxLen {
		return Cursor{}, ErrInvalid
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, ErrInvalid
	}
	if rest, ok := strings.CutPrefix(string(raw), keyPrefix); ok {
		k, ok := parseKey(rest)
		if !ok {
			return Cursor{}, ErrInvalid
		}
		return Cursor{Key: &k}, nil
	}
	digits, ok := strings.CutPrefix(string(raw), prefix)
	if !ok || !decimal(digits, 20) {
		return Cursor{}, ErrInvalid
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n > MaxOffset {
		return Cursor{Offset: MaxOffset, Beyond: true}, nil // only overflow can fail here: a huge position
	}
	return Cursor{Offset: int(n)}, nil
}

func parseKey(s string) (Key, bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 4 || len(parts[0]) != 2 {
		return Key{}, false
	}
	k := Key{Order: Order(parts[0][0])}
	switch parts[0][1] {
	case 'a':
	case 'd':
		k.Desc = true
	default:
		return Key{}, false
	}
	for _, p := range parts[1:] {
		if !decimal(p, 19) {
			return Key{}, false
		}
	}
	var err1, err2, err3 error
	k.UpdatedAt, err1 = strconv.ParseInt(parts[1], 10, 64)
	k.ID, err2 = strconv.ParseInt(parts[2], 10, 64)
	pos, err3 := strconv.ParseInt(parts[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || k.ID <= 0 || pos > MaxOffset {
		return Key{}, false
	}
	k.Pos = int(pos)
	switch k.Order {
	case ByID:
		if k.UpdatedAt != 0 {
			return Key{}, false
		}
	case ByUpdatedAt:
	default:
		return Key{}, false
	}
	return k, true
}

// decimal reports whether s is 1..maxDigits ASCII digits.
func decimal(s string, maxDigits int) bool {
	if s == "" || len(s) > maxDigits {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
