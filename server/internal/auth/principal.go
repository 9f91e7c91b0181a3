// Package auth is identity and access: users and their roles and scopes,
// passwords, access and refresh tokens, device enrollment and revocation,
// login abuse limits, and the actor stamped on every audit line.
package auth

import (
	"context"
	"slices"

	"villagesync/server/internal/obs"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// Role is what a user is allowed to do.
type Role string

// The roles. District roles see the whole district; a township user sees
// one township; an agent sees its villages and acts through a device.
const (
	RoleAdmin    Role = "admin"
	RoleTownship Role = "township"
	RoleTax      Role = "tax"
	RoleHRSS     Role = "hrss"
	RoleMedsec   Role = "medsec"
	RoleAgent    Role = "agent"
)

// Roles lists every role.
func Roles() []Role {
	return []Role{RoleAdmin, RoleTownship, RoleTax, RoleHRSS, RoleMedsec, RoleAgent}
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles(), r) }

// District reports whether the role's scope is the whole district.
func (r Role) District() bool {
	return r == RoleAdmin || r == RoleTax || r == RoleHRSS || r == RoleMedsec
}

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID   string   `json:"user_id"`
	Username string   `json:"username"`
	Role     Role     `json:"role"`
	Township string   `json:"township_code,omitempty"`
	Villages []string `json:"villages,omitempty"`
	DeviceID string   `json:"device_id,omitempty"`
}

// Target is what a request acts on, as far as scope is concerned: a
// village (and so its township), or a township alone.
type Target struct {
	Township string
	Village  string
}

// VillageTarget is the target of a village code; a village code starts
// with its township's code.
func VillageTarget(code string) Target {
	t := Target{Village: code}
	if len(code) >= 9 {
		t.Township = code[:9]
	}
	return t
}

// ErrForbidden is the answer to a caller acting outside its role or scope.
var ErrForbidden = syncproto.Errorf(syncproto.CodeForbidden,
	"you may not do this here: outside your role or area", "无权操作：超出您的角色或管辖范围")

// Authorize checks that p may act on t: district roles anywhere, a
// township user within its township, an agent within its villages.
func Authorize(p Principal, t Target) error {
	switch {
	case p.Role.District():
		return nil
	case p.Role == RoleTownship:
		if t.Township != "" && t.Township == p.Township {
			return nil
		}
	case p.Role == RoleAgent:
		if t.Village != "" && slices.Contains(p.Villages, t.Village) {
			return nil
		}
	}
	return ErrForbidden
}

// ScopeTownship is the township a list should be limited to for p: ""
// for district roles (everything), the own township otherwise.
func ScopeTownship(p Principal) string {
	if p.Role.District() {
		return ""
	}
	return p.Township
}

type principalKey struct{}
type clientIPKey struct{}

// WithPrincipal returns ctx carrying the authenticated caller.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the caller carried by ctx.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// WithClientIP returns ctx carrying the caller's address for audit lines
// and rate limits.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

// ClientIP returns the caller's address carried by ctx.
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}

// Audited stamps e with the actor, address and request of ctx. Every
// package that records a state change builds its audit line with it.
func Audited(ctx context.Context, e store.AuditEntry) store.AuditEntry {
	if p, ok := FromContext(ctx); ok {
		if e.ActorID == "" {
			e.ActorID, e.ActorName, e.ActorRole = p.UserID, p.Username, string(p.Role)
		}
		if e.DeviceID == "" {
			e.DeviceID = p.DeviceID
		}
	}
	e.IP = ClientIP(ctx)
	e.RequestID = obs.RequestID(ctx)
	return e
}
