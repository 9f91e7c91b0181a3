package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"villagesync/server/internal/store"
	"villagesync/server/internal/web"
	"villagesync/syncproto"
)

// ErrorBody is the one JSON error shape of every error response.
type ErrorBody = syncproto.ErrorBody

// ErrorDetail is a stable code plus messages for people.
type ErrorDetail = syncproto.ErrorDetail

// statusOf maps each coded error to its HTTP status.
var statusOf = map[syncproto.Code]int{
	syncproto.CodeInvalidInput:     http.StatusBadRequest,
	syncproto.CodeInvalidMoney:     http.StatusBadRequest,
	syncproto.CodeInvalidID:        http.StatusBadRequest,
	syncproto.CodeInvalidKind:      http.StatusBadRequest,
	syncproto.CodeInvalidCategory:  http.StatusBadRequest,
	syncproto.CodeInvalidULID:      http.StatusBadRequest,
	syncproto.CodeNotFound:         http.StatusNotFound,
	syncproto.CodeMethodNotAllowed: http.StatusMethodNotAllowed,
	syncproto.CodeConflict:         http.StatusConflict,
	"nothing_to_cut":               http.StatusConflict,
	"batch_state":                  http.StatusConflict,
	"deposits_short":               http.StatusConflict,
	syncproto.CodeUnauthenticated:  http.StatusUnauthorized,
	syncproto.CodeDeviceRevoked:    http.StatusUnauthorized,
	syncproto.CodeRefreshReused:    http.StatusUnauthorized,
	syncproto.CodeForbidden:        http.StatusForbidden,
	syncproto.CodeTooLarge:         http.StatusRequestEntityTooLarge,
	syncproto.CodeRateLimited:      http.StatusTooManyRequests,
	syncproto.CodeProtocolVersion:  http.StatusUpgradeRequired,
	syncproto.CodeUnavailable:      http.StatusServiceUnavailable,
	syncproto.CodeSchemaTooNew:     http.StatusServiceUnavailable,
	syncproto.CodeSchemaBehind:     http.StatusServiceUnavailable,
	syncproto.CodeInternal:         http.StatusInternalServerError,
}

// handleError renders every error as ErrorBody and logs only the
// unexpected ones (5xx).
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	// A browser that asks for a page the console does not have (a
	// mistyped address, an old bookmark) gets the console's error page;
	// API clients keep the JSON shape.
	req := c.Request()
	if !strings.HasPrefix(req.URL.Path, "/api/") && strings.Contains(req.Header.Get(echo.HeaderAccept), "text/html") {
		web.SecurityHeaders(c.Response().Header())
		if perr := s.pageError(c, err); perr == nil {
			return
		}
	}
	ce := codedError(err)
	status, ok := statusOf[ce.Code]
	if !ok {
		status = http.StatusBadRequest
	}
	if status >= 500 && ce.Code == syncproto.CodeInternal {
		s.log.ErrorContext(c.Request().Context(), "unexpected error", "err", err, "route", c.Path())
	}
	body := ErrorBody{Error: ErrorDetail{Code: ce.Code, Message: ce.Message, MessageZH: ce.MessageZH}}
	if c.Request().Method == http.MethodHead {
		err = c.NoContent(status)
	} else {
		err = c.JSON(status, body)
	}
	if err != nil {
		s.log.ErrorContext(c.Request().Context(), "write error response", "err", err)
	}
}

// codedError finds the coded error behind err; echo's own errors (no
// route, wrong method, body too large) are given codes here.
func codedError(err error) *syncproto.Error {
	var ce *syncproto.Error
	if errors.As(err, &ce) {
		return ce
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return syncproto.Errorf(syncproto.CodeNotFound, "no such resource", "请求的资源不存在")
		case http.StatusMethodNotAllowed:
			return syncproto.Errorf(syncproto.CodeMethodNotAllowed, "method not allowed", "不支持该请求方法")
		case http.StatusRequestEntityTooLarge:
			return syncproto.Errorf(syncproto.CodeTooLarge, "request body too large", "请求内容过大")
		case http.StatusUnsupportedMediaType, http.StatusBadRequest:
			return syncproto.Errorf(syncproto.CodeInvalidInput, fmt.Sprint(he.Message), "请求格式不正确")
		case http.StatusUnauthorized:
			return syncproto.Errorf(syncproto.CodeUnauthenticated, "authentication required", "请先登录")
		case http.StatusForbidden:
			return syncproto.Errorf(syncproto.CodeForbidden, "forbidden", "无权访问")
		case http.StatusTooManyRequests:
			return syncproto.Errorf(syncproto.CodeRateLimited, "too many requests, try again later", "请求过于频繁，请稍后再试")
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.ErrNotFound
	}
	return syncproto.Wrap(err, syncproto.CodeInternal, "internal error", "服务器内部错误")
}

func schemaError(st store.SchemaState) *syncproto.Error {
	if st.TooNew() {
		return syncproto.Errorf(syncproto.CodeSchemaTooNew,
			fmt.Sprintf("database schema version %d is newer than this server knows (%d): upgrade the server", st.Current, st.Known),
			fmt.Sprintf("数据库结构版本 %d 高于本服务程序所支持的版本 %d，请升级服务程序", st.Current, st.Known))
	}
	return syncproto.Errorf(syncproto.CodeSchemaBehind,
		fmt.Sprintf("database schema version %d is behind this server (%d): run the migrations", st.Current, st.Known),
		fmt.Sprintf("数据库结构版本 %d 低于本服务程序要求的版本 %d，请先执行数据库迁移", st.Current, st.Known))
}
