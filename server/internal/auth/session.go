package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// SessionLimits are the lifetimes of a console session.
type SessionLimits struct {
	Idle     time.Duration // ends after this long without a request
	Absolute time.Duration // ends this long after login, whatever the activity
}

// DefaultSessionLimits are the production lifetimes: a working day at
// most, half an hour idle.
var DefaultSessionLimits = SessionLimits{Idle: 30 * time.Minute, Absolute: 12 * time.Hour}

// Session is a signed-in console session: who it is and the CSRF token
// its forms must carry.
type Session struct {
	Principal   Principal
	DisplayName string
	CSRF        string
	ExpiresAt   time.Time
}

var (
	// ErrNoSession answers a console request without a valid session.
	ErrNoSession = syncproto.Errorf(syncproto.CodeUnauthenticated,
		"not signed in, or the session expired: sign in again", "未登录或登录已过期，请重新登录")
	errAgentConsole = syncproto.Errorf(syncproto.CodeForbidden,
		"agents work on their tablet: the web console is for township, tax, HRSS, medical security and admin staff",
		"代办员请使用平板终端，网页控制台仅供镇街、税务、人社、医保和管理员使用")
)

// LoginSession checks a username and password exactly as Login does
// (same limits, lock-out and audit) and opens a console session. It
// returns the cookie token, which is stored only hashed.
func (s *Service) LoginSession(ctx context.Context, username, password string, lim SessionLimits) (string, Session, error) {
	u, err := s.checkLogin(ctx, username, password)
	if err != nil {
		return "", Session{}, err
	}
	if Role(u.Role) == RoleAgent {
		return "", Session{}, errAgentConsole
	}
	token, hash := newOpaque("vsw_")
	csrf := randomText()
	now := s.db.Now()
	p := principalOf(u, "")
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		// Expired sessions are swept at each login (an indexed delete), so
		// the table holds no more than the sessions of the last Absolute.
		if _, err := s.db.DeleteEndedWebSessions(ctx, tx, now); err != nil {
			return err
		}
		if err := s.db.InsertWebSession(ctx, tx, hash, u.ID, csrf, now, now.Add(lim.Absolute)); err != nil {
			return err
		}
		return s.db.Audit(ctx, tx, Audited(WithPrincipal(ctx, p), store.AuditEntry{
			Action: "console_login", TargetType: "user", TargetID: u.ID, TownshipCode: u.TownshipCode}))
	})
	if err != nil {
		return "", Session{}, err
	}
	return token, Session{Principal: p, DisplayName: u.DisplayName, CSRF: csrf, ExpiresAt: now.Add(lim.Absolute)}, nil
}

// SessionOf checks a console session token: not revoked, not past its
// absolute or idle expiry, its user not disabled. The principal is
// loaded from the user as stored now, so a change of role or villages
// applies at the next request. A valid session's idle clock restarts.
func (s *Service) SessionOf(ctx context.Context, token string, lim SessionLimits) (Session, error) {
	if token == "" {
		return Session{}, ErrNoSession
	}
	ws, err := s.db.WebSessionByHash(ctx, hashSecret(token))
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("auth: session: %w", err)
	}
	now := s.db.Now()
	if ws.RevokedAt != nil || !now.Before(ws.ExpiresAt) || now.Sub(ws.LastSeenAt) >= lim.Idle ||
		ws.User.Disabled || Role(ws.User.Role) == RoleAgent {
		return Session{}, ErrNoSession
	}
	if err := s.db.TouchWebSession(ctx, ws.TokenHash, now); err != nil {
		return Session{}, err
	}
	return Session{Principal: principalOf(ws.User, ""), DisplayName: ws.User.DisplayName, CSRF: ws.CSRFToken,
		ExpiresAt: ws.ExpiresAt}, nil
}

// EndSession revokes a console session (logout).
func (s *Service) EndSession(ctx context.Context, token string) error {
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := s.db.RevokeWebSession(ctx, tx, hashSecret(token), s.db.Now()); err != nil {
			return err
		}
		p, _ := FromContext(ctx)
		return s.db.Audit(ctx, tx, Audited(ctx, store.AuditEntry{Action: "console_logout", TargetType: "user",
			TargetID: p.UserID, TownshipCode: p.Township}))
	})
}

// CheckCSRF reports whether a form's token is the session's, in constant
// time.
func (ss Session) CheckCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(ss.CSRF)) == 1
}

type sessionKey struct{}

// WithSession returns ctx carrying the console session of the request.
func WithSession(ctx context.Context, ss Session) context.Context {
	return context.WithValue(WithPrincipal(ctx, ss.Principal), sessionKey{}, ss)
}

// SessionFrom returns the console session carried by ctx.
func SessionFrom(ctx context.Context) (Session, bool) {
	ss, ok := ctx.Value(sessionKey{}).(Session)
	return ss, ok
}

func randomText() string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}
