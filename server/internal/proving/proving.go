// Package proving measures the system against the physical limit of the
// machine it runs on: each measurement returns its figure with a baseline
// measured in the same run (the bare database or file operation the
// figure cannot beat) and the goal of issue 8. cmd/vsbench runs them all
// and prints one table (`make bench`).
//
// Every measurement sets up its own database on one throwaway PostgreSQL
// cluster (fsync off, as in the tests: the figures compare the code with
// the same database, not with the disk) and its own temporary files.
package proving

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Options size a run.
type Options struct {
	// Quick is a small smoke run (seconds): every measurement's code runs,
	// the figures mean little.
	Quick bool
	// ServerBin is the server binary the RSS measurement runs; empty: it
	// is built with `go build` into a temporary folder.
	ServerBin string
	// Log receives progress; nil discards it.
	Log *slog.Logger
}

func (o Options) log() *slog.Logger {
	if o.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Log
}

// size picks the full or the quick value.
func (o Options) size(full, quick int) int {
	if o.Quick {
		return quick
	}
	return full
}

// Result is one measurement: its figure, the baseline it is held against
// and the goal.
type Result struct {
	Name     string  // what was measured
	Figure   float64 // in Unit
	Unit     string
	Baseline float64 // in Unit
	BaseWhat string  // what the baseline is
	// Ratio is Figure/Baseline, or Baseline/Figure for a rate (so that it
	// reads "how many times slower than the limit"): see RatioWhat.
	Ratio     float64
	RatioWhat string
	Goal      string
	Met       bool
	Detail    string // extra figures (p50, sizes)
}

// Measurement is one named measurement.
type Measurement struct {
	Name string
	Run  func(ctx context.Context, env *Env, opt Options) ([]Result, error)
}

// Measurements are every measurement of `make bench`, in table order.
func Measurements() []Measurement {
	return []Measurement{
		{"push", MeasurePush},
		{"bootstrap", MeasureBootstrap},
		{"collect", MeasureCollect},
		{"cut", MeasureCut},
		{"pull", MeasurePull},
		{"rss", MeasureRSS},
	}
}

// Run runs the named measurements (all when names is empty) on env.
func Run(ctx context.Context, env *Env, opt Options, names []string) ([]Result, error) {
	var out []Result
	for _, m := range Measurements() {
		if len(names) > 0 && !slices.Contains(names, m.Name) {
			continue
		}
		start := time.Now()
		opt.log().Info("measuring", "measurement", m.Name)
		rs, err := m.Run(ctx, env, opt)
		if err != nil {
			return out, fmt.Errorf("%s: %w", m.Name, err)
		}
		opt.log().Info("measured", "measurement", m.Name, "took", time.Since(start).Round(time.Millisecond))
		out = append(out, rs...)
	}
	return out, nil
}

// FormatTable writes the results as one Markdown table.
func FormatTable(rs []Result) string {
	var b strings.Builder
	b.WriteString("| measurement | figure | baseline (what it is) | ratio | goal | met? |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, r := range rs {
		met := "yes"
		if !r.Met {
			met = "**no**"
		}
		fig := num(r.Figure) + " " + r.Unit
		if r.Detail != "" {
			fig += " (" + r.Detail + ")"
		}
		fmt.Fprintf(&b, "| %s | %s | %s %s (%s) | %s | %s | %s |\n",
			r.Name, fig, num(r.Baseline), r.Unit, r.BaseWhat, ratio(r.Ratio, r.RatioWhat), r.Goal, met)
	}
	return b.String()
}

func ratio(r float64, what string) string {
	switch {
	case strings.HasPrefix(what, "%"):
		return fmt.Sprintf("%.0f %s", r, what)
	case r >= 10:
		return fmt.Sprintf("%.0f× %s", r, what)
	default:
		return fmt.Sprintf("%.2f× %s", r, what)
	}
}

// num formats a figure with thousands separators and sensible precision.
func num(v float64) string {
	switch {
	case v >= 1000:
		s := fmt.Sprintf("%.0f", v)
		var out []byte
		for i := range len(s) {
			if i > 0 && (len(s)-i)%3 == 0 {
				out = append(out, ',')
			}
			out = append(out, s[i])
		}
		return string(out)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// percentile returns the p-th percentile (0–100) of ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
