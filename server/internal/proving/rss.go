package proving

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"villagesync/server/internal/pglocal"
	"villagesync/syncproto"
)

// MeasureRSS runs the real server binary as a process and has 200
// tablets sync with it at once — each bootstraps its village, then
// pushes collections and pulls in a few rounds — and reads the process's
// peak resident set (VmHWM in /proc). The baseline is the same process
// idle, after start-up. Goal: 300 MB.
func MeasureRSS(ctx context.Context, env *Env, opt Options) ([]Result, error) {
	n, perVillage, rounds, per := opt.size(200, 10), opt.size(200, 20), opt.size(3, 2), opt.size(50, 10)
	bin := opt.ServerBin
	tmp, err := os.MkdirTemp("", "vsbench-rss-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if bin == "" {
		bin = filepath.Join(tmp, "server")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "villagesync/server").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build the server: %v\n%s", err, out)
		}
	}
	db, name, err := env.openDB(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer env.dropDatabase(context.Background(), name)
	defer db.Close()
	d, err := setupDistrict(ctx, db, districtSpec{villages: n, perVillage: perVillage, receipts: int64(rounds*per) + 100}, nil)
	if err != nil {
		return nil, err
	}
	if err := d.loadLines(ctx); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(d.jwtKey)
	if err != nil {
		return nil, err
	}
	port, err := pglocal.FreePort()
	if err != nil {
		return nil, err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+env.cluster.URL(name), "ADDR=127.0.0.1:"+strconv.Itoa(port),
		"JWT_KEY="+string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"CUTOFF=0", "LOG_LEVEL=warn", "DATA_DIR="+tmp)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	if err := waitReady(ctx, base, exited); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, logs.String())
	}
	idle, err := vmHWM(cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	c := &client{base: base, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n + 8}, Timeout: 5 * time.Minute}}
	var mu sync.Mutex
	var pushes, pulls []time.Duration
	var errs []error
	var wg sync.WaitGroup
	began := time.Now()
	for _, t := range d.tablets {
		wg.Go(func() {
			err := func() error {
				start := time.Now()
				if _, err := c.pullToEnd(ctx, t, 1000); err != nil {
					return err
				}
				mu.Lock()
				pulls = append(pulls, time.Since(start))
				mu.Unlock()
				for range rounds {
					var batch []syncproto.Mutation
					for range per {
						m, err := t.collect()
						if err != nil {
							return err
						}
						batch = append(batch, m)
					}
					start := time.Now()
					resp, err := c.push(ctx, t, batch)
					if err != nil {
						return err
					}
					if resp.AckSeq != t.seq {
						return fmt.Errorf("push acked %d, want %d", resp.AckSeq, t.seq)
					}
					took := time.Since(start)
					start = time.Now()
					if _, err := c.pullToEnd(ctx, t, 1000); err != nil {
						return err
					}
					mu.Lock()
					pushes, pulls = append(pushes, took), append(pulls, time.Since(start))
					mu.Unlock()
				}
				return nil
			}()
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%d of %d tablets failed, first: %w", len(errs), n, errs[0])
	}
	peak, err := vmHWM(cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	mb := func(kb int64) float64 { return float64(kb) / 1024 }
	return []Result{{
		Name:   fmt.Sprintf("server peak RSS, %d tablets at once (bootstrap %d lines each, then %d × push %d + pull)", n, 2*perVillage, rounds, per),
		Figure: mb(peak), Unit: "MB", Baseline: mb(idle), BaseWhat: "the same server process idle after start-up",
		Ratio: float64(peak) / float64(idle), RatioWhat: "of idle", Goal: "≤ 300 MB", Met: mb(peak) <= 300,
		Detail: fmt.Sprintf("%d pushes and %d pulls in %.0f s; push p50 %.0f ms p99 %.0f ms, pull p50 %.0f ms p99 %.0f ms",
			len(pushes), len(pulls), elapsed.Seconds(),
			ms(percentile(pushes, 50)), ms(percentile(pushes, 99)), ms(percentile(pulls, 50)), ms(percentile(pulls, 99))),
	}}, nil
}

// waitReady polls /readyz until the server answers 200.
func waitReady(ctx context.Context, base string, exited <-chan error) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("the server exited during start-up: %v", err)
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return errors.New("the server was not ready after 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// vmHWM reads a process's peak resident set size in kB.
func vmHWM(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}
