package api_test

// pageCasesA2 are the route-table test cases of the HRSS/medical
// security, admin and dashboard pages (filled by their author).
var pageCasesA2 = map[string]pageCase{}
