package portal

import (
	"errors"
	"fmt"

	"procoregraph/sealbox"
)

// KeySize is the length of a session encryption key: AES-256.
const KeySize = sealbox.KeySize

// errUnsealable is wrapped when no configured key opens a blob (a wrong key,
// a tampered or foreign blob).
var errUnsealable = sealbox.ErrUnsealable

// ParseKey decodes a session encryption key from configuration: 32 bytes as
// standard or URL-safe base64 (padded or not) or as 64 hex digits. Generate
// one with `openssl rand -base64 32`. Errors never repeat the input.
func ParseKey(s string) ([]byte, error) {
	k, err := sealbox.ParseKey(s)
	if err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	return k, nil
}

// sealer encrypts records (package sealbox): AES-256-GCM with the blob's
// store key as additional data.
type sealer struct{ box *sealbox.Box }

func newSealer(key []byte, old [][]byte) (*sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("portal: Options.Key must be %d bytes, got %d", KeySize, len(key))
	}
	b, err := sealbox.New(key, old...)
	if err != nil {
		return nil, errors.Join(errors.New("portal: Options.OldKeys"), err)
	}
	return &sealer{box: b}, nil
}

func (s *sealer) seal(aad string, plain []byte) ([]byte, error) { return s.box.Seal(aad, plain) }
func (s *sealer) open(aad string, blob []byte) ([]byte, error)  { return s.box.Open(aad, blob) }

// id derives a stable, non-reversible identifier of a secret, for store keys.
func (s *sealer) id(secret string) string { return s.box.ID(secret) }
