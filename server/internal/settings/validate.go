package settings

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"villagesync/syncproto"
)

// Bounds of the plausibility checks in Validate.
const (
	// MinYear and MaxYear bound the coverage year.
	MinYear = 2000
	MaxYear = 2100
	// MaxTimeLimitHours is the longest 限时 accepted: 31 days.
	MaxTimeLimitHours = 31 * 24
)

// Validate checks every field and returns the first problem as a
// *syncproto.Error with code CodeInvalidInput, whose messages name the
// field (by its JSON name) in English and Chinese:
//
//   - year within MinYear..MaxYear, a known kind, a region of 6 or 9 digits;
//   - period dates that parse, start ≤ end, within the previous and the
//     coverage year (medical premiums are collected the autumn before);
//   - pension: at least one grade, all > 0, strictly ascending (so unique),
//     their categories known and not repeated, every category has a grade
//     open to it, and no premium; medical: a premium > 0 and no grades;
//   - subsidies: known special categories only, ≥ 0, and not more than the
//     category's minimum (the medical premium or the lowest pension grade
//     open to it);
//   - cash limit > 0, time limit 1..MaxTimeLimitHours hours, cutoff "HH:MM".
func (y Year) Validate() error {
	if y.Year < MinYear || y.Year > MaxYear {
		return invalid("year", fmt.Sprintf("must be between %d and %d", MinYear, MaxYear),
			fmt.Sprintf("须在 %d 至 %d 之间", MinYear, MaxYear))
	}
	if !y.Kind.Valid() {
		return invalid("kind", "must be pension or medical", "须为养老保险（pension）或医疗保险（medical）")
	}
	if !isRegion(y.Region) {
		return invalid("region", "must be a district code (6 digits) or a township code (9 digits)",
			"须为区县代码（6位数字）或镇街代码（9位数字）")
	}
	if err := y.validatePeriod(); err != nil {
		return err
	}
	var err error
	switch y.Kind {
	case syncproto.KindPension:
		err = y.validatePension()
	case syncproto.KindMedical:
		err = y.validateMedical()
	}
	if err != nil {
		return err
	}
	if err := y.validateSubsidy(); err != nil {
		return err
	}
	if y.CashLimit <= 0 {
		return invalid("cash_limit", "must be more than zero", "须大于零")
	}
	if y.TimeLimitHours <= 0 || y.TimeLimitHours > MaxTimeLimitHours {
		return invalid("time_limit_hours", fmt.Sprintf("must be between 1 and %d hours", MaxTimeLimitHours),
			fmt.Sprintf("须在 1 至 %d 小时之间", MaxTimeLimitHours))
	}
	if _, ok := ParseCutoff(y.Cutoff); !ok {
		return invalid("cutoff", `must be a time of day "HH:MM" (00:00 to 23:59)`,
			"须为“时:分”格式的时刻（00:00 至 23:59）")
	}
	return nil
}

// ParseCutoff parses a cutoff "HH:MM" (two digits each, 00:00..23:59) into
// the time since midnight.
func ParseCutoff(s string) (time.Duration, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h > 23 || m > 59 {
		return 0, false
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, true
}

func (y Year) validatePeriod() error {
	start, err := time.Parse(dateLayout, y.PeriodStart)
	if err != nil {
		return invalid("period_start", `must be a date "YYYY-MM-DD"`, "须为“年-月-日”格式的日期（YYYY-MM-DD）")
	}
	end, err := time.Parse(dateLayout, y.PeriodEnd)
	if err != nil {
		return invalid("period_end", `must be a date "YYYY-MM-DD"`, "须为“年-月-日”格式的日期（YYYY-MM-DD）")
	}
	if end.Before(start) {
		return invalid("period_end", "must not be before period_start", "不得早于征收期开始日期")
	}
	if start.Year() < y.Year-1 || end.Year() > y.Year {
		return invalid("period_start",
			fmt.Sprintf("the period must lie within %d and %d (the coverage year and the year before)", y.Year-1, y.Year),
			fmt.Sprintf("征收期须在 %d 年至 %d 年之间（缴费年度及其上一年）", y.Year-1, y.Year))
	}
	return nil
}

func (y Year) validatePension() error {
	if y.Premium != 0 {
		return invalid("premium", "must be empty for pension (pension uses grades)", "养老保险不设缴费标准，应使用缴费档次")
	}
	if len(y.Grades) == 0 {
		return invalid("grades", "pension needs at least one grade", "养老保险至少需要一个缴费档次")
	}
	for i, g := range y.Grades {
		field := fmt.Sprintf("grades[%d]", i)
		if g.Amount <= 0 {
			return invalid(field, "amount must be more than zero", "档次金额须大于零")
		}
		if i > 0 && g.Amount <= y.Grades[i-1].Amount {
			return invalid(field, "grades must be unique and in ascending order", "缴费档次须从低到高排列且不得重复")
		}
		seen := make(map[syncproto.Category]bool, len(g.Categories))
		for _, c := range g.Categories {
			if !c.Valid() {
				return invalid(field, fmt.Sprintf("unknown category %q", c), fmt.Sprintf("人员类别“%s”无效", c))
			}
			if seen[c] {
				return invalid(field, fmt.Sprintf("category %q is listed twice", c), fmt.Sprintf("人员类别“%s”重复", c.Label()))
			}
			seen[c] = true
		}
	}
	for _, c := range syncproto.Categories() {
		if _, ok := y.MinGrade(c); !ok {
			return invalid("grades", fmt.Sprintf("no grade is open to category %q", c),
				fmt.Sprintf("没有适用于“%s”的缴费档次", c.Label()))
		}
	}
	return nil
}

func (y Year) validateMedical() error {
	if len(y.Grades) != 0 {
		return invalid("grades", "must be empty for medical (medical uses one premium)", "医疗保险不设缴费档次，应使用缴费标准")
	}
	if y.Premium <= 0 {
		return invalid("premium", "the medical premium must be more than zero", "医疗保险个人缴费标准须大于零")
	}
	return nil
}

func (y Year) validateSubsidy() error {
	// Check in category order so that the first problem is deterministic.
	for _, c := range syncproto.Categories() {
		amount, ok := y.Subsidy[c]
		if !ok {
			continue
		}
		field := fmt.Sprintf("subsidy[%s]", c)
		if amount < 0 {
			return invalid(field, "must not be negative", "不得为负数")
		}
		if amount > 0 && !c.Special() {
			return invalid(field, "only the special groups (poverty, dibao, severe_disability, tekun) have 代缴",
				"只有特殊人群（建档立卡贫困人口、低保对象、重度残疾人、特困人员）才有政府代缴")
		}
		if base, _ := y.MinGrade(c); amount > base {
			return invalid(field, fmt.Sprintf("must not exceed the category's minimum of %s yuan", base),
				fmt.Sprintf("不得超过该类别的最低缴费额 %s 元", base))
		}
	}
	for _, c := range slices.Sorted(maps.Keys(y.Subsidy)) {
		if !c.Valid() {
			return invalid("subsidy", fmt.Sprintf("unknown category %q", c), fmt.Sprintf("人员类别“%s”无效", c))
		}
	}
	return nil
}

// isRegion reports whether s is 6 or 9 ASCII digits.
func isRegion(s string) bool {
	if len(s) != 6 && len(s) != 9 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// invalid is the coded error of a bad field.
func invalid(field, message, messageZH string) *syncproto.Error {
	return syncproto.Errorf(syncproto.CodeInvalidInput,
		"settings: "+field+": "+message,
		"年度参数 "+field+"："+messageZH)
}
