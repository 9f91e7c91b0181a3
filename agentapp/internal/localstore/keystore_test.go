package localstore_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"villagesync/agentapp/internal/localstore"
)

func TestKeystoreRow(t *testing.T) {
	t.Parallel()
	st, err := localstore.Open(t.Context(), filepath.Join(t.TempDir(), "agent.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	if _, err := st.Keystore(ctx); !errors.Is(err, localstore.ErrNotFound) {
		t.Fatalf("empty: %v, want ErrNotFound", err)
	}
	if err := st.UpdateKeystore(ctx, func(*localstore.KeystoreRecord) error { return nil }); !errors.Is(err, localstore.ErrNotFound) {
		t.Fatalf("update of none: %v, want ErrNotFound", err)
	}
	at := time.UnixMilli(1_772_443_800_123).UTC()
	rec := localstore.KeystoreRecord{
		DeviceID: "01JNM7Q8Z3X4Y5W6V7T8S9R0QP", PINHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$a2V5",
		KDFSalt: bytes.Repeat([]byte{1}, 16), KDFMemoryKiB: 64, KDFIterations: 1, KDFParallelism: 1,
		WrapNonce: bytes.Repeat([]byte{2}, 24), WrappedKey: []byte{3, 3}, Nonce: bytes.Repeat([]byte{4}, 24),
		Sealed: []byte{5, 5}, LastSeen: at, CreatedAt: at,
	}
	if err := st.CreateKeystore(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateKeystore(ctx, rec); !errors.Is(err, localstore.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	boom := errors.New("boom")
	err = st.UpdateKeystore(ctx, func(r *localstore.KeystoreRecord) error {
		r.Failures = 9
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update: %v, want fn's error", err)
	}
	err = st.UpdateKeystore(ctx, func(r *localstore.KeystoreRecord) error {
		r.Failures, r.LockedUntil, r.Sealed = 5, at.Add(30*time.Second), []byte{6}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.Keystore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Failures != 5 || !got.LockedUntil.Equal(at.Add(30*time.Second)) || !got.LastSeen.Equal(at) ||
		!bytes.Equal(got.Sealed, []byte{6}) || got.DeviceID != rec.DeviceID {
		t.Fatalf("after update: %+v", got)
	}
	if err := st.DeleteKeystore(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Keystore(ctx); !errors.Is(err, localstore.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}
