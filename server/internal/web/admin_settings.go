package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/settings"
	"villagesync/syncproto"
)

// SettingsReaders may view the year's settings (every staff role, as the
// API's GET /api/v1/settings); only admin changes them.
var SettingsReaders = []auth.Role{auth.RoleAdmin, auth.RoleTownship, auth.RoleTax, auth.RoleHRSS, auth.RoleMedsec}

// settingsRow is one stored settings row with its form fields as text.
type settingsRow struct {
	settings.Year
	KindLabel   string
	RegionName  string
	GradesText  string // one grade a line: "100 贫困,低保" (yuan, then the categories it is open to)
	SubsidyText string // one category a line: "低保 100"
}

// settingsPage is the data of the settings page.
type settingsPage struct {
	Year     int
	Years    []int
	Rows     []settingsRow
	CanEdit  bool
	District string      // the district code, for a new row's region
	Blank    settingsRow // the empty fields of a new row
}

// Settings shows the settings of a year, each row as a form (admin) or
// read-only (other staff), and a form to add a row.
func (c *Console) Settings(e echo.Context) error {
	ctx := e.Request().Context()
	year, years, err := c.yearParam(ctx, e.QueryParam("year"))
	if err != nil {
		return err
	}
	rows, err := c.settings.All(ctx, year)
	if err != nil {
		return err
	}
	ts, err := c.db.Townships(ctx)
	if err != nil {
		return err
	}
	names := map[string]string{}
	d := settingsPage{Year: year, Years: years, CanEdit: principal(e).Role == auth.RoleAdmin}
	for _, t := range ts {
		names[t.Code] = t.Name
		if d.District == "" {
			d.District = t.Code[:6]
		}
	}
	for _, y := range rows {
		r := settingsRow{Year: y, KindLabel: y.Kind.ShortLabel(), RegionName: names[y.Region],
			GradesText: gradesText(y.Grades), SubsidyText: subsidyText(y.Subsidy)}
		if len(y.Region) == 6 {
			r.RegionName = "全区"
			d.District = y.Region
		}
		d.Rows = append(d.Rows, r)
	}
	return c.Render(e, http.StatusOK, "admin_settings", "年度参数", d)
}

// PutSettings stores one settings row from its form through the settings
// service, which validates and audits it (before and after).
func (c *Console) PutSettings(e echo.Context) error {
	y, err := settingsFromForm(e)
	back := "/admin/settings?year=" + e.FormValue("year")
	if err != nil {
		return c.flashError(e, err, back)
	}
	if err := c.settings.Put(e.Request().Context(), y); err != nil {
		return c.flashError(e, err, back)
	}
	c.SetFlash(e, true, "已保存 "+strconv.Itoa(y.Year)+" 年度"+y.Kind.ShortLabel()+"参数（"+y.Region+"）。")
	return e.Redirect(http.StatusSeeOther, "/admin/settings?year="+strconv.Itoa(y.Year))
}

// settingsFromForm reads a settings row from the form: amounts in yuan.
func settingsFromForm(e echo.Context) (settings.Year, error) {
	bad := func(en, zh string) (settings.Year, error) {
		return settings.Year{}, syncproto.Errorf(syncproto.CodeInvalidInput, en, zh)
	}
	y := settings.Year{Kind: syncproto.Kind(e.FormValue("kind")), Region: strings.TrimSpace(e.FormValue("region")),
		PeriodStart: e.FormValue("period_start"), PeriodEnd: e.FormValue("period_end"),
		Cutoff: strings.TrimSpace(e.FormValue("cutoff"))}
	var err error
	if y.Year, err = strconv.Atoi(e.FormValue("year")); err != nil {
		return bad("year must be a number", "年度须为数字")
	}
	if y.TimeLimitHours, err = strconv.Atoi(strings.TrimSpace(e.FormValue("time_limit_hours"))); err != nil {
		return bad("time limit must be whole hours", "限时须为整数小时")
	}
	if y.CashLimit, err = syncproto.ParseMoney(e.FormValue("cash_limit")); err != nil {
		return bad("cash limit: "+err.Error(), "限额须为金额（元）")
	}
	if p := strings.TrimSpace(e.FormValue("premium")); p != "" && y.Kind == syncproto.KindMedical {
		if y.Premium, err = syncproto.ParseMoney(p); err != nil {
			return bad("premium: "+err.Error(), "个人缴费标准须为金额（元）")
		}
	}
	if y.Kind == syncproto.KindPension {
		if y.Grades, err = parseGrades(e.FormValue("grades")); err != nil {
			return settings.Year{}, err
		}
	}
	if y.Subsidy, err = parseSubsidy(e.FormValue("subsidy")); err != nil {
		return settings.Year{}, err
	}
	return y, nil
}

// listSplitter splits a list of categories written with any common
// separator.
var listSplitter = strings.NewReplacer("，", ",", "、", ",", "；", ",", ";", ",", " ", ",", "\u3000", ",")

// gradesText writes grades one a line: the yuan, then the categories the
// grade is limited to, if any.
func gradesText(gs []settings.Grade) string {
	var b strings.Builder
	for _, g := range gs {
		b.WriteString(g.Amount.String())
		for i, cat := range g.Categories {
			if i == 0 {
				b.WriteByte(' ')
			} else {
				b.WriteByte(',')
			}
			b.WriteString(cat.Label())
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// parseGrades reads gradesText's format back; categories may be codes or
// Chinese names.
func parseGrades(text string) ([]settings.Grade, error) {
	var out []settings.Grade
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		amount, rest, _ := strings.Cut(line, " ")
		m, err := syncproto.ParseMoney(amount)
		if err != nil {
			return nil, syncproto.Errorf(syncproto.CodeInvalidMoney, "grades line "+strconv.Itoa(n+1)+": "+err.Error(),
				"缴费档次第 "+strconv.Itoa(n+1)+" 行：金额无效")
		}
		g := settings.Grade{Amount: m}
		for _, name := range strings.Split(listSplitter.Replace(rest), ",") {
			if name == "" {
				continue
			}
			cat, err := syncproto.ParseCategory(name)
			if err != nil {
				return nil, syncproto.Errorf(syncproto.CodeInvalidCategory, "grades line "+strconv.Itoa(n+1)+": unknown category "+name,
					"缴费档次第 "+strconv.Itoa(n+1)+" 行：无法识别的人员类别“"+name+"”")
			}
			g.Categories = append(g.Categories, cat)
		}
		out = append(out, g)
	}
	return out, nil
}

// subsidyText writes the 代缴 subsidies one a line, "低保 100.00", in a
// fixed order of categories.
func subsidyText(sub map[syncproto.Category]syncproto.Money) string {
	cats := make([]syncproto.Category, 0, len(sub))
	for cat := range sub {
		cats = append(cats, cat)
	}
	slices.Sort(cats)
	var b strings.Builder
	for _, cat := range cats {
		b.WriteString(cat.Label() + " " + sub[cat].String() + "\n")
	}
	return b.String()
}

// parseSubsidy reads subsidyText's format back.
func parseSubsidy(text string) (map[syncproto.Category]syncproto.Money, error) {
	out := map[syncproto.Category]syncproto.Money{}
	for n, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		cat, err1 := syncproto.ParseCategory(strings.Join(f[:len(f)-1], ""))
		m, err2 := syncproto.ParseMoney(f[len(f)-1])
		if len(f) < 2 || err1 != nil || err2 != nil {
			return nil, syncproto.Errorf(syncproto.CodeInvalidInput, "subsidy line "+strconv.Itoa(n+1)+": write a category and an amount",
				"代缴第 "+strconv.Itoa(n+1)+" 行：须写人员类别和金额，如“低保 100”")
		}
		out[cat] = m
	}
	return out, nil
}
