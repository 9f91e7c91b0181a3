package demo

import (
	"math/rand/v2"
	"sort"
	"time"
	"unicode/utf8"

	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// Resident is one generated person of the demo district: the material of
// both rosters (see RosterRows).
type Resident struct {
	// Name is the full name in Chinese characters; about one in 500
	// contains a rare character outside the BMP (e.g. 𠮷).
	Name string
	// ID is a valid resident ID number, unique among the residents of one
	// GenerateResidents call.
	ID syncproto.ResidentID
	// VillageCode and TownshipCode are where the person is registered.
	VillageCode, TownshipCode string
	// Category is the payer group: a special group, newborn (age 0 only)
	// or general.
	Category syncproto.Category
	// Pension and Medical say in which rosters the person is.
	Pension, Medical bool
}

// MaxAge is the oldest generated resident's age.
const MaxAge = 95

// ReferenceDate is the day at which generated residents' ages are taken
// for a coverage year: 30 June of that year, midnight UTC (read it as a
// civil date). No birth date lies after it, so a generated roster of year
// Y validates against any clock from 1 July of Y on: throughout the
// collection period, and at 31 December of Y.
func ReferenceDate(year int) time.Time {
	return time.Date(year, time.June, 30, 0, 0, 0, 0, time.UTC)
}

// Shares of the special groups among residents (建档立卡贫困人口 2 %, 低保
// 3 %, 重度残疾人 1.5 %, 特困人员 0.5 %), as cumulative thresholds.
const (
	sharePoverty    = 0.020
	shareDibao      = sharePoverty + 0.030
	shareDisability = shareDibao + 0.015
	shareTekun      = shareDisability + 0.005
)

// Enrolment probabilities. Special groups and newborns are all in the
// medical insurance (the government pays for them); together with the
// ordinary residents' rate this gives about 85 %. Of the residents of
// pension age (16–59, not students) about 45 % are in the pension roster.
const (
	medicalGeneral = 0.835
	pensionGeneral = 0.42
	pensionSpecial = 0.90
	maleShare      = 0.51
	rareNameOdds   = 500  // one name in rareNameOdds has a rare character
	localShare     = 0.85 // born in Xuecheng
)

// GenerateResidents returns perVillage residents for each village, in
// village order, deterministic for seed and year. A village's residents
// depend only on the seed, the year and the village's code, so a small
// district's residents are (up to the rare ID clash resolved by the
// earlier village) those of the same villages in a big one, and a smaller
// perVillage gives a prefix of a larger one.
//
// IDs have Shandong region codes (mostly Xuecheng's 370403, some other
// counties of the province), birth dates for ages 0 to MaxAge at
// ReferenceDate(year), a sequence number whose last digit matches the
// sex, and a correct check character. They are unique: a clash moves the
// sequence number on. Names follow the real surname frequencies, with
// given names of the person's sex and generation.
func GenerateResidents(seed int64, villages []store.Village, perVillage int, year int) []Resident {
	if perVillage <= 0 || len(villages) == 0 {
		return nil
	}
	g := &residentGen{
		spans: birthSpans(ReferenceDate(year)),
		taken: make(map[uint64]struct{}, len(villages)*perVillage),
	}
	out := make([]Resident, 0, len(villages)*perVillage)
	for _, v := range villages {
		g.r = rand.New(rand.NewPCG(uint64(seed), streamOf("resident", v.Code)^uint64(year)))
		for range perVillage {
			res := g.next()
			res.VillageCode, res.TownshipCode = v.Code, v.TownshipCode
			out = append(out, res)
		}
	}
	return out
}

// ageSpan is the range of birth dates of one age, in days since 1970.
type ageSpan struct{ first, days int64 }

// birthSpans returns, per age 0..MaxAge, the birth dates that give that
// age at ref.
func birthSpans(ref time.Time) []ageSpan {
	spans := make([]ageSpan, MaxAge+1)
	for a := range spans {
		first := epochDay(ref.AddDate(-(a + 1), 0, 1))
		last := epochDay(ref.AddDate(-a, 0, 0))
		spans[a] = ageSpan{first: first, days: last - first + 1}
	}
	return spans
}

func epochDay(t time.Time) int64 { return t.Unix() / 86400 }

// residentGen holds the state of one GenerateResidents call.
type residentGen struct {
	r     *rand.Rand
	spans []ageSpan
	taken map[uint64]struct{} // the first 17 digits of the IDs issued
}

// next draws one resident.
func (g *residentGen) next() Resident {
	r := g.r
	age := ageTable.pickIndex(r)
	male := r.Float64() < maleShare
	span := g.spans[age]
	day := span.first + r.Int64N(span.days)
	region := regionTable.pick(r)
	if r.Float64() < localShare {
		region = DistrictCode
	}
	seq := r.IntN(100)*10 + 2*r.IntN(5)
	if male {
		seq++
	}
	if seq == 0 {
		seq = 10 // 000 is not issued
	}
	id, day := g.issue(region, day, seq)
	if day < span.first {
		age = g.ageOf(day) // moved back past a birthday to find a free number
	}
	y, _, _ := time.Unix(day*86400, 0).UTC().Date()

	res := Resident{ID: id, Name: name(r, male, y)}
	switch x := r.Float64(); {
	case x < sharePoverty:
		res.Category = syncproto.CategoryPoverty
	case x < shareDibao:
		res.Category = syncproto.CategoryDibao
	case x < shareDisability:
		res.Category = syncproto.CategorySevereDisability
	case x < shareTekun:
		res.Category = syncproto.CategoryTekun
	case age == 0:
		res.Category = syncproto.CategoryNewborn
	default:
		res.Category = syncproto.CategoryGeneral
	}
	special := res.Category.Special()
	res.Medical = special || res.Category == syncproto.CategoryNewborn || r.Float64() < medicalGeneral
	if age >= 16 && age <= 59 && !student(r, age) {
		p := pensionGeneral
		if special {
			p = pensionSpecial
		}
		res.Pension = r.Float64() < p
	}
	return res
}

// issue returns a free ID for region, birth day and sequence number: on a
// clash the sequence number moves on by two (keeping the sex), and when a
// day is full the birth date moves back a day. It returns the day used.
func (g *residentGen) issue(region string, day int64, seq int) (syncproto.ResidentID, int64) {
	var b [18]byte
	copy(b[:6], region)
	for {
		y, m, d := time.Unix(day*86400, 0).UTC().Date()
		putDigits(b[6:10], y)
		putDigits(b[10:12], int(m))
		putDigits(b[12:14], d)
		for range 500 {
			putDigits(b[14:17], seq)
			key := digitsValue(b[:17])
			if _, clash := g.taken[key]; !clash {
				g.taken[key] = struct{}{}
				check, err := syncproto.CheckDigit(string(b[:17]))
				if err != nil {
					panic("demo: " + err.Error()) // b holds 17 digits
				}
				b[17] = check
				return syncproto.ResidentID(b[:]), day
			}
			if seq = (seq + 2) % 1000; seq == 0 {
				seq = 2
			}
		}
		day--
	}
}

// ageOf returns the age of a person born on day.
func (g *residentGen) ageOf(day int64) int {
	for a, s := range g.spans {
		if day >= s.first {
			return a
		}
	}
	return MaxAge
}

// student reports whether a person of age is at school or university and
// so not in the pension roster.
func student(r *rand.Rand, age int) bool {
	switch {
	case age <= 18:
		return r.Float64() < 0.85
	case age <= 22:
		return r.Float64() < 0.45
	case age <= 24:
		return r.Float64() < 0.10
	}
	return false
}

// putDigits writes v as len(b) decimal digits.
func putDigits(b []byte, v int) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
}

// digitsValue is the number that ASCII digits b spell.
func digitsValue(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v*10 + uint64(c-'0')
	}
	return v
}

// name draws a full name for a person of the sex and birth year.
func name(r *rand.Rand, male bool, birthYear int) string {
	surname := surnameTable.pick(r)
	p := &givenPools[generation(birthYear)][0]
	if !male {
		p = &givenPools[generation(birthYear)][1]
	}
	var given string
	switch x := r.Float64(); {
	case x < p.single:
		given = pick(r, p.chars)
	case x < p.single+(1-p.single)*0.4:
		given = pick(r, p.names)
	default:
		a, b := pick(r, p.chars), pick(r, p.chars)
		if a == b {
			b = pick(r, p.chars)
		}
		given = a + b
	}
	if r.IntN(rareNameOdds) == 0 {
		rs := []rune(given)
		rs[r.IntN(len(rs))] = rareChars[r.IntN(len(rareChars))]
		given = string(rs)
	}
	return surname + given
}

// generation sorts birth years into the eras of naming fashion.
func generation(birthYear int) int {
	switch {
	case birthYear < 1965:
		return 0
	case birthYear < 1995:
		return 1
	}
	return 2
}

// givenPool is the given names of one generation and sex.
type givenPool struct {
	single float64  // share of one-character given names
	chars  []string // characters combined into given names
	names  []string // common two-character given names
}

// givenPools is indexed by generation, then male (0) and female (1).
var givenPools = [3][2]givenPool{
	{ // born before 1965
		{single: 0.08,
			chars: split("德明文华玉山宝福生长海学振忠永贵广才立新卫东红军树林庆云金成清兆传富昌洪之恒荣保家世开继元正兴守秀"),
			names: []string{"建国", "国庆", "志强", "德明", "文华", "玉山", "宝山", "福生", "长海", "学文", "振华", "忠信", "永贵", "广才", "立新", "卫东", "红军", "树林", "庆云", "传富", "兆清", "继成", "守田", "世昌"}},
		{single: 0.06,
			chars: split("秀英桂兰玉淑珍凤翠芝梅素云春花爱荣霞琴娥香菊莲芳彩月"),
			names: []string{"秀英", "桂兰", "玉兰", "淑珍", "凤英", "秀兰", "桂英", "玉珍", "凤兰", "兰英", "秀珍", "素英", "翠兰", "桂芝", "玉梅", "淑英", "秀云", "桂珍", "凤芝", "玉英", "春兰", "冬梅", "金花", "爱华", "素珍"}},
	},
	{ // 1965–1994
		{single: 0.22,
			chars: split("伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宁健峰亮建林东海文俊凯龙浩志晓新永立"),
			names: []string{"建华", "建军", "志刚", "志勇", "海涛", "晓东", "文杰", "永强", "立新", "俊峰", "国栋", "红伟", "学军", "明辉", "庆华", "建伟", "海波", "振东"}},
		{single: 0.22,
			chars: split("丽静敏燕艳娟霞芳红玲婷丹萍娜莉慧洁琳雪梅颖倩晶蕾佳晓春亚"),
			names: []string{"丽娟", "晓燕", "秀梅", "艳红", "海燕", "春燕", "玉洁", "丽丽", "婷婷", "静静", "晓丽", "红梅", "雪梅", "美玲", "丽华", "晓红"}},
	},
	{ // 1995 on
		{single: 0.12,
			chars: split("子浩宇轩博梓睿俊涛晨泽铭一嘉航奕皓明辰宸瑞天逸翔文昊杰鹏凯锦"),
			names: []string{"浩宇", "子轩", "宇轩", "梓睿", "俊杰", "浩然", "子豪", "博文", "一鸣", "皓轩", "宇航", "天佑", "子墨", "梓豪", "睿泽", "铭轩", "晨阳", "嘉懿", "奕辰"}},
		{single: 0.10,
			chars: split("子欣梓涵雨萱思怡诗佳可琪悦梦语晨一依若瑶彤馨妍雅淑诺嘉安宁心"),
			names: []string{"子涵", "欣怡", "梓涵", "诗涵", "梓萱", "雨涵", "思涵", "可馨", "一诺", "语桐", "欣妍", "佳怡", "雨萱", "梦瑶", "若曦", "紫涵", "依诺", "诗琪"}},
	},
}

// rareChars are characters outside the BMP that occur in real names (CJK
// extensions B to E); names holding them must survive every file format
// whole.
var rareChars = []rune{
	'\U0002003E', // 𠀾
	'\U0002123C', // 𡈼
	'\U0002A6A5', // 𪚥
	'\U00020BB7', // 𠮷
	'\U0002B5AF', // 𫖯 (赵孟𫖯)
	'\U0002B36F', // 𫍯
	'\U0002B7E6', // 𫟦
	'\U0002C317', // 𬌗
	'\U0002C62C', // 𬘬
	'\U0002C79F', // 𬞟
	'\U0002CB3B', // 𬬻
	'\U0002CB5A', // 𬭚
	'\U0002CC56', // 𬱖
	'\U0002CE1A', // 𬸚
}

// split returns the characters of s.
func split(s string) []string {
	out := make([]string, 0, utf8.RuneCountInString(s))
	for _, c := range s {
		out = append(out, string(c))
	}
	return out
}

// weighted is a table to draw from by weight.
type weighted struct {
	items []string
	cum   []float64 // cumulative weights
}

// newWeighted builds a table from item, weight pairs.
func newWeighted(pairs []weightedItem) weighted {
	w := weighted{items: make([]string, len(pairs)), cum: make([]float64, len(pairs))}
	total := 0.0
	for i, p := range pairs {
		total += p.w
		w.items[i], w.cum[i] = p.s, total
	}
	return w
}

type weightedItem struct {
	s string
	w float64
}

// pickIndex draws an index by weight.
func (w *weighted) pickIndex(r *rand.Rand) int {
	x := r.Float64() * w.cum[len(w.cum)-1]
	return min(sort.Search(len(w.cum), func(i int) bool { return w.cum[i] > x }), len(w.cum)-1)
}

// pick draws an item by weight.
func (w *weighted) pick(r *rand.Rand) string { return w.items[w.pickIndex(r)] }

// ageTable weighs the ages 0..MaxAge like the residents' insurance
// population of a rural Shandong district: few young working adults (many
// are employees insured elsewhere), many people in their fifties and
// sixties. Each 5-year band's weight is spread evenly over its years.
var ageTable = func() weighted {
	bands := []float64{ // 0-4, 5-9, ..., 90-94
		4.0, 5.5, 6.0, 5.5, 4.5, 4.5, 6.0, 5.5, 5.5, 7.5,
		8.5, 8.0, 6.5, 7.0, 5.5, 4.0, 2.8, 1.5, 0.6,
	}
	pairs := make([]weightedItem, MaxAge+1)
	for a := range pairs {
		w := 0.02 // 95
		if a/5 < len(bands) {
			w = bands[a/5] / 5
		}
		pairs[a] = weightedItem{w: w}
	}
	return newWeighted(pairs)
}()

// regionTable weighs the places of first registration of the residents
// not born in Xuecheng: other counties of Zaozhuang first, then the rest
// of Shandong (some codes as they were when older people were
// registered).
var regionTable = newWeighted([]weightedItem{
	{"370402", 3},   // 枣庄市中区
	{"370404", 2},   // 峄城区
	{"370405", 1},   // 台儿庄区
	{"370406", 2},   // 山亭区
	{"370481", 3},   // 滕州市
	{"370102", 0.5}, // 济南市历下区
	{"370202", 0.4}, // 青岛市市南区
	{"370303", 0.3}, // 淄博市张店区
	{"370802", 0.8}, // 济宁市市中区 (before 2013)
	{"370881", 0.5}, // 曲阜市
	{"370883", 1},   // 邹城市
	{"371302", 0.8}, // 临沂市兰山区
	{"371324", 1},   // 兰陵县 (苍山县)
	{"370902", 0.4}, // 泰安市泰山区
	{"371402", 0.2}, // 德州市德城区
	{"370602", 0.2}, // 烟台市芝罘区
	{"371702", 0.4}, // 菏泽市牡丹区
})

// surnameTable weighs surnames by their frequency in China (per 10,000
// people), Shandong's own (孔, 颜, 褚) a little raised, with a few
// compound surnames.
var surnameTable = newWeighted([]weightedItem{
	{"王", 725}, {"李", 719}, {"张", 683}, {"刘", 538}, {"陈", 453},
	{"杨", 308}, {"赵", 229}, {"黄", 223}, {"周", 198}, {"吴", 205},
	{"徐", 167}, {"孙", 174}, {"马", 145}, {"朱", 128}, {"胡", 124},
	{"郭", 118}, {"何", 114}, {"林", 113}, {"高", 110}, {"罗", 110},
	{"郑", 97}, {"梁", 86}, {"谢", 78}, {"宋", 77}, {"唐", 75},
	{"许", 69}, {"韩", 68}, {"冯", 66}, {"邓", 65}, {"曹", 63},
	{"彭", 61}, {"曾", 60}, {"肖", 59}, {"田", 54}, {"董", 53},
	{"袁", 51}, {"潘", 50}, {"于", 50}, {"蒋", 49}, {"蔡", 48},
	{"余", 47}, {"杜", 47}, {"叶", 46}, {"程", 45}, {"苏", 44},
	{"魏", 43}, {"吕", 42}, {"丁", 42}, {"任", 41}, {"沈", 40},
	{"姚", 38}, {"卢", 37}, {"姜", 36}, {"崔", 35}, {"钟", 34},
	{"谭", 33}, {"陆", 32}, {"汪", 31}, {"范", 30}, {"金", 29},
	{"石", 28}, {"廖", 27}, {"贾", 27}, {"夏", 26}, {"韦", 26},
	{"付", 25}, {"方", 25}, {"白", 24}, {"邹", 24}, {"孟", 24},
	{"熊", 23}, {"秦", 23}, {"邱", 22}, {"江", 22}, {"尹", 22},
	{"薛", 21}, {"闫", 21}, {"段", 21}, {"雷", 20}, {"侯", 20},
	{"龙", 20}, {"史", 20}, {"陶", 19}, {"黎", 19}, {"贺", 18},
	{"顾", 18}, {"毛", 18}, {"郝", 18}, {"龚", 17}, {"邵", 17},
	{"万", 17}, {"钱", 16}, {"严", 16}, {"武", 16}, {"戴", 15},
	{"孔", 30}, {"颜", 15}, {"褚", 15}, {"葛", 12}, {"牛", 12},
	{"满", 6}, {"种", 4}, {"渠", 3},
	{"欧阳", 2}, {"司马", 1}, {"诸葛", 1}, {"上官", 1}, {"东方", 1},
	{"皇甫", 1}, {"令狐", 1}, {"公孙", 1}, {"慕容", 1}, {"夏侯", 1},
})
