package syncproto

// Category is a payer group of the collection plan. It decides who pays and
// whether the government pays on the person's behalf (代缴); the amounts are
// year settings, not code. The special groups are sensitive personal
// information: never show a person's category in public lists (公示).
type Category string

// The payer categories.
const (
	// CategoryGeneral is 一般城乡居民, an ordinary resident.
	CategoryGeneral Category = "general"
	// CategoryNewborn is 新生儿, enrolled within six months of birth.
	CategoryNewborn Category = "newborn"
	// CategoryPoverty is 建档立卡贫困人口, a registered poor person.
	CategoryPoverty Category = "poverty"
	// CategoryDibao is 最低生活保障对象, a minimum-living-allowance recipient.
	CategoryDibao Category = "dibao"
	// CategorySevereDisability is 重度残疾人, a severely disabled person.
	CategorySevereDisability Category = "severe_disability"
	// CategoryTekun is 特困人员, a person in extreme hardship.
	CategoryTekun Category = "tekun"
)

// Categories returns every Category in display order. The slice is new on
// each call.
func Categories() []Category {
	return []Category{
		CategoryGeneral, CategoryNewborn, CategoryPoverty,
		CategoryDibao, CategorySevereDisability, CategoryTekun,
	}
}

// categoryNames maps codes and the Chinese spellings found in rosters to a
// Category.
var categoryNames = map[string]Category{
	"general":           CategoryGeneral,
	"一般":                CategoryGeneral,
	"普通":                CategoryGeneral,
	"一般居民":              CategoryGeneral,
	"普通居民":              CategoryGeneral,
	"一般城乡居民":            CategoryGeneral,
	"普通城乡居民":            CategoryGeneral,
	"newborn":           CategoryNewborn,
	"新生儿":               CategoryNewborn,
	"poverty":           CategoryPoverty,
	"贫困":                CategoryPoverty,
	"贫困人口":              CategoryPoverty,
	"贫困户":               CategoryPoverty,
	"建档立卡":              CategoryPoverty,
	"建档立卡贫困户":           CategoryPoverty,
	"建档立卡贫困人口":          CategoryPoverty,
	"建档立卡贫困人员":          CategoryPoverty,
	"dibao":             CategoryDibao,
	"低保":                CategoryDibao,
	"低保户":               CategoryDibao,
	"低保对象":              CategoryDibao,
	"城乡低保":              CategoryDibao,
	"最低生活保障对象":          CategoryDibao,
	"城乡最低生活保障对象":        CategoryDibao,
	"severe_disability": CategorySevereDisability,
	"重残":                CategorySevereDisability,
	"重度残疾":              CategorySevereDisability,
	"重度残疾人":             CategorySevereDisability,
	"重度残疾人员":            CategorySevereDisability,
	"tekun":             CategoryTekun,
	"特困":                CategoryTekun,
	"特困人员":              CategoryTekun,
	"特困供养人员":            CategoryTekun,
}

// ParseCategory accepts a code (any letter case) or a Chinese label, full or
// short: 一般/普通/一般城乡居民, 新生儿, 贫困/建档立卡/建档立卡贫困人口,
// 低保/最低生活保障对象, 重残/重度残疾/重度残疾人, 特困/特困人员 and close
// variants. Spaces are ignored. Anything else fails with
// CodeInvalidCategory; in particular 脱贫人口 and 防返贫监测对象 are not
// mapped, as the plan does not name them.
func ParseCategory(s string) (Category, error) {
	c, ok := categoryNames[normaliseName(s)]
	if !ok {
		return "", Errorf(CodeInvalidCategory,
			"unknown payer category; expected general, newborn, poverty, dibao, severe_disability or tekun",
			"无法识别的人员类别，应为一般城乡居民、新生儿、建档立卡贫困人口、最低生活保障对象、重度残疾人或特困人员")
	}
	return c, nil
}

// Valid reports whether c is one of the defined categories.
func (c Category) Valid() bool {
	_, ok := categoryLabels[c]
	return ok
}

// categoryLabels are the official Chinese names.
var categoryLabels = map[Category]string{
	CategoryGeneral:          "一般城乡居民",
	CategoryNewborn:          "新生儿",
	CategoryPoverty:          "建档立卡贫困人口",
	CategoryDibao:            "最低生活保障对象",
	CategorySevereDisability: "重度残疾人",
	CategoryTekun:            "特困人员",
}

// Label returns the Chinese name, e.g. 最低生活保障对象. An unknown
// category returns its code unchanged.
func (c Category) Label() string {
	if l, ok := categoryLabels[c]; ok {
		return l
	}
	return string(c)
}

// Special reports whether c is one of the four special groups (特殊人群:
// poverty, dibao, severe_disability, tekun), whose premiums the government
// subsidises or pays on their behalf (补贴、代缴). General and newborn are
// not special.
func (c Category) Special() bool {
	switch c {
	case CategoryPoverty, CategoryDibao, CategorySevereDisability, CategoryTekun:
		return true
	}
	return false
}
