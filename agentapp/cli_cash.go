package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"villagesync/agentapp/internal/collect"
	"villagesync/agentapp/internal/localstore"
	"villagesync/agentapp/internal/receipt"
	"villagesync/syncproto"
)

// enrollment reads the enrollment or says the tablet is not enrolled.
func (c *cli) enrollment(ctx context.Context) (localstore.Enrollment, error) {
	en, err := c.store.Enrollment(ctx)
	if errors.Is(err, localstore.ErrNotFound) {
		return en, syncproto.Errorf(collect.CodeNotEnrolled, "this tablet is not enrolled yet: run agentapp enroll",
			"本终端尚未登记，请先执行 agentapp enroll")
	}
	return en, err
}

// agentName is how the receipt names the agent.
func agentName(en localstore.Enrollment) string {
	if en.DisplayName != "" {
		return en.DisplayName
	}
	return en.AgentName
}

// parseYuan parses an amount flag; "" is zero.
func parseYuan(s string) (syncproto.Money, error) {
	if s == "" {
		return 0, nil
	}
	return syncproto.ParseMoney(s)
}

func (c *cli) printWarnings(ws []collect.Warning) {
	for _, w := range ws {
		fmt.Fprintf(c.stdout, "注意：%s\nwarning: %s [%s]\n", w.MessageZH, w.Message, w.Code)
	}
}

func (c *cli) collect(ctx context.Context, args []string) error {
	fs := c.newFlags("collect")
	id := fs.String("id", "", "the roster line ID (from roster search)")
	rid := fs.String("resident-id", "", "the person's full resident ID")
	kind := fs.String("kind", "", "pension or medical (养老 / 医疗)")
	grade := fs.String("grade", "", "pension: the annual grade chosen, in yuan")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || (*id == "") == (*rid == "") {
		return usageError{errors.New("collect needs one of --id ROSTER_LINE_ID or --resident-id ID")}
	}
	req := collect.Request{RosterLineID: *id, ResidentID: *rid}
	if *kind != "" {
		if req.Kind, err = syncproto.ParseKind(*kind); err != nil {
			return err
		}
	}
	if req.Grade, err = parseYuan(*grade); err != nil {
		return err
	}
	en, err := c.enrollment(ctx)
	if err != nil {
		return err
	}
	u, err := c.unlock(ctx)
	if err != nil {
		return err
	}
	defer u.Lock()
	res, err := collect.New(c.store, c.now).Collect(ctx, u, req)
	if err != nil {
		return err
	}
	// Committed and on disk: only now is the receipt printed.
	if err := receipt.FromCollection(res.Collection, agentName(en)).Text(c.stdout); err != nil {
		return err
	}
	c.printWarnings(res.Warnings)
	return nil
}

func (c *cli) void(ctx context.Context, args []string) error {
	fs := c.newFlags("void")
	reason := fs.String("reason", "", "why the receipt is voided")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{errors.New("void needs one receipt number: agentapp void RECEIPT --reason TEXT")}
	}
	u, err := c.unlock(ctx)
	if err != nil {
		return err
	}
	defer u.Lock()
	v, err := collect.New(c.store, c.now).Void(ctx, u, pos[0], *reason)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "收据 %s 已作废（%s ¥%s），原因：%s\nreceipt %s voided; its number stays used\n",
		v.ReceiptNo, v.Name, v.Amount, v.VoidReason, v.ReceiptNo)
	return nil
}

// depositTimeLayout is how --time is written, in Asia/Shanghai.
const depositTimeLayout = "2006-01-02 15:04"

func (c *cli) deposit(ctx context.Context, args []string) error {
	fs := c.newFlags("deposit")
	slip := fs.String("slip", "", "the bank slip number")
	amount := fs.String("amount", "", "the amount on the slip, in yuan")
	at := fs.String("time", "", `when the cash was deposited, "2006-01-02 15:04" (default: now)`)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *slip == "" || *amount == "" {
		return usageError{errors.New("deposit needs --slip NO and --amount YUAN")}
	}
	req := collect.DepositRequest{SlipNo: *slip}
	if req.Amount, err = syncproto.ParseMoney(*amount); err != nil {
		return err
	}
	if *at != "" {
		if req.DepositedAt, err = time.ParseInLocation(depositTimeLayout, strings.TrimSpace(*at), shanghai()); err != nil {
			return syncproto.Errorf(syncproto.CodeInvalidInput, `--time must be written "2006-01-02 15:04"`,
				"--time 格式应为 \"2006-01-02 15:04\"")
		}
	}
	u, err := c.unlock(ctx)
	if err != nil {
		return err
	}
	defer u.Lock()
	res, err := collect.New(c.store, c.now).Deposit(ctx, u, req)
	if err != nil {
		return err
	}
	d := res.Deposit
	fmt.Fprintf(c.stdout, "已登记缴存 deposit recorded: 缴款单 slip %s，金额 amount ¥%s，覆盖 %d 笔 collections 合计 sum ¥%s，时间 %s\n",
		d.SlipNo, d.Amount, d.Count, d.Sum, d.DepositedAt.In(shanghai()).Format(depositTimeLayout))
	c.printWarnings(res.Warnings)
	return nil
}
