package web

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/progress"
	"villagesync/server/internal/remit"
	"villagesync/server/internal/store"
	vsync "villagesync/server/internal/sync"
	"villagesync/syncproto"
)

// townshipHome is the data of the township's home page.
type townshipHome struct {
	Today    string
	Figures  store.DayFigures
	Batches  []remit.Batch // today's
	Warnings int           // agents at 80 % of a limit or over
	Over     int
	Alerts   int
	Flagged  int
	Progress progress.Table // per village, this collection year
}

// TownshipHome is today at a glance: what was collected, deposited and
// batched today, warnings, and the progress of each village.
func (c *Console) TownshipHome(e echo.Context) error {
	ctx, p := e.Request().Context(), principal(e)
	today := c.remit.Today()
	h := townshipHome{Today: today.Format(time.DateOnly)}
	rec, err := c.remit.Reconcile(ctx, p, p.Township, today)
	if err != nil {
		return err
	}
	for _, f := range rec.Townships {
		if f.TownshipCode == p.Township {
			h.Figures = f
		}
	}
	if h.Batches, err = c.remit.List(ctx, p, store.BatchFilter{Day: &today}); err != nil {
		return err
	}
	agents, err := c.sync.CashOnHand(ctx, p.Township)
	if err != nil {
		return err
	}
	for _, a := range agents {
		if a.OverLimit {
			h.Over++
		} else if a.Warning {
			h.Warnings++
		}
	}
	alerts, err := c.db.Alerts(ctx, p.Township)
	if err != nil {
		return err
	}
	h.Alerts = len(alerts)
	flagged, err := c.db.FlaggedCollections(ctx, p.Township, 500)
	if err != nil {
		return err
	}
	h.Flagged = len(flagged)
	year, err := c.collectionYear(ctx)
	if err != nil {
		return err
	}
	if h.Progress, err = progress.NewService(c.db, c.settings).Villages(ctx, year, p.Township); err != nil {
		return err
	}
	return c.Render(e, http.StatusOK, "township_home", "今日概况", h)
}

// collectionYear is the coverage year being collected: the one whose
// collection period holds today, else the latest with settings, else this
// calendar year.
func (c *Console) collectionYear(ctx context.Context) (int, error) {
	all, err := c.settings.All(ctx, 0)
	if err != nil {
		return 0, err
	}
	now := c.db.Now()
	current, latest := 0, 0
	for _, y := range all {
		if y.InPeriod(now) {
			current = max(current, y.Year)
		}
		latest = max(latest, y.Year)
	}
	return cmp.Or(current, latest, now.In(c.shanghai).Year()), nil
}

// TownshipBatches lists the township's batches, today's first, with a
// button to cut today's batch now.
func (c *Console) TownshipBatches(e echo.Context) error {
	ctx, p := e.Request().Context(), principal(e)
	bs, err := c.remit.List(ctx, p, store.BatchFilter{})
	if err != nil {
		return err
	}
	if len(bs) > 60 {
		bs = bs[:60]
	}
	return c.Render(e, http.StatusOK, "township_batches", "当日批次", map[string]any{
		"Today": c.remit.Today().Format(time.DateOnly), "Batches": bs})
}

// CutBatch cuts today's batch of the township now (the daily cutoff does
// it anyway), then shows it.
func (c *Console) CutBatch(e echo.Context) error {
	p := principal(e)
	b, _, err := c.remit.Cut(e.Request().Context(), p, p.Township, c.remit.Today())
	if err != nil {
		return c.flashError(e, err, "/township/batches") // nothing waiting: said on the list, not an error page
	}
	return e.Redirect(http.StatusSeeOther, "/township/batches/"+b.ID)
}

// batchReview is the data of a batch's review page.
type batchReview struct {
	Batch    remit.Batch
	Lines    []remit.Line
	Coverage remit.DepositCoverage
	Count    int
	Total    syncproto.Money
	ByKind   map[syncproto.Kind]remit.KindTotal
	Villages []villageTotal
	CanAct   bool
}

type villageTotal struct {
	Code, Name string
	Count      int
	Total      syncproto.Money
}

func villageTotals(lines []remit.Line) []villageTotal {
	by := map[string]*villageTotal{}
	for _, l := range lines {
		v := by[l.VillageCode]
		if v == nil {
			v = &villageTotal{Code: l.VillageCode, Name: l.VillageName}
			by[l.VillageCode] = v
		}
		v.Count++
		v.Total += l.Amount
	}
	out := make([]villageTotal, 0, len(by))
	for _, v := range by {
		out = append(out, *v)
	}
	slices.SortFunc(out, func(a, b villageTotal) int { return cmp.Compare(a.Code, b.Code) })
	return out
}

func (c *Console) batchData(e echo.Context) (batchReview, error) {
	ctx, p := e.Request().Context(), principal(e)
	b, lines, err := c.remit.Get(ctx, p, e.Param("id"))
	if err != nil {
		return batchReview{}, err
	}
	cov, err := c.remit.Coverage(ctx, p, b.ID)
	if err != nil {
		return batchReview{}, err
	}
	r := batchReview{Batch: b, Lines: lines, Coverage: cov, Villages: villageTotals(lines), CanAct: b.State == remitSubmitted}
	r.Count, r.Total, r.ByKind = remit.Totals(lines)
	return r, nil
}

// BatchReview shows a batch for review: its lines, totals per village and
// kind, the deposits against the total, and approve and reject forms.
func (c *Console) BatchReview(e echo.Context) error {
	r, err := c.batchData(e)
	if err != nil {
		return err
	}
	return c.Render(e, http.StatusOK, "township_batch", "批次审核", r)
}

// ApproveBatch approves a batch; when the deposits fall short the form's
// override reason is required (the service says so).
func (c *Console) ApproveBatch(e echo.Context) error {
	b, err := c.remit.Approve(e.Request().Context(), principal(e), e.Param("id"), e.FormValue("override_reason"))
	if err != nil {
		return c.flashError(e, err, "/township/batches/"+e.Param("id"))
	}
	c.SetFlash(e, true, "批次已审核通过："+b.BusinessDay+" 共 "+itoa(b.Count)+" 笔，合计 "+b.Total.String()+" 元")
	return e.Redirect(http.StatusSeeOther, "/township/batches/"+b.ID)
}

// RejectBatch rejects a batch with a reason.
func (c *Console) RejectBatch(e echo.Context) error {
	b, err := c.remit.Reject(e.Request().Context(), principal(e), e.Param("id"), e.FormValue("reason"))
	if err != nil {
		return c.flashError(e, err, "/township/batches/"+e.Param("id"))
	}
	c.SetFlash(e, true, "批次已退回，可重新生成批次")
	return e.Redirect(http.StatusSeeOther, "/township/batches/"+b.ID)
}

// flashError shows a refused action (a coded error a person can act on:
// a missing reason, a wrong state) on the page the form came from;
// anything else is an error page.
func (c *Console) flashError(e echo.Context, err error, back string) error {
	ce, ok := err.(*syncproto.Error)
	if !ok || ce.Code == syncproto.CodeInternal || ce.Code == syncproto.CodeForbidden || ce.Code == syncproto.CodeNotFound {
		return err
	}
	c.SetFlash(e, false, ce.MessageZH)
	return e.Redirect(http.StatusSeeOther, back)
}

// Agents lists the township's agents with the cash they hold against the
// dual limits.
func (c *Console) Agents(e echo.Context) error {
	p := principal(e)
	as, err := c.sync.CashOnHand(e.Request().Context(), p.Township)
	if err != nil {
		return err
	}
	slices.SortStableFunc(as, func(a, b vsync.AgentLimits) int { return cmp.Compare(b.SumFen, a.SumFen) })
	return c.Render(e, http.StatusOK, "township_agents", "代办员现金", as)
}

// devicesPage is the data of the devices page; Code is set right after
// an enrollment code was made.
type devicesPage struct {
	Devices []store.Device
	Agents  []store.User
	Code    *auth.EnrollmentCode
	CodeFor string
}

func (c *Console) devicesData(e echo.Context) (devicesPage, error) {
	ctx, p := e.Request().Context(), principal(e)
	ds, err := c.auth.Devices(ctx, p)
	if err != nil {
		return devicesPage{}, err
	}
	agents, err := c.auth.Users(ctx, p, string(auth.RoleAgent))
	if err != nil {
		return devicesPage{}, err
	}
	return devicesPage{Devices: ds, Agents: agents}, nil
}

// Devices lists the township's tablets with their last sync, a revoke
// button each, and the form that makes an enrollment code.
func (c *Console) Devices(e echo.Context) error {
	d, err := c.devicesData(e)
	if err != nil {
		return err
	}
	return c.Render(e, http.StatusOK, "township_devices", "平板终端", d)
}

// RevokeDevice revokes a tablet: it can no longer sync.
func (c *Console) RevokeDevice(e echo.Context) error {
	if err := c.auth.RevokeDevice(e.Request().Context(), principal(e), e.Param("id")); err != nil {
		return c.flashError(e, err, "/township/devices")
	}
	c.SetFlash(e, true, "平板已撤销，不能再同步；如需继续使用请重新登记")
	return e.Redirect(http.StatusSeeOther, "/township/devices")
}

// CreateEnrollmentCode makes a one-time enrollment code for an agent's
// tablet and shows it with its QR code (shown once, never stored plain).
func (c *Console) CreateEnrollmentCode(e echo.Context) error {
	code, err := c.auth.CreateEnrollmentCode(e.Request().Context(), principal(e), e.FormValue("agent_id"))
	if err != nil {
		return c.flashError(e, err, "/township/devices")
	}
	d, err := c.devicesData(e)
	if err != nil {
		return err
	}
	d.Code = &code
	for _, a := range d.Agents {
		if a.ID == code.AgentID {
			d.CodeFor = cmp.Or(a.DisplayName, a.Username)
		}
	}
	return c.Render(e, http.StatusCreated, "township_devices", "平板终端", d)
}

// Flags lists the sync alerts and flagged collections of the township.
func (c *Console) Flags(e echo.Context) error {
	ctx, p := e.Request().Context(), principal(e)
	alerts, err := c.db.Alerts(ctx, p.Township)
	if err != nil {
		return err
	}
	flagged, err := c.db.FlaggedCollections(ctx, p.Township, 500)
	if err != nil {
		return err
	}
	return c.Render(e, http.StatusOK, "township_flags", "异常记录", map[string]any{"Alerts": alerts, "Flagged": flagged})
}

// Refunds lists the township's refunds and the flagged payments that may
// be put up for one.
func (c *Console) Refunds(e echo.Context) error {
	ctx, p := e.Request().Context(), principal(e)
	rs, err := c.remit.Refunds(ctx, p, "")
	if err != nil {
		return err
	}
	flagged, err := c.db.FlaggedCollections(ctx, p.Township, 500)
	if err != nil {
		return err
	}
	return c.Render(e, http.StatusOK, "township_refunds", "退费", map[string]any{"Refunds": rs, "Flagged": flagged})
}

// RequestRefund puts a flagged payment up for refund.
func (c *Console) RequestRefund(e echo.Context) error {
	_, err := c.remit.RequestRefund(e.Request().Context(), principal(e), e.FormValue("collection_id"),
		strings.TrimSpace(e.FormValue("reason")))
	if err != nil {
		return c.flashError(e, err, "/township/refunds")
	}
	c.SetFlash(e, true, "退费申请已提交，待税务审核")
	return e.Redirect(http.StatusSeeOther, "/township/refunds")
}

// CompleteRefund records that an approved refund was paid back.
func (c *Console) CompleteRefund(e echo.Context) error {
	if _, err := c.remit.MoveRefund(e.Request().Context(), principal(e), e.Param("id"), "refunded"); err != nil {
		return c.flashError(e, err, "/township/refunds")
	}
	c.SetFlash(e, true, "已登记退费完成")
	return e.Redirect(http.StatusSeeOther, "/township/refunds")
}

// flagLabels are the short Chinese names of the flags the server raises on
// collections and deposits (sync.Flag*); the code shows for any other.
var flagLabels = map[string]string{
	"duplicate_payment": "重复缴费", "not_on_roster": "不在清册", "moved_village": "属其他村居",
	"amount_mismatch": "金额不符", "outside_period": "征缴期外", "receipt_out_of_range": "收据号不在号段",
	"receipt_reused": "收据号重复", "deposit_count_mismatch": "解缴笔数不符", "deposit_sum_mismatch": "解缴金额不符",
	"deposit_chain_mismatch": "解缴链头不符", "deposit_slip_mismatch": "缴款单金额不符",
	"paid_elsewhere": "已他处缴费", "fully_subsidised": "全额代缴",
}

// FlagLabel is the Chinese name of a flag.
func FlagLabel(code string) string { return cmp.Or(flagLabels[code], code) }
