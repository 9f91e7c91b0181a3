package webui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"villagesync/agentapp/internal/keystore"
)

// The cookies: the session bound to an unlock, and the pre-session value
// the unlock form's CSRF token is bound to.
const (
	sessionCookie = "vs_session"
	preCookie     = "vs_pre"
	csrfField     = "csrf"
)

// maxForm bounds a form's body.
const maxForm = 64 << 10

// session is one unlock: the key in memory and what the pages need to
// remember between requests.
type session struct {
	token    string
	unlocked *keystore.Unlocked
	lastSeen time.Time
	flash    []string          // shown once on the next page
	query    string            // the last search (see Server.search)
	done     map[string]string // confirm nonce -> receipt number stored with it; "deposit:"+nonce -> deposit ID
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// csrfFor is the form token bound to binding (a session or pre-session).
func (s *Server) csrfFor(binding string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(binding))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) csrfOK(binding, got string) bool {
	return binding != "" && got != "" && hmac.Equal([]byte(s.csrfFor(binding)), []byte(got))
}

// dropLocked locks the key and ends the session; s.mu is held. The key of
// a running sync is locked when the sync ends (see syncKey).
func (s *Server) dropLocked() {
	if s.sess != nil {
		if s.sess.unlocked != s.syncKey {
			s.sess.unlocked.Lock()
		}
		s.sess = nil
	}
}

// expire locks a session idle for longer than the idle time. A running
// sync keeps it alive: its page polls.
func (s *Server) expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess != nil && s.now().Sub(s.sess.lastSeen) > s.cfg.Idle {
		s.dropLocked()
	}
}

// current returns the request's session, or nil when the request has no
// valid session cookie or the session was idle too long (it is locked
// then).
func (s *Server) current(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess == nil || !hmac.Equal([]byte(c.Value), []byte(s.sess.token)) {
		return nil
	}
	now := s.now()
	if now.Sub(s.sess.lastSeen) > s.cfg.Idle {
		s.dropLocked()
		return nil
	}
	s.sess.lastSeen = now
	return s.sess
}

// start replaces any session by a new one holding u, and sets its cookie.
func (s *Server) start(w http.ResponseWriter, u *keystore.Unlocked) *session {
	s.mu.Lock()
	if s.syncKey != nil && s.syncKey.DeviceID() == u.DeviceID() {
		// A sync runs: the session shares its key, so that it holds the
		// refresh token the sync rotates, not the one read before.
		u.Lock()
		u = s.syncKey
	}
	sess := &session{token: randomToken(), unlocked: u, lastSeen: s.now(), done: map[string]string{}}
	s.dropLocked()
	s.sess = sess
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sess.token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode})
	return sess
}

// preBinding returns the request's pre-session value, setting a new one
// when there is none.
func preBinding(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(preCookie); err == nil && c.Value != "" {
		return c.Value
	}
	v := randomToken()
	http.SetCookie(w, &http.Cookie{Name: preCookie, Value: v, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	return v
}

// addFlash keeps a message for the next page.
func (s *Server) addFlash(sess *session, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess.flash = append(sess.flash, msg)
}

// takeFlash returns and clears the messages kept for this page.
func (s *Server) takeFlash(sess *session) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := sess.flash
	sess.flash = nil
	return f
}

// secure wraps every answer: security headers, the Host check, the body
// limit and the CSRF check of every POST.
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if !s.hosts[strings.ToLower(r.Host)] {
			// A page loaded under another name (DNS rebinding) must not
			// reach the unlocked key.
			s.fail(w, r, nil, http.StatusForbidden, "地址不正确：请在本机浏览器中打开 http://"+s.cfg.Addr+"/")
			return
		}
		if strings.HasPrefix(r.URL.Path, "/static/") {
			next.ServeHTTP(w, r)
			return
		}
		h.Set("Cache-Control", "no-store")
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseForm(); err != nil {
				s.fail(w, r, nil, http.StatusBadRequest, "提交的内容无法读取，请返回重试")
				return
			}
			binding := ""
			if r.URL.Path == "/unlock" {
				if c, err := r.Cookie(preCookie); err == nil {
					binding = "pre:" + c.Value
				}
			} else if sess := s.current(r); sess != nil {
				binding = "s:" + sess.token
			} else {
				s.locked(w, r)
				return
			}
			if !s.csrfOK(binding, r.PostForm.Get(csrfField)) {
				s.fail(w, r, nil, http.StatusForbidden, "页面已过期或来源不明，操作未执行：请返回、刷新页面后再试")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// locked answers a request that needs a session when there is none: the
// unlock page for a page, 401 for the JSON status.
func (s *Server) locked(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, ".json") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"state":"locked","message_zh":"已锁定，请重新输入 PIN 解锁"}` + "\n"))
		return
	}
	if r.Method == http.MethodGet {
		http.Redirect(w, r, "/unlock", http.StatusSeeOther)
		return
	}
	s.renderUnlock(w, r, http.StatusUnauthorized, "已锁定（长时间未操作或已退出），本次提交未执行：请重新输入 PIN 解锁")
}

// auth wraps a handler that needs an unlocked session.
func (s *Server) auth(fn func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := s.current(r)
		if sess == nil {
			s.locked(w, r)
			return
		}
		fn(w, r, sess)
	}
}
