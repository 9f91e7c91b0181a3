package webui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"villagesync/agentapp/internal/syncclient"
	"villagesync/syncproto"
)

// The states of the sync started from the UI.
const (
	syncIdle    = "idle"
	syncRunning = "running"
	syncDone    = "done"
	syncFailed  = "failed"
)

// syncStatus is what the sync page polls (GET /sync/status.json).
type syncStatus struct {
	State     string             `json:"state"`
	Run       int                `json:"run"` // syncs started since the UI started
	Done      int                `json:"done"`
	Total     int                `json:"total"` // -1 while unknown
	Message   string             `json:"message_zh"`
	ErrorCode string             `json:"error_code,omitempty"`
	Report    *syncclient.Report `json:"report,omitempty"`
	Started   time.Time          `json:"started,omitzero"`
	Finished  time.Time          `json:"finished,omitzero"`
}

func (s *Server) syncSnapshot() syncStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.sync
	if st.State == "" {
		st.State = syncIdle
	}
	return st
}

func (s *Server) setSync(fn func(*syncStatus)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.sync)
}

func (s *Server) syncPage(w http.ResponseWriter, r *http.Request, sess *session) {
	s.render(w, r, sess, http.StatusOK, "sync", "同步", s.syncSnapshot(), func(p *page) {
		p.Scripts = append(p.Scripts, "/static/sync.js")
	})
}

func (s *Server) syncStatusJSON(w http.ResponseWriter, _ *http.Request, _ *session) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s.syncSnapshot())
}

// startSync starts a sync in the background (unless one runs) and shows
// its progress page.
func (s *Server) startSync(w http.ResponseWriter, r *http.Request, sess *session) {
	en, err := s.store.Enrollment(r.Context())
	if err != nil {
		s.fail(w, r, sess, statusOf(err), errMessage(err))
		return
	}
	client, err := syncclient.New(en.ServerURL)
	if err != nil {
		s.fail(w, r, sess, statusOf(err), errMessage(err))
		return
	}
	if s.cfg.HTTPClient != nil {
		client.WithHTTPClient(s.cfg.HTTPClient)
	}
	s.mu.Lock()
	if s.sync.State == syncRunning {
		s.mu.Unlock()
		http.Redirect(w, r, "/sync", http.StatusSeeOther)
		return
	}
	if s.sess != sess { // locked meanwhile: its key is gone
		s.mu.Unlock()
		s.locked(w, r)
		return
	}
	s.sync = syncStatus{State: syncRunning, Run: s.sync.Run + 1, Total: -1, Message: "正在同步…", Started: s.now()}
	s.syncKey = sess.unlocked
	s.mu.Unlock()

	opt := s.cfg.SyncOptions
	opt.OnEvent = func(ev syncclient.Event) {
		msg := ""
		switch ev.Kind {
		case syncclient.EventRetry:
			msg = fmt.Sprintf("网络或服务器错误，%s 后重试…", ev.Wait.Round(time.Second))
		case syncclient.EventMismatch, syncclient.EventBadCursor:
			msg = "本机数据与服务器不一致，正在重新下载全部数据…"
		case syncclient.EventResend:
			msg = "服务器缺少本机之前的记录，正在重新上传…"
		}
		s.setSync(func(st *syncStatus) { st.Message = msg })
	}
	syncer := syncclient.NewSyncer(client, s.store, sess.unlocked, opt)
	ctx := context.WithoutCancel(r.Context())
	go func() {
		rep, err := syncer.Sync(ctx, func(done, total int) {
			s.setSync(func(st *syncStatus) { st.Done, st.Total = done, total })
		})
		s.mu.Lock()
		if s.sess == nil || s.sess.unlocked != s.syncKey {
			s.syncKey.Lock() // the session was locked while the sync ran
		}
		s.syncKey = nil
		s.mu.Unlock()
		s.setSync(func(st *syncStatus) {
			st.Finished, st.Report = s.now(), &rep
			if err != nil {
				st.State, st.ErrorCode = syncFailed, string(syncproto.ErrorCode(err))
				st.Message = "同步失败：" + errMessage(err) + "。本机记录都已保存，联网后再点“同步”即可。"
				return
			}
			st.State = syncDone
			st.Message = fmt.Sprintf("同步完成：上传 %d 条（服务器已确认 %d，拒收 %d），下载 %d 条更新", rep.Pushed, rep.Acked,
				rep.Parked, rep.Pulled)
			if rep.Checkpoint {
				st.Message += "，本机数据与服务器一致"
			}
		})
	}()
	http.Redirect(w, r, "/sync", http.StatusSeeOther)
}
