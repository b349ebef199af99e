// Package sealbox encrypts secrets at rest (browser sessions, OAuth token
// pairs, sign-in sessions): AES-256-GCM with a random 96-bit nonce per blob
// and the blob's store key as additional data, so that a blob copied under
// another key does not open. Older keys may still open blobs (rotation);
// new blobs are always sealed with the first key.
package sealbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a key: AES-256.
const KeySize = 32

// format is the first byte of every sealed blob.
const format = 0x01

// ErrUnsealable is returned when no configured key opens a blob (a wrong
// key, a tampered or foreign blob).
var ErrUnsealable = errors.New("sealbox: the stored secret cannot be decrypted with the configured keys")

// ParseKey decodes a key from configuration: 32 bytes as standard or
// URL-safe base64 (padded or not) or as 64 hex digits. Generate one with
// `openssl rand -base64 32`. Errors never repeat the input.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("the key must be %d bytes as base64 or %d hex digits", KeySize, 2*KeySize)
}

// Box seals and opens blobs. It is safe for concurrent use.
type Box struct {
	aeads []cipher.AEAD // [0] seals; all open
	mac   []byte        // derived key for non-reversible ids
}

// New returns a Box sealing with key and opening with key and old.
func New(key []byte, old ...[]byte) (*Box, error) {
	b := &Box{}
	for i, k := range append([][]byte{key}, old...) {
		if len(k) != KeySize {
			if i == 0 {
				return nil, fmt.Errorf("sealbox: the key must be %d bytes, got %d", KeySize, len(k))
			}
			return nil, fmt.Errorf("sealbox: old key %d must be %d bytes, got %d", i-1, KeySize, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		b.aeads = append(b.aeads, aead)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("procoregraph portal: id derivation key"))
	b.mac = m.Sum(nil)
	return b, nil
}

// Seal returns format byte || nonce || ciphertext+tag, bound to aad.
func (b *Box) Seal(aad string, plain []byte) ([]byte, error) {
	a := b.aeads[0]
	out := make([]byte, 1+a.NonceSize(), 1+a.NonceSize()+len(plain)+a.Overhead())
	out[0] = format
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return a.Seal(out, out[1:1+a.NonceSize()], plain, []byte(aad)), nil
}

// Open reverses Seal with the first key that authenticates the blob.
func (b *Box) Open(aad string, blob []byte) ([]byte, error) {
	for _, a := range b.aeads {
		n := a.NonceSize()
		if len(blob) < 1+n+a.Overhead() || blob[0] != format {
			return nil, ErrUnsealable
		}
		if plain, err := a.Open(nil, blob[1:1+n], blob[1+n:], []byte(aad)); err == nil {
			return plain, nil
		}
	}
	return nil, ErrUnsealable
}

// ID derives a stable, non-reversible identifier of a secret (HMAC-SHA-256
// under a key derived from the encryption key), for store keys.
func (b *Box) ID(secret string) string {
	m := hmac.New(sha256.New, b.mac)
	m.Write([]byte(secret))
	return hex.EncodeToString(m.Sum(nil)[:16])
}
