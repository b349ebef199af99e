package sealbox_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"procoregraph/sealbox"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, sealbox.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func newBox(t *testing.T, key []byte, old ...[]byte) *sealbox.Box {
	t.Helper()
	b, err := sealbox.New(key, old...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpenRoundTrip(t *testing.T) {
	box := newBox(t, newKey(t))
	tests := []struct {
		name  string
		aad   string
		plain []byte
	}{
		{"TextOpens", "session:abc", []byte(`{"token":"secret"}`)},
		{"EmptyPlaintextOpens", "k", []byte{}},
		{"EmptyAADOpens", "", []byte("x")},
		{"BinaryOpens", "bin", []byte{0, 1, 2, 255, 254}},
		{"LargeOpens", "big", bytes.Repeat([]byte("0123456789"), 10_000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blob, err := box.Seal(tt.aad, tt.plain)
			if err != nil {
				t.Fatal(err)
			}
			if len(tt.plain) > 4 && bytes.Contains(blob, tt.plain) {
				t.Fatal("the sealed blob holds the plaintext")
			}
			got, err := box.Open(tt.aad, blob)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.plain) {
				t.Fatalf("Open = %q, want %q", got, tt.plain)
			}
		})
	}
}

func TestSealIsRandomized(t *testing.T) {
	box := newBox(t, newKey(t))
	a, _ := box.Seal("k", []byte("same"))
	b, _ := box.Seal("k", []byte("same"))
	if bytes.Equal(a, b) {
		t.Fatal("sealing the same plaintext twice gave the same blob (nonce reuse)")
	}
}

func TestOpenRefusals(t *testing.T) {
	key := newKey(t)
	box := newBox(t, key)
	blob, err := box.Seal("store:key-1", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(blob)
		if i < 0 {
			i += len(b)
		}
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name string
		box  *sealbox.Box
		aad  string
		blob []byte
	}{
		{"WrongAADFails", box, "store:key-2", blob},
		{"EmptyAADFails", box, "", blob},
		{"TamperedFormatByteFails", box, "store:key-1", flip(0)},
		{"TamperedNonceFails", box, "store:key-1", flip(1)},
		{"TamperedCiphertextFails", box, "store:key-1", flip(14)},
		{"TamperedTagFails", box, "store:key-1", flip(-1)},
		{"TruncatedBlobFails", box, "store:key-1", blob[:len(blob)-1]},
		{"ShortBlobFails", box, "store:key-1", blob[:5]},
		{"EmptyBlobFails", box, "store:key-1", nil},
		{"ExtendedBlobFails", box, "store:key-1", append(bytes.Clone(blob), 0)},
		{"OtherKeyFails", newBox(t, newKey(t)), "store:key-1", blob},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.box.Open(tt.aad, tt.blob)
			if err == nil {
				t.Fatalf("Open succeeded: %q", got)
			}
			if !errors.Is(err, sealbox.ErrUnsealable) {
				t.Fatalf("Open error = %v, want ErrUnsealable", err)
			}
			if got != nil {
				t.Fatalf("Open returned plaintext with an error: %q", got)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	oldKey, newKeyB := newKey(t), newKey(t)
	oldBox := newBox(t, oldKey)
	rotated := newBox(t, newKeyB, oldKey)
	sealedOld, _ := oldBox.Seal("k", []byte("old secret"))

	t.Run("OldKeyOpensOldBlob", func(t *testing.T) {
		got, err := rotated.Open("k", sealedOld)
		if err != nil || string(got) != "old secret" {
			t.Fatalf("Open = %q, %v", got, err)
		}
	})
	t.Run("OldKeyStillChecksAAD", func(t *testing.T) {
		if _, err := rotated.Open("other", sealedOld); !errors.Is(err, sealbox.ErrUnsealable) {
			t.Fatalf("Open with wrong AAD = %v, want ErrUnsealable", err)
		}
	})
	t.Run("NewBlobsUseTheFirstKey", func(t *testing.T) {
		blob, _ := rotated.Seal("k", []byte("new secret"))
		if got, err := newBox(t, newKeyB).Open("k", blob); err != nil || string(got) != "new secret" {
			t.Fatalf("the first key alone does not open a new blob: %q, %v", got, err)
		}
		if _, err := oldBox.Open("k", blob); !errors.Is(err, sealbox.ErrUnsealable) {
			t.Fatalf("the old key opens a new blob: %v", err)
		}
	})
	t.Run("DroppedKeyNoLongerOpens", func(t *testing.T) {
		if _, err := newBox(t, newKeyB).Open("k", sealedOld); !errors.Is(err, sealbox.ErrUnsealable) {
			t.Fatalf("Open without the old key = %v, want ErrUnsealable", err)
		}
	})
}

func TestNewRefusesBadKeys(t *testing.T) {
	tests := []struct {
		name string
		key  []byte
		old  [][]byte
	}{
		{"ShortKeyIsRefused", make([]byte, 16), nil},
		{"LongKeyIsRefused", make([]byte, 33), nil},
		{"NilKeyIsRefused", nil, nil},
		{"ShortOldKeyIsRefused", make([]byte, 32), [][]byte{make([]byte, 31)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := sealbox.New(tt.key, tt.old...); err == nil {
				t.Fatal("New accepted the key")
			}
		})
	}
}

func TestID(t *testing.T) {
	key := newKey(t)
	a, b := newBox(t, key), newBox(t, key)
	t.Run("StableForOneKey", func(t *testing.T) {
		if a.ID("tok") != b.ID("tok") {
			t.Fatal("ID differs between boxes of one key")
		}
	})
	t.Run("DiffersBySecret", func(t *testing.T) {
		if a.ID("tok") == a.ID("tok2") {
			t.Fatal("two secrets share an ID")
		}
	})
	t.Run("DiffersByKey", func(t *testing.T) {
		if a.ID("tok") == newBox(t, newKey(t)).ID("tok") {
			t.Fatal("two keys give the same ID")
		}
	})
	t.Run("DoesNotHoldTheSecret", func(t *testing.T) {
		if id := a.ID("supersecret-token"); strings.Contains(id, "supersecret") {
			t.Fatalf("ID %q holds the secret", id)
		}
	})
}

func TestParseKey(t *testing.T) {
	key := newKey(t)
	tests := []struct {
		name string
		in   string
	}{
		{"HexIsAccepted", hex.EncodeToString(key)},
		{"UppercaseHexIsAccepted", strings.ToUpper(hex.EncodeToString(key))},
		{"StdBase64IsAccepted", base64.StdEncoding.EncodeToString(key)},
		{"URLBase64IsAccepted", base64.URLEncoding.EncodeToString(key)},
		{"UnpaddedStdBase64IsAccepted", base64.RawStdEncoding.EncodeToString(key)},
		{"UnpaddedURLBase64IsAccepted", base64.RawURLEncoding.EncodeToString(key)},
		{"SurroundingSpaceIsIgnored", "  " + base64.StdEncoding.EncodeToString(key) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sealbox.ParseKey(tt.in)
			if err != nil {
				t.Fatalf("ParseKey: %v", err)
			}
			if !bytes.Equal(got, key) {
				t.Fatalf("ParseKey = %x, want %x", got, key)
			}
		})
	}
}

func TestParseKeyErrorsNeverContainTheInput(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"ShortBase64IsRefused", base64.StdEncoding.EncodeToString([]byte("sixteen-byte-key"))},
		{"LongBase64IsRefused", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("k"), 48))},
		{"OddHexIsRefused", strings.Repeat("ab", 31) + "a"},
		{"NonHex64IsRefused", strings.Repeat("zq", 32)},
		{"PassphraseIsRefused", "correct horse battery staple SECRET"},
		{"EmptyIsRefused", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sealbox.ParseKey(tt.in)
			if err == nil {
				t.Fatalf("ParseKey(%q) = %x, want an error", tt.in, got)
			}
			if tt.in != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.in)) {
				t.Fatalf("the error repeats the input: %v", err)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Fatalf("the error repeats the input: %v", err)
			}
		})
	}
}
