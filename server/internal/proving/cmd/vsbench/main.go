// Command vsbench runs every measurement of the proving ground in one
// run, each against a baseline measured in the same run, and prints one
// table (`make bench`). It starts its own throwaway PostgreSQL and
// removes it, and its temporary files, at the end.
//
// Usage:
//
//	vsbench [-quick] [-only push,cut] [-cpuprofile FILE] [-server BIN]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"villagesync/server/internal/proving"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "vsbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vsbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "a small smoke run: the code runs, the figures mean little")
	only := fs.String("only", "", "comma-separated measurements to run (push, bootstrap, collect, cut, pull, rss); default all")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of this process (the in-process server and tablets) to FILE")
	server := fs.String("server", "", "server binary for the RSS measurement (default: built with go build)")
	verbose := fs.Bool("v", true, "log progress to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	var names []string
	if *only != "" {
		names = strings.Split(*only, ",")
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	env, err := proving.StartEnv(ctx, log)
	if err != nil {
		return err
	}
	defer env.Close()
	results, err := proving.Run(ctx, env, proving.Options{Quick: *quick, ServerBin: *server, Log: log}, names)
	fmt.Fprint(stdout, proving.FormatTable(results))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%d measurements in %s (PostgreSQL with fsync off; 2-core machine shared by the build).\n",
		len(results), time.Since(start).Round(time.Second))
	return nil
}
