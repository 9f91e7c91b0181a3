package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/roster"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// uploadRoster takes a roster file as multipart field "file" (or the raw
// body with ?filename=). ?dry_run=1 validates and reports the diff only.
func (s *Server) uploadRoster(c echo.Context) error {
	name, data, err := uploadedFile(c)
	if err != nil {
		return err
	}
	dry := c.QueryParam("dry_run") == "1" || c.QueryParam("dry_run") == "true"
	res, err := s.roster.Import(c.Request().Context(), principal(c), name, data, dry)
	if errors.Is(err, roster.ErrRefused) {
		return c.JSON(http.StatusUnprocessableEntity, map[string]any{
			"error":  ErrorDetail{Code: roster.ErrRefused.Code, Message: roster.ErrRefused.Message, MessageZH: roster.ErrRefused.MessageZH},
			"import": res.RosterImport, "row_errors": res.RowErrors,
			"report": map[string]string{
				"csv":  "/api/v1/rosters/imports/" + res.ID + "/report?format=csv",
				"xlsx": "/api/v1/rosters/imports/" + res.ID + "/report?format=xlsx",
			},
		})
	}
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Status == store.ImportApplied {
		status = http.StatusCreated
	}
	return c.JSON(status, res)
}

func uploadedFile(c echo.Context) (string, []byte, error) {
	if strings.HasPrefix(c.Request().Header.Get(echo.HeaderContentType), echo.MIMEMultipartForm) {
		fh, err := c.FormFile("file")
		if err != nil {
			return "", nil, syncproto.Errorf(syncproto.CodeInvalidInput, "upload the roster as form field \"file\"", "请以表单字段 file 上传征收清册文件")
		}
		f, err := fh.Open()
		if err != nil {
			return "", nil, err
		}
		defer f.Close()
		data, err := io.ReadAll(f)
		return filepath.Base(fh.Filename), data, err
	}
	data, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return "", nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return "", nil, syncproto.Errorf(syncproto.CodeInvalidInput, "empty upload: send the roster file", "上传内容为空，请选择征收清册文件")
	}
	name := c.QueryParam("filename")
	if name == "" {
		name = "roster"
	}
	return filepath.Base(name), data, nil
}

func (s *Server) rosterImports(c echo.Context) error {
	kind := ""
	if k, ok := roster.KindOf(principal(c).Role); ok {
		kind = string(k) // a bureau sees its own kind's history
	}
	imps, err := s.db.RosterImports(c.Request().Context(), kind, 200)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"imports": nonNil(imps)})
}

func (s *Server) rosterReport(c echo.Context) error {
	imp, errs, err := s.roster.ImportErrors(c.Request().Context(), principal(c), c.Param("id"))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	name := "roster-errors-" + imp.ID
	switch c.QueryParam("format") {
	case "", "csv":
		err = roster.WriteReportCSV(&buf, errs)
		name += ".csv"
		c.Response().Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	case "xlsx":
		err = roster.WriteReportXLSX(&buf, errs)
		name += ".xlsx"
		c.Response().Header().Set(echo.HeaderContentType, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	default:
		return syncproto.Errorf(syncproto.CodeInvalidInput, "format must be csv or xlsx", "format 须为 csv 或 xlsx")
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q", name))
	return c.Blob(http.StatusOK, c.Response().Header().Get(echo.HeaderContentType), buf.Bytes())
}

// rosterScope limits a roster query to the caller's area and to the
// village or township asked for (already checked by the route's target).
func rosterScope(c echo.Context) (villages []string, township string) {
	p := principal(c)
	if v := c.QueryParam("village"); v != "" {
		return []string{v}, ""
	}
	switch p.Role {
	case auth.RoleAgent:
		return p.Villages, ""
	case auth.RoleTownship:
		return nil, p.Township
	}
	return nil, c.QueryParam("township")
}

// rosterTarget is the scope target of a roster query: the village or
// township asked for, else the caller's own area.
func rosterTarget(c echo.Context) (auth.Target, error) {
	p := principal(c)
	switch {
	case c.QueryParam("village") != "":
		return auth.VillageTarget(c.QueryParam("village")), nil
	case c.QueryParam("township") != "":
		return auth.Target{Township: c.QueryParam("township")}, nil
	case p.Role == auth.RoleAgent && len(p.Villages) > 0:
		return auth.VillageTarget(p.Villages[0]), nil
	}
	return auth.Target{Township: p.Township}, nil
}

// maskedEntry is a roster line as shown to those who do not own rosters:
// the ID masked, the birth date hidden.
type maskedEntry struct {
	store.RosterEntry
	Masked string `json:"resident_id_masked"`
}

func (s *Server) rosterEntries(c echo.Context) error {
	p := principal(c)
	villages, township := rosterScope(c)
	q := store.RosterQuery{Villages: villages, Township: township, Kind: c.QueryParam("kind"), Limit: 200}
	if y := c.QueryParam("year"); y != "" {
		n, err := strconv.Atoi(y)
		if err != nil {
			return syncproto.Errorf(syncproto.CodeInvalidInput, "year must be a number", "year 须为年份数字")
		}
		q.Year = n
	}
	if err := parseRosterSearch(strings.TrimSpace(c.QueryParam("q")), &q); err != nil {
		return err
	}
	entries, err := s.db.SearchRoster(c.Request().Context(), q)
	if err != nil {
		return err
	}
	out := make([]maskedEntry, len(entries))
	owner := p.Role == auth.RoleAdmin || p.Role == auth.RoleHRSS || p.Role == auth.RoleMedsec
	for i, e := range entries {
		out[i] = maskedEntry{RosterEntry: e, Masked: syncproto.ResidentID(e.ResidentID).Masked()}
		if !owner {
			out[i].ResidentID = ""
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"entries": out})
}

// parseRosterSearch reads the one search box agents type into: a full ID,
// the last 4-6 characters of one, pinyin initials (letters), or a part of
// a name.
func parseRosterSearch(text string, q *store.RosterQuery) error {
	switch {
	case text == "":
	case len(text) == 18:
		q.ResidentID = strings.ToUpper(text)
	case len(text) >= 4 && len(text) <= 6 && strings.Trim(strings.ToUpper(text), "0123456789X") == "":
		q.IDSuffix = strings.ToUpper(text)
	case strings.Trim(strings.ToLower(text), "abcdefghijklmnopqrstuvwxyz") == "":
		q.Initials = strings.ToLower(text)
	default:
		q.Name = text
	}
	return nil
}

func (s *Server) rosterCounts(c echo.Context) error {
	villages, township := rosterScope(c)
	year, _ := strconv.Atoi(c.QueryParam("year"))
	counts, err := s.db.RosterCounts(c.Request().Context(), villages, township, year)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"counts": nonNil(counts)})
}

func (s *Server) getSettings(c echo.Context) error {
	year, _ := strconv.Atoi(c.QueryParam("year"))
	all, err := s.settings.All(c.Request().Context(), year)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"settings": nonNil(all)})
}

func (s *Server) putSettings(c echo.Context) error {
	var y settings.Year
	if err := bind(c, &y); err != nil {
		return err
	}
	if err := s.settings.Put(c.Request().Context(), y); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, y)
}
