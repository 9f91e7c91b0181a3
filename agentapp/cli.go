package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"villagesync/agentapp/internal/collect"
	"villagesync/agentapp/internal/keystore"
	"villagesync/agentapp/internal/localstore"
	"villagesync/agentapp/internal/syncclient"
	"villagesync/syncproto"
)

// cli holds what the commands need.
type cli struct {
	store  *localstore.Store
	stdout io.Writer
	stderr io.Writer
	stdin  io.Reader
	lines  *bufio.Reader
	now    func() time.Time
}

func (c *cli) keystore() *keystore.Keystore { return keystore.New(c.store, c.now) }

// parseArgs parses flags that may come before, between or after the
// positional arguments ("void 000000001001 --reason …") and returns the
// positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// newFlags makes a command's flag set writing its errors to stderr.
func (c *cli) newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	return fs
}

// printJSON writes v indented.
func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// readPIN reads a PIN from env, the terminal (no echo) or a line of stdin.
func (c *cli) readPIN(prompt, env string) (string, error) {
	if v := os.Getenv(env); v != "" {
		return v, nil
	}
	fmt.Fprint(c.stderr, prompt)
	if f, ok := c.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(c.stderr)
		return strings.TrimSpace(string(b)), err
	}
	if c.lines == nil {
		c.lines = bufio.NewReader(c.stdin)
	}
	line, err := c.lines.ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("no PIN given: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// newPIN asks for a new PIN twice and checks its strength.
func (c *cli) newPIN(env string) (string, error) {
	pin, err := c.readPIN("设置解锁 PIN（6-12 位数字）/ new PIN: ", env)
	if err != nil {
		return "", err
	}
	if err := keystore.CheckPIN(pin); err != nil {
		return "", err
	}
	if os.Getenv(env) == "" {
		again, err := c.readPIN("再次输入 PIN / repeat: ", env)
		if err != nil {
			return "", err
		}
		if again != pin {
			return "", syncproto.Errorf(syncproto.CodeInvalidInput, "the two PINs differ", "两次输入的 PIN 不一致")
		}
	}
	return pin, nil
}

func (c *cli) enroll(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("enroll", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	server := fs.String("server", "", "server address, e.g. https://villagesync.example")
	code := fs.String("code", "", "one-time enrollment code from the township")
	host, _ := os.Hostname()
	name := fs.String("name", host, "a name for this tablet")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *server == "" || *code == "" {
		return usageError{errors.New("enroll needs --server and --code")}
	}
	ks := c.keystore()
	st, err := ks.Status(ctx)
	if err != nil {
		return err
	}
	if st.Initialised {
		return syncproto.Errorf(syncproto.CodeConflict,
			"this tablet is already enrolled (device "+st.DeviceID+")", "本终端已登记（终端号 "+st.DeviceID+"）")
	}
	client, err := syncclient.New(*server)
	if err != nil {
		return err
	}
	// The PIN is chosen before the code is spent, so a weak PIN does not
	// cost the agent a new code.
	pin, err := c.newPIN("AGENTAPP_PIN")
	if err != nil {
		return err
	}
	pub, priv, err := keystore.GenerateDeviceKey()
	if err != nil {
		return err
	}
	en, err := client.Enroll(ctx, syncproto.EnrollRequest{Code: *code, DeviceName: *name, PublicKey: pub})
	if err != nil {
		return err
	}
	if _, err := ks.Initialise(ctx, en.DeviceID, pin, keystore.Secrets{DeviceKey: priv, Refresh: en.RefreshToken}); err != nil {
		return fmt.Errorf("enrolled as device %s but could not keep its credentials: %w", en.DeviceID, err)
	}
	err = c.store.SaveEnrollment(ctx, localstore.Enrollment{ServerURL: client.BaseURL(), DeviceID: en.DeviceID,
		AgentID: en.AgentID, AgentName: en.AgentName, DisplayName: en.DisplayName,
		TownshipCode: en.TownshipCode, Villages: en.Villages})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "登记成功 enrolled: 终端 device %s，代办员 agent %s，村居 villages %s\n",
		en.DeviceID, en.AgentName, strings.Join(en.Villages, ", "))
	return nil
}

func (c *cli) unlock(ctx context.Context) (*keystore.Unlocked, error) {
	ks := c.keystore()
	st, err := ks.Status(ctx)
	if err != nil {
		return nil, err
	}
	if !st.Initialised {
		return nil, syncproto.Errorf(syncproto.CodeInvalidInput, "this tablet is not enrolled yet: run agentapp enroll",
			"本终端尚未登记，请先执行 agentapp enroll")
	}
	pin, err := c.readPIN("输入 PIN / PIN: ", "AGENTAPP_PIN")
	if err != nil {
		return nil, err
	}
	return ks.Unlock(ctx, pin)
}

func (c *cli) pinChange(ctx context.Context) error {
	old, err := c.readPIN("当前 PIN / current PIN: ", "AGENTAPP_PIN")
	if err != nil {
		return err
	}
	pin, err := c.newPIN("AGENTAPP_NEW_PIN")
	if err != nil {
		return err
	}
	if err := c.keystore().ChangePIN(ctx, old, pin); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "PIN 已修改 (PIN changed)")
	return nil
}

// statusView is what `status --json` prints.
type statusView struct {
	Enrolled     bool                        `json:"enrolled"`
	Enrollment   *localstore.Enrollment      `json:"enrollment,omitempty"`
	PINFailures  int                         `json:"pin_failures"`
	LockedUntil  *time.Time                  `json:"locked_until,omitempty"`
	Limits       *collect.Limits             `json:"limits,omitempty"`
	Outbox       localstore.OutboxCounts     `json:"outbox"`
	ReceiptsLeft int64                       `json:"receipts_left"`
	Ranges       []localstore.ReceiptRange   `json:"receipt_ranges"`
	LastDeposit  *localstore.Deposit         `json:"last_deposit,omitempty"`
	RosterLines  int                         `json:"roster_lines"`
	Sync         localstore.SyncState        `json:"sync"`
	Notices      []localstore.Notice         `json:"notices"`
	Parked       []localstore.ParkedMutation `json:"parked"`
}

func (c *cli) status(ctx context.Context, args []string) error {
	fs := c.newFlags("status")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	st, err := c.keystore().Status(ctx)
	if err != nil {
		return err
	}
	v := statusView{Enrolled: st.Initialised, PINFailures: st.Failures, Notices: []localstore.Notice{},
		Parked: []localstore.ParkedMutation{}}
	if !st.LockedUntil.IsZero() && st.LockedUntil.After(c.now()) {
		v.LockedUntil = &st.LockedUntil
	}
	if en, err := c.store.Enrollment(ctx); err == nil {
		v.Enrollment = &en
		lim, err := collect.New(c.store, c.now).Limits(ctx)
		if err != nil {
			return err
		}
		v.Limits = &lim
		if v.Outbox, err = c.store.OutboxCounts(ctx, en.DeviceID); err != nil {
			return err
		}
		ds, err := c.store.Deposits(ctx, en.DeviceID)
		if err != nil {
			return err
		}
		if len(ds) > 0 {
			v.LastDeposit = &ds[0]
		}
	} else if !errors.Is(err, localstore.ErrNotFound) {
		return err
	}
	if v.ReceiptsLeft, err = c.store.ReceiptsLeft(ctx); err != nil {
		return err
	}
	if v.Ranges, err = c.store.ReceiptRanges(ctx); err != nil {
		return err
	}
	if v.Ranges == nil {
		v.Ranges = []localstore.ReceiptRange{}
	}
	if v.RosterLines, err = c.store.RosterCount(ctx); err != nil {
		return err
	}
	if v.Sync, err = c.store.SyncState(ctx); err != nil {
		return err
	}
	if ns, err := c.store.Notices(ctx); err != nil {
		return err
	} else if ns != nil {
		v.Notices = ns
	}
	if ps, err := c.store.Parked(ctx); err != nil {
		return err
	} else if ps != nil {
		v.Parked = ps
	}
	if *asJSON {
		return c.printJSON(v)
	}
	if !v.Enrolled || v.Enrollment == nil {
		fmt.Fprintln(c.stdout, "未登记 not enrolled: agentapp enroll --server URL --code CODE")
		return nil
	}
	e := v.Enrollment
	w := c.stdout
	fmt.Fprintf(w, "终端 device      %s\n代办员 agent     %s %s\n村居 villages    %s\n服务器 server    %s\n",
		e.DeviceID, e.AgentName, e.DisplayName, strings.Join(e.Villages, ", "), e.ServerURL)
	if v.LockedUntil != nil {
		fmt.Fprintf(w, "已锁定 locked until %s\n", v.LockedUntil.Local().Format(time.DateTime))
	}
	if v.Sync.Revoked {
		fmt.Fprintln(w, "！此终端已被镇街停用 this tablet was revoked: 请导出未同步记录 export the unsynced records (agentapp outbox export)")
	}
	l := v.Limits
	fmt.Fprintf(w, "在手现金 cash     ¥%s（%d 笔 collections）\n", l.Cash, l.Count)
	if l.CashLimit > 0 {
		fmt.Fprintf(w, "限额 cash limit   ¥%s，已用 used %d%%%s\n", l.CashLimit, l.CashPercent, limitMark(l.CashPercent))
	} else {
		fmt.Fprintln(w, "限额 cash limit   未设置 not set（请同步 sync）")
	}
	if l.TimeLimitHours > 0 {
		oldest := "无 none"
		if !l.Oldest.IsZero() {
			oldest = l.Oldest.In(shanghai()).Format("2006-01-02 15:04")
		}
		fmt.Fprintf(w, "限时 time limit   %d 小时 h，已用 used %d%%%s（最早一笔 oldest %s）\n", l.TimeLimitHours, l.TimePercent,
			limitMark(l.TimePercent), oldest)
	}
	if l.Passed() {
		fmt.Fprintln(w, "！已达双限 a dual limit is reached: 请先缴存 deposit before collecting (agentapp deposit)")
	}
	if d := v.LastDeposit; d != nil {
		fmt.Fprintf(w, "上次缴存 last deposit ¥%s，缴款单 slip %s，%s\n", d.Amount, d.SlipNo,
			d.DepositedAt.In(shanghai()).Format("2006-01-02 15:04"))
	}
	fmt.Fprintf(w, "未同步 unsynced   %d\n被拒 parked       %d\n收据号余量 receipts left %d\n清册 roster lines %d\n",
		v.Outbox.Pending, v.Outbox.Parked, v.ReceiptsLeft, v.RosterLines)
	if v.Sync.LastSync.IsZero() {
		fmt.Fprintln(w, "上次同步 last sync 从未 never")
	} else {
		fmt.Fprintf(w, "上次同步 last sync %s\n", v.Sync.LastSync.In(shanghai()).Format(time.DateTime))
	}
	if v.Sync.ErrorCode != "" {
		fmt.Fprintf(w, "上次同步失败 last sync failed %s：%s / %s [%s]\n", v.Sync.LastAttempt.In(shanghai()).Format(time.DateTime),
			v.Sync.ErrorZH, v.Sync.Error, v.Sync.ErrorCode)
	}
	fmt.Fprintf(w, "通知 notices      %d\n", len(v.Notices))
	for _, n := range v.Notices {
		fmt.Fprintf(w, "  - [%s] %s%s / %s\n", n.Code, receiptPrefix(n.ReceiptNo), n.MessageZH, n.Message)
	}
	for _, p := range v.Parked {
		fmt.Fprintf(w, "  ! 被拒 parked #%d %s %s：%s / %s [%s]\n", p.Seq, p.Kind, p.ReceiptNo, p.ReasonZH, p.Reason, p.Code)
	}
	return nil
}

func limitMark(pct int) string {
	switch {
	case pct >= 100:
		return " ！已超 passed"
	case pct >= collect.NearPercent:
		return " ！接近 near"
	}
	return ""
}

func receiptPrefix(no string) string {
	if no == "" {
		return ""
	}
	return "收据 " + no + "："
}

// shanghai is the zone times are shown in.
var shanghai = sync.OnceValue(func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*60*60)
})
