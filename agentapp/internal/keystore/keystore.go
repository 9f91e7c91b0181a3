// Package keystore is the tablet's offline unlock. After enrollment the
// agent sets a PIN; the tablet keeps only an argon2id hash of it, and keeps
// the device's secrets (its Ed25519 private key and its refresh credential)
// sealed under a key derived from the PIN. Wrong PINs lock the keystore for
// a growing delay, counted in the local store so that a restart does not
// reset them.
//
// Layout of the secrets: a random 32-byte data key seals the secrets with
// XChaCha20-Poly1305; the data key is itself sealed (XChaCha20-Poly1305)
// under a key derived from the PIN with argon2id and a salt of its own,
// separate from the verifier hash's salt. Both seals take the device ID as
// associated data, so a sealed blob moved to another device's row does not
// open. Changing the PIN re-seals only the data key, and a sync client that
// holds an Unlocked session can keep storing rotated refresh credentials
// across a PIN change.
//
// What this protects and what it does not is written in the README: in
// short, it keeps the secrets of a lost tablet at rest unreadable without
// the PIN and throttles guessing on the tablet; it does not encrypt the
// cash records or the roster, does not stop an offline brute force of a
// copied file (argon2id only slows it), does not hold against someone who
// sets the clock forward, and does nothing against malware on an unlocked
// tablet.
package keystore

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"villagesync/agentapp/internal/localstore"
	"villagesync/syncproto"
)

// The keystore's coded errors. The UI branches on the code and shows the
// messages.
const (
	// CodePINWrong: the PIN was checked and is not the keystore's.
	CodePINWrong = syncproto.Code("pin_wrong")
	// CodePINLocked: too many wrong PINs; the PIN was not checked.
	CodePINLocked = syncproto.Code("pin_locked")
	// CodePINWeak: a new PIN is too easy to guess.
	CodePINWeak = syncproto.Code("pin_weak")
	// CodeNotInitialised: no PIN has been set on this tablet yet.
	CodeNotInitialised = syncproto.Code("keystore_not_initialised")
	// CodeAlreadyInitialised: a PIN is set already; use ChangePIN.
	CodeAlreadyInitialised = syncproto.Code("keystore_already_initialised")
	// CodeTampered: the stored keystore does not verify (edited or
	// damaged file); the PIN itself was right or was not the question.
	CodeTampered = syncproto.Code("keystore_tampered")
	// CodeSessionClosed: the Unlocked session was locked again.
	CodeSessionClosed = syncproto.Code("keystore_session_closed")
)

// Secrets are what the keystore keeps sealed: the device's Ed25519 private
// key made at enrollment and the device refresh credential the server gave.
type Secrets struct {
	DeviceKey ed25519.PrivateKey
	Refresh   string
}

// clone returns a copy that shares no memory with s.
func (s Secrets) clone() Secrets {
	return Secrets{DeviceKey: append(ed25519.PrivateKey(nil), s.DeviceKey...), Refresh: s.Refresh}
}

// check refuses secrets that could not be used after unlock.
func (s Secrets) check() error {
	if len(s.DeviceKey) != ed25519.PrivateKeySize {
		return syncproto.Errorf(syncproto.CodeInvalidInput,
			"the device key must be an Ed25519 private key",
			"设备密钥必须是 Ed25519 私钥")
	}
	pub := ed25519.NewKeyFromSeed(s.DeviceKey.Seed()).Public().(ed25519.PublicKey)
	if subtle.ConstantTimeCompare(pub, s.DeviceKey[ed25519.SeedSize:]) != 1 {
		return syncproto.Errorf(syncproto.CodeInvalidInput,
			"the device key is inconsistent (public half does not match)",
			"设备密钥不一致（公钥部分不匹配）")
	}
	if s.Refresh == "" {
		return syncproto.Errorf(syncproto.CodeInvalidInput,
			"the refresh credential is empty", "刷新凭据为空")
	}
	return nil
}

// GenerateDeviceKey makes the device's Ed25519 key pair at enrollment: the
// public half goes to the server, the private half into Initialise.
func GenerateDeviceKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("keystore: generate device key: %w", err)
	}
	return pub, priv, nil
}

// Keystore is the tablet's PIN-protected store of device secrets, over the
// keystore row of the local store. It is safe for concurrent use.
type Keystore struct {
	store  *localstore.Store
	now    func() time.Time
	params Params
}

// Option changes a Keystore made by New.
type Option func(*Keystore)

// WithParams sets the argon2id cost for PINs set from now on (Initialise,
// ChangePIN). Stored PINs keep the cost they were set with. Tests use it
// for a light setting; production keeps the default unless a slower
// tablet was measured.
func WithParams(p Params) Option { return func(k *Keystore) { k.params = p } }

// New returns the keystore over store, reading the wall clock from now
// (nil means time.Now). It panics on invalid options, which are constants
// in the caller's code.
func New(store *localstore.Store, now func() time.Time, opts ...Option) *Keystore {
	if now == nil {
		now = time.Now
	}
	k := &Keystore{store: store, now: now, params: DefaultParams()}
	for _, o := range opts {
		o(k)
	}
	if err := k.params.check(); err != nil {
		panic("keystore: " + err.Error())
	}
	return k
}

// clock reads the injected clock at the store's precision (milliseconds).
func (k *Keystore) clock() time.Time { return time.UnixMilli(k.now().UnixMilli()).UTC() }

// State is what the unlock screen needs to know.
type State struct {
	Initialised bool      // a PIN is set
	DeviceID    string    // the enrolled device, when initialised
	Failures    int       // wrong PINs in a row since the last success
	LockedUntil time.Time // zero unless locked now
}

// Status describes the keystore without checking any PIN. When the clock
// is behind the last time the keystore saw, the lock is re-based on the
// current clock first (see observe) and that is saved.
func (k *Keystore) Status(ctx context.Context) (State, error) {
	rec, err := k.store.Keystore(ctx)
	if errors.Is(err, localstore.ErrNotFound) {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("keystore: %w", err)
	}
	now := k.clock()
	if now.Before(rec.LastSeen) {
		err := k.store.UpdateKeystore(ctx, func(r *localstore.KeystoreRecord) error {
			observe(r, now)
			rec = *r
			return nil
		})
		if err != nil {
			return State{}, k.storeErr(err)
		}
	}
	st := State{Initialised: true, DeviceID: rec.DeviceID, Failures: rec.Failures}
	if lockLeft(&rec, now) > 0 {
		st.LockedUntil = rec.LockedUntil
	}
	return st, nil
}

// Initialise sets the first PIN after enrollment and seals the secrets
// under it, for the device deviceID (a ULID). It refuses a weak PIN and a
// keystore that is already initialised (ChangePIN changes the PIN; Forget
// starts over). It returns the keystore unlocked.
func (k *Keystore) Initialise(ctx context.Context, deviceID, pin string, secrets Secrets) (*Unlocked, error) {
	if err := CheckPIN(pin); err != nil {
		return nil, err
	}
	id, err := syncproto.ParseULID(deviceID)
	if err != nil {
		return nil, err
	}
	deviceID = id.String()
	if err := secrets.check(); err != nil {
		return nil, err
	}
	switch _, err := k.store.Keystore(ctx); {
	case err == nil:
		return nil, errAlreadyInitialised()
	case !errors.Is(err, localstore.ErrNotFound):
		return nil, fmt.Errorf("keystore: %w", err)
	}
	dataKey, err := randomBytes(keyLen)
	if err != nil {
		return nil, err
	}
	rec := localstore.KeystoreRecord{DeviceID: deviceID}
	if err := setPIN(&rec, pin, k.params, dataKey); err != nil {
		return nil, err
	}
	plain := encodeSecrets(secrets)
	defer clear(plain)
	if rec.Nonce, rec.Sealed, err = seal(dataKey, plain, aadSecrets, deviceID); err != nil {
		return nil, err
	}
	now := k.clock()
	rec.LastSeen, rec.CreatedAt = now, now
	if err := k.store.CreateKeystore(ctx, rec); errors.Is(err, localstore.ErrExists) {
		return nil, errAlreadyInitialised()
	} else if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return newUnlocked(k, deviceID, dataKey, secrets.clone()), nil
}

// Unlock checks pin and opens the secrets. While the keystore is locked it
// refuses with CodePINLocked without checking the PIN. Each try counts as a
// failure before the PIN is checked, so cutting the power during the check
// does not give a free try; a right PIN clears the count.
func (k *Keystore) Unlock(ctx context.Context, pin string) (*Unlocked, error) {
	rec, dataKey, secrets, err := k.open(ctx, pin)
	if err != nil {
		return nil, err
	}
	return newUnlocked(k, rec.DeviceID, dataKey, secrets), nil
}

// ChangePIN replaces the PIN. The old PIN is checked as Unlock does (same
// lock, same counter); a weak new PIN is refused before that and costs no
// try. The data key stays: Unlocked sessions remain valid.
func (k *Keystore) ChangePIN(ctx context.Context, oldPIN, newPIN string) error {
	if err := CheckPIN(newPIN); err != nil {
		return err
	}
	rec, dataKey, _, err := k.open(ctx, oldPIN)
	if err != nil {
		return err
	}
	defer clear(dataKey)
	next := rec
	if err := setPIN(&next, newPIN, k.params, dataKey); err != nil {
		return err
	}
	now := k.clock()
	err = k.store.UpdateKeystore(ctx, func(r *localstore.KeystoreRecord) error {
		if r.PINHash != rec.PINHash || subtle.ConstantTimeCompare(r.WrappedKey, rec.WrappedKey) != 1 {
			return syncproto.Errorf(syncproto.CodeConflict,
				"the PIN was changed at the same time elsewhere; try again",
				"PIN 同时在别处被修改，请重试")
		}
		r.PINHash, r.KDFSalt = next.PINHash, next.KDFSalt
		r.KDFMemoryKiB, r.KDFIterations, r.KDFParallelism = next.KDFMemoryKiB, next.KDFIterations, next.KDFParallelism
		r.WrapNonce, r.WrappedKey = next.WrapNonce, next.WrappedKey
		observe(r, now)
		return nil
	})
	return k.storeErr(err)
}

// Forget deletes the keystore: the PIN, the sealed secrets and the lock.
// It is the way out of a forgotten PIN without losing the cash records in
// the same file: the device must then be enrolled again (the township
// revokes the old device and makes a new code). It needs no PIN, because
// it reveals nothing; whoever holds the tablet could delete the file anyway.
func (k *Keystore) Forget(ctx context.Context) error {
	if err := k.store.DeleteKeystore(ctx); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
}

// open is Unlock's work: count the try, check the PIN, open the data key
// and the secrets, clear the count. It returns the row as it was when the
// try was counted.
func (k *Keystore) open(ctx context.Context, pin string) (localstore.KeystoreRecord, []byte, Secrets, error) {
	var rec localstore.KeystoreRecord
	if err := checkPINFormat(pin); err != nil {
		return rec, nil, Secrets{}, err
	}
	now := k.clock()
	var refused error
	err := k.store.UpdateKeystore(ctx, func(r *localstore.KeystoreRecord) error {
		observe(r, now)
		if left := lockLeft(r, now); left > 0 {
			refused = errLocked(left)
			return nil // keep the clock observation
		}
		r.Failures++
		if d := lockFor(r.Failures); d > 0 {
			r.LockedUntil = now.Add(d)
		}
		rec = *r
		return nil
	})
	if err != nil {
		return rec, nil, Secrets{}, k.storeErr(err)
	}
	if refused != nil {
		return rec, nil, Secrets{}, refused
	}
	ok, err := verifyPIN(pin, rec.PINHash)
	if err != nil {
		return rec, nil, Secrets{}, errTampered(err)
	}
	if !ok {
		return rec, nil, Secrets{}, errWrong(rec.Failures)
	}
	// The PIN is right: clear the count whatever follows, so a damaged
	// row does not also lock the agent out.
	err = k.store.UpdateKeystore(ctx, func(r *localstore.KeystoreRecord) error {
		r.Failures, r.LockedUntil = 0, time.Time{}
		observe(r, k.clock())
		return nil
	})
	if err != nil {
		return rec, nil, Secrets{}, k.storeErr(err)
	}
	dataKey, secrets, err := openSecrets(&rec, pin)
	if err != nil {
		return rec, nil, Secrets{}, errTampered(err)
	}
	return rec, dataKey, secrets, nil
}

// storeErr maps the local store's errors to the keystore's.
func (k *Keystore) storeErr(err error) error {
	var coded *syncproto.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, localstore.ErrNotFound):
		return syncproto.Errorf(CodeNotInitialised,
			"no PIN is set on this tablet yet: enroll it and set a PIN",
			"本机尚未设置 PIN：请先完成设备注册并设置 PIN")
	case errors.As(err, &coded):
		return err
	default:
		return fmt.Errorf("keystore: %w", err)
	}
}

func errAlreadyInitialised() error {
	return syncproto.Errorf(CodeAlreadyInitialised,
		"a PIN is already set on this tablet: change it instead",
		"本机已设置 PIN：如需更换，请使用修改 PIN")
}

func errTampered(cause error) error {
	return syncproto.Wrap(cause, CodeTampered,
		"the stored keys do not verify (the file was edited or damaged): enroll the tablet again",
		"本机保存的密钥校验失败（文件被改动或损坏）：请重新注册设备")
}
