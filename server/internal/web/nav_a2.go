package web

// navA2 is the menu of the HRSS/medical, admin and dashboard pages
// (owned by their author): entries are appended after nav's.
var navA2 = []NavItem{}
