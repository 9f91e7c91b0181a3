package fleet

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrOffline is what a request of a tablet that is offline fails with.
var ErrOffline = errors.New("fleet: the tablet is offline")

// network is a tablet's HTTP transport: it can be switched off (the
// tablet is out of coverage) and it records the latency of every push and
// pull request, retries included.
type network struct {
	base    http.RoundTripper
	offline atomic.Bool
	rec     *recorder
	hosts   []string // with several, requests go to each in turn
	next    atomic.Uint64
}

// rotate makes the tablet send each request to the next of urls' hosts.
func (n *network) rotate(urls []string) {
	n.hosts = nil
	for _, s := range urls {
		if u, err := url.Parse(s); err == nil {
			n.hosts = append(n.hosts, u.Host)
		}
	}
}

// newNetwork makes a tablet's transport. On a loopback server each tablet
// dials from its own loopback address (127.0.x.y), as real tablets come
// from their own addresses: the server's per-IP limits (enrollment) then
// see one client per tablet, not one for the whole fleet.
func newNetwork(serverURL string, index int, rec *recorder) *network {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if u, err := url.Parse(serverURL); err == nil {
		if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() && ip.To4() != nil {
			d.LocalAddr = &net.TCPAddr{IP: SourceIP(index)}
		}
	}
	tr := &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // the client asks for gzip itself and inflates the answer
	}
	return &network{base: tr, rec: rec}
}

// SourceIP is the loopback address tablet index dials from: 127.0.a.b
// with b in 2..251, so that 62,500 tablets have distinct addresses.
func SourceIP(index int) net.IP {
	return net.IPv4(127, 0, byte(index/250), byte(2+index%250))
}

// RoundTrip sends the request unless the tablet is offline, timing push
// and pull requests.
func (n *network) RoundTrip(req *http.Request) (*http.Response, error) {
	if n.offline.Load() {
		return nil, ErrOffline
	}
	if len(n.hosts) > 1 {
		req = req.Clone(req.Context())
		req.URL.Host = n.hosts[n.next.Add(1)%uint64(len(n.hosts))]
		req.Host = req.URL.Host
	}
	start := time.Now()
	res, err := n.base.RoundTrip(req)
	if err != nil {
		return res, err
	}
	kind := ""
	switch {
	case strings.HasSuffix(req.URL.Path, "/sync/push"):
		kind = opPush
	case strings.HasSuffix(req.URL.Path, "/sync/pull"):
		kind = opPull
	}
	if kind == "" {
		return res, nil
	}
	// The latency ends when the whole answer has been read.
	res.Body = &timedBody{ReadCloser: res.Body, done: func() { n.rec.add(kind, time.Since(start)) }}
	return res, nil
}

// closeIdle drops the transport's idle connections.
func (n *network) closeIdle() {
	if t, ok := n.base.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
}

// timedBody calls done once, when the body is read to its end or closed.
type timedBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.once.Do(b.done)
	}
	return n, err
}

func (b *timedBody) Close() error {
	b.once.Do(b.done)
	return b.ReadCloser.Close()
}
