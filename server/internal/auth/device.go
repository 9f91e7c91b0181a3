package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/skip2/go-qrcode"

	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// codeAlphabet is Crockford's base32 without I, L, O, U: easy to read out
// and type on a tablet.
const codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// EnrollmentCode is a fresh one-time code, shown once to township staff.
type EnrollmentCode struct {
	Code      string    `json:"code"`
	AgentID   string    `json:"agent_id"`
	ExpiresAt time.Time `json:"expires_at"`
	QRPNG     []byte    `json:"qr_png"` // base64 in JSON: a QR code of Code
}

// newCode returns 12 random characters (60 bits) as XXXX-XXXX-XXXX.
func newCode() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	var sb strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(codeAlphabet[int(c)%len(codeAlphabet)])
	}
	return sb.String()
}

// normaliseCode accepts a code typed in any case, with or without dashes
// and spaces, and with the look-alikes O/I/L for 0/1/1.
func normaliseCode(s string) string {
	s = strings.ToUpper(strings.NewReplacer("-", "", " ", "", "O", "0", "I", "1", "L", "1").Replace(s))
	if len(s) != 12 {
		return s
	}
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12]
}

// CreateEnrollmentCode makes a one-time code for one agent of the caller's
// township (or any township for admin).
func (s *Service) CreateEnrollmentCode(ctx context.Context, p Principal, agentID string) (EnrollmentCode, error) {
	agent, err := s.db.UserByID(ctx, s.db.Pool, agentID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && agent.Role != string(RoleAgent)) {
		return EnrollmentCode{}, syncproto.Errorf(syncproto.CodeNotFound, "no such agent", "没有该代办员")
	}
	if err != nil {
		return EnrollmentCode{}, err
	}
	if err := Authorize(p, Target{Township: agent.TownshipCode}); err != nil {
		return EnrollmentCode{}, err
	}
	if agent.Disabled {
		return EnrollmentCode{}, errDisabled
	}
	code := newCode()
	now := s.db.Now()
	ec := store.EnrollmentCode{Hash: hashSecret(code), AgentID: agent.ID, TownshipCode: agent.TownshipCode,
		CreatedBy: p.UserID, CreatedAt: now, ExpiresAt: now.Add(s.limits.EnrollCodeTTL)}
	png, err := qrcode.Encode(code, qrcode.Medium, 256)
	if err != nil {
		return EnrollmentCode{}, err
	}
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := s.db.InsertEnrollmentCode(ctx, tx, ec); err != nil {
			return err
		}
		return s.db.Audit(ctx, tx, Audited(ctx, store.AuditEntry{Action: "enrollment_code_created",
			TargetType: "user", TargetID: agent.ID, TownshipCode: agent.TownshipCode,
			After: map[string]any{"expires_at": ec.ExpiresAt}}))
	})
	return EnrollmentCode{Code: code, AgentID: agent.ID, ExpiresAt: ec.ExpiresAt, QRPNG: png}, err
}

// EnrollRequest is what a tablet sends to enroll (the shared contract).
type EnrollRequest = syncproto.EnrollRequest

// Enrollment is what an enrolled tablet receives (the shared contract).
type Enrollment = syncproto.Enrollment

var errBadCode = syncproto.Errorf(syncproto.CodeEnrollmentCodeInvalid,
	"enrollment code invalid, expired or already used: ask your township for a new one",
	"登记码无效、已过期或已被使用，请向镇街社保中心索取新的登记码")

// Enroll consumes a one-time code and registers the tablet.
func (s *Service) Enroll(ctx context.Context, req EnrollRequest) (Enrollment, error) {
	if err := s.limit(ctx, "enroll-ip:"+ClientIP(ctx), s.limits.EnrollPerIP); err != nil {
		return Enrollment{}, err
	}
	name := strings.TrimSpace(req.DeviceName)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return Enrollment{}, syncproto.Errorf(syncproto.CodeInvalidInput,
			"device_name must be 1 to 100 characters", "终端名称须为 1 至 100 个字符")
	}
	if len(req.PublicKey) != ed25519.PublicKeySize {
		return Enrollment{}, syncproto.Errorf(syncproto.CodeInvalidInput,
			"public_key must be a 32-byte Ed25519 public key (base64)", "public_key 须为 32 字节的 Ed25519 公钥（base64 编码）")
	}
	var out Enrollment
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		now := s.db.Now()
		deviceID := s.db.NewID()
		ec, err := s.db.UseEnrollmentCode(ctx, tx, hashSecret(normaliseCode(req.Code)), now)
		if errors.Is(err, store.ErrNotFound) {
			return errBadCode
		}
		if err != nil {
			return err
		}
		agent, err := s.db.UserByID(ctx, tx, ec.AgentID)
		if err != nil {
			return err
		}
		if agent.Disabled {
			return errDisabled
		}
		d := store.Device{ID: deviceID, AgentID: agent.ID, TownshipCode: agent.TownshipCode, Name: name,
			PublicKey: req.PublicKey, EnrolledAt: now}
		if err := s.db.InsertDevice(ctx, tx, d); err != nil {
			return err
		}
		if err := s.db.BindEnrollmentCode(ctx, tx, ec.Hash, deviceID); err != nil {
			return err
		}
		p := principalOf(agent, deviceID)
		pair, err := s.issue(ctx, tx, p, s.db.NewID(), nil, s.limits.DeviceRefreshTTL)
		if err != nil {
			return err
		}
		out = Enrollment{DeviceID: deviceID, AgentID: agent.ID, AgentName: agent.Username,
			DisplayName: agent.DisplayName, TownshipCode: agent.TownshipCode, Villages: agent.Villages, TokenPair: pair}
		return s.db.Audit(ctx, tx, Audited(WithPrincipal(ctx, p), store.AuditEntry{Action: "device_enrolled",
			TargetType: "device", TargetID: deviceID, TownshipCode: agent.TownshipCode,
			After: map[string]any{"name": name, "agent_id": agent.ID}}))
	})
	return out, err
}

// RevokeDevice revokes a tablet: every later call it makes is refused
// with device_revoked, and its refresh credential stops working.
func (s *Service) RevokeDevice(ctx context.Context, p Principal, deviceID string) error {
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		d, err := s.db.DeviceByID(ctx, tx, deviceID)
		if err != nil {
			return err
		}
		if err := Authorize(p, Target{Township: d.TownshipCode}); err != nil {
			return err
		}
		if d.RevokedAt != nil {
			return nil // already revoked: nothing changes
		}
		now := s.db.Now()
		if err := s.db.RevokeDevice(ctx, tx, d.ID, p.UserID, now); err != nil {
			return err
		}
		return s.db.Audit(ctx, tx, Audited(ctx, store.AuditEntry{Action: "device_revoked",
			TargetType: "device", TargetID: d.ID, TownshipCode: d.TownshipCode,
			Before: map[string]any{"revoked_at": nil}, After: map[string]any{"revoked_at": now}}))
	})
}

// Devices lists the devices the caller may see, with their last-seen time.
func (s *Service) Devices(ctx context.Context, p Principal) ([]store.Device, error) {
	return s.db.Devices(ctx, ScopeTownship(p))
}

// DeviceTownship is the township of a device, for route scope checks.
func (s *Service) DeviceTownship(ctx context.Context, id string) (string, error) {
	d, err := s.db.DeviceByID(ctx, s.db.Pool, id)
	return d.TownshipCode, err
}
