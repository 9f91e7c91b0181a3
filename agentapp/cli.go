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
	"time"

	"golang.org/x/term"

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
}

func (c *cli) keystore() *keystore.Keystore { return keystore.New(c.store, time.Now) }

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
	Enrolled    bool                   `json:"enrolled"`
	Enrollment  *localstore.Enrollment `json:"enrollment,omitempty"`
	PINFailures int                    `json:"pin_failures"`
	LockedUntil *time.Time             `json:"locked_until,omitempty"`
}

func (c *cli) status(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	st, err := c.keystore().Status(ctx)
	if err != nil {
		return err
	}
	v := statusView{Enrolled: st.Initialised, PINFailures: st.Failures}
	if !st.LockedUntil.IsZero() && st.LockedUntil.After(time.Now()) {
		v.LockedUntil = &st.LockedUntil
	}
	if en, err := c.store.Enrollment(ctx); err == nil {
		v.Enrollment = &en
	} else if !errors.Is(err, localstore.ErrNotFound) {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	if !v.Enrolled || v.Enrollment == nil {
		fmt.Fprintln(c.stdout, "未登记 not enrolled: agentapp enroll --server URL --code CODE")
		return nil
	}
	e := v.Enrollment
	fmt.Fprintf(c.stdout, "终端 device    %s\n代办员 agent   %s %s\n村居 villages  %s\n服务器 server  %s\n",
		e.DeviceID, e.AgentName, e.DisplayName, strings.Join(e.Villages, ", "), e.ServerURL)
	if v.LockedUntil != nil {
		fmt.Fprintf(c.stdout, "已锁定 locked until %s\n", v.LockedUntil.Local().Format(time.DateTime))
	}
	return nil
}
