package webui_test

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"villagesync/agentapp/internal/agenttest"
	"villagesync/agentapp/internal/fakeserver"
	"villagesync/agentapp/internal/localstore"
	"villagesync/agentapp/internal/syncclient"
	"villagesync/agentapp/internal/webui"
	"villagesync/syncproto"
)

// ui is a seeded tablet served by the UI over a real loopback listener,
// and a browser-like client keeping its cookies.
type ui struct {
	*agenttest.Tablet
	clock *agenttest.Clock
	srv   *webui.Server
	base  string
	http  *http.Client
}

const idle = 10 * time.Minute

// newUI serves a tablet seeded with settings, receipt numbers from 1001
// and test persons 1..5 of both kinds.
func newUI(t *testing.T) *ui {
	t.Helper()
	u := newEmptyUI(t)
	var lines []syncproto.RosterLine
	for i := 1; i <= 5; i++ {
		lines = append(lines, agenttest.Line(i, syncproto.KindMedical), agenttest.Line(i, syncproto.KindPension))
	}
	u.Seed(t, agenttest.Settings(), 1001, 100, lines...)
	return u
}

// newEmptyUI serves an enrolled tablet with an empty replica; opts adjust
// the UI's configuration.
func newEmptyUI(t *testing.T, opts ...func(*webui.Config)) *ui {
	t.Helper()
	c := agenttest.NewClock(time.Date(2026, 10, 28, 1, 30, 0, 0, time.UTC))
	tab := agenttest.NewTablet(t, c.Now, "")
	hs := httptest.NewUnstartedServer(nil)
	cfg := webui.Config{Store: tab.Store, Addr: hs.Listener.Addr().String(), Now: c.Now, Idle: idle,
		SyncOptions: syncOptionsOffline}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := webui.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(hs.Close)
	t.Cleanup(srv.Lock)
	jar, _ := cookiejar.New(nil)
	return &ui{Tablet: tab, clock: c, srv: srv, base: hs.URL, http: &http.Client{Jar: jar}}
}

// page is an answer read whole.
type page struct {
	status int
	url    string
	header http.Header
	body   string
}

func (u *ui) do(t *testing.T, req *http.Request) page {
	t.Helper()
	res, err := u.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{status: res.StatusCode, url: res.Request.URL.Path, header: res.Header, body: html.UnescapeString(string(b))}
}

func (u *ui) get(t *testing.T, path string) page {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u.base+path, nil)
	return u.do(t, req)
}

func (u *ui) post(t *testing.T, path string, form url.Values) page {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return u.do(t, req)
}

var (
	csrfRE   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	nonceRE  = regexp.MustCompile(`name="nonce" value="([^"]+)"`)
	amountRE = regexp.MustCompile(`name="amount" value="([^"]+)"`)
)

func find(t *testing.T, re *regexp.Regexp, p page) string {
	t.Helper()
	m := re.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("%s: no %s in the page:\n%s", p.url, re, p.body)
	}
	return m[1]
}

// unlock unlocks with pin from the unlock page.
func (u *ui) unlock(t *testing.T, pin string) page {
	t.Helper()
	p := u.get(t, "/unlock")
	return u.post(t, "/unlock", url.Values{"csrf": {find(t, csrfRE, p)}, "pin": {pin}})
}

// mustUnlock unlocks with the right PIN and returns the home page.
func (u *ui) mustUnlock(t *testing.T) page {
	t.Helper()
	p := u.unlock(t, agenttest.PIN)
	if p.status != 200 || p.url != "/home" {
		t.Fatalf("unlock: %d at %s\n%s", p.status, p.url, p.body)
	}
	return p
}

func (u *ui) collections(t *testing.T) []localstore.Collection {
	t.Helper()
	cs, err := u.Store.Collections(t.Context(), localstore.CollectionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func mustContain(t *testing.T, p page, parts ...string) {
	t.Helper()
	for _, s := range parts {
		if !strings.Contains(p.body, s) {
			t.Fatalf("%s (%d) lacks %q:\n%s", p.url, p.status, s, p.body)
		}
	}
}

func TestUnlock(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		u := newUI(t)
		if p := u.get(t, "/home"); p.url != "/unlock" {
			t.Fatalf("a locked UI showed %s", p.url)
		}
		p := u.mustUnlock(t)
		mustContain(t, p, "张代办", "在手现金", "¥0.00", "未同步")
		if !u.srv.Unlocked() {
			t.Fatal("no session after unlock")
		}
	})
	t.Run("ErrLockout", func(t *testing.T) {
		t.Parallel()
		u := newUI(t)
		p := u.unlock(t, "111111")
		if p.status != http.StatusUnauthorized {
			t.Fatalf("wrong PIN: %d", p.status)
		}
		mustContain(t, p, "PIN 错误；再错 4 次将锁定")
		for range 3 {
			u.unlock(t, "111111")
		}
		p = u.unlock(t, "111111")
		mustContain(t, p, "错误次数过多，已锁定，请 30 秒 后再试")
		// Locked: even the right PIN is not checked, and the page says how long.
		p = u.unlock(t, agenttest.PIN)
		if p.status != http.StatusUnauthorized || u.srv.Unlocked() {
			t.Fatalf("right PIN while locked: %d, unlocked %v", p.status, u.srv.Unlocked())
		}
		mustContain(t, p, "已锁定，请 30 秒 后再试")
		u.clock.Add(31 * time.Second)
		u.mustUnlock(t)
	})
	t.Run("OKIdleLocksAgain", func(t *testing.T) {
		t.Parallel()
		u := newUI(t)
		u.mustUnlock(t)
		line := agenttest.Line(1, syncproto.KindMedical)
		confirm := u.get(t, "/collect/"+line.ID+"/confirm")
		u.clock.Add(idle - time.Second)
		if p := u.get(t, "/home"); p.url != "/home" {
			t.Fatalf("locked before the idle time: %s", p.url)
		}
		u.clock.Add(idle + time.Second)
		// A form sent after the idle lock is not executed: the agent is
		// asked for the PIN and told so.
		p := u.post(t, "/collect/"+line.ID, url.Values{"csrf": {find(t, csrfRE, confirm)},
			"nonce": {find(t, nonceRE, confirm)}, "amount": {find(t, amountRE, confirm)}, "kind": {"medical"}})
		if p.status != http.StatusUnauthorized || len(u.collections(t)) != 0 || u.srv.Unlocked() {
			t.Fatalf("post after the idle time: %d, %d collections, unlocked %v", p.status, len(u.collections(t)), u.srv.Unlocked())
		}
		mustContain(t, p, "本次提交未执行", "请输入 PIN")
		if p := u.get(t, "/home"); p.url != "/unlock" {
			t.Fatalf("idle session still open: %s", p.url)
		}
		if p := u.get(t, "/sync/status.json"); p.status != http.StatusUnauthorized || !strings.Contains(p.body, `"locked"`) {
			t.Fatalf("status while locked: %d %s", p.status, p.body)
		}
	})
	t.Run("OKLockButton", func(t *testing.T) {
		t.Parallel()
		u := newUI(t)
		home := u.mustUnlock(t)
		p := u.post(t, "/lock", url.Values{"csrf": {find(t, csrfRE, home)}})
		if p.url != "/unlock" || u.srv.Unlocked() {
			t.Fatalf("lock: at %s, unlocked %v", p.url, u.srv.Unlocked())
		}
	})
}

// collectPension walks the collect flow for the n-th test person's
// pension at grade yuan and returns the receipt page.
func (u *ui) collectPension(t *testing.T, n int, grade string) page {
	t.Helper()
	line := agenttest.Line(n, syncproto.KindPension)
	p := u.get(t, "/collect/"+line.ID)
	mustContain(t, p, "选择缴费档次", grade+" 元/年")
	confirm := u.get(t, "/collect/"+line.ID+"/confirm?grade="+grade)
	return u.post(t, "/collect/"+line.ID, url.Values{"csrf": {find(t, csrfRE, confirm)},
		"nonce": {find(t, nonceRE, confirm)}, "amount": {find(t, amountRE, confirm)}, "kind": {"pension"}, "grade": {grade}})
}

func TestCollect(t *testing.T) {
	t.Parallel()
	u := newUI(t)
	u.mustUnlock(t)
	p := u.get(t, "/search?q=ZE") // pinyin initials of 张二, any case
	mustContain(t, p, "张二", agenttest.Line(2, syncproto.KindPension).Masked, "收养老", "收医疗")
	if strings.Contains(p.body, "张三") {
		t.Fatal("search for ze found 张三")
	}
	last4 := string(agenttest.ResidentID(3))[14:]
	mustContain(t, u.get(t, "/search?q="+last4), "张三")

	line := agenttest.Line(2, syncproto.KindPension)
	// Grade 300, subsidy none: ¥300.00, 叁佰元整.
	confirm := u.get(t, "/collect/"+line.ID+"/confirm?grade=300.00")
	mustContain(t, confirm, "¥300.00", "人民币叁佰元整", "确认已收款")
	if n := len(u.collections(t)); n != 0 {
		t.Fatalf("the confirm page stored %d collections", n)
	}
	form := url.Values{"csrf": {find(t, csrfRE, confirm)}, "nonce": {find(t, nonceRE, confirm)}, "amount": {find(t, amountRE, confirm)},
		"kind": {"pension"}, "grade": {"300.00"}}
	rec := u.post(t, "/collect/"+line.ID, form)
	cs := u.collections(t)
	if len(cs) != 1 {
		t.Fatalf("%d collections stored, want 1", len(cs))
	}
	c := cs[0]
	if c.Amount != syncproto.Yuan(300) || c.Kind != syncproto.KindPension || c.RosterEntryID != line.ID {
		t.Fatalf("stored %+v", c)
	}
	if rec.url != "/receipt/"+c.ReceiptNo || c.ReceiptNo != "000000001001" {
		t.Fatalf("after collect at %s, receipt %s", rec.url, c.ReceiptNo)
	}
	mustContain(t, rec, "城乡居民社会保险费代收收据", "000000001001", "¥300.00", "人民币叁佰元整", line.Masked,
		"已收费并保存", "/static/print-a5.css", `id="print"`)

	// The same confirm sent again (a double tap, a resent form) shows the
	// first receipt and takes nothing more.
	again := u.post(t, "/collect/"+line.ID, form)
	if again.url != rec.url || len(u.collections(t)) != 1 {
		t.Fatalf("second post: at %s, %d collections", again.url, len(u.collections(t)))
	}
	// A second collection for the same line is refused in Chinese.
	confirm = u.get(t, "/collect/"+line.ID+"/confirm?grade=500.00")
	refused := u.post(t, "/collect/"+line.ID, url.Values{"csrf": {find(t, csrfRE, confirm)},
		"nonce": {find(t, nonceRE, confirm)}, "amount": {find(t, amountRE, confirm)}, "kind": {"pension"}, "grade": {"500.00"}})
	if refused.status != http.StatusUnprocessableEntity || len(u.collections(t)) != 1 {
		t.Fatalf("duplicate collect: %d, %d collections", refused.status, len(u.collections(t)))
	}
	mustContain(t, refused, "未收费，未开收据")
	// The receipt prints on a slip too, and the home banner counts the cash.
	mustContain(t, u.get(t, "/receipt/1001?size=slip"), "/static/print-slip.css", "000000001001")
	mustContain(t, u.get(t, "/home"), "¥300.00", "共 1 笔")
}

func TestVoid(t *testing.T) {
	t.Parallel()
	u := newUI(t)
	u.mustUnlock(t)
	rec := u.collectPension(t, 1, "500.00")
	no := u.collections(t)[0].ReceiptNo
	mustContain(t, rec, `id="void"`)
	form := u.get(t, "/void/"+no)
	mustContain(t, form, "作废原因")
	confirm := u.post(t, "/void/"+no+"/confirm", url.Values{"csrf": {find(t, csrfRE, form)}, "reason": {"档次选错"}})
	mustContain(t, confirm, "确认作废", "档次选错", "¥500.00")
	if u.collections(t)[0].Voided() {
		t.Fatal("the confirm page voided the receipt")
	}
	done := u.post(t, "/void/"+no, url.Values{"csrf": {find(t, csrfRE, confirm)}, "reason": {"档次选错"}})
	c := u.collections(t)[0]
	if !c.Voided() || c.VoidReason != "档次选错" {
		t.Fatalf("not voided: %+v", c)
	}
	mustContain(t, done, "已作废", "档次选错")
	// Voiding again is refused with a message.
	again := u.post(t, "/void/"+no, url.Values{"csrf": {find(t, csrfRE, done)}, "reason": {"再试"}})
	if again.status != http.StatusUnprocessableEntity {
		t.Fatalf("second void: %d", again.status)
	}
	mustContain(t, again, "未作废")
}

func TestDeposit(t *testing.T) {
	t.Parallel()
	u := newUI(t)
	u.mustUnlock(t)
	u.collectPension(t, 1, "300.00")
	form := u.get(t, "/deposit")
	mustContain(t, form, `value="300.00"`)
	p := u.post(t, "/deposit", url.Values{"csrf": {find(t, csrfRE, form)}, "nonce": {find(t, nonceRE, form)}, "amount": {"300"},
		"slip": {"NS-0042"}, "time": {"2026-10-28T10:00"}})
	mustContain(t, p, "已登记缴存：缴款单 NS-0042", "覆盖 1 笔")
	if !u.collections(t)[0].Deposited() {
		t.Fatal("the collection is not covered by the deposit")
	}
	form = u.get(t, "/deposit")
	bad := u.post(t, "/deposit", url.Values{"csrf": {find(t, csrfRE, form)}, "nonce": {find(t, nonceRE, form)},
		"amount": {"三百"}, "slip": {"NS-0043"}})
	if bad.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad amount: %d", bad.status)
	}
	mustContain(t, bad, `value="NS-0043"`) // what was typed is kept
	if ds, err := u.Store.Deposits(t.Context(), u.DeviceID); err != nil || len(ds) != 1 {
		t.Fatalf("deposits: %+v %v", ds, err)
	}
}

// A deposit form sent again (a double tap without script, a resent form)
// records no second deposit: not even of cash collected in between, which
// the first slip does not cover, and the agent is not told "not recorded".
func TestDepositResent(t *testing.T) {
	t.Parallel()
	u := newUI(t)
	u.mustUnlock(t)
	u.collectPension(t, 1, "300.00")
	form := u.get(t, "/deposit")
	values := url.Values{"csrf": {find(t, csrfRE, form)}, "nonce": {find(t, nonceRE, form)}, "amount": {"300"},
		"slip": {"NS-0042"}, "time": {"2026-10-28T10:00"}}
	if p := u.post(t, "/deposit", values); p.url != "/home" {
		t.Fatalf("deposit: %d at %s", p.status, p.url)
	}
	again := u.post(t, "/deposit", values)
	if again.status != 200 || again.url != "/home" || strings.Contains(again.body, "未登记") {
		t.Fatalf("resent deposit: %d at %s\n%s", again.status, again.url, again.body)
	}
	u.collectPension(t, 2, "500.00")
	again = u.post(t, "/deposit", values)
	ds, err := u.Store.Deposits(t.Context(), u.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || again.url != "/home" {
		t.Fatalf("resent deposit after another collection: at %s, deposits %+v", again.url, ds)
	}
	var held int
	for _, c := range u.collections(t) {
		if !c.Deposited() {
			held++
		}
	}
	if held != 1 {
		t.Fatalf("%d collections held, want the one after the deposit", held)
	}
}

// A form posted without its token, or with another session's, changes
// nothing.
func TestCSRF(t *testing.T) {
	t.Parallel()
	u := newUI(t)
	unlockTok := find(t, csrfRE, u.get(t, "/unlock")) // valid for the unlock form only
	u.mustUnlock(t)
	line := agenttest.Line(2, syncproto.KindMedical)
	confirm := u.get(t, "/collect/"+line.ID+"/confirm")
	mustContain(t, confirm, "¥400.00")
	nonce := find(t, nonceRE, confirm)
	for name, tok := range map[string][]string{"missing": nil, "wrong": {"bm90LXRoZS10b2tlbg"},
		"unlock form's": {unlockTok}} {
		p := u.post(t, "/collect/"+line.ID, url.Values{"csrf": tok, "nonce": {nonce}, "amount": {"400.00"}, "kind": {"medical"}})
		if p.status != http.StatusForbidden {
			t.Fatalf("%s token: %d", name, p.status)
		}
		mustContain(t, p, "操作未执行")
	}
	if n := len(u.collections(t)); n != 0 {
		t.Fatalf("%d collections stored by forms without a valid token", n)
	}
	// The unlock form needs its token too: a wrong PIN sent without one
	// is not even counted.
	other := &http.Client{}
	req, _ := http.NewRequest(http.MethodPost, u.base+"/unlock", strings.NewReader("pin=111111"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := other.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	st, err := u.Keystore.Status(t.Context())
	if res.StatusCode != http.StatusForbidden || err != nil || st.Failures != 0 {
		t.Fatalf("unlock without token: %d, failures %d, %v", res.StatusCode, st.Failures, err)
	}
	// With the right token the same form works.
	p := u.post(t, "/collect/"+line.ID, url.Values{"csrf": {find(t, csrfRE, confirm)}, "nonce": {nonce}, "amount": {"400.00"}, "kind": {"medical"}})
	if p.status != 200 || len(u.collections(t)) != 1 {
		t.Fatalf("with the token: %d, %d collections", p.status, len(u.collections(t)))
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	u := newUI(t)
	t.Run("OKCSP", func(t *testing.T) {
		for _, path := range []string{"/unlock", "/static/app.css", "/static/sync.js", "/nothing"} {
			p := u.get(t, path)
			if got := p.header.Get("Content-Security-Policy"); got != webui.CSP {
				t.Fatalf("%s: CSP %q", path, got)
			}
			if strings.Contains(p.body, "<script>") || strings.Contains(p.body, "<style") || strings.Contains(p.body, " style=") {
				t.Fatalf("%s has inline script or style", path)
			}
		}
		if !strings.Contains(webui.CSP, "script-src 'self';") || strings.Contains(webui.CSP, "unsafe") {
			t.Fatalf("CSP allows inline code: %s", webui.CSP)
		}
	})
	t.Run("OKCookie", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, u.base+"/unlock", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		sc := res.Header.Get("Set-Cookie")
		if !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") {
			t.Fatalf("cookie %q", sc)
		}
	})
	t.Run("ErrHost", func(t *testing.T) {
		for _, host := range []string{"evil.example", "evil.example:" + portOf(u.base), "127.0.0.1:1"} {
			req, _ := http.NewRequest(http.MethodGet, u.base+"/unlock", nil)
			req.Host = host
			p := u.do(t, req)
			if p.status != http.StatusForbidden || strings.Contains(p.body, "请输入 PIN") {
				t.Fatalf("Host %s: %d", host, p.status)
			}
			if p.header.Get("Content-Security-Policy") == "" {
				t.Fatal("refusal without CSP")
			}
		}
		req, _ := http.NewRequest(http.MethodGet, u.base+"/unlock", nil)
		req.Host = "localhost:" + portOf(u.base)
		if p := u.do(t, req); p.status != 200 {
			t.Fatalf("localhost refused: %d", p.status)
		}
	})
	t.Run("ErrNotLoopback", func(t *testing.T) {
		for _, addr := range []string{"0.0.0.0:8377", "192.168.1.5:8377", ":8377", "example.com:8377"} {
			if err := webui.CheckLoopback(addr); err == nil {
				t.Fatalf("%s accepted", addr)
			}
		}
		if err := webui.CheckLoopback("127.0.0.1:8377"); err != nil {
			t.Fatal(err)
		}
	})
}

func portOf(base string) string {
	u, _ := url.Parse(base)
	return u.Port()
}

// syncOptionsOffline give up on the first network failure.
var syncOptionsOffline = syncOptions()

// A sync with no server reachable ends with a Chinese error and loses
// nothing.
func TestSyncOffline(t *testing.T) {
	t.Parallel()
	u := newUI(t)
	u.mustUnlock(t)
	u.collectPension(t, 1, "300.00")
	mustContain(t, u.get(t, "/sync"), `src="/static/sync.js"`, "开始同步")
	st := u.syncAndWait(t)
	if st.State != "failed" || !strings.Contains(st.Message, "无法连接服务器") || !strings.Contains(st.Message, "本机记录都已保存") {
		t.Fatalf("offline sync: %+v", st)
	}
	if cs := u.collections(t); len(cs) != 1 || cs[0].State != localstore.StatePending {
		t.Fatalf("collections after the failed sync: %+v", cs)
	}
	mustContain(t, u.get(t, "/sync"), "无法连接服务器")
}

func syncOptions() syncclient.Options {
	return syncclient.Options{MaxElapsed: time.Millisecond, InitialBackoff: time.Millisecond}
}

// A write that fails inside the collect transaction (as on a full disk)
// shows a Chinese message and leaves no record, no outbox entry and no
// receipt number used; the same form then works once the fault is gone.
func TestCollectStorageFailure(t *testing.T) {
	t.Parallel()
	u := newUI(t)
	u.mustUnlock(t)
	// The store has one connection, so a temporary trigger on it fails
	// the collection's insert after the mutation's, in one transaction.
	if _, err := u.Store.DB.ExecContext(t.Context(), `CREATE TEMP TRIGGER disk_full BEFORE INSERT ON collection
		BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`); err != nil {
		t.Fatal(err)
	}
	line := agenttest.Line(3, syncproto.KindMedical)
	confirm := u.get(t, "/collect/"+line.ID+"/confirm")
	form := url.Values{"csrf": {find(t, csrfRE, confirm)}, "nonce": {find(t, nonceRE, confirm)}, "amount": {find(t, amountRE, confirm)}, "kind": {"medical"}}
	p := u.post(t, "/collect/"+line.ID, form)
	if p.status != http.StatusInternalServerError {
		t.Fatalf("failed write: %d", p.status)
	}
	mustContain(t, p, "未收费，未开收据", "本机存储出错，操作未完成；此前保存的记录不受影响")
	oc, err := u.Store.OutboxCounts(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	left, err := u.Store.ReceiptsLeft(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(u.collections(t)); n != 0 || oc.Pending != 0 || left != 100 {
		t.Fatalf("after the failed write: %d collections, %d pending, %d receipts left", n, oc.Pending, left)
	}
	if _, err := u.Store.DB.ExecContext(t.Context(), `DROP TRIGGER temp.disk_full`); err != nil {
		t.Fatal(err)
	}
	p = u.post(t, "/collect/"+line.ID, form)
	if cs := u.collections(t); p.status != 200 || len(cs) != 1 || cs[0].ReceiptNo != "000000001001" {
		t.Fatalf("retry: %d, %+v", p.status, cs)
	}
}

// A sync from the UI brings the roster, settings and notices from the
// server and pushes what was collected; the pages then show them.
func TestSyncOK(t *testing.T) {
	t.Parallel()
	u := newEmptyUI(t)
	srv := fakeserver.New(t, u.DeviceID, u.Public, u.Refresh)
	en, err := u.Store.Enrollment(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	en.ServerURL = srv.URL
	if err := u.Store.SaveEnrollment(t.Context(), en); err != nil {
		t.Fatal(err)
	}
	srv.Upsert(syncproto.EntitySettings, "settings", "", agenttest.Settings())
	srv.Upsert(syncproto.EntityReceiptRange, "RR1", "", syncproto.ReceiptRange{ID: "RR1", First: 7001, Last: 9000})
	l := agenttest.Line(7, syncproto.KindMedical)
	srv.Upsert(syncproto.EntityRosterEntry, l.ID, "v:"+agenttest.Village, l)
	srv.Upsert(syncproto.EntityNotice, "N1", "", syncproto.Notice{ID: "N1", Code: "duplicate_payment",
		Message: "paid twice", MessageZH: "此人本年度已在别处缴费，请核对", At: u.clock.Now()})

	home := u.mustUnlock(t)
	mustContain(t, home, "本机尚未从服务器获取清册和设置", "通知（0）")
	mustContain(t, u.get(t, "/search?q=张七"), "未找到")
	if st := u.syncAndWait(t); st.State != "done" || !strings.Contains(st.Message, "一致") {
		t.Fatalf("sync: %+v", st)
	}
	mustContain(t, u.get(t, "/search?q=张七"), "张七", "收医疗保险 2026 ¥400.00")
	home = u.get(t, "/home")
	mustContain(t, home, "通知（1）", "此人本年度已在别处缴费，请核对")
	if strings.Contains(home.body, "本机尚未从服务器获取清册和设置") || strings.Contains(home.body, ">从未<") {
		t.Fatalf("home after the sync still says it never synced:\n%s", home.body)
	}

	confirm := u.get(t, "/collect/"+l.ID+"/confirm")
	u.post(t, "/collect/"+l.ID, url.Values{"csrf": {find(t, csrfRE, confirm)}, "nonce": {find(t, nonceRE, confirm)}, "amount": {find(t, amountRE, confirm)},
		"kind": {"medical"}})
	if st := u.syncAndWait(t); st.State != "done" || !strings.Contains(st.Message, "上传 1 条（服务器已确认 1") {
		t.Fatalf("second sync: %+v", st)
	}
	if ms := srv.Mutations(); len(ms) != 1 || ms[0].Kind != syncproto.MutationCollection {
		t.Fatalf("the server holds %+v", ms)
	}
}

type syncState struct {
	State   string `json:"state"`
	Run     int    `json:"run"`
	Message string `json:"message_zh"`
}

// syncAndWait starts a sync from the sync page and polls its status until
// it ends.
func (u *ui) syncAndWait(t *testing.T) syncState {
	t.Helper()
	page := u.get(t, "/sync")
	u.post(t, "/sync", url.Values{"csrf": {find(t, csrfRE, page)}})
	var st syncState
	deadline := time.Now().Add(time.Minute)
	for st.State == "" || st.State == "running" {
		if time.Now().After(deadline) {
			t.Fatal("the sync did not end")
		}
		time.Sleep(10 * time.Millisecond)
		p := u.get(t, "/sync/status.json")
		if err := json.Unmarshal([]byte(p.body), &st); err != nil {
			t.Fatalf("status: %v %s", err, p.body)
		}
	}
	return st
}

// lockOnRefresh locks the UI (as the lock button does) as soon as the
// server has answered the sync's first token refresh.
type lockOnRefresh struct {
	srv  *webui.Server
	once sync.Once
}

func (l *lockOnRefresh) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && strings.HasSuffix(r.URL.Path, "/auth/refresh") {
		l.once.Do(l.srv.Lock)
	}
	return res, err
}

// Locking the tablet while a sync runs must not lose the refresh token the
// server has just rotated: the spent one would revoke the device at the
// next sync. The sync goes on with its key and the new token is sealed.
func TestSyncLockedWhileRunning(t *testing.T) {
	t.Parallel()
	rt := &lockOnRefresh{}
	u := newEmptyUI(t, func(c *webui.Config) { c.HTTPClient = &http.Client{Transport: rt} })
	rt.srv = u.srv
	srv := fakeserver.New(t, u.DeviceID, u.Public, u.Refresh)
	en, err := u.Store.Enrollment(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	en.ServerURL = srv.URL
	if err := u.Store.SaveEnrollment(t.Context(), en); err != nil {
		t.Fatal(err)
	}
	srv.Upsert(syncproto.EntitySettings, "settings", "", agenttest.Settings())

	page := u.get(t, "/sync")
	if page.url != "/unlock" {
		t.Fatalf("sync page while locked: %s", page.url)
	}
	u.mustUnlock(t)
	page = u.get(t, "/sync")
	u.post(t, "/sync", url.Values{"csrf": {find(t, csrfRE, page)}})
	deadline := time.Now().Add(time.Minute)
	for u.srv.Unlocked() {
		if time.Now().After(deadline) {
			t.Fatal("the refresh did not lock the UI")
		}
		time.Sleep(5 * time.Millisecond)
	}
	u.mustUnlock(t) // to read the sync's outcome
	var st syncState
	for st.State == "" || st.State == "running" {
		if time.Now().After(deadline) {
			t.Fatal("the sync did not end")
		}
		time.Sleep(10 * time.Millisecond)
		if err := json.Unmarshal([]byte(u.get(t, "/sync/status.json").body), &st); err != nil {
			t.Fatal(err)
		}
	}
	if st.State != "done" {
		t.Fatalf("sync locked while running: %+v", st)
	}
	un, err := u.Keystore.Unlock(t.Context(), agenttest.PIN)
	if err != nil {
		t.Fatal(err)
	}
	defer un.Lock()
	if got, want := un.Secrets().Refresh, srv.RefreshToken(); got != want || got == u.Refresh {
		t.Fatalf("sealed refresh token %q, the server's is %q (first %q)", got, want, u.Refresh)
	}
}

// A roster line changed (by a sync) after its confirm page was shown is
// not collected at the new amount the agent never confirmed: the agent is
// told the new amount and nothing is stored.
func TestCollectRosterChangedSinceConfirm(t *testing.T) {
	t.Parallel()
	u := newUI(t)
	u.mustUnlock(t)
	line := agenttest.Line(4, syncproto.KindPension)
	confirm := u.get(t, "/collect/"+line.ID+"/confirm?grade=300.00")
	mustContain(t, confirm, "确认已收款 ¥300.00")
	// A sync brings a ¥100 subsidy for the person: grade 300 now costs 200.
	line.Subsidy, line.Category = syncproto.Yuan(100), syncproto.CategoryDibao
	if err := u.Store.ApplyPage(t.Context(), []syncproto.Change{agenttest.Change(t, syncproto.EntityRosterEntry, line.ID,
		"v:"+agenttest.Village, 100, line)}, "later"); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"csrf": {find(t, csrfRE, confirm)}, "nonce": {find(t, nonceRE, confirm)},
		"amount": {find(t, amountRE, confirm)}, "kind": {"pension"}, "grade": {"300.00"}}
	p := u.post(t, "/collect/"+line.ID, form)
	if p.status != http.StatusConflict || len(u.collections(t)) != 0 {
		t.Fatalf("collect after the roster changed: %d, %+v", p.status, u.collections(t))
	}
	mustContain(t, p, "未收费，未开收据", "¥300.00", "¥200.00")
	// Confirmed again at the new amount, it is collected.
	confirm = u.get(t, "/collect/"+line.ID+"/confirm?grade=300.00")
	mustContain(t, confirm, "确认已收款 ¥200.00")
	p = u.post(t, "/collect/"+line.ID, url.Values{"csrf": {find(t, csrfRE, confirm)}, "nonce": {find(t, nonceRE, confirm)},
		"amount": {find(t, amountRE, confirm)}, "kind": {"pension"}, "grade": {"300.00"}})
	if cs := u.collections(t); p.status != 200 || len(cs) != 1 || cs[0].Amount != syncproto.Yuan(200) {
		t.Fatalf("collect at the new amount: %d, %+v", p.status, cs)
	}
	// A form without the amount confirmed takes nothing.
	p = u.post(t, "/collect/"+agenttest.Line(5, syncproto.KindMedical).ID, url.Values{"csrf": {find(t, csrfRE, confirm)},
		"nonce": {"n-5"}, "kind": {"medical"}})
	if p.status != http.StatusBadRequest || len(u.collections(t)) != 1 {
		t.Fatalf("collect without amount: %d, %d collections", p.status, len(u.collections(t)))
	}
}

// The same confirm sent several times at once (taps while the first is
// on its way, a browser resending the form) takes the cash once and each
// answer shows that one receipt, never "not collected".
func TestCollectConcurrentResend(t *testing.T) {
	t.Parallel()
	u := newUI(t)
	u.mustUnlock(t)
	line := agenttest.Line(3, syncproto.KindMedical)
	confirm := u.get(t, "/collect/"+line.ID+"/confirm")
	form := url.Values{"csrf": {find(t, csrfRE, confirm)}, "nonce": {find(t, nonceRE, confirm)},
		"amount": {find(t, amountRE, confirm)}, "kind": {"medical"}}
	const n = 6
	pages := make([]page, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, u.base+"/collect/"+line.ID, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			res, err := u.http.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			pages[i] = page{status: res.StatusCode, url: res.Request.URL.Path, body: html.UnescapeString(string(b))}
		}()
	}
	wg.Wait()
	cs := u.collections(t)
	if len(cs) != 1 {
		t.Fatalf("%d collections stored, want 1", len(cs))
	}
	for _, p := range pages {
		if p.status != 200 || p.url != "/receipt/"+cs[0].ReceiptNo {
			t.Fatalf("an answer to the resent confirm: %d at %s\n%s", p.status, p.url, p.body)
		}
	}
}

// refreshHook runs before on the first refresh request and keeps the
// refresh tokens the syncs present.
type refreshHook struct {
	before    func()
	once      sync.Once
	mu        sync.Mutex
	presented []string
}

func (h *refreshHook) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/auth/refresh") {
		h.once.Do(h.before)
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		var in struct {
			RefreshToken string `json:"refresh_token"`
		}
		_ = json.Unmarshal(b, &in)
		h.mu.Lock()
		h.presented = append(h.presented, in.RefreshToken)
		h.mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(b)))
	}
	return http.DefaultTransport.RoundTrip(r)
}

// Locked and unlocked again while a sync's refresh is on its way (two
// tabs, or lock and unlock in a hurry), the new session must hold the
// refresh token that sync rotates, not the one the keystore held at the
// unlock: presented again later, the spent token revokes the device.
func TestSyncUnlockedAgainWhileRunning(t *testing.T) {
	t.Parallel()
	h := &refreshHook{}
	u := newEmptyUI(t, func(c *webui.Config) { c.HTTPClient = &http.Client{Transport: h} })
	h.before = func() {
		u.srv.Lock()
		p := u.get(t, "/unlock")
		u.post(t, "/unlock", url.Values{"csrf": {find(t, csrfRE, p)}, "pin": {agenttest.PIN}})
		if !u.srv.Unlocked() {
			t.Error("no session after the unlock during the sync")
		}
	}
	srv := fakeserver.New(t, u.DeviceID, u.Public, u.Refresh)
	en, err := u.Store.Enrollment(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	en.ServerURL = srv.URL
	if err := u.Store.SaveEnrollment(t.Context(), en); err != nil {
		t.Fatal(err)
	}
	srv.Upsert(syncproto.EntitySettings, "settings", "", agenttest.Settings())
	u.mustUnlock(t)
	page := u.get(t, "/sync")
	u.post(t, "/sync", url.Values{"csrf": {find(t, csrfRE, page)}})
	var st syncState
	deadline := time.Now().Add(time.Minute)
	for st.State != "done" && st.State != "failed" { // "locked" while the hook unlocks again
		if time.Now().After(deadline) {
			t.Fatalf("the first sync did not end: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
		if err := json.Unmarshal([]byte(u.get(t, "/sync/status.json").body), &st); err != nil {
			t.Fatal(err)
		}
	}
	if st.State != "done" {
		t.Fatalf("first sync: %+v", st)
	}
	rotated := srv.RefreshToken()
	if st := u.syncAndWait(t); st.State != "done" {
		t.Fatalf("second sync: %+v", st)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.presented) != 2 || h.presented[0] != u.Refresh || h.presented[1] != rotated {
		t.Fatalf("refresh tokens presented %q, want %q then %q", h.presented, u.Refresh, rotated)
	}
}

// A person searched by full resident ID is found, and the ID goes into no
// URL (the browser keeps URLs in its history on the tablet's disk) nor
// into the browser's form autofill.
func TestSearchFullIDNotInURL(t *testing.T) {
	t.Parallel()
	u := newUI(t)
	u.mustUnlock(t)
	form := u.get(t, "/search")
	mustContain(t, form, `<form method="post" action="/search"`, `autocomplete="off"`)
	id := string(agenttest.ResidentID(3))
	req, _ := http.NewRequest(http.MethodPost, u.base+"/search",
		strings.NewReader(url.Values{"csrf": {find(t, csrfRE, form)}, "q": {id}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := u.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), "张三") || !strings.Contains(string(b), "收医疗") {
		t.Fatalf("search by full ID: %d\n%s", res.StatusCode, b)
	}
	if strings.Contains(res.Request.URL.String(), id[:14]) {
		t.Fatalf("the resident ID is in the URL %s", res.Request.URL)
	}
	// A search kept by the session is the agent's own: it shows again
	// (back from a person), and a form without the token finds nothing.
	mustContain(t, u.get(t, "/search?last=1"), "张三")
	if p := u.post(t, "/search", url.Values{"q": {id}}); p.status != http.StatusForbidden {
		t.Fatalf("search without token: %d", p.status)
	}
}

// Names are shown escaped and whole (rare characters outside the BMP
// included) on the search, confirm, receipt and receipts pages. The other
// tests read pages unescaped, so none of them would notice.
func TestNameEscaped(t *testing.T) {
	t.Parallel()
	u := newEmptyUI(t)
	l := agenttest.Line(6, syncproto.KindMedical)
	l.Name = `𠀀<img src=x onerror=alert(1)>"&`
	u.Seed(t, agenttest.Settings(), 1001, 100, l)
	u.mustUnlock(t)
	raw := func(path string) string {
		t.Helper()
		res, err := u.http.Get(u.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	confirm := u.get(t, "/collect/"+l.ID+"/confirm")
	u.post(t, "/collect/"+l.ID, url.Values{"csrf": {find(t, csrfRE, confirm)}, "nonce": {find(t, nonceRE, confirm)},
		"amount": {find(t, amountRE, confirm)}, "kind": {"medical"}})
	for _, path := range []string{"/search?q=" + url.QueryEscape("𠀀"), "/collect/" + l.ID + "/confirm", "/receipt/1001", "/receipts"} {
		b := raw(path)
		if strings.Contains(b, "<img") || !strings.Contains(b, "𠀀&lt;img src=x onerror=alert(1)&gt;&#34;&amp;") {
			t.Fatalf("%s shows the name unescaped or cut:\n%s", path, b)
		}
	}
}
