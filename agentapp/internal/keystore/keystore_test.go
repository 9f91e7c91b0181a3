package keystore_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"villagesync/agentapp/internal/keystore"
	"villagesync/agentapp/internal/localstore"
	"villagesync/syncproto"
)

func TestInitialise(t *testing.T) {
	t.Parallel()
	t.Run("OKRoundTripAcrossRestart", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		if st := e.mustState(t); st.Initialised {
			t.Fatalf("fresh store: %+v", st)
		}
		id := ulid.Make().String()
		s := mustSecrets(t)
		u, err := e.ks.Initialise(t.Context(), id, goodPIN, s)
		if err != nil {
			t.Fatal(err)
		}
		requireSecrets(t, u.Secrets(), s)
		if u.DeviceID() != id {
			t.Fatalf("device id %q, want %q", u.DeviceID(), id)
		}
		e.mustReopen(t)
		st := e.mustState(t)
		if !st.Initialised || st.DeviceID != id || st.Failures != 0 || !st.LockedUntil.IsZero() {
			t.Fatalf("state = %+v", st)
		}
		e.mustUnlock(t, goodPIN, s)
	})
	t.Run("OKDefaultParams", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		ks := keystore.New(e.store, e.clock.Now) // the documented cost
		s := mustSecrets(t)
		if _, err := ks.Initialise(t.Context(), ulid.Make().String(), goodPIN, s); err != nil {
			t.Fatal(err)
		}
		rec, err := e.store.Keystore(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(rec.PINHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
			t.Fatalf("pin hash %q, want argon2id m=19456,t=2,p=1", rec.PINHash)
		}
		if rec.KDFMemoryKiB != 19456 || rec.KDFIterations != 2 || rec.KDFParallelism != 1 {
			t.Fatalf("kdf cost m=%d t=%d p=%d", rec.KDFMemoryKiB, rec.KDFIterations, rec.KDFParallelism)
		}
		// The key derivation has a salt of its own, not the verifier's.
		hashSalt, err := base64.RawStdEncoding.DecodeString(strings.Split(rec.PINHash, "$")[4])
		if err != nil || len(hashSalt) < 16 || len(rec.KDFSalt) < 16 || bytes.Equal(hashSalt, rec.KDFSalt) {
			t.Fatalf("verifier salt %x, kdf salt %x (%v)", hashSalt, rec.KDFSalt, err)
		}
		u, err := ks.Unlock(t.Context(), goodPIN)
		if err != nil {
			t.Fatal(err)
		}
		requireSecrets(t, u.Secrets(), s)
	})
	t.Run("OKSaltsDifferPerDevice", func(t *testing.T) {
		t.Parallel()
		var hashes, salts []string
		for range 2 {
			e := mustEnv(t)
			e.mustInit(t)
			rec, err := e.store.Keystore(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			hashes = append(hashes, rec.PINHash)
			salts = append(salts, string(rec.KDFSalt))
		}
		if hashes[0] == hashes[1] || salts[0] == salts[1] {
			t.Fatal("two tablets with the same PIN store the same hash or salt")
		}
	})
	t.Run("ErrAlreadyInitialised", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		_, s := e.mustInit(t)
		_, err := e.ks.Initialise(t.Context(), ulid.Make().String(), otherPIN, mustSecrets(t))
		requireErr(t, err, keystore.CodeAlreadyInitialised, "already set")
		e.mustUnlock(t, goodPIN, s)
	})
	t.Run("ErrWeakPIN", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		_, err := e.ks.Initialise(t.Context(), ulid.Make().String(), "123456", mustSecrets(t))
		requireErr(t, err, keystore.CodePINWeak, "too easy")
		if e.mustState(t).Initialised {
			t.Fatal("a weak PIN initialised the keystore")
		}
	})
	t.Run("ErrBadInput", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		s := mustSecrets(t)
		_, err := e.ks.Initialise(t.Context(), "not-a-ulid", goodPIN, s)
		requireErr(t, err, syncproto.CodeInvalidULID, "ULID")
		_, err = e.ks.Initialise(t.Context(), ulid.Make().String(), goodPIN, keystore.Secrets{DeviceKey: s.DeviceKey})
		requireErr(t, err, syncproto.CodeInvalidInput, "refresh")
		_, err = e.ks.Initialise(t.Context(), ulid.Make().String(), goodPIN, keystore.Secrets{DeviceKey: s.DeviceKey[:32], Refresh: "r"})
		requireErr(t, err, syncproto.CodeInvalidInput, "Ed25519")
	})
}

func TestUnlock(t *testing.T) {
	t.Parallel()
	t.Run("ErrNotInitialised", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		_, err := e.ks.Unlock(t.Context(), goodPIN)
		requireErr(t, err, keystore.CodeNotInitialised, "no PIN")
		err = e.ks.ChangePIN(t.Context(), goodPIN, otherPIN)
		requireErr(t, err, keystore.CodeNotInitialised, "no PIN")
	})
	t.Run("ErrWrongPINThenOK", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		_, s := e.mustInit(t)
		_, err := e.ks.Unlock(t.Context(), otherPIN)
		requireErr(t, err, keystore.CodePINWrong, "4 more wrong tries")
		if st := e.mustState(t); st.Failures != 1 || !st.LockedUntil.IsZero() {
			t.Fatalf("after one wrong PIN: %+v", st)
		}
		e.mustUnlock(t, goodPIN, s)
		if st := e.mustState(t); st.Failures != 0 {
			t.Fatalf("a right PIN did not clear the count: %+v", st)
		}
	})
	t.Run("ErrMalformedPINCostsNoTry", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		e.mustInit(t)
		for _, pin := range []string{"", "12345", "48091a", "４８０９１７", "1234567890123"} {
			_, err := e.ks.Unlock(t.Context(), pin)
			requireErr(t, err, syncproto.CodeInvalidInput, "6 to 12 digits")
		}
		if st := e.mustState(t); st.Failures != 0 {
			t.Fatalf("malformed PINs were counted: %+v", st)
		}
	})
	t.Run("ErrLockedGrowingAcrossRestart", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		_, s := e.mustInit(t)
		for i := 1; i < keystore.MaxTries; i++ {
			_, err := e.ks.Unlock(t.Context(), otherPIN)
			requireErr(t, err, keystore.CodePINWrong, "wrong PIN")
		}
		_, err := e.ks.Unlock(t.Context(), otherPIN)
		requireErr(t, err, keystore.CodePINWrong, "locked, try again in 30 s")

		want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute,
			8 * time.Minute, 16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
		for i, d := range want {
			start := e.clock.Now()
			st := e.mustState(t)
			if st.Failures != keystore.MaxTries+i || !st.LockedUntil.Equal(start.Add(d)) {
				t.Fatalf("lock %d: state %+v, want %d failures, locked until %v", i, st, keystore.MaxTries+i, start.Add(d))
			}
			if i == 1 {
				e.mustReopen(t) // the lock and the count survive a restart
				if got := e.mustState(t); got != st {
					t.Fatalf("after restart: %+v, want %+v", got, st)
				}
			}
			// While locked, even the right PIN is refused, and not counted.
			_, err := e.ks.Unlock(t.Context(), goodPIN)
			requireErr(t, err, keystore.CodePINLocked, "try again in")
			e.clock.Add(d - time.Second)
			_, err = e.ks.Unlock(t.Context(), goodPIN)
			requireErr(t, err, keystore.CodePINLocked, "try again in 1 s")
			if got := e.mustState(t).Failures; got != st.Failures {
				t.Fatalf("a refused try was counted: %d, want %d", got, st.Failures)
			}
			e.clock.Add(time.Second)
			if i < len(want)-1 {
				_, err = e.ks.Unlock(t.Context(), otherPIN)
				requireErr(t, err, keystore.CodePINWrong, "locked")
			}
		}
		e.mustUnlock(t, goodPIN, s)
		if st := e.mustState(t); st.Failures != 0 || !st.LockedUntil.IsZero() {
			t.Fatalf("a right PIN did not clear the lock: %+v", st)
		}
	})
	t.Run("ErrLockedAfterClockMovedBack", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		_, s := e.mustInit(t)
		for range keystore.MaxTries {
			e.ks.Unlock(t.Context(), otherPIN)
		}
		e.clock.Add(10 * time.Second)
		_, err := e.ks.Unlock(t.Context(), goodPIN)
		requireErr(t, err, keystore.CodePINLocked, "try again in 20 s")

		// The agent (or a thief) sets the clock back a day: still locked
		// for what was left, not unlocked and not locked for a day.
		e.clock.Add(-24 * time.Hour)
		_, err = e.ks.Unlock(t.Context(), goodPIN)
		requireErr(t, err, keystore.CodePINLocked, "try again in 20 s")
		if st := e.mustState(t); !st.LockedUntil.Equal(e.clock.Now().Add(20 * time.Second)) {
			t.Fatalf("after the clock moved back: %+v", st)
		}
		e.mustReopen(t)
		e.clock.Add(15 * time.Second)
		_, err = e.ks.Unlock(t.Context(), goodPIN)
		requireErr(t, err, keystore.CodePINLocked, "try again in 5 s")
		e.clock.Add(-time.Hour) // and back again, after a restart
		_, err = e.ks.Unlock(t.Context(), goodPIN)
		requireErr(t, err, keystore.CodePINLocked, "try again in 5 s")
		// Time the keystore did not see while the clock was behind is
		// counted as none: the lock keeps what it had left when last seen.
		e.clock.Add(3 * time.Second)
		e.clock.Add(-time.Minute)
		_, err = e.ks.Unlock(t.Context(), goodPIN)
		requireErr(t, err, keystore.CodePINLocked, "try again in 5 s")
		e.clock.Add(5 * time.Second)
		e.mustUnlock(t, goodPIN, s)
	})
	t.Run("OKClockMovedBackWhileNotLocked", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		_, s := e.mustInit(t)
		e.ks.Unlock(t.Context(), otherPIN)
		e.clock.Add(-72 * time.Hour) // e.g. the clock was wrong and got corrected
		e.mustUnlock(t, goodPIN, s)
	})
}

func TestChangePIN(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		_, s := e.mustInit(t)
		before := e.mustUnlock(t, goodPIN, s) // a sync client's session
		if err := e.ks.ChangePIN(t.Context(), goodPIN, otherPIN); err != nil {
			t.Fatal(err)
		}
		_, err := e.ks.Unlock(t.Context(), goodPIN)
		requireErr(t, err, keystore.CodePINWrong, "wrong PIN")
		e.mustUnlock(t, otherPIN, s)
		// The session opened before the change can still store a rotated
		// refresh credential, readable under the new PIN.
		if err := before.SetRefresh(t.Context(), "rt_after_change"); err != nil {
			t.Fatal(err)
		}
		e.mustReopen(t)
		s.Refresh = "rt_after_change"
		e.mustUnlock(t, otherPIN, s)
	})
	t.Run("ErrWrongOldPIN", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		_, s := e.mustInit(t)
		err := e.ks.ChangePIN(t.Context(), "999000111", otherPIN)
		requireErr(t, err, keystore.CodePINWrong, "4 more wrong tries")
		_, err = e.ks.Unlock(t.Context(), otherPIN)
		requireErr(t, err, keystore.CodePINWrong, "3 more wrong tries")
		e.mustUnlock(t, goodPIN, s)
	})
	t.Run("ErrWeakNewPINCostsNoTry", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		_, s := e.mustInit(t)
		err := e.ks.ChangePIN(t.Context(), goodPIN, "000000")
		requireErr(t, err, keystore.CodePINWeak, "too easy")
		if st := e.mustState(t); st.Failures != 0 {
			t.Fatalf("state %+v", st)
		}
		e.mustUnlock(t, goodPIN, s)
	})
	t.Run("ErrLocked", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		e.mustInit(t)
		for range keystore.MaxTries {
			e.ks.Unlock(t.Context(), otherPIN)
		}
		err := e.ks.ChangePIN(t.Context(), goodPIN, otherPIN)
		requireErr(t, err, keystore.CodePINLocked, "30 s")
	})
}

func TestUnlocked(t *testing.T) {
	t.Parallel()
	t.Run("OKSetRefresh", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		_, s := e.mustInit(t)
		u := e.mustUnlock(t, goodPIN, s)
		if err := u.SetRefresh(t.Context(), "rt_rotated"); err != nil {
			t.Fatal(err)
		}
		s.Refresh = "rt_rotated"
		requireSecrets(t, u.Secrets(), s)
		e.mustReopen(t)
		e.mustUnlock(t, goodPIN, s)
	})
	t.Run("OKSetRefreshWhileScreenLocked", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		_, s := e.mustInit(t)
		u := e.mustUnlock(t, goodPIN, s)
		for range keystore.MaxTries {
			e.ks.Unlock(t.Context(), otherPIN)
		}
		if err := u.SetRefresh(t.Context(), "rt_rotated"); err != nil {
			t.Fatalf("a rotated credential was not stored while locked: %v", err)
		}
		e.clock.Add(keystore.FirstLock)
		s.Refresh = "rt_rotated"
		e.mustUnlock(t, goodPIN, s)
	})
	t.Run("ErrClosed", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		_, s := e.mustInit(t)
		u := e.mustUnlock(t, goodPIN, s)
		u.Lock()
		u.Lock()
		if got := u.Secrets(); got.DeviceKey != nil || got.Refresh != "" {
			t.Fatal("a locked session still gives its secrets")
		}
		requireErr(t, u.SetRefresh(t.Context(), "rt_x"), keystore.CodeSessionClosed, "locked")
		e.mustUnlock(t, goodPIN, s)
	})
	t.Run("ErrEmptyRefresh", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		_, s := e.mustInit(t)
		u := e.mustUnlock(t, goodPIN, s)
		requireErr(t, u.SetRefresh(t.Context(), ""), syncproto.CodeInvalidInput, "refresh")
	})
	t.Run("ErrStaleAfterForget", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		_, s := e.mustInit(t)
		old := e.mustUnlock(t, goodPIN, s)
		if err := e.ks.Forget(t.Context()); err != nil {
			t.Fatal(err)
		}
		if e.mustState(t).Initialised {
			t.Fatal("still initialised after Forget")
		}
		requireErr(t, old.SetRefresh(t.Context(), "rt_x"), keystore.CodeNotInitialised, "no PIN")
		_, s2 := e.mustInit(t) // enrolled again
		requireErr(t, old.SetRefresh(t.Context(), "rt_x"), syncproto.CodeConflict, "unlock it again")
		e.mustUnlock(t, goodPIN, s2)
	})
}

func TestTampered(t *testing.T) {
	t.Parallel()
	flip := func(column string) func(*localstore.KeystoreRecord) (string, any) {
		return func(r *localstore.KeystoreRecord) (string, any) {
			b := map[string][]byte{"sealed": r.Sealed, "wrapped_key": r.WrappedKey, "nonce": r.Nonce}[column]
			b[len(b)/2] ^= 0x01
			return `UPDATE keystore SET ` + column + ` = ?`, b
		}
	}
	set := func(sql string, arg any) func(*localstore.KeystoreRecord) (string, any) {
		return func(*localstore.KeystoreRecord) (string, any) { return sql, arg }
	}
	for _, tc := range []struct {
		name   string
		tamper func(*localstore.KeystoreRecord) (string, any)
	}{
		{"ErrSealedEdited", flip("sealed")},
		{"ErrWrappedKeyEdited", flip("wrapped_key")},
		{"ErrNonceEdited", flip("nonce")},
		{"ErrBlobsSwapped", func(r *localstore.KeystoreRecord) (string, any) {
			return `UPDATE keystore SET sealed = wrapped_key, nonce = wrap_nonce WHERE ? = 1`, 1
		}},
		{"ErrOtherDevice", set(`UPDATE keystore SET device_id = ?`, ulid.Make().String())},
		{"ErrKDFCostEdited", set(`UPDATE keystore SET kdf_iterations = ?`, 3)},
		{"ErrKDFCostHuge", set(`UPDATE keystore SET kdf_memory_kib = ?`, 4_000_000)},
		{"ErrHashCostHuge", set(`UPDATE keystore SET pin_hash = replace(pin_hash, 'm=64,', ?)`, "m=4000000,")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := mustEnv(t)
			e.mustInit(t)
			rec, err := e.store.Keystore(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			sql, arg := tc.tamper(&rec)
			if res, err := e.store.DB.ExecContext(t.Context(), sql, arg); err != nil {
				t.Fatal(err)
			} else if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("tampered %d rows", n)
			}
			_, err = e.ks.Unlock(t.Context(), goodPIN)
			requireErr(t, err, keystore.CodeTampered, "do not verify")
		})
	}
}

func TestSecretsNotInClear(t *testing.T) {
	t.Parallel()
	e := mustEnv(t)
	s := mustSecrets(t)
	s.Refresh += strings.Repeat("L", 300) // a long first credential
	if _, err := e.ks.Initialise(t.Context(), ulid.Make().String(), goodPIN, s); err != nil {
		t.Fatal(err)
	}
	first, err := e.store.Keystore(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	u := e.mustUnlock(t, goodPIN, s)
	// A shorter credential shrinks the row: SQLite writes it over the end
	// of the old one, and the old row's beginning (PIN hash, data key
	// sealed under the PIN) would stay in the page's free space, to
	// outlive the PIN change below, unless scrubbed.
	rotated := "rt_rotated_0123456789"
	if err := u.SetRefresh(t.Context(), rotated); err != nil {
		t.Fatal(err)
	}
	if err := e.ks.ChangePIN(t.Context(), goodPIN, otherPIN); err != nil {
		t.Fatal(err)
	}
	secret := map[string][]byte{
		"private key":        s.DeviceKey,
		"seed":               s.DeviceKey.Seed(),
		"seed hex":           []byte(hex.EncodeToString(s.DeviceKey.Seed())),
		"seed base64":        []byte(base64.StdEncoding.EncodeToString(s.DeviceKey.Seed())),
		"refresh":            []byte(s.Refresh),
		"rotated refresh":    []byte(rotated),
		"refresh (UTF-16)":   utf16(s.Refresh),
		"old PIN hash":       []byte(first.PINHash),
		"data key under old": first.WrappedKey,
		"old sealed secrets": first.Sealed,
	}
	now, err := e.store.Keystore(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		files, _ := filepath.Glob(e.path + "*")
		var all []byte
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
			for what, v := range secret {
				if bytes.Contains(b, v) {
					t.Errorf("%s: %s found in %s", when, what, filepath.Base(f))
				}
			}
		}
		// Control: what is stored is found, so the search does see it.
		if !bytes.Contains(all, []byte(now.PINHash)) || !bytes.Contains(all, now.Sealed) {
			t.Fatalf("%s: the current row is not in %v: the check reads the wrong files", when, files)
		}
	}
	check("while open")
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	check("after close")
}

func utf16(s string) []byte {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r), 0)
	}
	return b
}

func TestForget(t *testing.T) {
	t.Parallel()
	e := mustEnv(t)
	e.mustInit(t)
	for range keystore.MaxTries {
		e.ks.Unlock(t.Context(), otherPIN)
	}
	if _, err := e.store.DB.ExecContext(t.Context(), `INSERT INTO device_setting (key, value) VALUES ('kept', '1')`); err != nil {
		t.Fatal(err)
	}
	if err := e.ks.Forget(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := e.ks.Forget(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := e.mustState(t); st != (keystore.State{}) {
		t.Fatalf("after Forget: %+v", st)
	}
	var n int
	if err := e.store.DB.QueryRowContext(t.Context(), `SELECT count(*) FROM device_setting`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("Forget touched other data: %d %v", n, err)
	}
	_, s := e.mustInit(t)
	e.mustUnlock(t, goodPIN, s)
}

func TestGenerateDeviceKey(t *testing.T) {
	t.Parallel()
	pub, priv, err := keystore.GenerateDeviceKey()
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(priv.Public()) || len(priv) != ed25519.PrivateKeySize {
		t.Fatal("key pair does not match")
	}
	_, priv2, _ := keystore.GenerateDeviceKey()
	if priv.Equal(priv2) {
		t.Fatal("two keys are equal")
	}
}

// BenchmarkUnlock measures an unlock at the default cost (verifier, then
// key derivation). Run it on the target tablet (GOARCH=arm64 go test -c)
// before changing DefaultMemoryKiB; the light cost is the baseline that
// shows what argon2id adds.
func BenchmarkUnlock(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    keystore.Params
	}{{"Baseline", lightParams}, {"Default", keystore.DefaultParams()}} {
		b.Run(bc.name, func(b *testing.B) {
			st, err := localstore.Open(b.Context(), filepath.Join(b.TempDir(), "agent.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			ks := keystore.New(st, time.Now, keystore.WithParams(bc.p))
			if _, err := ks.Initialise(b.Context(), ulid.Make().String(), goodPIN, mustSecrets(b)); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				u, err := ks.Unlock(b.Context(), goodPIN)
				if err != nil {
					b.Fatal(err)
				}
				u.Lock()
			}
		})
	}
}
