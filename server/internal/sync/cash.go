package sync

import (
	"context"

	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// AgentLimits is an agent's cash on hand against the dual limits (双限)
// of the township's settings.
type AgentLimits struct {
	store.AgentCash
	CashLimit      syncproto.Money `json:"cash_limit"`
	TimeLimitHours int             `json:"time_limit_hours"`
	HeldHours      float64         `json:"held_hours"`
	CashUsed       float64         `json:"cash_used"` // share of the cash limit, 1 = at the limit
	TimeUsed       float64         `json:"time_used"`
	Warning        bool            `json:"warning"`    // 80 % of a limit reached
	OverLimit      bool            `json:"over_limit"` // a limit passed: the tablet refuses new cash until a deposit
}

// CashOnHand lists the agents of a township (all for "") with the cash
// they hold as far as the server knows and where they stand against the
// dual limits. What the tablet has not synced yet is not counted.
func (s *Service) CashOnHand(ctx context.Context, township string) ([]AgentLimits, error) {
	agents, err := s.db.CashOnHand(ctx, township)
	if err != nil {
		return nil, err
	}
	all, err := s.settings.All(ctx, 0)
	if err != nil {
		return nil, err
	}
	now := s.db.Now()
	out := make([]AgentLimits, len(agents))
	for i, a := range agents {
		l := AgentLimits{AgentCash: a}
		if y, ok := newest(all, a.TownshipCode); ok {
			l.CashLimit, l.TimeLimitHours = y.CashLimit, y.TimeLimitHours
		}
		if a.Oldest != nil {
			l.HeldHours = max(0, now.Sub(*a.Oldest).Hours())
		}
		if l.CashLimit > 0 {
			l.CashUsed = float64(a.SumFen) / float64(l.CashLimit)
		}
		if l.TimeLimitHours > 0 && a.Count > 0 {
			l.TimeUsed = l.HeldHours / float64(l.TimeLimitHours)
		}
		l.Warning = l.CashUsed >= 0.8 || l.TimeUsed >= 0.8
		l.OverLimit = l.CashUsed >= 1 || l.TimeUsed >= 1
		out[i] = l
	}
	return out, nil
}

// newest is the settings of the newest year that apply to a township.
func newest(all []settings.Year, township string) (settings.Year, bool) {
	var best settings.Year
	found := false
	for _, y := range all {
		if r, ok := settings.Resolve(all, y.Kind, y.Year, township); ok && (!found || r.Year > best.Year) {
			best, found = r, true
		}
	}
	return best, found
}
