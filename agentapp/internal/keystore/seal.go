package keystore

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/alexedwards/argon2id"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"villagesync/agentapp/internal/localstore"
)

// Params is the argon2id cost of a PIN: memory in KiB, passes over it,
// lanes. The same cost is used for the verifier hash and for the key
// derivation, each with its own random 16-byte salt.
type Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

// The default argon2id cost: the OWASP Password Storage Cheat Sheet's
// setting m=19 MiB, t=2, p=1. RFC 9106's recommended settings (2 GiB, or
// 64 MiB with t=3) are too much for a cheap tablet with 1-2 GB of RAM
// shared with the browser UI. The cost is paid twice per unlock (verifier,
// then key): BenchmarkUnlock measured 83 ms for both on a 2-core Xeon
// server; a low-end ARM tablet is several times slower, still under a
// second. One lane: a cheap tablet has no spare cores, and more lanes would
// buy speed, not attacker cost. Measure on the target tablet with
// BenchmarkUnlock before changing it.
const (
	DefaultMemoryKiB   = 19 * 1024
	DefaultIterations  = 2
	DefaultParallelism = 1
)

// DefaultParams returns the documented default cost.
func DefaultParams() Params {
	return Params{MemoryKiB: DefaultMemoryKiB, Iterations: DefaultIterations, Parallelism: DefaultParallelism}
}

// Bounds on a cost read back from the file, so that a damaged or edited
// row cannot make the tablet allocate gigabytes or spin for minutes.
const (
	maxMemoryKiB   = 256 * 1024
	maxIterations  = 64
	maxParallelism = 16
)

func (p Params) check() error {
	if p.Parallelism < 1 || p.Parallelism > maxParallelism ||
		p.Iterations < 1 || p.Iterations > maxIterations ||
		p.MemoryKiB < 8*uint32(p.Parallelism) || p.MemoryKiB > maxMemoryKiB {
		return fmt.Errorf("argon2id cost m=%d KiB, t=%d, p=%d is out of bounds", p.MemoryKiB, p.Iterations, p.Parallelism)
	}
	return nil
}

const (
	saltLen = 16
	keyLen  = chacha20poly1305.KeySize
)

// Associated data of the two seals: a label (so that neither blob can
// stand for the other) and the device ID (so that neither opens as another
// device's).
const (
	aadDataKey = "villagesync/keystore/v1/data-key\x00"
	aadSecrets = "villagesync/keystore/v1/secrets\x00"
)

// secretsVersion is the first byte of the sealed secrets' plain text.
const secretsVersion = 1

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("keystore: random: %w", err)
	}
	return b, nil
}

// setPIN writes into rec the verifier hash of pin and the data key sealed
// under a key derived from pin, both at cost p with fresh salts.
func setPIN(rec *localstore.KeystoreRecord, pin string, p Params, dataKey []byte) error {
	hash, err := argon2id.CreateHash(pin, &argon2id.Params{
		Memory: p.MemoryKiB, Iterations: p.Iterations, Parallelism: p.Parallelism,
		SaltLength: saltLen, KeyLength: keyLen,
	})
	if err != nil {
		return fmt.Errorf("keystore: hash PIN: %w", err)
	}
	salt, err := randomBytes(saltLen)
	if err != nil {
		return err
	}
	kek := argon2.IDKey([]byte(pin), salt, p.Iterations, p.MemoryKiB, p.Parallelism, keyLen)
	defer clear(kek)
	nonce, wrapped, err := seal(kek, dataKey, aadDataKey, rec.DeviceID)
	if err != nil {
		return err
	}
	rec.PINHash = hash
	rec.KDFSalt = salt
	rec.KDFMemoryKiB, rec.KDFIterations, rec.KDFParallelism = p.MemoryKiB, p.Iterations, p.Parallelism
	rec.WrapNonce, rec.WrappedKey = nonce, wrapped
	return nil
}

// verifyPIN checks pin against the verifier hash, in constant time, after
// checking that the hash's cost is within bounds.
func verifyPIN(pin, hash string) (bool, error) {
	hp, _, _, err := argon2id.DecodeHash(hash)
	if err != nil {
		return false, err
	}
	if err := (Params{MemoryKiB: hp.Memory, Iterations: hp.Iterations, Parallelism: hp.Parallelism}).check(); err != nil {
		return false, err
	}
	if hp.SaltLength < saltLen || hp.KeyLength < keyLen {
		return false, errors.New("argon2id hash with a short salt or key")
	}
	return argon2id.ComparePasswordAndHash(pin, hash)
}

// openSecrets derives the key from pin, opens the data key and with it the
// secrets. The caller owns the returned data key.
func openSecrets(rec *localstore.KeystoreRecord, pin string) ([]byte, Secrets, error) {
	p := Params{MemoryKiB: rec.KDFMemoryKiB, Iterations: rec.KDFIterations, Parallelism: rec.KDFParallelism}
	if err := p.check(); err != nil {
		return nil, Secrets{}, err
	}
	kek := argon2.IDKey([]byte(pin), rec.KDFSalt, p.Iterations, p.MemoryKiB, p.Parallelism, keyLen)
	defer clear(kek)
	dataKey, err := unseal(kek, rec.WrapNonce, rec.WrappedKey, aadDataKey, rec.DeviceID)
	if err != nil {
		return nil, Secrets{}, err
	}
	if len(dataKey) != keyLen {
		return nil, Secrets{}, errors.New("data key of the wrong size")
	}
	plain, err := unseal(dataKey, rec.Nonce, rec.Sealed, aadSecrets, rec.DeviceID)
	if err != nil {
		return nil, Secrets{}, err
	}
	defer clear(plain)
	s, err := decodeSecrets(plain)
	if err != nil {
		return nil, Secrets{}, err
	}
	return dataKey, s, nil
}

// seal encrypts plain under key with a fresh random nonce.
func seal(key, plain []byte, label, deviceID string) (nonce, sealed []byte, err error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, nil, fmt.Errorf("keystore: cipher: %w", err)
	}
	if nonce, err = randomBytes(aead.NonceSize()); err != nil {
		return nil, nil, err
	}
	return nonce, aead.Seal(nil, nonce, plain, []byte(label+deviceID)), nil
}

// unseal decrypts and authenticates what seal made.
func unseal(key, nonce, sealed []byte, label, deviceID string) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, err
	}
	if len(nonce) != aead.NonceSize() {
		return nil, errors.New("nonce of the wrong size")
	}
	return aead.Open(nil, nonce, sealed, []byte(label+deviceID))
}

// encodeSecrets lays the secrets out as version byte, the 32-byte Ed25519
// seed, then the refresh credential's bytes. The caller clears the result.
func encodeSecrets(s Secrets) []byte {
	b := make([]byte, 0, 1+ed25519.SeedSize+len(s.Refresh))
	b = append(b, secretsVersion)
	b = append(b, s.DeviceKey.Seed()...)
	return append(b, s.Refresh...)
}

// decodeSecrets reverses encodeSecrets; it copies out of b.
func decodeSecrets(b []byte) (Secrets, error) {
	if len(b) < 1+ed25519.SeedSize+1 || b[0] != secretsVersion {
		return Secrets{}, errors.New("sealed secrets in an unknown layout")
	}
	return Secrets{
		DeviceKey: ed25519.NewKeyFromSeed(b[1 : 1+ed25519.SeedSize]),
		Refresh:   string(b[1+ed25519.SeedSize:]),
	}, nil
}
