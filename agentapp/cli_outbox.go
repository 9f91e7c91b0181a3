package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"villagesync/agentapp/internal/localstore"
	"villagesync/syncproto"
)

func (c *cli) outbox(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "export" {
		return c.outboxExport(ctx, args[1:])
	}
	if len(args) > 0 {
		return usageError{fmt.Errorf("unknown outbox subcommand %q (export FILE)", args[0])}
	}
	counts, err := c.store.OutboxCounts(ctx, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "未同步 unsynced %d，已同步 acked %d，被拒 parked %d\n", counts.Pending, counts.Acked, counts.Parked)
	parked, err := c.store.Parked(ctx)
	if err != nil {
		return err
	}
	if len(parked) == 0 {
		return nil
	}
	fmt.Fprintln(c.stdout, "被服务器拒收的记录（保留在本机，不会重发）/ records the server refused for good (kept here, not sent again):")
	rows := [][]string{{"序号", "类型", "收据号码", "原因", "reason", "code"}}
	for _, p := range parked {
		rows = append(rows, []string{fmt.Sprint(p.Seq), string(p.Kind), p.ReceiptNo, p.ReasonZH, p.Reason, p.Code})
	}
	return writeTable(c.stdout, rows)
}

func (c *cli) outboxExport(ctx context.Context, args []string) error {
	fs := c.newFlags("outbox export")
	device := fs.String("device", "", "the device whose records to export (default: the enrolled one)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{errors.New("usage: agentapp outbox export FILE [--device ID]")}
	}
	deviceID := *device
	if deviceID == "" {
		en, err := c.enrollment(ctx)
		if err != nil {
			return err
		}
		deviceID = en.DeviceID
	}
	f, err := c.store.ExportOutbox(ctx, deviceID)
	if errors.Is(err, localstore.ErrNotFound) {
		return syncproto.Errorf(syncproto.CodeNotFound, "this tablet holds no records of device "+deviceID,
			"本机没有终端 "+deviceID+" 的记录")
	}
	if err != nil {
		return err
	}
	if err := f.Verify(nil); err != nil {
		return fmt.Errorf("the records do not verify, nothing written: %w", err)
	}
	// Compact on purpose: an indenting encoder would re-indent each
	// payload, which is hashed byte for byte.
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(pos[0], append(b, '\n')); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "已导出终端 %s 的 %d 条未同步记录到 %s，请交镇街导入\nexported %d unsynced records of device %s to %s\n",
		deviceID, len(f.Mutations), pos[0], len(f.Mutations), deviceID, pos[0])
	others, err := c.store.PendingDevices(ctx)
	if err != nil {
		return err
	}
	var rest []string
	for _, d := range others {
		if d != deviceID {
			rest = append(rest, d)
		}
	}
	if len(rest) > 0 {
		fmt.Fprintf(c.stdout, "本机还有其他终端的未同步记录 other devices have unsynced records here: %s (--device ID)\n",
			strings.Join(rest, ", "))
	}
	return nil
}

// writeFileAtomic writes b to path through a temporary file in the same
// folder, synced and renamed, so a crash leaves the old file or the new.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".outbox-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
