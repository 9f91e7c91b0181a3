// Package faults holds the fault-injection tests of the server and the
// tablets (kill -9 of the server, PostgreSQL restarted, a flaky network, a
// full tablet disk, two servers on one database) and the flaky TCP proxy
// they use. The tests run the real server binary against a real
// PostgreSQL, with tablets simulated by agentapp/fleet.
package faults

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Faults are the odds of what a Proxy does to a new connection.
type Faults struct {
	Drop     float64       // closed at once, before any byte is passed
	Delay    float64       // each chunk passed late, by up to MaxDelay
	MaxDelay time.Duration // (100 ms)
	Cut      float64       // the first answer from the server cut in half, then the connection closed
	// MaxChunks, when above zero, closes every connection after it passed
	// a number of server chunks drawn from 1..MaxChunks: keep-alive
	// connections die too, sometimes in the middle of an answer.
	MaxChunks int
}

// ProxyStats counts what a Proxy did.
type ProxyStats struct {
	Conns, Dropped, Delayed, Cut, Ended int64
}

// Proxy is a flaky TCP proxy between tablets and a server: it drops
// connections, delays them and cuts answers in half, with seeded odds. It
// dials the server from the client's own address, so the server sees
// each tablet as itself.
type Proxy struct {
	ln     net.Listener
	target string
	faults Faults

	mu  sync.Mutex // guards rng
	rng *rand.Rand

	conns                         sync.WaitGroup
	nConns, dropped, delayed, cut atomic.Int64
	ended                         atomic.Int64
	closed                        atomic.Bool
	liveMu                        sync.Mutex
	live                          map[net.Conn]struct{}
}

// NewProxy listens on a free loopback port and forwards to target.
func NewProxy(target string, f Faults, seed uint64) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if f.MaxDelay <= 0 {
		f.MaxDelay = 100 * time.Millisecond
	}
	p := &Proxy{ln: ln, target: target, faults: f, rng: rand.New(rand.NewPCG(seed, 0x9e3779b9)), live: map[net.Conn]struct{}{}}
	go p.serve()
	return p, nil
}

// Addr is the proxy's address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is the proxy's base URL.
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// Stats reports what the proxy did so far.
func (p *Proxy) Stats() ProxyStats {
	return ProxyStats{Conns: p.nConns.Load(), Dropped: p.dropped.Load(), Delayed: p.delayed.Load(), Cut: p.cut.Load(),
		Ended: p.ended.Load()}
}

// SetFaults changes the odds and closes the open connections, so that
// the new odds apply to every connection from now on.
func (p *Proxy) SetFaults(f Faults) {
	p.mu.Lock()
	if f.MaxDelay <= 0 {
		f.MaxDelay = 100 * time.Millisecond
	}
	p.faults = f
	p.mu.Unlock()
	p.liveMu.Lock()
	defer p.liveMu.Unlock()
	for c := range p.live {
		c.Close()
	}
}

// Close stops listening and closes every connection.
func (p *Proxy) Close() error {
	p.closed.Store(true)
	err := p.ln.Close()
	p.liveMu.Lock()
	for c := range p.live {
		c.Close()
	}
	p.liveMu.Unlock()
	p.conns.Wait()
	return err
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if p.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		p.conns.Add(1)
		go func() {
			defer p.conns.Done()
			p.handle(c)
		}()
	}
}

// plan is what happens to one connection.
type plan struct {
	drop, cut bool
	delay     time.Duration // the most each chunk waits; 0 for none
	chunks    int           // server chunks passed before the end; 0 for no end
	seed      uint64
}

func (p *Proxy) draw() plan {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.faults
	pl := plan{seed: p.rng.Uint64()}
	switch r := p.rng.Float64(); {
	case r < f.Drop:
		pl.drop = true
	case r < f.Drop+f.Cut:
		pl.cut = true
	}
	if p.rng.Float64() < f.Delay {
		pl.delay = f.MaxDelay
	}
	if f.MaxChunks > 0 {
		pl.chunks = 1 + p.rng.IntN(f.MaxChunks)
	}
	return pl
}

func (p *Proxy) track(c net.Conn, on bool) {
	p.liveMu.Lock()
	defer p.liveMu.Unlock()
	if on {
		p.live[c] = struct{}{}
	} else {
		delete(p.live, c)
	}
}

func (p *Proxy) handle(client net.Conn) {
	p.nConns.Add(1)
	p.track(client, true)
	defer p.track(client, false)
	defer client.Close()
	pl := p.draw()
	if pl.drop {
		p.dropped.Add(1)
		return
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	if a, ok := client.RemoteAddr().(*net.TCPAddr); ok {
		d.LocalAddr = &net.TCPAddr{IP: a.IP}
	}
	server, err := d.Dial("tcp", p.target)
	if err != nil {
		return
	}
	p.track(server, true)
	defer p.track(server, false)
	defer server.Close()
	if pl.delay > 0 {
		p.delayed.Add(1)
	}
	rng := rand.New(rand.NewPCG(pl.seed, 1))
	var rngMu sync.Mutex
	wait := func() {
		if pl.delay > 0 {
			rngMu.Lock()
			w := time.Duration(rng.Int64N(int64(pl.delay)))
			rngMu.Unlock()
			time.Sleep(w)
		}
	}
	done := make(chan struct{}, 2)
	go func() { // tablet -> server
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 32<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				wait()
				if _, werr := server.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				if tc, ok := server.(*net.TCPConn); ok && err == io.EOF {
					tc.CloseWrite()
				}
				return
			}
		}
	}()
	go func() { // server -> tablet
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 32<<10)
		for chunk := 1; ; chunk++ {
			n, err := server.Read(buf)
			if n > 0 {
				wait()
				if pl.cut {
					// Half of the first answer chunk, then nothing.
					p.cut.Add(1)
					client.Write(buf[:max(1, n/2)])
					return
				}
				if _, werr := client.Write(buf[:n]); werr != nil {
					return
				}
				if pl.chunks > 0 && chunk >= pl.chunks {
					p.ended.Add(1)
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	<-done // either side ending ends the connection
	client.Close()
	server.Close()
	<-done
}
