package web

import "villagesync/server/internal/auth"

// navDistrict is the menu of the HRSS/medical, admin and dashboard pages
// (the district's bureaus and its admin): entries are appended after nav's.
var navDistrict = []NavItem{
	{Path: "/dashboard", Label: "征收进度", Roles: DashboardRoles},
	{Path: "/hrss/rosters", Label: "征收清册", Roles: RosterReaders},
	{Path: "/hrss/paid", Label: "缴费明细", Roles: RosterReaders},
	{Path: "/admin/townships", Label: "镇街", Roles: AdminOnly},
	{Path: "/admin/villages", Label: "村居", Roles: AdminOnly},
	{Path: "/users", Label: "用户", Roles: AdminOrTownship},
	{Path: "/admin/settings", Label: "年度参数", Roles: []auth.Role{auth.RoleAdmin}},
}
