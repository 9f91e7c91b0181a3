//go:build soak

package faults_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"villagesync/agentapp/fleet"
	"villagesync/server/internal/pgtest"
)

// envFloat reads a positive number from the environment, or def.
func envFloat(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil && v > 0 {
		return v
	}
	return def
}

// The soak (make soak): 200 tablets at once against one server for 60 s,
// each collecting one payment a second (sixty times a busy agent), syncing
// every 5 operations, a tenth of them out of coverage at a time. No sync
// may fail; the fleet converges; the push and pull latencies and the
// throughput are printed. The 21 demo villages get 500 residents each on
// both rosters (21,000 lines; a tablet holds its village's 1,000).
// SOAK_TABLETS, SOAK_SECONDS, SOAK_RATE and SOAK_PER_VILLAGE change the
// load.
func TestSoak(t *testing.T) {
	n := int(envFloat("SOAK_TABLETS", 200))
	dur := time.Duration(envFloat("SOAK_SECONDS", 60) * float64(time.Second))
	rate := envFloat("SOAK_RATE", 1)
	perVillage := int(envFloat("SOAK_PER_VILLAGE", 500))
	env := newServerEnv(t, pgtest.NewURL(t))
	srv := startServer(t, env)
	db := openPool(t, env.dbURL)
	loadRosters(t, env.dbURL, perVillage) // enough people that 200 tablets do not run out of payers
	start := time.Now()
	f := newFleet(t, env, 61, n, srv.URL())
	t.Logf("%d tablets enrolled and bootstrapped in %s", n, time.Since(start).Round(time.Millisecond))
	f.ResetLatencies()
	cpu0 := cpuTime(srv.pid())
	res, err := f.Run(t.Context(), fleet.Plan{Duration: dur, Rate: rate, SyncEvery: 5, VoidRate: 0.03, OfflineRate: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if res.SyncFails > 0 {
		t.Errorf("%d of %d syncs failed: %v", res.SyncFails, res.Syncs, res.SyncErrors)
	}
	lat := f.Latencies()
	cpu := cpuTime(srv.pid()) - cpu0
	stats := requireConverged(t, f, db)
	secs := res.Elapsed.Seconds()
	var b strings.Builder
	ms := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) + " ms"
	}
	b.WriteString("\nsoak: " + strconv.Itoa(n) + " tablets, " + res.Elapsed.Round(time.Millisecond).String() +
		", " + strconv.FormatFloat(rate, 'f', -1, 64) + " op/s per tablet, sync every 5 ops, 10 % offline\n")
	row := func(name string, s fleet.Sample) {
		b.WriteString("  " + name + strings.Repeat(" ", 10-len(name)) + "n=" + strconv.Itoa(len(s)) +
			"  p50 " + ms(s.Percentile(50)) + "  p99 " + ms(s.Percentile(99)) + "  max " + ms(s.Percentile(100)) + "\n")
	}
	row("collect", lat.Collect)
	row("push", lat.Push)
	row("pull", lat.Pull)
	b.WriteString("  throughput: " + strconv.FormatFloat(float64(res.Collected)/secs, 'f', 1, 64) + " collections/s, " +
		strconv.FormatFloat(float64(res.Syncs)/secs, 'f', 1, 64) + " syncs/s, " +
		strconv.FormatFloat(float64(len(lat.Push))/secs, 'f', 1, 64) + " push and " +
		strconv.FormatFloat(float64(len(lat.Pull))/secs, 'f', 1, 64) + " pull requests/s\n")
	b.WriteString("  operations: " + strconv.Itoa(res.Ops) + " (" + strconv.Itoa(res.Collected) + " collections, " +
		strconv.Itoa(res.Voided) + " voids, " + strconv.Itoa(res.Deposited) + " deposits, " + strconv.Itoa(res.Refused) +
		" refused: paid already, subsidised or collected by this tablet)\n")
	b.WriteString("  records stored: " + strconv.Itoa(totalRecords(stats)) + ", retried requests: " + strconv.Itoa(retries(stats)) +
		", failed syncs: " + strconv.Itoa(res.SyncFails) + ", server peak RSS: " + strconv.Itoa(peakRSS(srv.pid())/1024) + " MiB\n")
	b.WriteString("  server CPU during the run: " + cpu.Round(10*time.Millisecond).String() + " (" +
		strconv.FormatFloat(100*cpu.Seconds()/secs, 'f', 0, 64) + " % of one core), " +
		strconv.FormatFloat(float64(res.Collected+res.Voided+res.Deposited)/cpu.Seconds(), 'f', 0, 64) + " records per server CPU second\n")
	t.Log(b.String())
}

// peakRSS reads the peak resident set size (VmHWM, KiB) of process pid
// since it started; 0 when it cannot.
func peakRSS(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return kb
		}
	}
	return 0
}

// cpuTime reads the user and system CPU time process pid has used
// (/proc/PID/stat, in clock ticks of 10 ms).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name may hold spaces: the fields start after its ")".
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
