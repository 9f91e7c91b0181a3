package web

import (
	"context"
	"html/template"
	"net/http"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/progress"
	"villagesync/syncproto"
)

// DashboardRoles are the roles that see the district dashboard: those
// whose API calls already cover the whole district (admin; tax, which
// sees every township's batches; HRSS and medical security, which
// download every village's paid details). Township staff see their own
// villages' progress on their own page.
var DashboardRoles = []auth.Role{auth.RoleAdmin, auth.RoleTax, auth.RoleHRSS, auth.RoleMedsec}

// dashboardPage is the data of the district dashboard.
type dashboardPage struct {
	Year      int
	Years     []int
	Township  string // the township looked at; "" for the district
	Name      string // its name
	Townships progress.Table
	Villages  *progress.Table // the township's villages, when one is chosen
	Total     progress.Row
	ByArea    template.HTML // chart per township (district) — empty for one township
	ByKind    template.HTML // chart per kind
	ChartNote string        // why there is no chart, in Chinese
	Days      int
}

// Dashboard shows the collection progress of a year, per township and
// per kind, with charts of the share paid over the collection period;
// ?township= narrows it to one township and lists its villages.
func (c *Console) Dashboard(e echo.Context) error {
	ctx := e.Request().Context()
	year, years, err := c.yearParam(ctx, e.QueryParam("year"))
	if err != nil {
		return err
	}
	svc := progress.NewService(c.db, c.settings)
	d := dashboardPage{Year: year, Years: years, Township: e.QueryParam("township")}
	if d.Townships, err = svc.Townships(ctx, year); err != nil {
		return err
	}
	d.Total = d.Townships.Total
	if d.Township != "" {
		t, err := c.db.Township(ctx, d.Township)
		if err != nil {
			return err
		}
		d.Name = t.Name
		vt, err := svc.Villages(ctx, year, d.Township)
		if err != nil {
			return err
		}
		d.Villages, d.Total = &vt, vt.Total
	}
	series, err := svc.OverTime(ctx, year, d.Township, c.db.Now())
	switch {
	case syncproto.ErrorCode(err) == syncproto.CodeNotFound:
		d.ChartNote = strconv.Itoa(year) + " 年度尚未设置征收期，无法绘制进度曲线。"
	case err != nil:
		return err
	default:
		d.Days = len(series.Days)
		if d.Township == "" {
			d.ByArea = progress.Chart(series.ByTownship(), strconv.Itoa(year)+" 年度各镇街缴费进度（两险合计）")
		}
		scope := "全区"
		if d.Township != "" {
			scope = d.Name
		}
		d.ByKind = progress.Chart(series.ByKind(), strconv.Itoa(year)+" 年度"+scope+"分险种缴费进度")
	}
	title := "全区征收进度"
	if d.Name != "" {
		title = d.Name + "征收进度"
	}
	return c.Render(e, http.StatusOK, "dashboard", title, d)
}

// yearParam reads ?year=, or picks the year being collected: the year
// whose collection period holds today, else the latest year with
// settings, else this calendar year. It also returns the years that have
// settings, for the year picker.
func (c *Console) yearParam(ctx context.Context, q string) (int, []int, error) {
	rows, err := c.settings.All(ctx, 0)
	if err != nil {
		return 0, nil, err
	}
	var years []int
	current, latest := 0, 0
	now := c.db.Now()
	for _, r := range rows {
		if len(years) == 0 || years[len(years)-1] != r.Year {
			years = append(years, r.Year)
		}
		if r.InPeriod(now) && r.Year > current {
			current = r.Year
		}
		latest = max(latest, r.Year)
	}
	if q != "" {
		y, err := strconv.Atoi(q)
		if err != nil || y < 2000 || y > 2100 {
			return 0, nil, syncproto.Errorf(syncproto.CodeInvalidInput, "year must be a year such as 2027", "年度须为年份，如 2027")
		}
		if !slices.Contains(years, y) {
			years = append(years, y) // the picker shows the year asked for
			slices.Sort(years)
		}
		return y, years, nil
	}
	switch {
	case current != 0:
		return current, years, nil
	case latest != 0:
		return latest, years, nil
	}
	return now.In(c.shanghai).Year(), years, nil
}
