package api

import (
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzhttp"
	"github.com/labstack/echo/v4"

	"villagesync/server/internal/auth"
	"villagesync/syncproto"
)

// requireProtocol refuses a sync request without the protocol version
// this server speaks: 426 with a clear error.
func requireProtocol(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		v := c.Request().Header.Get(syncproto.HeaderProtocol)
		if v != strconv.Itoa(syncproto.ProtocolVersion) {
			return syncproto.Errorf(syncproto.CodeProtocolVersion,
				"this server speaks sync protocol "+strconv.Itoa(syncproto.ProtocolVersion)+" (header "+syncproto.HeaderProtocol+"), got \""+v+"\": update the app",
				"同步协议版本不匹配，请升级终端程序")
		}
		return next(c)
	}
}

// syncLimit lets at most n sync requests (push, pull) past it at once;
// the others wait, holding nothing but their connection. A sync request
// spends most of its time on one of the pool's database connections, so
// more in flight than connections only queue further in — each holding
// a gzip writer (about 1 MB) and its decoded body. At 200 tablets
// syncing at once that queue made the server's peak RSS 475 MB.
func syncLimit(n int) echo.MiddlewareFunc {
	sem := make(chan struct{}, n)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !strings.HasPrefix(c.Request().URL.Path, "/api/v1/sync/") {
				return next(c)
			}
			select {
			case sem <- struct{}{}:
			case <-c.Request().Context().Done():
				return c.Request().Context().Err()
			}
			defer func() { <-sem }()
			return next(c)
		}
	}
}

func (s *Server) push(c echo.Context) error {
	var req syncproto.PushRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	resp, err := s.sync.Push(c.Request().Context(), principal(c), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resp)
}

func (s *Server) pull(c echo.Context) error {
	limit := 0
	if q := c.QueryParam("limit"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 {
			return syncproto.Errorf(syncproto.CodeInvalidInput, "limit must be a positive number", "limit 须为正整数")
		}
		limit = n
	}
	resp, err := s.sync.Pull(c.Request().Context(), principal(c), c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	buf := pageBuffers.Get().(*[]byte)
	*buf = resp.AppendJSON((*buf)[:0])
	err = c.JSONBlob(http.StatusOK, *buf) // the writers copy what they keep
	if cap(*buf) <= maxPooledPage {
		pageBuffers.Put(buf)
	}
	return err
}

// pageBuffers hold pull answers while they are written: a bootstrap's
// page of 2,000 roster lines is most of a megabyte, which would otherwise
// be allocated, and grown, for every page.
var pageBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledPage is the largest answer buffer kept for reuse.
const maxPooledPage = 4 << 20

// importOutbox applies an exported outbox file for a device of the
// caller's township, under the same exactly-once rules as a push: the
// records must chain onto what the server holds and carry the device's
// signatures.
func (s *Server) importOutbox(c echo.Context) error {
	var f syncproto.OutboxFile
	if err := bind(c, &f); err != nil {
		return err
	}
	resp, err := s.sync.ImportOutbox(c.Request().Context(), c.Param("id"), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resp)
}

func (s *Server) alerts(c echo.Context) error {
	as, err := s.db.Alerts(c.Request().Context(), auth.ScopeTownship(principal(c)))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"alerts": nonNil(as)})
}

// cashOnHand lists the caller's agents with the cash they hold against
// the dual limits.
func (s *Server) cashOnHand(c echo.Context) error {
	p := principal(c)
	township := auth.ScopeTownship(p)
	if q := c.QueryParam("township"); q != "" {
		if err := auth.Authorize(p, auth.Target{Township: q}); err != nil {
			return err
		}
		township = q
	}
	agents, err := s.sync.CashOnHand(c.Request().Context(), township)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"agents": nonNil(agents)})
}

// gzipAnswers compresses answers for clients that accept gzip, with
// klauspost/compress's HTTP wrapper: the same size as compress/gzip's
// default level (within 2 %) in less than half the time, which counts most
// for the largest answers the server makes often, bootstrap pages. Every
// answer is compressed, however small, as echo's gzip middleware did.
func gzipAnswers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		res := c.Response()
		plain := res.Writer
		var err error
		gzipWrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			res.Writer = w
			c.SetRequest(r)
			err = next(c)
		})).ServeHTTP(plain, c.Request())
		// An error is written by echo's error handler after this returns:
		// plainly, as the wrapper has written nothing and is closed.
		res.Writer = plain
		return err
	}
}

var gzipWrap = func() func(http.Handler) http.HandlerFunc {
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(0))
	if err != nil {
		panic(err) // cannot happen: the options are fixed here
	}
	return wrap
}()
