package keystore

import (
	"fmt"
	"time"

	"villagesync/agentapp/internal/localstore"
	"villagesync/syncproto"
)

// The lockout policy. The first MaxTries-1 wrong PINs in a row cost
// nothing; the MaxTries-th locks the keystore for FirstLock, and each
// further wrong PIN (tried once the lock is over) locks it for twice the
// previous delay, up to MaxLock. A right PIN clears it. At the cap that is
// 24 guesses a day: trying every 6-digit PIN on the tablet itself would
// take about a century (not so on a copy of the file: see the package doc).
const (
	MaxTries  = 5
	FirstLock = 30 * time.Second
	MaxLock   = time.Hour
)

// lockFor is the lock that follows the failures-th wrong PIN in a row.
func lockFor(failures int) time.Duration {
	if failures < MaxTries {
		return 0
	}
	d := FirstLock
	for i := MaxTries; i < failures && d < MaxLock; i++ {
		d *= 2
	}
	return min(d, MaxLock)
}

// observe moves the keystore's notion of time to now. The tablet's wall
// clock belongs to its user, so it may jump. When it is behind the last
// time seen, the time in between is unknown and counted as zero: the lock
// keeps the time it had left when last seen (at most MaxLock), re-based on
// the current clock. Setting the clock back therefore never shortens a
// lock; it does not lengthen it for years either, should the clock have
// been wrong in the future and then corrected. Setting the clock forward
// does shorten it, and no local check can tell that from real time passing:
// that limit is documented.
func observe(r *localstore.KeystoreRecord, now time.Time) {
	if now.Before(r.LastSeen) {
		left := time.Duration(0)
		if !r.LockedUntil.IsZero() {
			left = min(r.LockedUntil.Sub(r.LastSeen), MaxLock)
		}
		if left > 0 {
			r.LockedUntil = now.Add(left)
		} else {
			r.LockedUntil = time.Time{}
		}
	}
	r.LastSeen = now
}

// lockLeft is how long the keystore stays locked after now.
func lockLeft(r *localstore.KeystoreRecord, now time.Time) time.Duration {
	if r.LockedUntil.After(now) {
		return r.LockedUntil.Sub(now)
	}
	return 0
}

func errLocked(left time.Duration) error {
	en, zh := formatWait(left)
	return syncproto.Errorf(CodePINLocked,
		"too many wrong PINs: locked, try again in "+en,
		"PIN 错误次数过多，已锁定，请 "+zh+" 后再试")
}

func errWrong(failures int) error {
	if d := lockFor(failures); d > 0 {
		en, zh := formatWait(d)
		return syncproto.Errorf(CodePINWrong,
			"wrong PIN; too many wrong PINs: locked, try again in "+en,
			"PIN 错误；错误次数过多，已锁定，请 "+zh+" 后再试")
	}
	left := MaxTries - failures
	tries := "tries"
	if left == 1 {
		tries = "try"
	}
	return syncproto.Errorf(CodePINWrong,
		fmt.Sprintf("wrong PIN; %d more wrong %s will lock the tablet", left, tries),
		fmt.Sprintf("PIN 错误；再错 %d 次将锁定", left))
}

// formatWait writes a wait in English and Chinese, rounded up to the
// second: "45 s" / "45 秒", "2 min 5 s" / "2 分 5 秒", "1 h" / "1 小时".
func formatWait(d time.Duration) (en, zh string) {
	s := int64((d + time.Second - 1) / time.Second)
	h, m, s := s/3600, s/60%60, s%60
	switch {
	case h > 0 && m == 0 && s == 0:
		return fmt.Sprintf("%d h", h), fmt.Sprintf("%d 小时", h)
	case h > 0:
		m += (s + 59) / 60 // minutes are precise enough an hour out
		return fmt.Sprintf("%d h %d min", h, m), fmt.Sprintf("%d 小时 %d 分", h, m)
	case m > 0 && s == 0:
		return fmt.Sprintf("%d min", m), fmt.Sprintf("%d 分钟", m)
	case m > 0:
		return fmt.Sprintf("%d min %d s", m, s), fmt.Sprintf("%d 分 %d 秒", m, s)
	default:
		return fmt.Sprintf("%d s", s), fmt.Sprintf("%d 秒", s)
	}
}
