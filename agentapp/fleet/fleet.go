// Package fleet simulates village tablets against a real server: each
// simulated tablet is the real agent store on its own SQLite file (WAL,
// synchronous=FULL), the real keystore, collect rules and sync client,
// talking HTTP to the server. A Fleet runs N of them at once with one
// seed: enroll, bootstrap, collect at a given rate (residents, kinds and
// grades chosen from each tablet's replica by a seeded generator), void
// now and then, deposit when the dual limit stops it, go offline and back,
// sync — and reports what each tablet holds (acked records, replica
// checksum) and the latencies of collect, push and pull.
//
// It is used by the fault-injection tests and the benchmarks of the
// server (server/internal/faults, make bench, make soak). The package is
// not internal so that they can import it; it is test tooling, not part
// of the tablet app.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"time"
)

// Config describes a fleet.
type Config struct {
	N    int    // tablets
	Dir  string // folder of the tablets' SQLite files (tablet-0000.db, …); created
	Seed int64  // seeds every tablet's choices (tablet i: Seed and i)
	// ServerURL is the server (or a proxy in front of it). With more than
	// one entry in ServerURLs, each tablet sends its requests to them in
	// turn, one request to the next: several server processes behind one
	// database.
	ServerURL  string
	ServerURLs []string
	Codes      CodeSource // the enrollment code of each tablet; required
	Retry      Retry      // sync retries (defaults: 200 ms doubling to 2 s, 2 min per request)
	Parallel   int        // tablets enrolled at once by New (8)
}

// Fleet is N enrolled tablets.
type Fleet struct {
	Tablets []*Tablet
	seed    int64
}

// New opens and enrolls cfg.N tablets. They are not bootstrapped yet:
// call SyncAll.
func New(ctx context.Context, cfg Config) (*Fleet, error) {
	if cfg.N <= 0 || cfg.Dir == "" || cfg.Codes == nil || (cfg.ServerURL == "" && len(cfg.ServerURLs) == 0) {
		return nil, errors.New("fleet: Config needs N, Dir, Codes and ServerURL")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	urls := cfg.ServerURLs
	if len(urls) == 0 {
		urls = []string{cfg.ServerURL}
	}
	par := cfg.Parallel
	if par <= 0 {
		par = 8
	}
	f := &Fleet{Tablets: make([]*Tablet, cfg.N), seed: cfg.Seed}
	errs := make([]error, cfg.N)
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range cfg.N {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			t, err := OpenTablet(ctx, TabletConfig{Index: i, Path: defaultPath(cfg.Dir, i), ServerURL: urls[0],
				Seed: cfg.Seed, Retry: cfg.Retry})
			if err != nil {
				errs[i] = err
				return
			}
			if len(urls) > 1 {
				t.net.rotate(urls)
			}
			f.Tablets[i] = t
			code, err := cfg.Codes(ctx, i)
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = t.Enroll(ctx, code)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Close closes every tablet.
func (f *Fleet) Close() error {
	var errs []error
	for _, t := range f.Tablets {
		if t != nil {
			errs = append(errs, t.Close())
		}
	}
	return errors.Join(errs...)
}

// SetOffline takes every tablet out of coverage or back.
func (f *Fleet) SetOffline(off bool) {
	for _, t := range f.Tablets {
		t.SetOffline(off)
	}
}

// each runs fn for every tablet at once and joins the errors.
func (f *Fleet) each(fn func(t *Tablet) error) error {
	errs := make([]error, len(f.Tablets))
	var wg sync.WaitGroup
	for i, t := range f.Tablets {
		wg.Go(func() { errs[i] = fn(t) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// SyncAll syncs every tablet at once (the first time: the bootstrap) and
// returns each one's report.
func (f *Fleet) SyncAll(ctx context.Context) ([]SyncReport, error) {
	reps := make([]SyncReport, len(f.Tablets))
	err := f.each(func(t *Tablet) (err error) {
		reps[t.Index], err = t.Sync(ctx)
		return err
	})
	return reps, err
}

// Plan is what each tablet of a Run does.
type Plan struct {
	Ops      int           // operations per tablet; with Duration, 0 means no limit
	Duration time.Duration // stop after this long (0: run Ops operations)
	// Rate is each tablet's operations per second (0: as fast as it can).
	Rate float64
	// SyncEvery is how many operations a tablet does between two syncs
	// (0: 10). A failed sync is counted and the tablet goes on collecting:
	// its records stay pending for the next one.
	SyncEvery int
	VoidRate  float64 // share of operations that void an open receipt
	// OfflineRate is the chance that a tablet is out of coverage for the
	// next SyncEvery operations: it skips that sync.
	OfflineRate float64
}

// Result is what a Run did across the fleet.
type Result struct {
	Elapsed   time.Duration `json:"elapsed"`
	Ops       int           `json:"ops"`
	Collected int           `json:"collected"`
	Voided    int           `json:"voided"`
	Deposited int           `json:"deposited"`
	Refused   int           `json:"refused"`
	Syncs     int           `json:"syncs"`
	SyncFails int           `json:"sync_fails"`
	// SyncErrors are the first errors of failed syncs, to say what failed.
	SyncErrors []error `json:"-"`
}

// Run runs the plan on every tablet at once until each has done its
// operations or the duration is up, then brings every tablet back online.
// It does not sync at the end: call SyncAll to converge. It fails on the
// first operation a tablet cannot go on from (not on sync failures).
func (f *Fleet) Run(ctx context.Context, p Plan) (Result, error) {
	if p.SyncEvery <= 0 {
		p.SyncEvery = 10
	}
	if p.Ops <= 0 && p.Duration <= 0 {
		return Result{}, errors.New("fleet: a Plan needs Ops or Duration")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var deadline time.Time
	start := time.Now()
	if p.Duration > 0 {
		deadline = start.Add(p.Duration)
	}
	var mu sync.Mutex
	var res Result
	err := f.each(func(t *Tablet) error {
		defer t.SetOffline(false)
		var r Result
		defer func() {
			mu.Lock()
			res.add(r)
			mu.Unlock()
		}()
		// Coverage is decided by a generator of its own, so that the
		// offline rate does not change which residents are chosen.
		cover := rand.New(rand.NewPCG(uint64(f.seed)^0x5eed, uint64(t.Index)+1))
		var tick *time.Ticker
		if p.Rate > 0 {
			every := time.Duration(float64(time.Second) / p.Rate)
			// Tablets do not move in lockstep: each starts at its own
			// point of the interval (golden-ratio spacing), or 200 of
			// them would sync in the same instant every SyncEvery ticks.
			_, frac := math.Modf(float64(t.Index) * 0.6180339887)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(frac * float64(every))):
			}
			tick = time.NewTicker(every)
			defer tick.Stop()
		}
		dep0 := t.ops.Deposited
		defer func() { r.Deposited = t.ops.Deposited - dep0 }()
		doSync := func() {
			if cover.Float64() < p.OfflineRate {
				t.SetOffline(true)
				return
			}
			t.SetOffline(false)
			r.Syncs++
			if _, err := t.Sync(ctx); err != nil {
				r.SyncFails++
				if len(r.SyncErrors) < 3 {
					r.SyncErrors = append(r.SyncErrors, err)
				}
			}
		}
		for i := 0; p.Ops <= 0 || i < p.Ops; i++ {
			if !deadline.IsZero() && time.Now().After(deadline) {
				break
			}
			if tick != nil {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-tick.C:
				}
			}
			op, err := t.Step(ctx, p.VoidRate)
			if err != nil {
				cancel()
				return err
			}
			r.Ops++
			switch op.Kind {
			case OpCollect:
				r.Collected++
			case OpVoid:
				r.Voided++
			case OpRefused:
				r.Refused++
			}
			if (i+1)%p.SyncEvery == 0 {
				doSync()
			}
		}
		return nil
	})
	res.Elapsed = time.Since(start)
	return res, err
}

func (r *Result) add(o Result) {
	r.Ops += o.Ops
	r.Collected += o.Collected
	r.Voided += o.Voided
	r.Deposited += o.Deposited
	r.Refused += o.Refused
	r.Syncs += o.Syncs
	r.SyncFails += o.SyncFails
	if len(r.SyncErrors) < 10 {
		r.SyncErrors = append(r.SyncErrors, o.SyncErrors...)
	}
}

// Stats reads every tablet's state, in tablet order.
func (f *Fleet) Stats(ctx context.Context) ([]Stats, error) {
	out := make([]Stats, len(f.Tablets))
	for i, t := range f.Tablets {
		s, err := t.Stats(ctx)
		if err != nil {
			return nil, fmt.Errorf("fleet: stats of %s: %w", t.Name, err)
		}
		out[i] = s
	}
	return out, nil
}

// Latencies merges the latencies every tablet recorded.
func (f *Fleet) Latencies() Latencies {
	var l Latencies
	for _, t := range f.Tablets {
		l.merge(t.Latencies())
	}
	return l
}

// ResetLatencies forgets the recorded latencies (e.g. after the
// bootstrap, to measure a run alone).
func (f *Fleet) ResetLatencies() {
	for _, t := range f.Tablets {
		t.rec.reset()
	}
}
