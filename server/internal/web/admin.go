package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/store"
)

// The admin pages: townships, villages, users and the year's settings.
// Each change goes through the same auth or settings service method as
// the JSON API, which checks and audits it.

// AdminOnly is the role of the district's administration pages;
// AdminOrTownship may manage users (township staff: their own agents), as
// in the API.
var (
	AdminOnly       = []auth.Role{auth.RoleAdmin}
	AdminOrTownship = []auth.Role{auth.RoleAdmin, auth.RoleTownship}
)

// townshipsPage is the data of the townships page.
type townshipsPage struct {
	Townships []store.Township
	Villages  map[string]int // villages per township
}

// Townships lists the district's townships with their number of villages,
// and a form to add one.
func (c *Console) Townships(e echo.Context) error {
	ctx := e.Request().Context()
	ts, err := c.db.Townships(ctx)
	if err != nil {
		return err
	}
	vs, err := c.db.Villages(ctx, "")
	if err != nil {
		return err
	}
	d := townshipsPage{Townships: ts, Villages: map[string]int{}}
	for _, v := range vs {
		d.Villages[v.TownshipCode]++
	}
	return c.Render(e, http.StatusOK, "admin_townships", "镇街", d)
}

// CreateTownship adds a township (9-digit code and name).
func (c *Console) CreateTownship(e echo.Context) error {
	t := store.Township{Code: strings.TrimSpace(e.FormValue("code")), Name: strings.TrimSpace(e.FormValue("name"))}
	if err := c.auth.CreateTownship(e.Request().Context(), t); err != nil {
		return c.flashError(e, err, "/admin/townships")
	}
	c.SetFlash(e, true, "已添加镇街 "+t.Name+"（"+t.Code+"）。")
	return e.Redirect(http.StatusSeeOther, "/admin/townships")
}

// villagesPage is the data of the villages page.
type villagesPage struct {
	Township  string
	Townships []store.Township
	Villages  []store.Village
	Names     map[string]string // township names by code
}

// Villages lists the villages of a township (?township=), or of the
// district, with a form to add one.
func (c *Console) Villages(e echo.Context) error {
	ctx := e.Request().Context()
	ts, err := c.db.Townships(ctx)
	if err != nil {
		return err
	}
	d := villagesPage{Township: e.QueryParam("township"), Townships: ts, Names: map[string]string{}}
	if d.Township == "" {
		d.Township = auth.ScopeTownship(principal(e)) // township staff: their own
	}
	for _, t := range ts {
		d.Names[t.Code] = t.Name
	}
	if d.Villages, err = c.db.Villages(ctx, d.Township); err != nil {
		return err
	}
	return c.Render(e, http.StatusOK, "admin_villages", "村居", d)
}

// CreateVillage adds a village (12-digit code starting with its
// township's, and a name).
func (c *Console) CreateVillage(e echo.Context) error {
	v := store.Village{Code: strings.TrimSpace(e.FormValue("code")), Name: strings.TrimSpace(e.FormValue("name"))}
	back := "/admin/villages"
	if len(v.Code) >= 9 {
		back += "?township=" + v.Code[:9]
	}
	v, err := c.auth.CreateVillage(e.Request().Context(), v)
	if err != nil {
		return c.flashError(e, err, back)
	}
	c.SetFlash(e, true, "已添加村居 "+v.Name+"（"+v.Code+"）。")
	return e.Redirect(http.StatusSeeOther, back)
}
