package webui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"villagesync/agentapp/internal/collect"
	"villagesync/agentapp/internal/localstore"
	"villagesync/agentapp/internal/receipt"
	"villagesync/syncproto"
)

func (s *Server) routes() {
	m := http.NewServeMux()
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(staticFiles())))
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if s.current(r) == nil {
			http.Redirect(w, r, "/unlock", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, "/home", http.StatusSeeOther)
	})
	m.HandleFunc("GET /unlock", func(w http.ResponseWriter, r *http.Request) {
		if s.current(r) != nil {
			http.Redirect(w, r, "/home", http.StatusSeeOther)
			return
		}
		s.renderUnlock(w, r, http.StatusOK, "")
	})
	m.HandleFunc("POST /unlock", s.unlock)
	m.HandleFunc("POST /lock", s.auth(s.lock))
	m.HandleFunc("GET /home", s.auth(s.home))
	m.HandleFunc("GET /search", s.auth(s.search))
	m.HandleFunc("POST /search", s.auth(s.search))
	m.HandleFunc("GET /collect/{line}", s.auth(s.chooseGrade))
	m.HandleFunc("GET /collect/{line}/confirm", s.auth(s.confirm))
	m.HandleFunc("POST /collect/{line}", s.auth(s.doCollect))
	m.HandleFunc("GET /receipts", s.auth(s.receipts))
	m.HandleFunc("GET /receipt/{no}", s.auth(s.receipt))
	m.HandleFunc("GET /void/{no}", s.auth(s.voidForm))
	m.HandleFunc("POST /void/{no}/confirm", s.auth(s.voidConfirm))
	m.HandleFunc("POST /void/{no}", s.auth(s.doVoid))
	m.HandleFunc("GET /deposit", s.auth(s.depositForm))
	m.HandleFunc("POST /deposit", s.auth(s.doDeposit))
	m.HandleFunc("GET /sync", s.auth(s.syncPage))
	m.HandleFunc("POST /sync", s.auth(s.startSync))
	m.HandleFunc("GET /sync/status.json", s.auth(s.syncStatusJSON))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, s.current(r), http.StatusNotFound, "没有这个页面")
	})
	s.mux = m
}

// unlockView is the unlock page.
type unlockView struct {
	Enrolled bool
	Device   string
	Agent    string
	Failures int
	Locked   string // the wait, when locked by wrong PINs
}

func (s *Server) renderUnlock(w http.ResponseWriter, r *http.Request, status int, msg string) {
	v := unlockView{}
	st, err := s.ks.Status(r.Context())
	if err != nil {
		msg = errMessage(err)
	}
	v.Enrolled, v.Device, v.Failures = st.Initialised, st.DeviceID, st.Failures
	if en, err := s.store.Enrollment(r.Context()); err == nil {
		v.Agent = agentName(en)
	} else if !errors.Is(err, localstore.ErrNotFound) {
		msg = errMessage(err)
	}
	if !st.LockedUntil.IsZero() {
		v.Locked = formatWait(st.LockedUntil.Sub(s.now()))
	}
	if !v.Enrolled && msg == "" {
		msg = "本终端尚未登记：请先在命令行执行 agentapp enroll --server 地址 --code 登记码"
	}
	tok := s.csrfFor("pre:" + preBinding(w, r))
	s.render(w, r, nil, status, "unlock", "解锁", v, withCSRF(tok), withError(msg))
}

func (s *Server) unlock(w http.ResponseWriter, r *http.Request) {
	u, err := s.ks.Unlock(r.Context(), strings.TrimSpace(r.PostForm.Get("pin")))
	if err != nil {
		s.renderUnlock(w, r, http.StatusUnauthorized, errMessage(err))
		return
	}
	s.start(w, u)
	http.Redirect(w, r, "/home", http.StatusSeeOther)
}

func (s *Server) lock(w http.ResponseWriter, r *http.Request, _ *session) {
	s.Lock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/unlock", http.StatusSeeOther)
}

// formatWait writes a wait in Chinese, rounded up to the second.
func formatWait(d time.Duration) string {
	sec := int64((d + time.Second - 1) / time.Second)
	h, m, sc := sec/3600, sec/60%60, sec%60
	switch {
	case h > 0:
		return fmt.Sprintf("%d 小时 %d 分", h, m)
	case m > 0:
		return fmt.Sprintf("%d 分 %d 秒", m, sc)
	}
	return fmt.Sprintf("%d 秒", sc)
}

func agentName(en localstore.Enrollment) string {
	if en.DisplayName != "" {
		return en.DisplayName
	}
	return en.AgentName
}

// banner is the status every page shows at its top.
type banner struct {
	Agent        string
	DeviceID     string
	Villages     string
	Limits       collect.Limits
	Pending      int
	Parked       int
	ReceiptsLeft int64
	LastSync     time.Time
	SyncError    string
	Revoked      bool
	NoSettings   bool
	Warnings     []string
	Notices      []localstore.Notice
	LastDeposit  *localstore.Deposit
}

func (s *Server) banner(ctx context.Context) (banner, error) {
	var b banner
	en, err := s.store.Enrollment(ctx)
	if err != nil {
		return b, err
	}
	b.Agent, b.DeviceID, b.Villages = agentName(en), en.DeviceID, strings.Join(en.Villages, "、")
	if b.Limits, err = s.collect.Limits(ctx); err != nil {
		return b, err
	}
	oc, err := s.store.OutboxCounts(ctx, en.DeviceID)
	if err != nil {
		return b, err
	}
	b.Pending, b.Parked = oc.Pending, oc.Parked
	if b.ReceiptsLeft, err = s.store.ReceiptsLeft(ctx); err != nil {
		return b, err
	}
	st, err := s.store.SyncState(ctx)
	if err != nil {
		return b, err
	}
	b.LastSync, b.Revoked = st.LastSync, st.Revoked
	if st.ErrorCode != "" {
		b.SyncError = st.ErrorZH
		if b.SyncError == "" {
			b.SyncError = st.Error
		}
	}
	if _, err := s.store.Settings(ctx); errors.Is(err, localstore.ErrNotFound) {
		b.NoSettings = true
		b.Warnings = append(b.Warnings, "本机尚未从服务器获取清册和设置：请联网后点“同步”")
	} else if err != nil {
		return b, err
	}
	if b.Revoked {
		b.Warnings = append(b.Warnings, "此终端已被镇街停用：不能再收费和同步，请联系镇街导出未同步记录")
	}
	for _, w := range b.Limits.Warnings() {
		b.Warnings = append(b.Warnings, w.MessageZH)
	}
	if !b.NoSettings && b.ReceiptsLeft < collect.LowReceipts {
		b.Warnings = append(b.Warnings, fmt.Sprintf("收据号码只剩 %d 个：请尽快同步以领取新号段", b.ReceiptsLeft))
	}
	if b.Parked > 0 {
		b.Warnings = append(b.Warnings, fmt.Sprintf("有 %d 条记录被服务器拒收，请联系镇街核对", b.Parked))
	}
	if b.Notices, err = s.store.Notices(ctx); err != nil {
		return b, err
	}
	ds, err := s.store.Deposits(ctx, en.DeviceID)
	if err != nil {
		return b, err
	}
	if len(ds) > 0 {
		b.LastDeposit = &ds[0]
	}
	return b, nil
}

func (s *Server) home(w http.ResponseWriter, r *http.Request, sess *session) {
	s.render(w, r, sess, http.StatusOK, "home", "首页", nil)
}

// person is a search hit: one resident with their roster lines.
type person struct {
	Name   string
	Masked string
	Lines  []localstore.RosterLine
}

type searchView struct {
	Query   string
	Note    string
	Done    bool
	Persons []person
}

// search finds persons on the roster. The form is posted and its query
// kept in the session, then shown by GET /search?last=1: a full resident
// ID typed in must not go into a URL, which the browser keeps in its
// history on the tablet's disk.
func (s *Server) search(w http.ResponseWriter, r *http.Request, sess *session) {
	if r.Method == http.MethodPost {
		s.mu.Lock()
		sess.query = r.PostForm.Get("q")
		s.mu.Unlock()
		http.Redirect(w, r, "/search?last=1", http.StatusSeeOther)
		return
	}
	v := searchView{Query: r.URL.Query().Get("q")}
	_, ok := r.URL.Query()["q"]
	if r.URL.Query().Get("last") == "1" {
		s.mu.Lock()
		v.Query, ok = sess.query, true
		s.mu.Unlock()
	}
	if !ok {
		s.render(w, r, sess, http.StatusOK, "search", "查找缴费人", v)
		return
	}
	rq, note, err := s.collect.RosterQuery(r.Context(), v.Query)
	if err != nil {
		s.render(w, r, sess, statusOf(err), "search", "查找缴费人", v, withError(errMessage(err)))
		return
	}
	v.Note, v.Done = note, true
	rq.Limit = 60
	lines, err := s.store.SearchRoster(r.Context(), rq)
	if err != nil {
		s.render(w, r, sess, statusOf(err), "search", "查找缴费人", v, withError(errMessage(err)))
		return
	}
	idx := map[string]int{}
	for _, l := range lines {
		i, ok := idx[l.IDHash]
		if !ok {
			i = len(v.Persons)
			idx[l.IDHash] = i
			v.Persons = append(v.Persons, person{Name: l.Name, Masked: l.Masked})
		}
		v.Persons[i].Lines = append(v.Persons[i].Lines, l)
	}
	s.render(w, r, sess, http.StatusOK, "search", "查找缴费人", v)
}

// line reads the roster line of the path, answering the page itself when
// there is none.
func (s *Server) line(w http.ResponseWriter, r *http.Request, sess *session) (localstore.RosterLine, bool) {
	l, err := s.store.RosterLine(r.Context(), r.PathValue("line"))
	if errors.Is(err, localstore.ErrNotFound) {
		s.fail(w, r, sess, http.StatusNotFound, "本机清册中没有这一行（请重新查找，或同步获取最新清册）")
		return l, false
	}
	if err != nil {
		s.fail(w, r, sess, http.StatusInternalServerError, errMessage(err))
		return l, false
	}
	return l, true
}

type gradeView struct {
	Line   localstore.RosterLine
	Grades []gradeChoice
}

type gradeChoice struct {
	Grade  syncproto.Money
	Amount syncproto.Money
	Href   string
}

func confirmHref(lineID string, grade syncproto.Money) string {
	u := "/collect/" + url.PathEscape(lineID) + "/confirm"
	if grade > 0 {
		u += "?grade=" + url.QueryEscape(grade.String())
	}
	return u
}

// chooseGrade is the step after choosing a person's line: a pension line
// needs the grade the person chose; a medical line goes on to confirm.
func (s *Server) chooseGrade(w http.ResponseWriter, r *http.Request, sess *session) {
	l, ok := s.line(w, r, sess)
	if !ok {
		return
	}
	if _, err := collect.Amount(l, 0); err != nil && syncproto.ErrorCode(err) != collect.CodeGradeRequired {
		s.fail(w, r, sess, statusOf(err), errMessage(err))
		return
	}
	if l.Kind != syncproto.KindPension {
		http.Redirect(w, r, confirmHref(l.ID, 0), http.StatusSeeOther)
		return
	}
	v := gradeView{Line: l}
	for _, g := range l.Grades {
		v.Grades = append(v.Grades, gradeChoice{Grade: g, Amount: g - l.Subsidy, Href: confirmHref(l.ID, g)})
	}
	if len(v.Grades) == 0 {
		s.fail(w, r, sess, http.StatusUnprocessableEntity, "清册中没有此人可选的缴费档次：请同步后再试")
		return
	}
	s.render(w, r, sess, http.StatusOK, "grade", "选择缴费档次", v)
}

type confirmView struct {
	Line   localstore.RosterLine
	Grade  syncproto.Money
	Amount syncproto.Money
	Nonce  string
}

// gradeOf reads the grade of a query or form; "" is zero.
func gradeOf(s string) (syncproto.Money, error) {
	if s == "" {
		return 0, nil
	}
	return syncproto.ParseMoney(s)
}

func (s *Server) confirm(w http.ResponseWriter, r *http.Request, sess *session) {
	l, ok := s.line(w, r, sess)
	if !ok {
		return
	}
	g, err := gradeOf(r.URL.Query().Get("grade"))
	if err != nil {
		s.fail(w, r, sess, http.StatusBadRequest, errMessage(err))
		return
	}
	amount, err := collect.Amount(l, g)
	if err != nil {
		s.fail(w, r, sess, statusOf(err), errMessage(err))
		return
	}
	v := confirmView{Line: l, Grade: g, Amount: amount, Nonce: randomToken()}
	s.render(w, r, sess, http.StatusOK, "confirm", "确认收费", v)
}

// doCollect stores the collection and shows its receipt. The confirm
// page's nonce makes a second tap (or a resent form) show the receipt of
// the first instead of taking the cash twice.
func (s *Server) doCollect(w http.ResponseWriter, r *http.Request, sess *session) {
	nonce := r.PostForm.Get("nonce")
	s.collectMu.Lock()
	defer s.collectMu.Unlock()
	s.mu.Lock()
	no, dup := sess.done[nonce]
	s.mu.Unlock()
	if nonce == "" {
		s.fail(w, r, sess, http.StatusBadRequest, "缺少确认信息，未收费：请从查找页面重新开始")
		return
	}
	if dup {
		http.Redirect(w, r, "/receipt/"+url.PathEscape(no), http.StatusSeeOther)
		return
	}
	g, err := gradeOf(r.PostForm.Get("grade"))
	if err != nil {
		s.fail(w, r, sess, http.StatusBadRequest, errMessage(err))
		return
	}
	lineID := r.PathValue("line")
	kind := syncproto.Kind(r.PostForm.Get("kind"))
	// The cash taken is the amount the confirm page showed: a roster line
	// changed since (by a sync) would record another amount than the one
	// the agent confirmed, so the agent confirms again.
	shown, err := syncproto.ParseMoney(r.PostForm.Get("amount"))
	if err != nil {
		s.fail(w, r, sess, http.StatusBadRequest, "缺少确认金额，未收费：请从查找页面重新开始")
		return
	}
	if l, ok := s.line(w, r, sess); !ok {
		return
	} else if due, err := collect.Amount(l, g); err == nil && due != shown {
		s.fail(w, r, sess, http.StatusConflict, fmt.Sprintf("清册已更新，应收金额由 ¥%s 变为 ¥%s：未收费，未开收据。请重新查找此人并确认金额。", shown, due))
		return
	}
	res, err := s.collect.Collect(r.Context(), sess.unlocked, collect.Request{RosterLineID: lineID, Kind: kind, Grade: g})
	if err != nil {
		if statusOf(err) == http.StatusInternalServerError {
			s.log.Error("collect", "err", err)
		}
		s.fail(w, r, sess, statusOf(err), "未收费，未开收据："+errMessage(err))
		return
	}
	c := res.Collection
	s.mu.Lock()
	sess.done[nonce] = c.ReceiptNo
	s.mu.Unlock()
	s.addFlash(sess, fmt.Sprintf("已收费并保存：%s %s ¥%s，收据号码 %s", c.Name, c.Kind.ShortLabel(), c.Amount, c.ReceiptNo))
	for _, wn := range res.Warnings {
		s.addFlash(sess, "注意："+wn.MessageZH)
	}
	http.Redirect(w, r, "/receipt/"+url.PathEscape(c.ReceiptNo), http.StatusSeeOther)
}

type receiptView struct {
	C       localstore.Collection
	R       receipt.Receipt
	Fields  []receipt.Field
	Slip    bool
	CanVoid bool
}

// collection reads the collection of the path's receipt number.
func (s *Server) collection(w http.ResponseWriter, r *http.Request, sess *session) (localstore.Collection, bool) {
	no := strings.TrimSpace(r.PathValue("no"))
	if n, err := strconv.ParseInt(no, 10, 64); err == nil && n > 0 && len(no) <= 12 {
		no = syncproto.FormatReceipt(n)
	}
	c, err := s.store.CollectionByReceipt(r.Context(), no)
	if errors.Is(err, localstore.ErrNotFound) {
		s.fail(w, r, sess, http.StatusNotFound, "本机没有开出收据 "+no)
		return c, false
	}
	if err != nil {
		s.fail(w, r, sess, http.StatusInternalServerError, errMessage(err))
		return c, false
	}
	return c, true
}

func (s *Server) receipt(w http.ResponseWriter, r *http.Request, sess *session) {
	c, ok := s.collection(w, r, sess)
	if !ok {
		return
	}
	en, err := s.store.Enrollment(r.Context())
	if err != nil {
		s.fail(w, r, sess, http.StatusInternalServerError, errMessage(err))
		return
	}
	rc := receipt.FromCollection(c, agentName(en))
	v := receiptView{C: c, R: rc, Fields: rc.Fields(), Slip: r.URL.Query().Get("size") == "slip",
		CanVoid: !c.Voided() && !c.Deposited()}
	css := "/static/print-a5.css"
	if v.Slip {
		css = "/static/print-slip.css"
	}
	s.render(w, r, sess, http.StatusOK, "receipt", "收据 "+c.ReceiptNo, v, withCSS(css))
}

func (s *Server) receipts(w http.ResponseWriter, r *http.Request, sess *session) {
	all := r.URL.Query().Get("all") == "1"
	list, err := s.store.Collections(r.Context(), localstore.CollectionFilter{Undeposited: !all, Limit: 200})
	if err != nil {
		s.fail(w, r, sess, http.StatusInternalServerError, errMessage(err))
		return
	}
	s.render(w, r, sess, http.StatusOK, "receipts", "收据", struct {
		All  bool
		List []localstore.Collection
	}{all, list})
}

type voidView struct {
	C      localstore.Collection
	Reason string
}

func (s *Server) voidForm(w http.ResponseWriter, r *http.Request, sess *session) {
	c, ok := s.collection(w, r, sess)
	if !ok {
		return
	}
	s.render(w, r, sess, http.StatusOK, "void", "作废收据", voidView{C: c})
}

func (s *Server) voidConfirm(w http.ResponseWriter, r *http.Request, sess *session) {
	c, ok := s.collection(w, r, sess)
	if !ok {
		return
	}
	v := voidView{C: c, Reason: strings.TrimSpace(r.PostForm.Get("reason"))}
	if v.Reason == "" {
		s.render(w, r, sess, http.StatusUnprocessableEntity, "void", "作废收据", v, withError("请填写作废原因"))
		return
	}
	s.render(w, r, sess, http.StatusOK, "voidconfirm", "确认作废", v)
}

func (s *Server) doVoid(w http.ResponseWriter, r *http.Request, sess *session) {
	c, ok := s.collection(w, r, sess)
	if !ok {
		return
	}
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	v, err := s.collect.Void(r.Context(), sess.unlocked, c.ReceiptNo, reason)
	if err != nil {
		s.render(w, r, sess, statusOf(err), "void", "作废收据", voidView{C: c, Reason: reason},
			withError("未作废："+errMessage(err)))
		return
	}
	s.addFlash(sess, fmt.Sprintf("收据 %s 已作废（%s ¥%s），原因：%s。该号码不会再使用。", v.ReceiptNo, v.Name, v.Amount, v.VoidReason))
	http.Redirect(w, r, "/receipt/"+url.PathEscape(v.ReceiptNo), http.StatusSeeOther)
}

type depositView struct {
	Amount string
	Slip   string
	Time   string
	Nonce  string
	Done   *localstore.Deposit
}

// depositLayout is how the deposit time is typed, in Asia/Shanghai.
const depositLayout = "2006-01-02T15:04"

func (s *Server) depositForm(w http.ResponseWriter, r *http.Request, sess *session) {
	v := depositView{Time: s.now().In(shanghai()).Format(depositLayout), Nonce: randomToken()}
	if l, err := s.collect.Limits(r.Context()); err == nil && l.Cash > 0 {
		v.Amount = l.Cash.String()
	}
	s.render(w, r, sess, http.StatusOK, "deposit", "登记缴存", v)
}

// doDeposit records the deposit. The form's nonce makes a form sent
// again (a double tap, a resent form) go home, where the deposit shows,
// instead of recording a second deposit of what was collected since.
func (s *Server) doDeposit(w http.ResponseWriter, r *http.Request, sess *session) {
	v := depositView{Amount: strings.TrimSpace(r.PostForm.Get("amount")), Slip: strings.TrimSpace(r.PostForm.Get("slip")),
		Time: strings.TrimSpace(r.PostForm.Get("time")), Nonce: r.PostForm.Get("nonce")}
	bad := func(msg string) {
		s.render(w, r, sess, http.StatusUnprocessableEntity, "deposit", "登记缴存", v, withError(msg))
	}
	if v.Nonce == "" {
		s.fail(w, r, sess, http.StatusBadRequest, "缺少确认信息，未登记：请重新打开缴存页面")
		return
	}
	s.collectMu.Lock()
	defer s.collectMu.Unlock()
	s.mu.Lock()
	_, dup := sess.done["deposit:"+v.Nonce]
	s.mu.Unlock()
	if dup {
		http.Redirect(w, r, "/home", http.StatusSeeOther)
		return
	}
	if v.Slip == "" || v.Amount == "" {
		bad("请填写缴款单号和金额")
		return
	}
	req := collect.DepositRequest{SlipNo: v.Slip}
	var err error
	if req.Amount, err = syncproto.ParseMoney(v.Amount); err != nil {
		bad(errMessage(err))
		return
	}
	if v.Time != "" {
		if req.DepositedAt, err = time.ParseInLocation(depositLayout, v.Time, shanghai()); err != nil {
			bad("缴存时间格式不正确")
			return
		}
	}
	res, err := s.collect.Deposit(r.Context(), sess.unlocked, req)
	if err != nil {
		s.render(w, r, sess, statusOf(err), "deposit", "登记缴存", v, withError("未登记："+errMessage(err)))
		return
	}
	d := res.Deposit
	s.mu.Lock()
	sess.done["deposit:"+v.Nonce] = d.ID
	s.mu.Unlock()
	s.addFlash(sess, fmt.Sprintf("已登记缴存：缴款单 %s，金额 ¥%s，覆盖 %d 笔收费合计 ¥%s", d.SlipNo, d.Amount, d.Count, d.Sum))
	for _, wn := range res.Warnings {
		s.addFlash(sess, "注意："+wn.MessageZH)
	}
	http.Redirect(w, r, "/home", http.StatusSeeOther)
}
