package fleet

import (
	"slices"
	"sync"
	"time"
)

// The operations whose latencies are recorded.
const (
	opCollect = "collect"
	opPush    = "push"
	opPull    = "pull"
)

// recorder keeps the latencies of one tablet's operations.
type recorder struct {
	mu  sync.Mutex
	ops map[string][]time.Duration
}

func newRecorder() *recorder { return &recorder{ops: map[string][]time.Duration{}} }

func (r *recorder) add(op string, d time.Duration) {
	r.mu.Lock()
	r.ops[op] = append(r.ops[op], d)
	r.mu.Unlock()
}

func (r *recorder) take(op string) []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ops[op])
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.ops = map[string][]time.Duration{}
	r.mu.Unlock()
}

// Sample is a set of latencies of one operation.
type Sample []time.Duration

// Percentile returns the p-th percentile (0 < p ≤ 100, nearest rank) of
// the sample; zero for an empty sample.
func (s Sample) Percentile(p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	sorted := slices.Clone(s)
	slices.Sort(sorted)
	rank := int(p/100*float64(len(sorted)) + 0.999999)
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Latencies are the recorded latencies of a tablet or a whole fleet:
// Collect is the local collect call (the durable SQLite write included);
// Push and Pull are HTTP requests from send to the answer read whole,
// each retry counted as its own request.
type Latencies struct {
	Collect Sample
	Push    Sample
	Pull    Sample
}

func (r *recorder) latencies() Latencies {
	return Latencies{Collect: r.take(opCollect), Push: r.take(opPush), Pull: r.take(opPull)}
}

func (l *Latencies) merge(o Latencies) {
	l.Collect = append(l.Collect, o.Collect...)
	l.Push = append(l.Push, o.Push...)
	l.Pull = append(l.Pull, o.Pull...)
}
