package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"villagesync/agentapp/internal/keystore"
	"villagesync/agentapp/internal/syncclient"
	"villagesync/syncproto"
)

// syncer unlocks the keystore and makes a syncer of the enrolled server
// whose events are printed.
func (c *cli) syncer(ctx context.Context, onEvent func(syncclient.Event)) (*syncclient.Syncer, *keystore.Unlocked, error) {
	en, err := c.enrollment(ctx)
	if err != nil {
		return nil, nil, err
	}
	client, err := syncclient.New(en.ServerURL)
	if err != nil {
		return nil, nil, err
	}
	u, err := c.unlock(ctx)
	if err != nil {
		return nil, nil, err
	}
	return syncclient.NewSyncer(client, c.store, u, syncclient.Options{Now: c.now, OnEvent: onEvent}), u, nil
}

// isTerminal reports whether w is a terminal (a progress bar is drawn
// only there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress shows a sync's progress: a bar on a terminal (a new one for
// each sync), plain lines otherwise (one per pushed batch or pulled page).
type progress struct {
	w    io.Writer
	tty  bool
	bar  *progressbar.ProgressBar
	last int
}

func newProgress(w io.Writer, tty bool) *progress { return &progress{w: w, tty: tty} }

func (p *progress) update(done, total int) {
	if p.tty {
		if p.bar == nil {
			p.bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(p.w), progressbar.OptionSetDescription("同步 syncing"),
				progressbar.OptionShowCount(), progressbar.OptionSetItsString("条 records"), progressbar.OptionShowIts(),
				progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
		}
		if total >= 0 && p.bar.GetMax() != total {
			p.bar.ChangeMax(total)
		}
		p.bar.Set(done)
		return
	}
	if done == p.last {
		return
	}
	p.last = done
	if total < 0 {
		fmt.Fprintf(p.w, "已处理 done %d 条 records…\n", done)
	} else {
		fmt.Fprintf(p.w, "已处理 done %d / %d 条 records\n", done, total)
	}
}

// say prints a line, clearing the bar first.
func (p *progress) say(format string, args ...any) {
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

// finish ends the current sync's display.
func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
	p.last = 0
}

// event prints what a running sync reports.
func (p *progress) event(ev syncclient.Event) {
	switch ev.Kind {
	case syncclient.EventMismatch:
		p.say("本机数据与服务器校验不一致（本机 %d 条，服务器 %d 条），正在重新下载全部数据\n"+
			"checkpoint mismatch (%d rows here, %d on the server): pulling the replica again from empty",
			ev.Local.Count, ev.Server.Count, ev.Local.Count, ev.Server.Count)
	case syncclient.EventRetry:
		p.say("网络或服务器错误，%s 后重试 / retrying in %s: %v", ev.Wait.Round(100*time.Millisecond),
			ev.Wait.Round(100*time.Millisecond), ev.Err)
	case syncclient.EventBadCursor:
		p.say("服务器不认可本机的同步位置，正在重新下载全部数据 / the server refused the sync cursor: pulling the replica again from empty")
	case syncclient.EventResend:
		p.say("服务器缺少本机之前的记录，正在重新上传全部记录 / the server lacks earlier records: sending the whole chain again")
	}
}

func (c *cli) sync(ctx context.Context, args []string) error {
	fs := c.newFlags("sync")
	watch := fs.Bool("watch", false, "keep syncing in the background until Ctrl-C")
	interval := fs.Duration("interval", time.Minute, "with --watch: the time between two syncs")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	p := newProgress(c.stdout, isTerminal(c.stdout))
	s, u, err := c.syncer(ctx, p.event)
	if err != nil {
		return err
	}
	defer u.Lock()
	if !*watch {
		rep, err := s.Sync(ctx, p.update)
		p.finish()
		c.printReport(rep)
		return err
	}
	fmt.Fprintf(c.stdout, "持续同步中，每 %s 一次，按 Ctrl-C 结束 / syncing every %s until Ctrl-C\n", *interval, *interval)
	err = s.Watch(ctx, *interval, p.update, func(rep syncclient.Report, err error) {
		p.finish()
		fmt.Fprintf(c.stdout, "[%s] ", c.now().In(shanghai()).Format(time.TimeOnly))
		if err != nil {
			fmt.Fprintf(c.stdout, "同步失败 sync failed: %s\n", errText(err))
			return
		}
		c.printReport(rep)
	})
	fmt.Fprintln(c.stdout, "已停止同步 stopped")
	return err
}

func (c *cli) printReport(rep syncclient.Report) {
	check := "未校验 not checked"
	if rep.Checkpoint {
		check = "一致 ok"
	}
	fmt.Fprintf(c.stdout, "同步 sync: 上传 pushed %d（已确认 acked %d，被拒 parked %d），下载 pulled %d 条 changes，校验 checkpoint %s\n",
		rep.Pushed, rep.Acked, rep.Parked, rep.Pulled, check)
	if rep.Repulled {
		fmt.Fprintln(c.stdout, "已重新下载全部数据 the replica was pulled again after a checkpoint mismatch")
	}
	if rep.Parked > 0 {
		fmt.Fprintln(c.stdout, "！有记录被服务器拒收，详见 agentapp outbox / records were refused: see agentapp outbox")
	}
}

// errText is an error in Chinese then English, on one line.
func errText(err error) string {
	var ce *syncproto.Error
	if errors.As(err, &ce) && ce.MessageZH != "" {
		return fmt.Sprintf("%s / %s [%s]", ce.MessageZH, ce.Message, ce.Code)
	}
	return err.Error()
}
