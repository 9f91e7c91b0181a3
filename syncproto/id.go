package syncproto

import (
	"crypto/rand"
	"errors"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// IDGenerator issues ULIDs that are strictly increasing for the life of the
// generator, even across many goroutines and when the clock steps back: the
// timestamp used is the later of now() and the previous ID's. Entropy comes
// from crypto/rand, incremented monotonically within a millisecond. It is
// safe for concurrent use. Order holds per generator only; IDs from two
// generators (two tablets) interleave by time but are not ordered.
type IDGenerator struct {
	now func() time.Time

	mu      sync.Mutex
	entropy *ulid.MonotonicEntropy
	lastMS  uint64
}

// NewIDGenerator returns a generator reading the injected clock, which must
// be safe for concurrent use; a nil now means time.Now.
func NewIDGenerator(now func() time.Time) *IDGenerator {
	if now == nil {
		now = time.Now
	}
	return &IDGenerator{now: now, entropy: ulid.Monotonic(rand.Reader, 0)}
}

// New returns the next ULID, greater than every ID this generator returned
// before. Its timestamp is now() in milliseconds, clamped to the ULID range
// and never below the previous ID's; when the random part of a millisecond
// is exhausted it moves on to the next millisecond. New panics only if the
// timestamp passes the year 10889 or crypto/rand fails, both unrecoverable.
func (g *IDGenerator) New() ulid.ULID {
	ms := g.now().UnixMilli() // outside the lock: the clock may be slow
	g.mu.Lock()
	defer g.mu.Unlock()
	t := uint64(max(ms, 0))
	t = min(t, ulid.MaxTime())
	t = max(t, g.lastMS)
	for {
		id, err := ulid.New(t, g.entropy)
		if err == nil {
			g.lastMS = t
			return id
		}
		if !errors.Is(err, ulid.ErrMonotonicOverflow) || t == ulid.MaxTime() {
			panic("syncproto: cannot generate ULID: " + err.Error())
		}
		t++
	}
}

// ParseULID parses the 26-character Crockford base32 text of a ULID,
// strictly: wrong length, characters outside the alphabet and values beyond
// 128 bits fail with CodeInvalidULID. Lower-case letters are accepted (the
// canonical form, from String, is upper case); no space is trimmed. The zero
// ULID parses; callers that forbid it check IsZero.
func ParseULID(s string) (ulid.ULID, error) {
	id, err := ulid.ParseStrict(s)
	switch {
	case err == nil:
		return id, nil
	case errors.Is(err, ulid.ErrDataSize):
		return ulid.ULID{}, Wrap(err, CodeInvalidULID,
			"ID must be a 26-character ULID", "ID 必须是26位的 ULID")
	case errors.Is(err, ulid.ErrOverflow):
		return ulid.ULID{}, Wrap(err, CodeInvalidULID,
			"ID is out of the ULID range (first character above 7)",
			"ID 超出 ULID 范围（首字符大于7）")
	default:
		return ulid.ULID{}, Wrap(err, CodeInvalidULID,
			"ID contains characters outside the ULID alphabet",
			"ID 含有 ULID 不允许的字符")
	}
}
