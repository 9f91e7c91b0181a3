package syncproto_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"villagesync/syncproto"
)

// backwardsClock is a concurrency-safe fake clock that steps back by step
// on every reading.
type backwardsClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *backwardsClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(-c.step)
	return c.t
}

// requireIncreasing fails unless ids are strictly increasing.
func requireIncreasing(tb testing.TB, ids []ulid.ULID) {
	tb.Helper()
	for i := 1; i < len(ids); i++ {
		if ids[i].Compare(ids[i-1]) <= 0 {
			tb.Fatalf("id %d %s is not above id %d %s", i, ids[i], i-1, ids[i-1])
		}
	}
}

func TestIDGenerator(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

	t.Run("OKTimestamp", func(t *testing.T) {
		t.Parallel()
		g := syncproto.NewIDGenerator(func() time.Time { return start })
		if got := g.New().Timestamp(); !got.Equal(start) {
			t.Fatalf("timestamp = %v, want %v", got, start)
		}
	})
	t.Run("OKNilClock", func(t *testing.T) {
		t.Parallel()
		before := time.Now().Add(-time.Second)
		id := syncproto.NewIDGenerator(nil).New()
		if id.Timestamp().Before(before) || id.Timestamp().After(time.Now().Add(time.Second)) {
			t.Fatalf("timestamp %v is not about now", id.Timestamp())
		}
	})
	t.Run("OKFrozenClock", func(t *testing.T) {
		t.Parallel()
		g := syncproto.NewIDGenerator(func() time.Time { return start })
		ids := make([]ulid.ULID, 10000)
		for i := range ids {
			ids[i] = g.New()
		}
		requireIncreasing(t, ids)
	})
	t.Run("OKClockBackwards", func(t *testing.T) {
		t.Parallel()
		clock := &backwardsClock{t: start, step: time.Second}
		g := syncproto.NewIDGenerator(clock.now)
		ids := make([]ulid.ULID, 1000)
		for i := range ids {
			ids[i] = g.New()
		}
		requireIncreasing(t, ids)
		first := start.Add(-time.Second)
		for _, id := range ids {
			if !id.Timestamp().Equal(first) {
				t.Fatalf("timestamp %v, want it held at the latest reading %v", id.Timestamp(), first)
			}
		}
	})
	t.Run("OKClockBeforeEpoch", func(t *testing.T) {
		t.Parallel()
		g := syncproto.NewIDGenerator(func() time.Time { return time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC) })
		a, b := g.New(), g.New()
		if a.Time() != 0 || b.Compare(a) <= 0 {
			t.Fatalf("ids %s %s: want timestamp 0 and increasing", a, b)
		}
	})
	t.Run("OKConcurrent", func(t *testing.T) {
		t.Parallel()
		for _, clock := range []struct {
			name string
			now  func() time.Time
		}{
			{"Real", time.Now},
			{"Frozen", func() time.Time { return start }},
			{"Backwards", (&backwardsClock{t: start, step: time.Millisecond}).now},
		} {
			t.Run(clock.name, func(t *testing.T) {
				t.Parallel()
				const workers, perWorker = 32, 2000
				g := syncproto.NewIDGenerator(clock.now)
				got := make([][]ulid.ULID, workers)
				var wg sync.WaitGroup
				for w := range workers {
					wg.Go(func() {
						ids := make([]ulid.ULID, perWorker)
						for i := range ids {
							ids[i] = g.New()
						}
						got[w] = ids
					})
				}
				wg.Wait()
				seen := make(map[ulid.ULID]bool, workers*perWorker)
				for _, ids := range got {
					requireIncreasing(t, ids)
					for _, id := range ids {
						if seen[id] {
							t.Fatalf("duplicate id %s", id)
						}
						seen[id] = true
					}
				}
			})
		}
	})
}

func TestParseULID(t *testing.T) {
	t.Parallel()
	fresh := syncproto.NewIDGenerator(nil).New()
	tests := []struct {
		name string
		in   string
		want ulid.ULID
		msg  string
	}{
		{name: "OK", in: fresh.String(), want: fresh},
		{name: "OKLowerCase", in: strings.ToLower(fresh.String()), want: fresh},
		{name: "OKZero", in: "00000000000000000000000000"},
		{name: "OKMax", in: "7ZZZZZZZZZZZZZZZZZZZZZZZZZ", want: ulid.ULID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{name: "ErrEmpty", in: "", msg: "26-character"},
		{name: "ErrShort", in: fresh.String()[:25], msg: "26-character"},
		{name: "ErrSpaces", in: " " + fresh.String() + " ", msg: "26-character"},
		{name: "ErrLetterU", in: "01ARZ3NDEKTSV4RRFFQ69G5FAU", msg: "alphabet"},
		{name: "ErrLetterI", in: "01ARZ3NDEKTSV4RRFFQ69G5FAI", msg: "alphabet"},
		{name: "ErrPunctuation", in: "01ARZ3NDEKTSV4RRFFQ69G5FA-", msg: "alphabet"},
		{name: "ErrOverflow", in: "8ZZZZZZZZZZZZZZZZZZZZZZZZZ", msg: "ULID range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := syncproto.ParseULID(tt.in)
			if tt.msg != "" {
				requireErr(t, err, syncproto.CodeInvalidULID, tt.msg)
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseULID(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParseULID(f *testing.F) {
	for _, s := range []string{"01ARZ3NDEKTSV4RRFFQ69G5FAV", "01arz3ndektsv4rrffq69g5fav", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ", "", "01ARZ3NDEKTSV4RRFFQ69G5FAU"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := syncproto.ParseULID(s)
		if err != nil {
			requireCode(t, err, syncproto.CodeInvalidULID)
			return
		}
		if !strings.EqualFold(id.String(), s) {
			t.Fatalf("ParseULID(%q).String() = %s", s, id)
		}
		if again, err := syncproto.ParseULID(id.String()); err != nil || again != id {
			t.Fatalf("re-parse %s = %s, %v", id, again, err)
		}
	})
}
