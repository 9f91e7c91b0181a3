package web

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"

	"github.com/labstack/echo/v4"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/remit"
	"villagesync/server/internal/roster"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// The HRSS and medical security pages: roster upload (a dry run first,
// showing the exact diff, then apply), the row-level error report, the
// import history and the paid-details export. They call the roster and
// remit services exactly as the JSON API does.

// RosterOwners may upload rosters (each bureau its own kind); RosterReaders
// may read the import history and reports and the paid details, as in the
// API's route table.
var (
	RosterOwners  = []auth.Role{auth.RoleHRSS, auth.RoleMedsec}
	RosterReaders = []auth.Role{auth.RoleAdmin, auth.RoleHRSS, auth.RoleMedsec}
)

// importStatusLabels are the Chinese names of roster import statuses.
var importStatusLabels = map[string]string{
	store.ImportApplied: "已导入", store.ImportRefused: "未通过校验", store.ImportUnchanged: "重复文件，未变化", store.ImportDryRun: "试导入",
}

// ImportStatusLabel is the Chinese name of a roster import status.
func ImportStatusLabel(s string) string {
	if l, ok := importStatusLabels[s]; ok {
		return l
	}
	return s
}

// importView is a roster import as the pages show it.
type importView struct {
	store.RosterImport
	StatusLabel string
	KindLabel   string
}

func viewImport(imp store.RosterImport) importView {
	return importView{RosterImport: imp, StatusLabel: ImportStatusLabel(imp.Status), KindLabel: syncproto.Kind(imp.Kind).ShortLabel()}
}

// rostersPage is the data of the roster page: the upload form and the
// import history.
type rostersPage struct {
	CanUpload bool
	KindLabel string
	Imports   []importView
}

// Rosters shows the upload form (to the bureau that owns the kind) and
// the import history: a bureau sees its own kind's, admin every kind's.
func (c *Console) Rosters(e echo.Context) error {
	p := principal(e)
	kind, owner := roster.KindOf(p.Role)
	imps, err := c.db.RosterImports(e.Request().Context(), string(kind), 200)
	if err != nil {
		return err
	}
	d := rostersPage{CanUpload: owner, KindLabel: kind.ShortLabel()}
	for _, imp := range imps {
		d.Imports = append(d.Imports, viewImport(imp))
	}
	return c.Render(e, http.StatusOK, "hrss_rosters", "征收清册导入", d)
}

// dryRunPage is the data of a dry run's result: the exact diff and the
// form that applies the very same file.
type dryRunPage struct {
	Import   importView
	Filename string
	Content  string // the file, base64, carried back by the apply form
}

// RosterDryRun takes an uploaded roster (multipart field "file"), runs it
// as a dry run and shows either the diff it would make, with a button to
// apply the same file, or its row-level errors. Nothing but the history
// line is stored.
func (c *Console) RosterDryRun(e echo.Context) error {
	fh, err := e.FormFile("file")
	if err != nil {
		return syncproto.Errorf(syncproto.CodeInvalidInput, "choose a roster file to upload", "请选择要上传的征收清册文件")
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return syncproto.Errorf(syncproto.CodeInvalidInput, "the file is empty", "上传的文件为空")
	}
	name := filepath.Base(fh.Filename)
	res, err := c.roster.Import(e.Request().Context(), principal(e), name, data, true)
	if errors.Is(err, roster.ErrRefused) {
		return c.renderImport(e, http.StatusUnprocessableEntity, res.RosterImport, res.RowErrors)
	}
	if err != nil {
		return err
	}
	return c.Render(e, http.StatusOK, "hrss_dryrun", "试导入结果", dryRunPage{Import: viewImport(res.RosterImport),
		Filename: name, Content: base64.StdEncoding.EncodeToString(data)})
}

// RosterApply applies the file of a dry run. The file comes back from
// the dry run's page; it must be the one the caller's dry run checked
// (same content hash), and no other file may have been applied since,
// so what is applied is the diff shown. The import validates it again:
// settings may have changed.
func (c *Console) RosterApply(e echo.Context) error {
	ctx := e.Request().Context()
	p := principal(e)
	dry, err := c.db.RosterImportByID(ctx, e.FormValue("dry_run_id"))
	if err != nil {
		return err
	}
	data, err := base64.StdEncoding.DecodeString(e.FormValue("content"))
	sum := sha256.Sum256(data)
	if err != nil || dry.Status != store.ImportDryRun || dry.UploadedBy != p.UserID ||
		subtle.ConstantTimeCompare(sum[:], dry.ContentSHA256) != 1 {
		return syncproto.Errorf(syncproto.CodeInvalidInput,
			"this is not the file of your dry run: upload it again", "提交的文件与试导入的文件不一致，请重新上传")
	}
	// The diff shown is against the roster as it was: another file applied
	// since would be silently undone by this one.
	if changed, err := c.db.RosterAppliedAfter(ctx, dry.Kind, dry); err != nil {
		return err
	} else if changed {
		return syncproto.Errorf(syncproto.CodeConflict,
			"the roster changed since your dry run (another file was applied): run the dry run again",
			"试导入之后清册已有其他文件导入，本次试导入结果已失效，请重新上传试导入")
	}
	res, err := c.roster.Import(ctx, p, dry.Filename, data, false)
	if errors.Is(err, roster.ErrRefused) {
		return c.renderImport(e, http.StatusUnprocessableEntity, res.RosterImport, res.RowErrors)
	}
	if err != nil {
		return err
	}
	switch res.Status {
	case store.ImportUnchanged:
		c.SetFlash(e, true, "该文件此前已导入，清册未变化。")
		return e.Redirect(http.StatusSeeOther, "/hrss/rosters")
	default:
		c.SetFlash(e, true, fmt.Sprintf("已导入 %s：新增 %d 人，变更 %d 人，移除 %d 人，待核查 %d 人。",
			dry.Filename, res.Added, res.Updated, res.Removed, res.Flagged))
		return e.Redirect(http.StatusSeeOther, "/hrss/rosters/imports/"+res.ID)
	}
}

// importPage is the data of one import: its outcome and row errors.
type importPage struct {
	Import importView
	Errors []roster.RowError
}

func (c *Console) renderImport(e echo.Context, status int, imp store.RosterImport, errs []roster.RowError) error {
	return c.Render(e, status, "hrss_import", "导入记录 "+imp.Filename, importPage{Import: viewImport(imp), Errors: errs})
}

// RosterImport shows one import: its counts and, for a refused file, the
// row-level error report as a table with download links.
func (c *Console) RosterImport(e echo.Context) error {
	imp, errs, err := c.roster.ImportErrors(e.Request().Context(), principal(e), e.Param("id"))
	if err != nil {
		return err
	}
	return c.renderImport(e, http.StatusOK, imp, errs)
}

// RosterReport downloads the row-level error report of an import as CSV
// or XLSX (?format=), the file the API serves.
func (c *Console) RosterReport(e echo.Context) error {
	imp, errs, err := c.roster.ImportErrors(e.Request().Context(), principal(e), e.Param("id"))
	if err != nil {
		return err
	}
	format, data, err := csvOrXLSX(e.QueryParam("format"),
		func(w io.Writer) error { return roster.WriteReportCSV(w, errs) },
		func(w io.Writer) error { return roster.WriteReportXLSX(w, errs) })
	if err != nil {
		return err
	}
	return attachment(e, "roster-errors-"+imp.ID+"."+format, remit.ContentType(format), data)
}

// csvOrXLSX writes a table in the format asked for ("" is csv) and
// returns the format's name and the file.
func csvOrXLSX(format string, writeCSV, writeXLSX func(io.Writer) error) (string, []byte, error) {
	var buf bytes.Buffer
	var err error
	switch format {
	case "", "csv":
		format, err = "csv", writeCSV(&buf)
	case "xlsx":
		err = writeXLSX(&buf)
	default:
		return "", nil, syncproto.Errorf(syncproto.CodeInvalidInput, "format must be csv or xlsx", "format 须为 csv 或 xlsx")
	}
	return format, buf.Bytes(), err
}

// attachment sends data as a file download.
func attachment(e echo.Context, name, contentType string, data []byte) error {
	e.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q", name))
	return e.Blob(http.StatusOK, contentType, data)
}

// paidPage is the data of the paid-details export form.
type paidPage struct {
	Year      int
	Kind      syncproto.Kind
	FixedKind bool // a bureau exports its own kind only
	Villages  []store.Village
}

// Paid shows the form of the paid-details export.
func (c *Console) Paid(e echo.Context) error {
	ctx := e.Request().Context()
	year, _, err := c.yearParam(ctx, e.QueryParam("year"))
	if err != nil {
		return err
	}
	vs, err := c.db.Villages(ctx, "")
	if err != nil {
		return err
	}
	kind, fixed := roster.KindOf(principal(e).Role)
	return c.Render(e, http.StatusOK, "hrss_paid", "缴费明细导出", paidPage{Year: year, Kind: kind, FixedKind: fixed, Villages: vs})
}

// PaidDownload downloads the paid details of a year (and kind, and
// village) as CSV or XLSX, as the API's /api/v1/exports/paid does.
func (c *Console) PaidDownload(e echo.Context) error {
	year, err := strconv.Atoi(e.QueryParam("year"))
	if err != nil || year < 2000 || year > 2100 {
		return syncproto.Errorf(syncproto.CodeInvalidInput, "year must be a year such as 2027", "年度须为年份，如 2027")
	}
	kind := syncproto.Kind(e.QueryParam("kind"))
	if kind != "" && !kind.Valid() {
		return syncproto.Errorf(syncproto.CodeInvalidKind, "kind must be pension or medical", "险种须为 pension 或 medical")
	}
	village := e.QueryParam("village")
	rows, err := c.remit.PaidDetails(e.Request().Context(), principal(e), year, kind, village)
	if err != nil {
		return err
	}
	format, data, err := csvOrXLSX(e.QueryParam("format"),
		func(w io.Writer) error { return remit.WritePaidCSV(w, rows) },
		func(w io.Writer) error { return remit.WritePaidXLSX(w, rows) })
	if err != nil {
		return err
	}
	if k, ok := roster.KindOf(principal(e).Role); ok {
		kind = k // the service narrowed it so: name the file after it
	}
	return attachment(e, remit.PaidFilename(year, kind, village, format), remit.ContentType(format), data)
}
