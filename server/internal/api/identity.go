package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"villagesync/server/internal/auth"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

func (s *Server) login(c echo.Context) error {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	pair, err := s.auth.Login(c.Request().Context(), req.Username, req.Password)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pair)
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (s *Server) refresh(c echo.Context) error {
	var req refreshRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	pair, err := s.auth.Refresh(c.Request().Context(), req.RefreshToken)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, pair)
}

func (s *Server) logout(c echo.Context) error {
	var req refreshRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	if err := s.auth.Logout(c.Request().Context(), principal(c), req.RefreshToken); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) me(c echo.Context) error { return c.JSON(http.StatusOK, principal(c)) }

func (s *Server) createEnrollmentCode(c echo.Context) error {
	var req struct {
		AgentID string `json:"agent_id"`
	}
	if err := bind(c, &req); err != nil {
		return err
	}
	code, err := s.auth.CreateEnrollmentCode(c.Request().Context(), principal(c), req.AgentID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, code)
}

func (s *Server) enroll(c echo.Context) error {
	var req auth.EnrollRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	out, err := s.auth.Enroll(c.Request().Context(), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, out)
}

func (s *Server) devices(c echo.Context) error {
	ds, err := s.auth.Devices(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"devices": nonNil(ds)})
}

func (s *Server) deviceTarget(c echo.Context) (auth.Target, error) {
	twp, err := s.auth.DeviceTownship(c.Request().Context(), c.Param("id"))
	return auth.Target{Township: twp}, err
}

func (s *Server) revokeDevice(c echo.Context) error {
	if err := s.auth.RevokeDevice(c.Request().Context(), principal(c), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) auditLog(c echo.Context) error {
	p := principal(c)
	f := store.AuditFilter{Township: auth.ScopeTownship(p), Action: c.QueryParam("action"),
		ActorID: c.QueryParam("actor_id"), Before: c.QueryParam("before"), Limit: 100}
	if q := c.QueryParam("township"); q != "" {
		if err := auth.Authorize(p, auth.Target{Township: q}); err != nil {
			return err
		}
		f.Township = q
	}
	if q := c.QueryParam("limit"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > 1000 {
			return syncproto.Errorf(syncproto.CodeInvalidInput, "limit must be 1 to 1000", "limit 须为 1 至 1000")
		}
		f.Limit = n
	}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if q := c.QueryParam(name); q != "" {
			t, err := time.Parse(time.RFC3339, q)
			if err != nil {
				return syncproto.Errorf(syncproto.CodeInvalidInput, name+" must be an RFC 3339 time", name+" 须为 RFC 3339 时间格式")
			}
			*dst = t
		}
	}
	entries, err := s.db.AuditLog(c.Request().Context(), f)
	if err != nil {
		return err
	}
	next := ""
	if len(entries) == f.Limit {
		next = entries[len(entries)-1].ID
	}
	return c.JSON(http.StatusOK, map[string]any{"entries": nonNil(entries), "next_before": next})
}

func (s *Server) townships(c echo.Context) error {
	ts, err := s.db.Townships(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"townships": nonNil(ts)})
}

func (s *Server) createTownship(c echo.Context) error {
	var t store.Township
	if err := bind(c, &t); err != nil {
		return err
	}
	if err := s.auth.CreateTownship(c.Request().Context(), t); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, t)
}

func (s *Server) villages(c echo.Context) error {
	vs, err := s.db.Villages(c.Request().Context(), c.Param("code"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"villages": nonNil(vs)})
}

func (s *Server) village(c echo.Context) error {
	v, err := s.db.VillageByCode(c.Request().Context(), c.Param("code"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

func (s *Server) createVillage(c echo.Context) error {
	var v store.Village
	if err := bind(c, &v); err != nil {
		return err
	}
	v, err := s.auth.CreateVillage(c.Request().Context(), v)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, v)
}

func (s *Server) users(c echo.Context) error {
	us, err := s.auth.Users(c.Request().Context(), principal(c), c.QueryParam("role"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"users": nonNil(us)})
}

func (s *Server) createUser(c echo.Context) error {
	var in auth.UserInput
	if err := bind(c, &in); err != nil {
		return err
	}
	u, err := s.auth.CreateUser(c.Request().Context(), principal(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, u)
}

func (s *Server) userTarget(c echo.Context) (auth.Target, error) {
	u, err := s.db.UserByID(c.Request().Context(), s.db.Pool, c.Param("id"))
	return auth.Target{Township: u.TownshipCode}, err
}

func (s *Server) updateUser(c echo.Context) error {
	var in auth.UserInput
	if err := bind(c, &in); err != nil {
		return err
	}
	u, err := s.auth.UpdateUser(c.Request().Context(), principal(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, u)
}

// nonNil renders an empty list as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
