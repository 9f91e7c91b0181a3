package keystore

import (
	"context"
	"sync"

	"villagesync/agentapp/internal/localstore"
	"villagesync/syncproto"
)

// Unlocked is an open keystore session: it holds the secrets and the data
// key in memory until Lock, so the sync client can sign and can store a
// rotated refresh credential without asking for the PIN again. It stays
// valid across ChangePIN (the data key does not change) and becomes stale
// after Forget. It is safe for concurrent use.
type Unlocked struct {
	k        *Keystore
	deviceID string

	mu      sync.Mutex
	dataKey []byte // nil once locked
	secrets Secrets
}

// newUnlocked takes ownership of dataKey and s.
func newUnlocked(k *Keystore, deviceID string, dataKey []byte, s Secrets) *Unlocked {
	return &Unlocked{k: k, deviceID: deviceID, dataKey: dataKey, secrets: s}
}

// DeviceID is the enrolled device's ID.
func (u *Unlocked) DeviceID() string { return u.deviceID }

// Secrets returns a copy of the secrets; the zero Secrets once locked.
func (u *Unlocked) Secrets() Secrets {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.dataKey == nil {
		return Secrets{}
	}
	return u.secrets.clone()
}

// SetRefresh seals a rotated refresh credential in place of the old one.
// Call it as soon as the server has answered a refresh: the old credential
// is spent, and presenting it again revokes the device's token family. It
// works even while the unlock screen is locked by wrong PINs, for that
// reason. It refuses if the keystore was forgotten or re-initialised
// since this session was opened.
func (u *Unlocked) SetRefresh(ctx context.Context, refresh string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.dataKey == nil {
		return errSessionClosed()
	}
	next := u.secrets.clone()
	next.Refresh = refresh
	if err := next.check(); err != nil {
		return err
	}
	plain := encodeSecrets(next)
	defer clear(plain)
	nonce, sealed, err := seal(u.dataKey, plain, aadSecrets, u.deviceID)
	if err != nil {
		return err
	}
	now := u.k.clock()
	err = u.k.store.UpdateKeystore(ctx, func(r *localstore.KeystoreRecord) error {
		// The stored secrets must open with this session's data key,
		// or the new blob would be sealed under a key nobody can unwrap.
		if r.DeviceID != u.deviceID {
			return errStale()
		}
		old, err := unseal(u.dataKey, r.Nonce, r.Sealed, aadSecrets, r.DeviceID)
		if err != nil {
			return errStale()
		}
		clear(old)
		r.Nonce, r.Sealed = nonce, sealed
		observe(r, now)
		return nil
	})
	if err != nil {
		return u.k.storeErr(err)
	}
	clear(u.secrets.DeviceKey)
	u.secrets = next
	return nil
}

// Lock forgets the session's data key and secrets (best effort: Go may
// have copied them, and the refresh credential is an immutable string).
// Later calls on u refuse with CodeSessionClosed. Lock is idempotent.
func (u *Unlocked) Lock() {
	u.mu.Lock()
	defer u.mu.Unlock()
	clear(u.dataKey)
	clear(u.secrets.DeviceKey)
	u.dataKey, u.secrets = nil, Secrets{}
}

func errSessionClosed() error {
	return syncproto.Errorf(CodeSessionClosed,
		"the keystore was locked: unlock it with the PIN", "密钥已锁定：请输入 PIN 解锁")
}

func errStale() error {
	return syncproto.Errorf(syncproto.CodeConflict,
		"the keystore was reset since it was unlocked: unlock it again",
		"解锁后密钥库已被重置：请重新解锁")
}
