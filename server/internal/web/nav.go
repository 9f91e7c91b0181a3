package web

import (
	"slices"
	"strings"

	"villagesync/server/internal/auth"
)

// NavItem is one entry of the console's menu, shown to the roles listed.
type NavItem struct {
	Path   string
	Label  string
	Roles  []auth.Role
	Active bool // set per request: the current page is under Path
}

var (
	townshipStaff = []auth.Role{auth.RoleTownship}
	taxStaff      = []auth.Role{auth.RoleTax, auth.RoleAdmin}
)

// nav is the menu of the township and tax pages; navDistrict (nav_district.go)
// holds the district pages'. The order is the order shown.
var nav = []NavItem{
	{Path: "/township", Label: "今日概况", Roles: townshipStaff},
	{Path: "/township/batches", Label: "当日批次", Roles: townshipStaff},
	{Path: "/township/agents", Label: "代办员现金", Roles: townshipStaff},
	{Path: "/township/devices", Label: "平板终端", Roles: townshipStaff},
	{Path: "/township/flags", Label: "异常记录", Roles: townshipStaff},
	{Path: "/township/refunds", Label: "退费", Roles: townshipStaff},
	{Path: "/tax/batches", Label: "批次", Roles: taxStaff},
	{Path: "/tax/reconciliation", Label: "对账", Roles: taxStaff},
	{Path: "/tax/refunds", Label: "退费审核", Roles: taxStaff},
}

// navFor is the menu of a role, the entry of the current page marked.
func navFor(r auth.Role, current string) []NavItem {
	var out []NavItem
	best := -1
	for _, it := range slices.Concat(nav, navDistrict) {
		if !slices.Contains(it.Roles, r) {
			continue
		}
		out = append(out, it)
		if current == it.Path || strings.HasPrefix(current, strings.TrimSuffix(it.Path, "/")+"/") {
			if best < 0 || len(it.Path) > len(out[best].Path) {
				best = len(out) - 1
			}
		}
	}
	if best >= 0 {
		out[best].Active = true
	}
	return out
}

// homeOf is where a role lands after login.
func homeOf(r auth.Role) string {
	for _, it := range slices.Concat(nav, navDistrict) {
		if slices.Contains(it.Roles, r) {
			return it.Path
		}
	}
	return "/account"
}
