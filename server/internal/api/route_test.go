package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"villagesync/server/internal/api"
	"villagesync/server/internal/auth"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// routeCase builds a request for a route: in scope of the caller (village
// A / township X) or out of scope (village B / township Y). Routes whose
// rule is ScopeNone ignore inScope.
type routeCase func(f *fixture, inScope bool) (path string, body any)

var seq atomic.Int64

func unique() int64 { return seq.Add(1) }

// cases holds one request builder for every non-public route of the
// table. A route added to the table without a case here fails
// TestRouteTableCovered.
var cases = map[string]routeCase{
	"POST /api/v1/auth/logout": func(f *fixture, _ bool) (string, any) {
		return "/api/v1/auth/logout", nil // body filled per role in the test
	},
	"GET /api/v1/me": func(*fixture, bool) (string, any) { return "/api/v1/me", nil },
	"POST /api/v1/devices/enrollment-codes": func(f *fixture, in bool) (string, any) {
		agent := f.user["agentb"].ID
		if in {
			agent = f.user["agenta"].ID
		}
		return "/api/v1/devices/enrollment-codes", map[string]string{"agent_id": agent}
	},
	"GET /api/v1/devices": func(*fixture, bool) (string, any) { return "/api/v1/devices", nil },
	"POST /api/v1/devices/:id/revoke": func(f *fixture, in bool) (string, any) {
		if in {
			return "/api/v1/devices/" + f.deviceA + "/revoke", nil
		}
		return "/api/v1/devices/" + f.deviceB + "/revoke", nil
	},
	"GET /api/v1/audit":     func(*fixture, bool) (string, any) { return "/api/v1/audit", nil },
	"GET /api/v1/townships": func(*fixture, bool) (string, any) { return "/api/v1/townships", nil },
	"POST /api/v1/townships": func(*fixture, bool) (string, any) {
		return "/api/v1/townships", map[string]string{"code": fmt.Sprintf("370403%03d", 500+unique()), "name": "新镇"}
	},
	"GET /api/v1/townships/:code/villages": func(_ *fixture, in bool) (string, any) {
		if in {
			return "/api/v1/townships/" + twpX + "/villages", nil
		}
		return "/api/v1/townships/" + twpY + "/villages", nil
	},
	"GET /api/v1/villages/:code": func(_ *fixture, in bool) (string, any) {
		if in {
			return "/api/v1/villages/" + vilA, nil
		}
		return "/api/v1/villages/" + vilB, nil
	},
	"POST /api/v1/villages": func(*fixture, bool) (string, any) {
		return "/api/v1/villages", map[string]string{"code": fmt.Sprintf("%s%03d", twpX, 300+unique()), "name": "新村"}
	},
	"GET /api/v1/users": func(*fixture, bool) (string, any) { return "/api/v1/users", nil },
	"POST /api/v1/users": func(_ *fixture, in bool) (string, any) {
		twp, vil := twpY, vilB
		if in {
			twp, vil = twpX, vilA2
		}
		return "/api/v1/users", map[string]any{"username": fmt.Sprintf("new-agent-%d", unique()), "role": "agent",
			"township_code": twp, "villages": []string{vil}, "password": pw}
	},
	"GET /api/v1/settings": func(*fixture, bool) (string, any) { return "/api/v1/settings?year=2026", nil },
	"PUT /api/v1/settings": func(*fixture, bool) (string, any) {
		return "/api/v1/settings", settings.Shandong2026Pension("370403001")
	},
	"POST /api/v1/rosters": func(*fixture, bool) (string, any) {
		return "/api/v1/rosters?filename=roster.csv", nil // body filled per role in the test
	},
	"GET /api/v1/rosters/imports": func(*fixture, bool) (string, any) { return "/api/v1/rosters/imports", nil },
	"GET /api/v1/rosters/imports/:id/report": func(f *fixture, _ bool) (string, any) {
		return f.refusedImport(auth.RoleMedsec), nil // the import of the caller's bureau, set per role in the test
	},
	"GET /api/v1/rosters/entries": func(_ *fixture, in bool) (string, any) {
		if in {
			return "/api/v1/rosters/entries?village=" + vilA + "&q=zs", nil
		}
		return "/api/v1/rosters/entries?village=" + vilB, nil
	},
	"GET /api/v1/rosters/counts": func(_ *fixture, in bool) (string, any) {
		if in {
			return "/api/v1/rosters/counts?village=" + vilA, nil
		}
		return "/api/v1/rosters/counts?village=" + vilB, nil
	},
	"POST /api/v1/sync/push": func(*fixture, bool) (string, any) {
		return "/api/v1/sync/push", syncproto.PushRequest{Mutations: []syncproto.Mutation{}}
	},
	"GET /api/v1/sync/pull":   func(*fixture, bool) (string, any) { return "/api/v1/sync/pull", nil },
	"GET /api/v1/sync/alerts": func(*fixture, bool) (string, any) { return "/api/v1/sync/alerts", nil },
	"GET /api/v1/agents/cash": func(*fixture, bool) (string, any) { return "/api/v1/agents/cash", nil },
	"POST /api/v1/devices/:id/outbox": func(f *fixture, in bool) (string, any) {
		id := f.deviceB
		if in {
			id = f.deviceA
		}
		return "/api/v1/devices/" + id + "/outbox", map[string]any{"device_id": id, "mutations": []any{}}
	},
	"POST /api/v1/batches/cut": func(f *fixture, in bool) (string, any) {
		twp := twpY
		if in {
			twp = twpX
		}
		f.waitingCollection(in)
		return "/api/v1/batches/cut", map[string]string{"township": twp, "date": "2026-11-20"}
	},
	"GET /api/v1/batches": func(*fixture, bool) (string, any) { return "/api/v1/batches", nil },
	"GET /api/v1/batches/export.zip": func(*fixture, bool) (string, any) {
		return "/api/v1/batches/export.zip?date=2026-11-20", nil
	},
	"GET /api/v1/batches/:id": func(f *fixture, in bool) (string, any) {
		return "/api/v1/batches/" + f.emptyBatch(in, "submitted"), nil
	},
	"POST /api/v1/batches/:id/approve": func(f *fixture, in bool) (string, any) {
		return "/api/v1/batches/" + f.emptyBatch(in, "submitted") + "/approve", map[string]string{}
	},
	"POST /api/v1/batches/:id/reject": func(f *fixture, in bool) (string, any) {
		return "/api/v1/batches/" + f.emptyBatch(in, "submitted") + "/reject", map[string]string{"reason": "金额不符"}
	},
	"GET /api/v1/batches/:id/export": func(f *fixture, _ bool) (string, any) {
		return "/api/v1/batches/" + f.emptyBatch(true, "approved") + "/export?format=json", nil
	},
	"POST /api/v1/batches/:id/postings": func(f *fixture, _ bool) (string, any) {
		return "/api/v1/batches/" + f.batchWithLine("exported") + "/postings?filename=post.csv", rawBody{"序号,完税凭证号,入库日期,错误信息\n1,V-1,2026-11-19,\n"}
	},
	"GET /api/v1/refunds": func(*fixture, bool) (string, any) { return "/api/v1/refunds", nil },
	"POST /api/v1/refunds": func(f *fixture, in bool) (string, any) {
		return "/api/v1/refunds", map[string]string{"collection_id": f.flaggedCollection(in), "reason": "重复缴费"}
	},
	"POST /api/v1/refunds/:id/approve": func(f *fixture, in bool) (string, any) {
		return "/api/v1/refunds/" + f.refund(in, "requested") + "/approve", nil
	},
	"POST /api/v1/refunds/:id/complete": func(f *fixture, in bool) (string, any) {
		return "/api/v1/refunds/" + f.refund(in, "approved") + "/complete", nil
	},
	"GET /api/v1/exports/paid": func(*fixture, bool) (string, any) { return "/api/v1/exports/paid?year=2026", nil },
	"GET /api/v1/villages/:code/publicity": func(_ *fixture, in bool) (string, any) {
		if in {
			return "/api/v1/villages/" + vilA + "/publicity?year=2026", nil
		}
		return "/api/v1/villages/" + vilB + "/publicity?year=2026", nil
	},
	"GET /api/v1/reconciliation": func(*fixture, bool) (string, any) { return "/api/v1/reconciliation?date=2026-11-20", nil },
	"PATCH /api/v1/users/:id": func(f *fixture, in bool) (string, any) {
		id := f.user["agentb"].ID
		if in {
			id = f.user["agenta"].ID
		}
		return "/api/v1/users/" + id, map[string]string{"display_name": "改名"}
	},
}

func TestRouteTableCovered(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	registered := map[string]bool{}
	for _, r := range f.e.Routes() {
		registered[r.Method+" "+r.Path] = true
	}
	for _, r := range api.Routes(f.srv) {
		key := r.Method + " " + r.Path
		if !registered[key] {
			t.Errorf("%s is in the table but not served", key)
		}
		delete(registered, key)
		switch {
		case r.Page && !r.Public && allPageCases()[key] == nil:
			t.Errorf("%s has no case in the page route-table test: add one to pageCases", key)
		case !r.Page && !r.Public && cases[key] == nil:
			t.Errorf("%s has no case in the route-table test: add one to cases", key)
		}
		if r.Public && len(r.Roles) > 0 {
			t.Errorf("%s is public but lists roles", key)
		}
		if !r.Public && len(r.Roles) == 0 {
			t.Errorf("%s needs a token but no role may call it", key)
		}
	}
	for key := range registered {
		t.Errorf("%s is served but missing from the route table", key)
	}
}

// TestRouteTable walks every authenticated route of the table: every role
// × in-scope and out-of-scope targets, and no token.
func TestRouteTable(t *testing.T) {
	t.Parallel()
	meta := newFixture(t)
	for _, r := range api.Routes(meta.srv) {
		if r.Public || r.Page {
			continue // pages: TestPageRouteTable
		}
		key := r.Method + " " + r.Path
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			build := cases[key]
			if build == nil {
				t.Skip("no case: TestRouteTableCovered fails for it")
			}
			var shared *fixture
			if r.Method == http.MethodGet && !strings.Contains(r.Path, "export") {
				shared = newFixture(t)
			}
			for _, role := range auth.Roles() {
				for _, in := range []bool{true, false} {
					if r.Scope == api.ScopeNone && !in {
						continue
					}
					// A call that changes state gets a fixture of its own, so
					// that nothing leaks from one call into another; reads
					// share one per route.
					f := shared
					if f == nil || r.Method != http.MethodGet || strings.Contains(r.Path, "export") {
						f = newFixture(t)
					}
					path, body := build(f, in)
					if key == "POST /api/v1/auth/logout" {
						body = map[string]string{"refresh_token": f.refresh[role]}
					}
					if key == "POST /api/v1/rosters" {
						body = rosterFile(role)
					}
					if key == "GET /api/v1/rosters/imports/:id/report" {
						path = f.refusedImport(bureauOf(role))
					}
					rec := f.request(r.Method, path, f.token[role], body)
					want := "2xx"
					if !allowed(r, role, in) {
						want = "403"
					}
					got := fmt.Sprint(rec.Code)
					if rec.Code >= 200 && rec.Code < 300 {
						got = "2xx"
					}
					if got != want {
						t.Errorf("%s as %s (in scope %v): %d, want %s: %s", key, role, in, rec.Code, want, rec.Body)
					}
					if want == "403" && got == "403" && errCode(t, rec) != "forbidden" {
						t.Errorf("%s as %s: 403 with code %s", key, role, errCode(t, rec))
					}
				}
			}
			f := newFixture(t)
			path, body := build(f, true)
			rec := f.request(r.Method, path, "", body)
			if rec.Code != http.StatusUnauthorized || errCode(t, rec) != "unauthenticated" {
				t.Errorf("%s with no token: %d %s, want 401 unauthenticated", key, rec.Code, rec.Body)
			}
		})
	}
}

// allowed reports whether role may call route r on a target in its area
// (in) or outside it: its role is listed, and the target is in scope or
// the role sees the whole district.
func allowed(r api.Route, role auth.Role, in bool) bool {
	return slices.Contains(r.Roles, role) && (in || role.District())
}

// refusedImport stores a refused import of the bureau's kind and returns
// the path of its report.
func (f *fixture) refusedImport(bureau auth.Role) string {
	f.t.Helper()
	kind := "medical"
	if bureau == auth.RoleHRSS {
		kind = "pension"
	}
	imp := store.RosterImport{ID: f.db.NewID(), Kind: kind, Filename: "bad.csv", ContentSHA256: []byte{1},
		UploadedBy: f.user[string(bureau)].ID, UploadedAt: f.clock.Now(), Status: store.ImportRefused, ErrorCount: 1,
		Errors: []byte(`[{"row":2,"column":"公民身份号码","value":"1","code":"invalid_resident_id","message":"bad","message_zh":"错"}]`)}
	if err := f.db.InsertRosterImport(f.t.Context(), f.db.Pool, imp); err != nil {
		f.t.Fatal(err)
	}
	return "/api/v1/rosters/imports/" + imp.ID + "/report?format=csv"
}

// rosterFile is a one-line roster of the kind the role uploads (medical
// for everyone but HRSS, whose rosters are pension).
func rosterFile(role auth.Role) rawBody {
	kind, due := "医疗", "400.00"
	if role == auth.RoleHRSS {
		kind, due = "养老", ""
	}
	return rawBody{"姓名,公民身份号码,村居,险种,人员类别,缴费年度,应缴金额,代缴金额\n张三,11010519491231002X," + vilA + "," + kind + ",一般,2026," + due + ",0\n"}
}

// emptyBatch inserts a batch without lines in township X (in scope) or Y.
func (f *fixture) emptyBatch(in bool, state string) string {
	f.t.Helper()
	twp := twpY
	if in {
		twp = twpX
	}
	id := f.db.NewID()
	if _, err := f.db.Pool.Exec(f.t.Context(), `INSERT INTO batch (id, township_code, business_day, revision, state, created_at)
		VALUES ($1, $2, '2026-11-19', $4, $3, now())`, id, twp, state, unique()); err != nil {
		f.t.Fatal(err)
	}
	return id
}

// batchWithLine inserts a batch of township X holding one collection.
func (f *fixture) batchWithLine(state string) string {
	f.t.Helper()
	id, col := f.emptyBatch(true, state), f.db.NewID()
	_, err := f.db.Pool.Exec(f.t.Context(), `
		INSERT INTO collection (id, device_id, agent_id, seq, receipt_no, roster_entry_id, roster_version, name, village_code,
			township_code, kind, year, category, grade_fen, amount_fen, device_time, received_at, business_day, status, change_seq, batch_id)
		SELECT $2, d.id, d.agent_id, 1, 1, 'x', 0, '张三', $3, $4, 'medical', 2026, 'general', 0, 40000, now(), now(), '2026-11-19', $5, 0, $1
		FROM device d WHERE d.id = $6;
		`, id, col, vilA, twpX, state, f.deviceA)
	if err != nil {
		f.t.Fatal(err)
	}
	_, err = f.db.Pool.Exec(f.t.Context(), `INSERT INTO batch_line (batch_id, line_no, collection_id, village_code, township_code,
		agent_id, name, resident_id, kind, year, grade_fen, amount_fen, receipt_no, device_time, server_time)
		SELECT $1, 1, c.id, c.village_code, c.township_code, c.agent_id, c.name, '11010519491231002X', c.kind, c.year, 0, c.amount_fen, 1, '2026-11-19T02:00:00Z', '2026-11-19T02:00:00Z'
		FROM collection c WHERE c.id = $2`, id, col)
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

// flaggedCollection inserts a posted duplicate payment of township X (in
// scope) or Y.
func (f *fixture) flaggedCollection(in bool) string {
	f.t.Helper()
	dev, vil, twp := f.deviceB, vilB, twpY
	if in {
		dev, vil, twp = f.deviceA, vilA, twpX
	}
	id := f.db.NewID()
	_, err := f.db.Pool.Exec(f.t.Context(), `
		INSERT INTO collection (id, device_id, agent_id, seq, receipt_no, roster_entry_id, roster_version, name, village_code,
			township_code, kind, year, category, grade_fen, amount_fen, device_time, received_at, business_day, status, change_seq, flags)
		SELECT $1, d.id, d.agent_id, 1, 1, 'x', 0, '张三', $2, $3, 'medical', 2026, 'general', 0, 40000, now(), now(), '2026-11-19',
			'posted', 0, '{duplicate_payment}'
		FROM device d WHERE d.id = $4`, id, vil, twp, dev)
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

// refund inserts a refund in a state for a flagged payment of X or Y.
func (f *fixture) refund(in bool, state string) string {
	f.t.Helper()
	col, id := f.flaggedCollection(in), f.db.NewID()
	twp := twpY
	if in {
		twp = twpX
	}
	if _, err := f.db.Pool.Exec(f.t.Context(), `INSERT INTO refund (id, collection_id, township_code, reason, state, requested_by, requested_at)
		VALUES ($1, $2, $3, '重复缴费', $4, $5, now())`, id, col, twp, state, f.user["admin"].ID); err != nil {
		f.t.Fatal(err)
	}
	return id
}

// waitingCollection inserts a synced, unbatched collection of X or Y.
func (f *fixture) waitingCollection(in bool) {
	f.t.Helper()
	id := f.flaggedCollection(in)
	if _, err := f.db.Pool.Exec(f.t.Context(), `UPDATE collection SET status = 'synced', flags = '{}' WHERE id = $1`, id); err != nil {
		f.t.Fatal(err)
	}
}
