package collect

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"villagesync/agentapp/internal/localstore"
	"villagesync/syncproto"
)

// NearPercent is the share of a limit at which the tablet warns.
const NearPercent = 80

// Limits is where the cash held stands against the dual limits (双限): a
// cash limit, and a time limit counted from the oldest collection not yet
// deposited (by the tablet's clock). A limit of zero is not set.
type Limits struct {
	Cash           syncproto.Money `json:"cash"`  // held: collected, not deposited, not voided
	Count          int             `json:"count"` // collections held
	CashLimit      syncproto.Money `json:"cash_limit"`
	CashPercent    int             `json:"cash_percent"` // of the cash limit, rounded down
	Oldest         time.Time       `json:"oldest,omitzero"`
	Held           time.Duration   `json:"held_ns"` // since Oldest
	TimeLimitHours int             `json:"time_limit_hours"`
	TimePercent    int             `json:"time_percent"` // of the time limit, rounded down
}

// Evaluate works out the limits for the cash held at now.
func Evaluate(held localstore.Cash, set syncproto.DeviceSettings, now time.Time) Limits {
	l := Limits{Cash: held.Sum, Count: held.Count, CashLimit: set.CashLimit, TimeLimitHours: set.TimeLimitHours}
	if l.CashLimit > 0 {
		l.CashPercent = int(min(int64(l.Cash)*100/int64(l.CashLimit), 1<<31-1))
	}
	if held.Count > 0 && !held.Oldest.IsZero() {
		l.Oldest = held.Oldest
		l.Held = max(0, now.Sub(held.Oldest)) // a clock set back counts as no time
		if l.TimeLimitHours > 0 {
			l.TimePercent = int(min(int64(l.Held)*100/int64(time.Duration(l.TimeLimitHours)*time.Hour), 1<<31-1))
		}
	}
	return l
}

// Passed reports whether a limit is reached: no new collection until a
// deposit is recorded.
func (l Limits) Passed() bool {
	return (l.CashLimit > 0 && l.Cash >= l.CashLimit) ||
		(l.TimeLimitHours > 0 && l.Count > 0 && l.Held >= time.Duration(l.TimeLimitHours)*time.Hour)
}

// Warnings are the warnings of the limits: a limit at 80 % or more, or one
// reached.
func (l Limits) Warnings() []Warning {
	var out []Warning
	if l.Passed() {
		return append(out, Warning{Code: WarnLimitPassed,
			Message:   "a dual limit is reached: deposit the cash and record it (agentapp deposit) before the next collection",
			MessageZH: "已达双限：请先缴存现金并登记（agentapp deposit），之后才能继续收费"})
	}
	if l.CashLimit > 0 && l.CashPercent >= NearPercent {
		out = append(out, Warning{Code: WarnCashNear,
			Message:   fmt.Sprintf("cash held %s is %d%% of the limit %s: deposit soon", l.Cash, l.CashPercent, l.CashLimit),
			MessageZH: fmt.Sprintf("持有现金 %s 元，已达限额 %s 元的 %d%%：请尽快缴存", l.Cash, l.CashLimit, l.CashPercent)})
	}
	if l.TimeLimitHours > 0 && l.Count > 0 && l.TimePercent >= NearPercent {
		out = append(out, Warning{Code: WarnTimeNear,
			Message: fmt.Sprintf("the oldest cash has been held %s, %d%% of the %d h limit: deposit soon",
				l.Held.Truncate(time.Minute), l.TimePercent, l.TimeLimitHours),
			MessageZH: fmt.Sprintf("最早一笔现金已持有 %s，达到限时 %d 小时的 %d%%：请尽快缴存",
				l.Held.Truncate(time.Minute), l.TimeLimitHours, l.TimePercent)})
	}
	return out
}

// Limits reads where the cash of the enrolled device stands now. Without
// settings from the server the limits are zero (not set).
func (s *Service) Limits(ctx context.Context) (Limits, error) {
	en, err := s.enrollment(ctx, nil)
	if err != nil {
		return Limits{}, err
	}
	held, err := s.store.Cash(ctx, en.DeviceID)
	if err != nil {
		return Limits{}, err
	}
	set, err := s.store.Settings(ctx)
	if err != nil && !errors.Is(err, localstore.ErrNotFound) {
		return Limits{}, err
	}
	return Evaluate(held, set, s.clock()), nil
}

// shanghai is the zone of the collection period's civil dates.
var shanghai = sync.OnceValue(func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*60*60)
})

// inPeriod reports whether now's civil date in Asia/Shanghai lies within
// the collection period; true when the period is not set or unreadable
// (the server judges).
func inPeriod(set syncproto.DeviceSettings, now time.Time) bool {
	day := now.In(shanghai()).Format(time.DateOnly)
	if set.PeriodStart != "" && day < set.PeriodStart {
		return false
	}
	if set.PeriodEnd != "" && day > set.PeriodEnd {
		return false
	}
	return true
}
