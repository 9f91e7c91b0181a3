package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"villagesync/agentapp/internal/localstore"
	"villagesync/agentapp/internal/receipt"
	"villagesync/syncproto"
)

func (c *cli) receipts(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "show" {
		return c.receiptShow(ctx, args[1:])
	}
	fs := c.newFlags("receipts")
	all := fs.Bool("all", false, "also the deposited receipts")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Errorf("unknown receipts subcommand %q (show RECEIPT)", pos[0])}
	}
	list, err := c.store.Collections(ctx, localstore.CollectionFilter{Undeposited: !*all})
	if err != nil {
		return err
	}
	if *asJSON {
		if list == nil {
			list = []localstore.Collection{}
		}
		return c.printJSON(list)
	}
	if len(list) == 0 {
		fmt.Fprintln(c.stdout, "没有收据 no receipts (--all 显示已缴存的 shows the deposited ones)")
		return nil
	}
	rows := [][]string{{"收据号码", "时间", "姓名", "险种", "金额", "现金", "同步", "服务器"}}
	for _, col := range list {
		rows = append(rows, []string{col.ReceiptNo, col.CollectedAt.In(shanghai()).Format("01-02 15:04"), col.Name,
			col.Kind.ShortLabel(), col.Amount.String(), cashState(col), syncState(col), serverState(col)})
	}
	return writeTable(c.stdout, rows)
}

func cashState(c localstore.Collection) string {
	switch {
	case c.Voided():
		return "已作废"
	case c.Deposited():
		return "已缴存"
	}
	return "在手"
}

func syncState(c localstore.Collection) string {
	switch c.State {
	case localstore.StatePending:
		return "未同步"
	case localstore.StateAcked:
		return "已同步"
	case localstore.StateParked:
		return "被拒:" + c.ParkCode
	}
	return c.State
}

func serverState(c localstore.Collection) string {
	s := c.ServerStatus
	if s == "" {
		s = "-"
	}
	if len(c.ServerFlags) > 0 {
		s += " [" + strings.Join(c.ServerFlags, ",") + "]"
	}
	return s
}

func (c *cli) receiptShow(ctx context.Context, args []string) error {
	fs := c.newFlags("receipts show")
	html := fs.Bool("html", false, "a print-ready HTML page")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{errors.New("receipts show needs one receipt number")}
	}
	no := strings.TrimSpace(pos[0])
	if n, err := strconv.ParseInt(no, 10, 64); err == nil && n > 0 && len(no) <= 12 {
		no = syncproto.FormatReceipt(n)
	}
	col, err := c.store.CollectionByReceipt(ctx, no)
	if errors.Is(err, localstore.ErrNotFound) {
		return syncproto.Errorf(syncproto.CodeNotFound, "this tablet issued no receipt "+no, "本机没有开出收据 "+no)
	}
	if err != nil {
		return err
	}
	en, err := c.enrollment(ctx)
	if err != nil {
		return err
	}
	r := receipt.FromCollection(col, agentName(en))
	if *html {
		return r.HTML(c.stdout)
	}
	if err := r.Text(c.stdout); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "（补打 reprint %s）\n", c.now().In(shanghai()).Format(time.DateTime))
	return nil
}
