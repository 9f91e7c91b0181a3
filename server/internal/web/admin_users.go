package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/store"
)

// usersPage is the data of the users page.
type usersPage struct {
	Users     []store.User
	Townships []store.Township
	Names     map[string]string // township names by code
	Villages  []store.Village   // the villages an agent may be given
	Admin     bool              // admin creates any role; township staff only agents of their own township
	Roles     []auth.Role
}

// Users lists the users the caller may see (admin: all; township staff:
// their township's), with a form to add one and a button to disable or
// enable each.
func (c *Console) Users(e echo.Context) error {
	ctx, p := e.Request().Context(), principal(e)
	us, err := c.auth.Users(ctx, p, e.QueryParam("role"))
	if err != nil {
		return err
	}
	ts, err := c.db.Townships(ctx)
	if err != nil {
		return err
	}
	vs, err := c.db.Villages(ctx, auth.ScopeTownship(p))
	if err != nil {
		return err
	}
	d := usersPage{Users: us, Townships: ts, Names: map[string]string{}, Villages: vs, Admin: p.Role == auth.RoleAdmin,
		Roles: []auth.Role{auth.RoleAgent}}
	if d.Admin {
		d.Roles = auth.Roles()
	}
	for _, t := range ts {
		d.Names[t.Code] = t.Name
	}
	return c.Render(e, http.StatusOK, "admin_users", "用户", d)
}

// CreateUser adds a user from the form; township staff add agents of
// their own township (the service enforces it).
func (c *Console) CreateUser(e echo.Context) error {
	p := principal(e)
	form, err := e.FormParams()
	if err != nil {
		return err
	}
	name, pass := strings.TrimSpace(form.Get("display_name")), form.Get("password")
	in := auth.UserInput{Username: form.Get("username"), DisplayName: &name, Role: auth.Role(form.Get("role")),
		TownshipCode: strings.TrimSpace(form.Get("township_code")), Password: &pass}
	if p.Role == auth.RoleTownship {
		// Township staff add agents of their own township; a form naming
		// another township is refused by the service (403).
		in.Role = auth.RoleAgent
		if in.TownshipCode == "" {
			in.TownshipCode = p.Township
		}
	}
	if vs := form["villages"]; len(vs) > 0 {
		in.Villages = &vs
		if in.TownshipCode == "" && len(vs[0]) >= 9 {
			in.TownshipCode = vs[0][:9] // an agent's township is its villages'
		}
	}
	u, err := c.auth.CreateUser(e.Request().Context(), p, in)
	if err != nil {
		return c.flashError(e, err, "/users")
	}
	c.SetFlash(e, true, "已添加用户 "+u.Username+"（"+RoleLabel(auth.Role(u.Role))+"）。")
	return e.Redirect(http.StatusSeeOther, "/users")
}

// SetUserDisabled returns the handler that disables (true) or enables a
// user. Disabling ends the user's sessions and tokens (auth.UpdateUser).
func (c *Console) SetUserDisabled(disabled bool) echo.HandlerFunc {
	return func(e echo.Context) error {
		u, err := c.auth.UpdateUser(e.Request().Context(), principal(e), e.Param("id"), auth.UserInput{Disabled: &disabled})
		if err != nil {
			return c.flashError(e, err, "/users")
		}
		if disabled {
			c.SetFlash(e, true, "已停用用户 "+u.Username+"，其登录已全部失效。")
		} else {
			c.SetFlash(e, true, "已启用用户 "+u.Username+"。")
		}
		return e.Redirect(http.StatusSeeOther, "/users")
	}
}
