package fleet

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	s := Sample{5 * time.Millisecond, 1 * time.Millisecond, 4 * time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 3 * time.Millisecond}, {99, 5 * time.Millisecond}, {100, 5 * time.Millisecond}, {1, time.Millisecond}, {40, 2 * time.Millisecond}} {
		if got := s.Percentile(c.p); got != c.want {
			t.Errorf("p%v = %s, want %s", c.p, got, c.want)
		}
	}
	if (Sample{}).Percentile(50) != 0 {
		t.Error("an empty sample has a percentile")
	}
}

// A tablet's network: requests alternate between the servers given,
// push and pull requests are timed once each, nothing else is, and an
// offline tablet sends nothing.
func TestNetwork(t *testing.T) {
	t.Parallel()
	var hits [2]atomic.Int32
	srv := func(i int) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			io.WriteString(w, "{}")
		}))
		t.Cleanup(s.Close)
		return s
	}
	a, b := srv(0), srv(1)
	rec := newRecorder()
	n := newNetwork(a.URL, 3, rec)
	n.rotate([]string{a.URL, b.URL})
	hc := &http.Client{Transport: n}
	get := func(path string) error {
		res, err := hc.Get(a.URL + path)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, res.Body)
		return res.Body.Close()
	}
	for _, p := range []string{"/api/v1/sync/push", "/api/v1/sync/pull", "/api/v1/sync/pull", "/healthz"} {
		if err := get(p); err != nil {
			t.Fatal(err)
		}
	}
	if hits[0].Load() != 2 || hits[1].Load() != 2 {
		t.Errorf("requests per server: %d and %d, want 2 and 2", hits[0].Load(), hits[1].Load())
	}
	l := rec.latencies()
	if len(l.Push) != 1 || len(l.Pull) != 2 || len(l.Collect) != 0 {
		t.Errorf("recorded %d push, %d pull, %d collect", len(l.Push), len(l.Pull), len(l.Collect))
	}
	n.offline.Store(true)
	if err := get("/api/v1/sync/pull"); !errors.Is(err, ErrOffline) {
		t.Errorf("offline request: %v", err)
	}
	if hits[0].Load()+hits[1].Load() != 4 {
		t.Error("an offline tablet reached a server")
	}
}
