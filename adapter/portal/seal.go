package portal

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

// KeySize is the length of a session encryption key: AES-256.
const KeySize = 32

// sealFormat is the first byte of every sealed blob.
const sealFormat = 0x01

// errUnsealable is wrapped when no configured key opens a blob (a wrong key,
// a tampered or foreign blob).
var errUnsealable = errors.New("portal: the stored session cannot be decrypted with the configured keys")

// ParseKey decodes a session encryption key from configuration: 32 bytes as
// standard or URL-safe base64 (padded or not) or as 64 hex digits. Generate
// one with `openssl rand -base64 32`. Errors never repeat the input.
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
	return nil, fmt.Errorf("portal: the session key must be %d bytes as base64 or %d hex digits", KeySize, 2*KeySize)
}

// sealer encrypts records with AES-256-GCM: a random 96-bit nonce per
// blob, and the blob's store key as additional data so that a blob copied
// under another session's key does not open.
type sealer struct {
	aeads []cipher.AEAD // [0] seals; all open (key rotation)
	mac   []byte        // derived key for non-reversible ids (TOTP step claims)
}

func newSealer(key []byte, old [][]byte) (*sealer, error) {
	s := &sealer{}
	for i, k := range append([][]byte{key}, old...) {
		if len(k) != KeySize {
			if i == 0 {
				return nil, fmt.Errorf("portal: Options.Key must be %d bytes, got %d", KeySize, len(k))
			}
			return nil, fmt.Errorf("portal: Options.OldKeys[%d] must be %d bytes, got %d", i-1, KeySize, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		s.aeads = append(s.aeads, aead)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("procoregraph portal: id derivation key"))
	s.mac = m.Sum(nil)
	return s, nil
}

// seal returns format byte || nonce || ciphertext+tag.
func (s *sealer) seal(aad string, plain []byte) ([]byte, error) {
	a := s.aeads[0]
	out := make([]byte, 1+a.NonceSize(), 1+a.NonceSize()+len(plain)+a.Overhead())
	out[0] = sealFormat
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return a.Seal(out, out[1:1+a.NonceSize()], plain, []byte(aad)), nil
}

// open reverses seal with the first key that authenticates the blob.
func (s *sealer) open(aad string, blob []byte) ([]byte, error) {
	for _, a := range s.aeads {
		n := a.NonceSize()
		if len(blob) < 1+n+a.Overhead() || blob[0] != sealFormat {
			return nil, errUnsealable
		}
		if plain, err := a.Open(nil, blob[1:1+n], blob[1+n:], []byte(aad)); err == nil {
			return plain, nil
		}
	}
	return nil, errUnsealable
}

// id derives a stable, non-reversible identifier of a secret (HMAC-SHA-256
// under a key derived from the encryption key), for store keys.
func (s *sealer) id(secret string) string {
	m := hmac.New(sha256.New, s.mac)
	m.Write([]byte(secret))
	return hex.EncodeToString(m.Sum(nil)[:16])
}
