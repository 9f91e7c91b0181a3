package demo

import (
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"

	"villagesync/server/internal/store"
)

// fullVillages is the number of villages and communities of each township
// in the full-size district, by township code: about 220 in all, the
// streets smaller than the towns, as in Xuecheng.
var fullVillages = map[string]int{
	"370403001": 24, // 临城街道
	"370403002": 30, // 常庄街道
	"370403003": 20, // 巨山街道
	"370403101": 33, // 沙沟镇
	"370403102": 37, // 周营镇
	"370403103": 36, // 邹坞镇
	"370403104": 40, // 陶庄镇
}

// firstVillageNumber is the number of a township's first village code
// (<township code>201), as in Villages.
const firstVillageNumber = 201

// GenerateDistrict returns a deterministic, realistic Xuecheng: the seven
// townships and streets of Townships (a copy) and their villages and
// communities. villagesPerTownship <= 0 gives the full district (about 220
// villages, 20 to 40 a township); a positive value gives exactly that many
// a township, e.g. a few for `make run`.
//
// Each township starts with its villages of Villages, in order and with
// the same codes, so the small demo district and the generated one agree;
// the rest get generated names: mostly 社区 (communities) in the three
// streets, mostly 村 (villages) in the four towns. Codes are the township
// code and three digits from 201 on; names are unique in the district, so
// a roster may name a village instead of giving its code. The same seed
// gives the same district.
func GenerateDistrict(seed int64, villagesPerTownship int) ([]store.Township, []store.Village) {
	townships := slices.Clone(Townships)
	demo := Villages()
	used := make(map[string]bool)
	for _, v := range demo {
		used[v.Name] = true
	}
	var villages []store.Village
	for _, t := range townships {
		n := villagesPerTownship
		if n <= 0 {
			n = fullVillages[t.Code]
		}
		g := villageNamer{
			r:      rand.New(rand.NewPCG(uint64(seed), streamOf("village", t.Code))),
			street: isStreet(t),
			used:   used,
		}
		i := 0
		for _, v := range demo {
			if v.TownshipCode == t.Code && i < n {
				villages = append(villages, v)
				i++
			}
		}
		for ; i < n; i++ {
			villages = append(villages, store.Village{
				Code:         t.Code + strconv.Itoa(firstVillageNumber+i),
				TownshipCode: t.Code,
				Name:         g.next(),
			})
		}
	}
	return townships, villages
}

// isStreet reports whether t is a street (街道, urban) rather than a town
// (镇): its code's township part is in the 0xx range.
func isStreet(t store.Township) bool {
	return len(t.Code) == 9 && t.Code[6] == '0'
}

// streamOf derives a PCG stream from a purpose and a code, so that each
// township's or village's data depends only on the seed and that code.
func streamOf(purpose, code string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(code))
	return h.Sum64()
}

// villageNamer invents unique village and community names.
type villageNamer struct {
	r      *rand.Rand
	street bool
	used   map[string]bool // names taken in the district
}

// maxNameTries is how many fresh names next draws before it numbers one
// (张庄二村), which real districts also do.
const maxNameTries = 64

// next returns a name not used yet and marks it used.
func (g *villageNamer) next() string {
	share := 0.08 // of communities among a town's villages
	if g.street {
		share = 0.85
	}
	community := g.r.Float64() < share
	suffix := "村"
	if community {
		suffix = "社区"
	}
	var stem string
	for range maxNameTries {
		if community {
			stem = g.communityStem()
		} else {
			stem = g.villageStem()
		}
		if name := stem + suffix; !g.used[name] {
			g.used[name] = true
			return name
		}
	}
	for n := 2; ; n++ {
		if name := stem + chineseNumber(n) + suffix; !g.used[name] {
			g.used[name] = true
			return name
		}
	}
}

// villageStem is a rural place name: 张庄, 东刘楼, 王家湾, 石门, 柳泉, 枣园头.
func (g *villageNamer) villageStem() string {
	r := g.r
	switch p := r.IntN(100); {
	case p < 35:
		return pick(r, placeSurnames) + pick(r, placeSuffixes)
	case p < 58:
		return pick(r, directions) + pick(r, placeSurnames) + pick(r, placeSuffixes)
	case p < 68:
		return pick(r, placeSurnames) + "家" + pick(r, jiaSuffixes)
	case p < 88:
		return pick(r, landAdjectives) + pick(r, landforms)
	default:
		return pick(r, landAdjectives) + pick(r, landforms) + pick(r, landTails)
	}
}

// communityStem is an urban community name: 泰山路, 幸福里, 锦绣园, or a
// former village's name (北张庄).
func (g *villageNamer) communityStem() string {
	r := g.r
	switch p := r.IntN(100); {
	case p < 30:
		return pick(r, roads)
	case p < 75:
		return pick(r, communityWords) + pick(r, communityTails)
	default:
		return g.villageStem()
	}
}

// pick returns a uniformly chosen element.
func pick(r *rand.Rand, s []string) string { return s[r.IntN(len(s))] }

// chineseNumber writes 2..99 in Chinese numerals (二, 十一, 二十三) and
// larger numbers in digits.
func chineseNumber(n int) string {
	const digits = "〇一二三四五六七八九"
	d := []rune(digits)
	switch {
	case n < 10:
		return string(d[n])
	case n < 20:
		s := "十"
		if n%10 != 0 {
			s += string(d[n%10])
		}
		return s
	case n < 100:
		s := string(d[n/10]) + "十"
		if n%10 != 0 {
			s += string(d[n%10])
		}
		return s
	}
	return strconv.Itoa(n)
}

// Place name parts, as villages of southern Shandong are named.
var (
	placeSurnames = []string{
		"张", "王", "李", "刘", "孙", "褚", "赵", "杨", "陈", "周", "吴", "徐",
		"朱", "马", "胡", "郭", "高", "韩", "黄", "孔", "颜", "梁", "宋", "于",
		"邵", "葛", "种", "渠", "满", "魏", "崔", "丁", "郝", "邱", "潘", "田",
		"段", "侯", "曹", "姚", "钱", "蒋", "彭", "董", "袁", "薛", "甘", "奚",
	}
	placeSuffixes = []string{
		"庄", "庄", "庄", "楼", "楼", "集", "屯", "营", "店", "寨", "洼", "湖",
		"桥", "园", "埠", "圩", "岭", "峪", "坡", "沟", "官庄", "塘", "堂", "湾",
	}
	jiaSuffixes    = []string{"庄", "楼", "洼", "湾", "屯", "埠", "林", "沟"}
	directions     = []string{"前", "后", "东", "西", "南", "北", "大", "小", "上", "下", "中", "新"}
	landAdjectives = []string{
		"青", "石", "黄", "白", "红", "龙", "凤", "柳", "杏", "桃", "梨", "枣",
		"榆", "松", "槐", "金", "马", "牛", "鹿", "卧", "双", "三", "五", "七",
		"九", "甘", "清", "古", "兴", "西", "东", "南", "北", "官", "苇", "岔",
	}
	landforms = []string{
		"山", "岭", "峪", "泉", "沟", "河", "湖", "岗", "坡", "崖", "门", "桥",
		"井", "塘", "台", "林", "园", "峰", "口", "庄", "湾", "洼",
	}
	landTails = []string{"后", "前", "口", "头", "里", "涧", "子"}
	roads     = []string{
		"泰山路", "黄河路", "长江路", "珠江路", "燕山路", "衡山路", "华山路",
		"嵩山路", "太行山路", "武夷山路", "昆仑山路", "临山路", "永福路",
		"兴仁路", "常庄路", "沂河路", "沙河路", "奚仲路", "光明路", "复元路",
		"德仁路", "泰和路", "民生路", "和平路", "建设路", "新城路", "祁连山路",
	}
	communityWords = []string{
		"和谐", "幸福", "阳光", "春华", "锦绣", "丽景", "嘉和", "康宁", "祥和",
		"兴业", "富民", "安居", "文化", "新华", "民主", "振兴", "繁荣", "育才",
		"德仁", "兴仁", "永福", "奚仲", "薛国", "孟尝", "临山", "府前", "凤鸣",
		"龙潭", "龙湖", "荆河", "凤凰", "明珠", "金河", "银河", "盛世", "东方",
		"鑫源", "泰和", "丰泽", "馨苑", "翠湖", "新兴", "光华", "钢城", "矿建",
	}
	communityTails = []string{"", "", "", "", "苑", "园", "里", "花园", "新村"}
)
