package web

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"villagesync/server/internal/remit"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// taxBatches is the data of the tax office's batch list.
type taxBatches struct {
	State, Date, Township string
	States                []string
	Townships             []store.Township
	Batches               []remit.Batch
	Total                 syncproto.Money
}

// TaxBatches lists batches by state, day and township.
func (c *Console) TaxBatches(e echo.Context) error {
	ctx, p := e.Request().Context(), principal(e)
	d := taxBatches{State: e.QueryParam("state"), Date: e.QueryParam("date"), Township: e.QueryParam("township"),
		States: []string{remitSubmitted, remitApproved, remitExported, remitPartial, remitPosted, remitRejected}}
	f := store.BatchFilter{State: d.State, Township: d.Township}
	if d.Date != "" {
		day, err := c.remit.ParseDay(d.Date)
		if err != nil {
			return err
		}
		f.Day = &day
	}
	var err error
	if d.Batches, err = c.remit.List(ctx, p, f); err != nil {
		return err
	}
	for _, b := range d.Batches {
		// A rejected batch's money is cut again into the day's next
		// revision: counted once, unless rejected batches are asked for.
		if b.State != remitRejected || d.State == remitRejected {
			d.Total += b.Total
		}
	}
	if d.Townships, err = c.db.Townships(ctx); err != nil {
		return err
	}
	return c.Render(e, http.StatusOK, "tax_batches", "批次", d)
}

// taxBatch is the data of a batch's page for the tax office; Posting is
// set after an upload.
type taxBatch struct {
	R          batchReview
	Posting    *remit.PostResult
	PostError  *syncproto.Error
	ReportJSON string
}

// TaxBatch shows a batch with its download links and the posting upload.
func (c *Console) TaxBatch(e echo.Context) error {
	r, err := c.batchData(e)
	if err != nil {
		return err
	}
	return c.Render(e, http.StatusOK, "tax_batch", "批次 "+r.Batch.BusinessDay+" "+r.Batch.TownshipName, taxBatch{R: r})
}

// ExportBatch downloads a batch (csv, xlsx or json) through the same
// export the API serves: recorded, and the batch marked exported. A
// request another site started is refused (checkNotCrossSite).
func (c *Console) ExportBatch(e echo.Context) error {
	if err := checkNotCrossSite(e); err != nil {
		return err
	}
	format := e.QueryParam("format")
	if format == "" {
		format = remit.FormatCSV
	}
	data, ctype, sum, err := c.remit.Export(e.Request().Context(), principal(e), e.Param("id"), format)
	if err != nil {
		return err
	}
	h := e.Response().Header()
	h.Set("X-Content-SHA256", sum)
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q", "batch-"+e.Param("id")+"."+format))
	return e.Blob(http.StatusOK, ctype, data)
}

// ExportDay downloads the ZIP of every approved batch of a day.
func (c *Console) ExportDay(e echo.Context) error {
	if err := checkNotCrossSite(e); err != nil {
		return err
	}
	day, err := c.remit.ParseDay(e.QueryParam("date"))
	if err != nil {
		return err
	}
	data, name, err := c.remit.ExportDay(e.Request().Context(), principal(e), day, e.QueryParam("state"), e.QueryParam("format"))
	if err != nil {
		return err
	}
	e.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q", name))
	return e.Blob(http.StatusOK, "application/zip", data)
}

// PostBatch applies an uploaded posting result (入库结果) and shows the
// outcome; a refused file shows its row-level error report, which can be
// downloaded as CSV.
func (c *Console) PostBatch(e echo.Context) error {
	name, data, err := formFile(e, "the posting result file", "入库结果文件")
	if err != nil {
		return err
	}
	res, postErr := c.remit.Post(e.Request().Context(), principal(e), e.Param("id"), name, data)
	var ce *syncproto.Error
	if postErr != nil && (!errors.As(postErr, &ce) || ce.Code == syncproto.CodeInternal ||
		ce.Code == syncproto.CodeForbidden || ce.Code == syncproto.CodeNotFound) {
		return postErr
	}
	r, err := c.batchData(e)
	if err != nil {
		return err
	}
	d := taxBatch{R: r, Posting: &res, PostError: ce}
	status := http.StatusOK
	if ce != nil {
		status = http.StatusUnprocessableEntity
	}
	if len(res.Report) > 0 {
		b, err := json.Marshal(res.Report)
		if err != nil {
			return err
		}
		d.ReportJSON = string(b)
	}
	return c.Render(e, status, "tax_batch", "批次 "+r.Batch.BusinessDay+" "+r.Batch.TownshipName, d)
}

// PostingReport turns the error report shown after a refused upload
// (posted back from the page) into the CSV report file.
func (c *Console) PostingReport(e echo.Context) error {
	var errs []remit.PostingError
	if err := json.Unmarshal([]byte(e.FormValue("report")), &errs); err != nil {
		return syncproto.Errorf(syncproto.CodeInvalidInput, "no error report in the form", "表单中没有错误报告")
	}
	var buf bytes.Buffer
	if err := remit.WritePostingReportCSV(&buf, errs); err != nil {
		return err
	}
	e.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="posting-errors.csv"`)
	return e.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

// Reconciliation shows a day's figures per township and every
// discrepancy found.
func (c *Console) Reconciliation(e echo.Context) error {
	ctx, p := e.Request().Context(), principal(e)
	day, err := c.remit.ParseDay(e.QueryParam("date"))
	if err != nil {
		return err
	}
	r, err := c.remit.Reconcile(ctx, p, e.QueryParam("township"), day)
	if err != nil {
		return err
	}
	ts, err := c.db.Townships(ctx)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, t := range ts {
		names[t.Code] = t.Name
	}
	return c.Render(e, http.StatusOK, "tax_reconciliation", "对账", map[string]any{
		"Date": day.Format(time.DateOnly), "Township": e.QueryParam("township"), "Townships": ts, "Names": names, "R": r})
}

// TaxRefunds lists refunds, those waiting for the tax office first.
func (c *Console) TaxRefunds(e echo.Context) error {
	rs, err := c.remit.Refunds(e.Request().Context(), principal(e), e.QueryParam("state"))
	if err != nil {
		return err
	}
	slices.SortStableFunc(rs, func(a, b store.Refund) int {
		return cmp.Compare(refundOrder(a.State), refundOrder(b.State))
	})
	return c.Render(e, http.StatusOK, "tax_refunds", "退费审核", map[string]any{"Refunds": rs, "State": e.QueryParam("state")})
}

func refundOrder(state string) int {
	if state == "requested" {
		return 0
	}
	return 1
}

// ApproveRefund approves a requested refund; the township then pays it
// back and records it.
func (c *Console) ApproveRefund(e echo.Context) error {
	if _, err := c.remit.MoveRefund(e.Request().Context(), principal(e), e.Param("id"), "approved"); err != nil {
		return c.flashError(e, err, "/tax/refunds")
	}
	c.SetFlash(e, true, "退费已批准，待镇街退款")
	return e.Redirect(http.StatusSeeOther, "/tax/refunds")
}
