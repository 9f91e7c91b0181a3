package api

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/remit"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// batchTarget is the township of the batch in the path.
func (s *Server) batchTarget(c echo.Context) (auth.Target, error) {
	b, err := s.db.BatchByID(c.Request().Context(), s.db.Pool, c.Param("id"), false)
	return auth.Target{Township: b.TownshipCode}, err
}

func (s *Server) cutBatch(c echo.Context) error {
	var req struct {
		Township string `json:"township"`
		Date     string `json:"date"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	day, err := s.remit.ParseDay(req.Date)
	if err != nil {
		return err
	}
	b, created, err := s.remit.Cut(c.Request().Context(), principal(c), req.Township, day)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, map[string]any{"batch": b, "created": created})
}

func (s *Server) batches(c echo.Context) error {
	f := store.BatchFilter{Township: c.QueryParam("township"), State: c.QueryParam("state")}
	if q := c.QueryParam("date"); q != "" {
		day, err := s.remit.ParseDay(q)
		if err != nil {
			return err
		}
		f.Day = &day
	}
	bs, err := s.remit.List(c.Request().Context(), principal(c), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"batches": nonNil(bs)})
}

func (s *Server) batch(c echo.Context) error {
	ctx := c.Request().Context()
	b, lines, err := s.remit.Get(ctx, principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	cov, err := s.remit.Coverage(ctx, principal(c), b.ID)
	if err != nil {
		return err
	}
	count, total, byKind := remit.Totals(lines)
	return c.JSON(http.StatusOK, map[string]any{"batch": b, "lines": nonNil(lines), "deposits": cov,
		"totals": map[string]any{"count": count, "total": total, "by_kind": byKind}})
}

func (s *Server) approveBatch(c echo.Context) error {
	var req struct {
		OverrideReason string `json:"override_reason"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	b, err := s.remit.Approve(c.Request().Context(), principal(c), c.Param("id"), req.OverrideReason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, b)
}

func (s *Server) rejectBatch(c echo.Context) error {
	var req struct {
		Reason string `json:"reason"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	b, err := s.remit.Reject(c.Request().Context(), principal(c), c.Param("id"), req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, b)
}

// exportBatch downloads a batch; the SHA-256 of the file is in a header.
func (s *Server) exportBatch(c echo.Context) error {
	format := c.QueryParam("format")
	data, ctype, sum, err := s.remit.Export(c.Request().Context(), principal(c), c.Param("id"), format)
	if err != nil {
		return err
	}
	if format == "" {
		format = "csv"
	}
	h := c.Response().Header()
	h.Set("X-Content-SHA256", sum)
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q", "batch-"+c.Param("id")+"."+format))
	return c.Blob(http.StatusOK, ctype, data)
}

// exportDay downloads every batch of a day (approved by default) as one
// ZIP of files in the format asked for.
func (s *Server) exportDay(c echo.Context) error {
	day, err := s.remit.ParseDay(c.QueryParam("date"))
	if err != nil {
		return err
	}
	data, name, err := s.remit.ExportDay(c.Request().Context(), principal(c), day, c.QueryParam("state"), c.QueryParam("format"))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q", name))
	return c.Blob(http.StatusOK, "application/zip", data)
}

func (s *Server) postBatch(c echo.Context) error {
	name, data, err := uploadedFile(c)
	if err != nil {
		return err
	}
	res, err := s.remit.Post(c.Request().Context(), principal(c), c.Param("id"), name, data)
	var ce *syncproto.Error
	if errors.As(err, &ce) && ce.Code == remit.CodePostingRefused {
		return c.JSON(http.StatusUnprocessableEntity, map[string]any{
			"error":      ErrorDetail{Code: ce.Code, Message: ce.Message, MessageZH: ce.MessageZH},
			"row_errors": res.Report,
		})
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (s *Server) reconciliation(c echo.Context) error {
	day, err := s.remit.ParseDay(c.QueryParam("date"))
	if err != nil {
		return err
	}
	r, err := s.remit.Reconcile(c.Request().Context(), principal(c), c.QueryParam("township"), day)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

func yearParam(c echo.Context) (int, error) {
	y, err := strconv.Atoi(c.QueryParam("year"))
	if err != nil || y < 2000 || y > 2100 {
		return 0, syncproto.Errorf(syncproto.CodeInvalidInput, "year must be a coverage year like 2026", "year 须为缴费年度，如 2026")
	}
	return y, nil
}

// paidDetails exports the paid and posted details of a year for the
// bureaus' books (CSV or XLSX).
func (s *Server) paidDetails(c echo.Context) error {
	year, err := yearParam(c)
	if err != nil {
		return err
	}
	kind := syncproto.Kind(c.QueryParam("kind"))
	if kind != "" && !kind.Valid() {
		return syncproto.Errorf(syncproto.CodeInvalidKind, "kind must be pension or medical", "险种须为 pension 或 medical")
	}
	rows, err := s.remit.PaidDetails(c.Request().Context(), principal(c), year, kind, c.QueryParam("village"))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	format := c.QueryParam("format")
	switch format {
	case "", "csv":
		format, err = "csv", remit.WritePaidCSV(&buf, rows)
	case "xlsx":
		err = remit.WritePaidXLSX(&buf, rows)
	default:
		return syncproto.Errorf(syncproto.CodeInvalidInput, "format must be csv or xlsx", "format 须为 csv 或 xlsx")
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition,
		fmt.Sprintf("attachment; filename=%q", remit.PaidFilename(year, kind, c.QueryParam("village"), format)))
	return c.Blob(http.StatusOK, remit.ContentType(format), buf.Bytes())
}

// publicity serves a village's publicity list, print-ready HTML or CSV.
func (s *Server) publicity(c echo.Context) error {
	year, err := yearParam(c)
	if err != nil {
		return err
	}
	pub, err := s.remit.Publicity(c.Request().Context(), c.Param("code"), year)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if c.QueryParam("format") == "csv" {
		if err := remit.WritePublicityCSV(&buf, pub); err != nil {
			return err
		}
		return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
	}
	if err := remit.WritePublicityHTML(&buf, pub); err != nil {
		return err
	}
	return c.HTMLBlob(http.StatusOK, buf.Bytes())
}

func (s *Server) refunds(c echo.Context) error {
	rs, err := s.remit.Refunds(c.Request().Context(), principal(c), c.QueryParam("state"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"refunds": nonNil(rs)})
}

func (s *Server) requestRefund(c echo.Context) error {
	var req struct {
		CollectionID string `json:"collection_id"`
		Reason       string `json:"reason"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	r, err := s.remit.RequestRefund(c.Request().Context(), principal(c), req.CollectionID, req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, r)
}

func (s *Server) moveRefund(to string) echo.HandlerFunc {
	return func(c echo.Context) error {
		r, err := s.remit.MoveRefund(c.Request().Context(), principal(c), c.Param("id"), to)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, r)
	}
}

// refundTarget is the township of the refund in the path.
func (s *Server) refundTarget(c echo.Context) (auth.Target, error) {
	var twp string
	err := s.db.Pool.QueryRow(c.Request().Context(), `SELECT township_code FROM refund WHERE id = $1`, c.Param("id")).Scan(&twp)
	if err != nil {
		return auth.Target{}, store.ErrNotFound
	}
	return auth.Target{Township: twp}, nil
}
