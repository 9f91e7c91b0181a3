package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// Limits are the login-abuse and token lifetime settings.
type Limits struct {
	LoginPerIP       int           // logins per IP per minute
	LoginPerUsername int           // logins per username per minute
	EnrollPerIP      int           // enroll calls per IP per minute
	MaxFailures      int           // failed logins before a lock-out
	FailureWindow    time.Duration // failures older than this are forgotten
	LockFor          time.Duration // how long a lock-out lasts
	UserRefreshTTL   time.Duration // refresh token lifetime for people
	DeviceRefreshTTL time.Duration // refresh credential lifetime for tablets (offline for days)
	RetryGrace       time.Duration // a lost refresh response may be retried within this
	EnrollCodeTTL    time.Duration // enrollment code lifetime (≤ 24 h)
}

// DefaultLimits are the production settings.
var DefaultLimits = Limits{
	LoginPerIP: 30, LoginPerUsername: 10, EnrollPerIP: 20,
	MaxFailures: 5, FailureWindow: 15 * time.Minute, LockFor: 15 * time.Minute,
	UserRefreshTTL: 7 * 24 * time.Hour, DeviceRefreshTTL: 90 * 24 * time.Hour,
	RetryGrace: 2 * time.Minute, EnrollCodeTTL: 24 * time.Hour,
}

// Service is identity and access.
type Service struct {
	db        *store.DB
	tokens    *Tokens
	passwords *Passwords
	limits    Limits
	log       *slog.Logger
}

// NewService wires the identity service.
func NewService(db *store.DB, tokens *Tokens, passwords *Passwords, limits Limits, log *slog.Logger) *Service {
	return &Service{db: db, tokens: tokens, passwords: passwords, limits: limits, log: log.With("component", "auth")}
}

// Passwords returns the service's password hasher.
func (s *Service) Passwords() *Passwords { return s.passwords }

// TokenPair is what a successful login, refresh or enrollment returns.
type TokenPair = syncproto.TokenPair

var (
	errBadCredentials = syncproto.Errorf(syncproto.CodeUnauthenticated,
		"wrong username or password", "用户名或密码错误")
	errLocked = syncproto.Errorf(syncproto.CodeRateLimited,
		"too many failed logins: this account is locked for a while, try again later", "登录失败次数过多，账户已暂时锁定，请稍后再试")
	errRateLimited = syncproto.Errorf(syncproto.CodeRateLimited,
		"too many attempts, try again in a minute", "尝试次数过多，请一分钟后再试")
	errRefreshInvalid = syncproto.Errorf(syncproto.CodeUnauthenticated,
		"refresh token invalid, expired or revoked: sign in again", "刷新凭证无效、已过期或已被撤销，请重新登录")
	errRefreshReused = syncproto.Errorf(syncproto.CodeRefreshReused,
		"this refresh token was already used: all sessions of its family are revoked, sign in again",
		"该刷新凭证已被使用过，同一登录链的所有会话已被撤销，请重新登录")
	// ErrDeviceRevoked is the answer to every call of a revoked tablet.
	ErrDeviceRevoked = syncproto.Errorf(syncproto.CodeDeviceRevoked,
		"this device has been revoked by its township: enroll it again", "该终端已被镇街撤销，请重新登记")
	errDisabled = syncproto.Errorf(syncproto.CodeForbidden, "this account is disabled", "该账户已停用")
)

// limit counts one hit and refuses when over.
func (s *Service) limit(ctx context.Context, key string, n int) error {
	ok, err := s.db.RateHit(ctx, key, s.db.Now(), time.Minute, n)
	if err != nil {
		return err
	}
	if !ok {
		return errRateLimited
	}
	return nil
}

// Login checks a username and password and issues a token pair. Whether
// or not the user exists, the work (one argon2id verification) and the
// answer are the same.
func (s *Service) Login(ctx context.Context, username, password string) (TokenPair, error) {
	u, err := s.checkLogin(ctx, username, password)
	if err != nil {
		return TokenPair{}, err
	}
	var pair TokenPair
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		p := principalOf(u, "")
		pair, err = s.issue(ctx, tx, p, s.db.NewID(), nil, s.limits.UserRefreshTTL)
		if err != nil {
			return err
		}
		return s.db.Audit(ctx, tx, Audited(WithPrincipal(ctx, p), store.AuditEntry{
			Action: "login", TargetType: "user", TargetID: u.ID, TownshipCode: u.TownshipCode}))
	})
	return pair, err
}

// checkLogin is the password check of every login (API and console): the
// rate limits per address and per username, one argon2id verification
// whether or not the user exists, the lock-out after repeated failures
// (audited), and disabled accounts.
func (s *Service) checkLogin(ctx context.Context, username, password string) (store.User, error) {
	if err := s.limit(ctx, "login-ip:"+ClientIP(ctx), s.limits.LoginPerIP); err != nil {
		return store.User{}, err
	}
	if err := s.limit(ctx, "login-user:"+username, s.limits.LoginPerUsername); err != nil {
		return store.User{}, err
	}
	now := s.db.Now()
	u, err := s.db.UserByUsername(ctx, s.db.Pool, username)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.User{}, err
	}
	ok := s.passwords.Verify(password, u.PasswordHash) // dummy hash when not found
	if _, locked, err := s.db.LoginLocked(ctx, username, now); err != nil {
		return store.User{}, err
	} else if locked {
		return store.User{}, errLocked
	}
	if !ok {
		if _, err := s.db.RecordLoginFailure(ctx, username, now, s.limits.FailureWindow, s.limits.MaxFailures, s.limits.LockFor); err != nil {
			return store.User{}, err
		}
		e := store.AuditEntry{Action: "login_failed", TargetType: "user", TargetID: u.ID,
			ActorName: username, TownshipCode: u.TownshipCode}
		if err := s.db.Audit(ctx, s.db.Pool, Audited(ctx, e)); err != nil {
			return store.User{}, err
		}
		return store.User{}, errBadCredentials
	}
	if u.Disabled {
		return store.User{}, errDisabled
	}
	if err := s.db.ClearLoginFailures(ctx, username); err != nil {
		return store.User{}, err
	}
	return u, nil
}

func principalOf(u store.User, device string) Principal {
	return Principal{UserID: u.ID, Username: u.Username, Role: Role(u.Role), Township: u.TownshipCode,
		Villages: u.Villages, DeviceID: device}
}

// issue makes an access token and a new refresh token in family.
func (s *Service) issue(ctx context.Context, tx pgx.Tx, p Principal, family string, parent []byte, ttl time.Duration) (TokenPair, error) {
	access, exp, err := s.tokens.Issue(p, s.db.NewID())
	if err != nil {
		return TokenPair{}, err
	}
	refresh, hash := newOpaque("vsr_")
	now := s.db.Now()
	err = s.db.InsertRefreshToken(ctx, tx, store.RefreshToken{Hash: hash, FamilyID: family, UserID: p.UserID,
		DeviceID: p.DeviceID, ParentHash: parent, CreatedAt: now, ExpiresAt: now.Add(ttl)})
	if err != nil {
		return TokenPair{}, err
	}
	return TokenPair{AccessToken: access, RefreshToken: refresh, TokenType: "Bearer",
		ExpiresIn: int(exp.Sub(now).Seconds())}, nil
}

// Refresh exchanges a refresh token for a new pair (rotation). A token
// presented a second time is theft or a replay: its whole family is
// revoked and audited. One exception keeps tablets on bad networks from
// locking themselves out: when the successor issued for this token has
// never been used and the first exchange happened within RetryGrace, the
// caller most likely lost the response; the unused successor is revoked
// and a new one issued.
func (s *Service) Refresh(ctx context.Context, token string) (TokenPair, error) {
	var pair TokenPair
	var reused bool
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		now := s.db.Now()
		t, err := s.db.RefreshTokenForUpdate(ctx, tx, hashSecret(token))
		if errors.Is(err, store.ErrNotFound) {
			return errRefreshInvalid
		}
		if err != nil {
			return err
		}
		if t.RevokedAt != nil || !t.ExpiresAt.After(now) {
			return errRefreshInvalid
		}
		if t.UsedAt != nil {
			child, err := s.db.RefreshChild(ctx, tx, t.Hash)
			lostResponse := err == nil && child.UsedAt == nil && now.Sub(*t.UsedAt) <= s.limits.RetryGrace
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if !lostResponse {
				n, err := s.db.RevokeRefreshFamily(ctx, tx, t.FamilyID, now)
				if err != nil {
					return err
				}
				reused = true
				return s.db.Audit(ctx, tx, Audited(ctx, store.AuditEntry{Action: "token_family_revoked",
					TargetType: "token_family", TargetID: t.FamilyID, ActorID: t.UserID, DeviceID: t.DeviceID,
					After: map[string]any{"reason": "refresh_token_reused", "tokens_revoked": n}}))
			}
			if err := s.db.RevokeRefreshToken(ctx, tx, child.Hash, now); err != nil {
				return err
			}
		}
		u, err := s.db.UserByID(ctx, tx, t.UserID)
		if err != nil {
			return err
		}
		if u.Disabled {
			return errDisabled
		}
		ttl := s.limits.UserRefreshTTL
		if t.DeviceID != "" {
			d, err := s.db.DeviceByID(ctx, tx, t.DeviceID)
			if err != nil {
				return err
			}
			if d.RevokedAt != nil {
				return ErrDeviceRevoked
			}
			ttl = s.limits.DeviceRefreshTTL
		}
		if err := s.db.MarkRefreshUsed(ctx, tx, t.Hash, now); err != nil {
			return err
		}
		pair, err = s.issue(ctx, tx, principalOf(u, t.DeviceID), t.FamilyID, t.Hash, ttl)
		return err
	})
	if reused {
		// The revocation above committed; now tell the caller.
		return TokenPair{}, errRefreshReused
	}
	return pair, err
}

// Logout revokes the family of the given refresh token. It must belong
// to the caller.
func (s *Service) Logout(ctx context.Context, p Principal, token string) error {
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		t, err := s.db.RefreshTokenForUpdate(ctx, tx, hashSecret(token))
		if errors.Is(err, store.ErrNotFound) || (err == nil && t.UserID != p.UserID) {
			return errRefreshInvalid
		}
		if err != nil {
			return err
		}
		if _, err := s.db.RevokeRefreshFamily(ctx, tx, t.FamilyID, s.db.Now()); err != nil {
			return err
		}
		return s.db.Audit(ctx, tx, Audited(ctx, store.AuditEntry{Action: "logout",
			TargetType: "token_family", TargetID: t.FamilyID, TownshipCode: p.Township}))
	})
}

// Authenticate verifies a bearer access token; for a device it also
// checks, on every call, that the device has not been revoked.
func (s *Service) Authenticate(ctx context.Context, bearer string) (Principal, error) {
	p, err := s.tokens.Verify(bearer)
	if err != nil {
		return Principal{}, err
	}
	if p.DeviceID != "" {
		revoked, err := s.db.TouchDevice(ctx, p.DeviceID, s.db.Now())
		if errors.Is(err, store.ErrNotFound) {
			return Principal{}, ErrDeviceRevoked
		}
		if err != nil {
			return Principal{}, fmt.Errorf("auth: device check: %w", err)
		}
		if revoked {
			return Principal{}, ErrDeviceRevoked
		}
	}
	return p, nil
}
