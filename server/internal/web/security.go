package web

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// CSP is the Content-Security-Policy of every page: scripts, styles and
// images from the server itself only (images also inline as data:, for
// QR codes), no inline script or style, forms post only here, no framing.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Cookie and form field names.
const (
	SessionCookie = "vs_session"
	// CSRFField is the form field that carries the session's CSRF token
	// in every POST form.
	CSRFField       = "csrf"
	loginCSRFCookie = "vs_login"
)

// SecurityHeaders sets the headers every console answer carries: the
// CSP, no MIME sniffing, no referrer to other sites, no framing, and no
// caching (pages show personal data).
func SecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
}

// secure reports whether cookies of this request are to be Secure: it
// came over TLS, or the setting says a TLS proxy is in front.
func (c *Console) secure(e echo.Context) bool {
	return e.Request().TLS != nil || c.cfg.SecureCookies
}

// cookie builds a console cookie: HttpOnly, SameSite=Lax, whole site,
// Secure on TLS. maxAge < 0 deletes it, 0 makes it last the browser
// session.
func (c *Console) cookie(e echo.Context, name, value string, maxAge int) *http.Cookie {
	ck := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: c.secure(e),
		SameSite: http.SameSiteLaxMode, MaxAge: maxAge}
	if maxAge < 0 {
		ck.Expires = time.Unix(0, 0)
	}
	return ck
}

// SessionToken is the session cookie of a request ("" without one).
func SessionToken(e echo.Context) string {
	ck, err := e.Cookie(SessionCookie)
	if err != nil {
		return ""
	}
	return ck.Value
}

// checkNotCrossSite refuses a GET that changes state (a batch download
// marks the batch exported and is recorded) when the browser says another
// site started it (Sec-Fetch-Site): SameSite=Lax sends the session cookie
// on a top-level navigation from any site, and a GET carries no CSRF
// token. A link typed or bookmarked ("none") and the console's own links
// ("same-origin") pass, as do clients that send no such header.
func checkNotCrossSite(e echo.Context) error {
	switch e.Request().Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return nil
	}
	return ErrCSRF
}
