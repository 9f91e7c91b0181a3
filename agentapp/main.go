// Command agentapp is the village agent's tablet app: it keeps the village
// roster and the cash records in a local SQLite file, works with no
// network, and syncs with the server when a network is there.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
	_ "time/tzdata" // business days are Asia/Shanghai on any tablet

	"villagesync/agentapp/internal/localstore"
	"villagesync/syncproto"
)

// version is stamped by `make build` with -ldflags.
var version = "dev"

const usage = `villagesync 村居代办员终端 (agentapp)

usage: agentapp [--db FILE] COMMAND

commands:
  enroll --server URL --code CODE [--name NAME]
             enroll this tablet with the one-time code from the township,
             then set the PIN that unlocks it offline
  sync [--watch [--interval 1m]]
             push the unsynced records, pull the roster, receipt numbers,
             settings and notices; --watch keeps syncing until Ctrl-C
  roster search QUERY [--kind pension|medical] [--json]
             find a person: part of the name, pinyin initials (zs), the
             full resident ID, or its last 4-6 characters
  collect (--id ROSTER_LINE_ID | --resident-id ID) [--kind pension|medical] [--grade YUAN]
             take the cash and print the receipt (pension needs --grade)
  void RECEIPT --reason TEXT
             void a receipt (its number stays used)
  deposit --slip NO --amount YUAN [--time "2006-01-02 15:04"]
             record the bank deposit of the cash held
  receipts [--all] [--json]
             list the receipts (the undeposited ones unless --all)
  receipts show RECEIPT [--html]
             print a receipt again (text, or a print-ready HTML page)
  outbox     the records not yet synced and those the server refused
  outbox export FILE [--device ID]
             write the unsynced records, signed, to FILE for the township
             (for a tablet that cannot sync; needs no PIN)
  status [--json]
             enrollment, cash held and the dual limits, unsynced and
             refused records, last sync, notices, PIN lock state
  serve [--addr 127.0.0.1:8377] [--idle 10m]
             serve the touch UI in a browser on this tablet (loopback only;
             unlock with the PIN there; locks again when idle)
  unlock     check the PIN (five wrong tries lock the tablet for a while)
  pin-change change the PIN
  info       show the local store (path, schema version, journal mode)
  version    print the version
  help       show this help

The PIN is read from the terminal, or from the AGENTAPP_PIN environment
variable (AGENTAPP_NEW_PIN for the new PIN of pin-change) in scripts.
Amounts are in yuan (280 or 280.50).

flags:
  --db FILE  the local store (default: $XDG_DATA_HOME/villagesync/agent.db,
             or ~/.local/share/villagesync/agent.db)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		printError(os.Stderr, err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

// printError shows a coded error in Chinese first, for the agent, then in
// English with its code, for support.
func printError(w io.Writer, err error) {
	var ce *syncproto.Error
	if errors.As(err, &ce) && ce.MessageZH != "" {
		fmt.Fprintf(w, "错误：%s\nerror: %s [%s]\n", ce.MessageZH, ce.Message, ce.Code)
		return
	}
	fmt.Fprintln(w, "agentapp:", err)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("agentapp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	dbPath := fs.String("db", defaultDBPath(), "local store file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err}
	}
	cmd := fs.Arg(0)
	switch cmd {
	case "", "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "version":
		fmt.Fprintln(stdout, "villagesync agentapp", version)
		return nil
	}
	st, err := localstore.Open(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer st.Close()
	env := &cli{store: st, stdout: stdout, stderr: stderr, stdin: stdin, now: time.Now}
	rest := fs.Args()[1:]
	switch cmd {
	case "sync":
		return env.sync(ctx, rest)
	case "roster":
		return env.roster(ctx, rest)
	case "collect":
		return env.collect(ctx, rest)
	case "void":
		return env.void(ctx, rest)
	case "deposit":
		return env.deposit(ctx, rest)
	case "receipts":
		return env.receipts(ctx, rest)
	case "outbox":
		return env.outbox(ctx, rest)
	case "enroll":
		return env.enroll(ctx, fs.Args()[1:])
	case "status":
		return env.status(ctx, fs.Args()[1:])
	case "serve":
		return env.serve(ctx, rest)
	case "unlock":
		_, err := env.unlock(ctx)
		if err == nil {
			fmt.Fprintln(stdout, "PIN 正确，已解锁 (unlocked)")
		}
		return err
	case "pin-change":
		return env.pinChange(ctx)
	case "info":
		in, err := st.Info(ctx)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(in)
	default:
		return usageError{fmt.Errorf("unknown command %q (agentapp help lists them)", cmd)}
	}
}

// defaultDBPath is the store in the user's data folder.
func defaultDBPath() string {
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "agent.db"
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "villagesync", "agent.db")
}
