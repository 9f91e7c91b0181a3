package auth

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,63}$`)

// UserInput is a new user, or the changes to one (nil fields unchanged).
type UserInput struct {
	Username     string    `json:"username"`
	DisplayName  *string   `json:"display_name"`
	Role         Role      `json:"role"`
	TownshipCode string    `json:"township_code"`
	Villages     *[]string `json:"villages"`
	Password     *string   `json:"password"`
	Disabled     *bool     `json:"disabled"`
}

func invalid(en, zh string) error { return syncproto.Errorf(syncproto.CodeInvalidInput, en, zh) }

// mayManage reports whether p may create or change a user of role in
// township: admin any; township staff only agents of their township.
func mayManage(p Principal, role Role, township string) error {
	if p.Role == RoleAdmin {
		return nil
	}
	if p.Role == RoleTownship && role == RoleAgent && township == p.Township {
		return nil
	}
	return ErrForbidden
}

// checkScopeFields validates role, township and villages together.
func (s *Service) checkScopeFields(ctx context.Context, role Role, township string, villages []string) error {
	if !role.Valid() {
		return invalid("role must be one of admin, township, tax, hrss, medsec, agent", "角色无效")
	}
	needsTownship := role == RoleTownship || role == RoleAgent
	if needsTownship && township == "" {
		return invalid("township_code is required for township users and agents", "镇街用户和代办员须指定所属镇街")
	}
	if !needsTownship && township != "" {
		return invalid("township_code is only for township users and agents", "仅镇街用户和代办员可指定镇街")
	}
	if role == RoleAgent && len(villages) == 0 {
		return invalid("an agent serves at least one village", "代办员至少负责一个村居")
	}
	if role != RoleAgent && len(villages) > 0 {
		return invalid("only agents have villages", "仅代办员可指定村居")
	}
	for _, v := range villages {
		vil, err := s.db.VillageByCode(ctx, v)
		if errors.Is(err, store.ErrNotFound) {
			return invalid("unknown village "+v, "村居不存在："+v)
		}
		if err != nil {
			return err
		}
		if vil.TownshipCode != township {
			return invalid("village "+v+" is not in township "+township, "村居 "+v+" 不属于镇街 "+township)
		}
	}
	return nil
}

// CreateUser adds a user. Township staff may add agents of their own
// township; admin anyone.
func (s *Service) CreateUser(ctx context.Context, p Principal, in UserInput) (store.User, error) {
	in.Username = strings.TrimSpace(strings.ToLower(in.Username))
	if !usernamePattern.MatchString(in.Username) {
		return store.User{}, invalid("username: 2-64 characters of a-z, 0-9, '.', '_' or '-'",
			"用户名须为 2 至 64 个字符，只能包含小写字母、数字、点、下划线或连字符")
	}
	if err := mayManage(p, in.Role, in.TownshipCode); err != nil {
		return store.User{}, err
	}
	var villages []string
	if in.Villages != nil {
		villages = slices.Sorted(slices.Values(*in.Villages))
	}
	if err := s.checkScopeFields(ctx, in.Role, in.TownshipCode, villages); err != nil {
		return store.User{}, err
	}
	if in.Password == nil {
		return store.User{}, invalid("password is required", "须设置密码")
	}
	if err := CheckPasswordPolicy(*in.Password); err != nil {
		return store.User{}, err
	}
	hash, err := s.passwords.Hash(*in.Password)
	if err != nil {
		return store.User{}, err
	}
	now := s.db.Now()
	u := store.User{ID: s.db.NewID(), Username: in.Username, Role: string(in.Role), TownshipCode: in.TownshipCode,
		Villages: villages, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if in.DisplayName != nil {
		u.DisplayName = strings.TrimSpace(*in.DisplayName)
	}
	if in.Disabled != nil {
		u.Disabled = *in.Disabled
	}
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := s.db.InsertUser(ctx, tx, u); err != nil {
			return err
		}
		return s.db.Audit(ctx, tx, Audited(ctx, store.AuditEntry{Action: "user_created", TargetType: "user",
			TargetID: u.ID, TownshipCode: u.TownshipCode, After: u}))
	})
	return u, err
}

// UpdateUser changes a user's name, villages, password or disabled flag.
// Disabling a user or changing the password revokes all their sessions.
func (s *Service) UpdateUser(ctx context.Context, p Principal, id string, in UserInput) (store.User, error) {
	var out store.User
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		before, err := s.db.UserByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := mayManage(p, Role(before.Role), before.TownshipCode); err != nil {
			return err
		}
		u := before
		u.UpdatedAt = s.db.Now()
		revoke := false
		if in.DisplayName != nil {
			u.DisplayName = strings.TrimSpace(*in.DisplayName)
		}
		if in.Villages != nil {
			u.Villages = slices.Sorted(slices.Values(*in.Villages))
			if err := s.checkScopeFields(ctx, Role(u.Role), u.TownshipCode, u.Villages); err != nil {
				return err
			}
		}
		if in.Password != nil {
			if err := CheckPasswordPolicy(*in.Password); err != nil {
				return err
			}
			if u.PasswordHash, err = s.passwords.Hash(*in.Password); err != nil {
				return err
			}
			revoke = true
		}
		if in.Disabled != nil {
			u.Disabled = *in.Disabled
			revoke = revoke || u.Disabled
		}
		if err := s.db.UpdateUser(ctx, tx, u); err != nil {
			return err
		}
		if revoke {
			if err := s.db.RevokeUserRefreshTokens(ctx, tx, u.ID, u.UpdatedAt); err != nil {
				return err
			}
			if _, err := s.db.RevokeUserWebSessions(ctx, tx, u.ID, u.UpdatedAt); err != nil {
				return err
			}
		}
		out = u
		return s.db.Audit(ctx, tx, Audited(ctx, store.AuditEntry{Action: "user_updated", TargetType: "user",
			TargetID: u.ID, TownshipCode: u.TownshipCode, Before: before, After: map[string]any{
				"display_name": u.DisplayName, "villages": u.Villages, "disabled": u.Disabled,
				"password_changed": in.Password != nil}}))
	})
	return out, err
}

// Users lists the users p may see: all for admin, the township's own
// staff and agents for township staff.
func (s *Service) Users(ctx context.Context, p Principal, role string) ([]store.User, error) {
	return s.db.Users(ctx, ScopeTownship(p), role)
}

// CreateTownship adds a township (admin).
func (s *Service) CreateTownship(ctx context.Context, t store.Township) error {
	t.Name = strings.TrimSpace(t.Name)
	if len(t.Code) != 9 || strings.Trim(t.Code, "0123456789") != "" || t.Name == "" {
		return invalid("a township needs a 9-digit code and a name", "镇街须有 9 位区划代码和名称")
	}
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := s.db.InsertTownship(ctx, tx, t); err != nil {
			return err
		}
		return s.db.Audit(ctx, tx, Audited(ctx, store.AuditEntry{Action: "township_created",
			TargetType: "township", TargetID: t.Code, TownshipCode: t.Code, After: t}))
	})
}

// CreateVillage adds a village to a township (admin) and returns it as
// stored (the township taken from the code when not given).
func (s *Service) CreateVillage(ctx context.Context, v store.Village) (store.Village, error) {
	v.Name = strings.TrimSpace(v.Name)
	if len(v.Code) != 12 || strings.Trim(v.Code, "0123456789") != "" || v.Name == "" {
		return v, invalid("a village needs a 12-digit code and a name", "村居须有 12 位区划代码和名称")
	}
	if v.TownshipCode == "" {
		v.TownshipCode = v.Code[:9]
	}
	if v.Code[:9] != v.TownshipCode {
		return v, invalid("a village code starts with its township's code", "村居代码须以所属镇街代码开头")
	}
	return v, s.db.InTx(ctx, func(tx pgx.Tx) error {
		if err := s.db.InsertVillage(ctx, tx, v); err != nil {
			return err
		}
		return s.db.Audit(ctx, tx, Audited(ctx, store.AuditEntry{Action: "village_created",
			TargetType: "village", TargetID: v.Code, TownshipCode: v.TownshipCode, VillageCode: v.Code, After: v}))
	})
}
