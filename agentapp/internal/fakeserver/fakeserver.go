// Package fakeserver is an in-memory server of the sync protocol (v1) for
// the tablet's tests: token refresh with rotation, push with the chain
// checks and outcomes, pull with a compacted change log, cursors and
// checkpoints, gzip both ways, the protocol header, and fault injection
// (failed requests, lost answers, expired tokens, revocation). It serves
// one device. It is imported by tests only; the real server lives in
// server/.
package fakeserver

import (
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"villagesync/syncproto"
)

// failure is an injected error answer.
type failure struct {
	status int
	code   syncproto.Code
}

// Rejecter decides whether a well-chained mutation is refused for good;
// it returns a non-nil outcome (status rejected, code, reasons) to refuse.
type Rejecter func(m syncproto.Mutation) *syncproto.Outcome

// row is the latest state of one replicated row.
type row struct {
	change syncproto.Change
	pos    int64 // position in the log
}

// Server is the fake server.
type Server struct {
	URL string

	mu        sync.Mutex
	deviceID  string
	pub       ed25519.PublicKey
	refresh   string // the current refresh token
	previous  string // its predecessor, accepted again while refresh was never presented
	access    map[string]bool
	revoked   bool
	mutations []syncproto.Mutation
	rejecter  Rejecter
	rows      map[[2]string]*row
	pos       int64
	fail      []failure // the next requests to fail
	drop      int       // push answers to lose after storing
	requests  map[string]int
	gzipped   int // push bodies that came gzip-compressed
	badHeader int
	tamperCP  bool
}

// New starts a fake server for the device deviceID with public key pub
// and first refresh token refresh; it stops when tb ends.
func New(tb testing.TB, deviceID string, pub ed25519.PublicKey, refresh string) *Server {
	s := &Server{deviceID: deviceID, pub: pub, refresh: refresh, access: map[string]bool{},
		rows: map[[2]string]*row{}, requests: map[string]int{}}
	ts := httptest.NewServer(s)
	tb.Cleanup(ts.Close)
	s.URL = ts.URL
	return s
}

// Upsert writes a row's new state into the log; stream "" is the device's.
func (s *Server) Upsert(entity, id, stream string, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		panic(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.write(syncproto.Change{Stream: s.stream(stream), Entity: entity, ID: id, Op: syncproto.OpUpsert, Data: b})
}

// Delete writes a row's tombstone into the log.
func (s *Server) Delete(entity, id, stream string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.write(syncproto.Change{Stream: s.stream(stream), Entity: entity, ID: id, Op: syncproto.OpDelete})
}

func (s *Server) stream(st string) string {
	if st == "" {
		return "d:" + s.deviceID
	}
	return st
}

func (s *Server) write(c syncproto.Change) {
	s.pos++
	c.Seq = s.pos
	if c.Entity == syncproto.EntitySettings {
		// As the real server: settings are sent whole, unnumbered, and
		// left out of the checkpoint.
		c.Stream, c.Seq = "s", 0
	}
	s.rows[[2]string{c.Entity, c.ID}] = &row{change: c, pos: s.pos}
}

// Reject makes the server refuse for good the mutations r picks.
func (s *Server) Reject(r Rejecter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejecter = r
}

// Fail makes the next sync requests (refresh, push, pull) answer these
// statuses, in order, with a coded error body.
func (s *Server) Fail(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range statuses {
		code := syncproto.CodeUnavailable
		if st < 500 && st != http.StatusTooManyRequests {
			code = syncproto.CodeInvalidInput
		}
		s.fail = append(s.fail, failure{st, code})
	}
}

// FailWith makes the next request answer status with code.
func (s *Server) FailWith(status int, code syncproto.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, failure{status, code})
}

// ClearFailures drops the failures not yet served.
func (s *Server) ClearFailures() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = nil
}

// DropPushAnswers makes the next n pushes store their mutations and then
// close the connection without an answer, as a lost response.
func (s *Server) DropPushAnswers(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop = n
}

// ExpireTokens makes every access token issued so far invalid (401).
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.access)
}

// Revoke revokes the device.
func (s *Server) Revoke() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = true
}

// TamperCheckpoint makes every checkpoint count one row more than the
// server holds, so no replica can match.
func (s *Server) TamperCheckpoint() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tamperCP = true
}

// ForgetFrom drops the stored mutations from seq on, as a server restored
// from an old backup.
func (s *Server) ForgetFrom(seq int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mutations = s.mutations[:seq-1]
}

// RefreshToken is the current refresh token.
func (s *Server) RefreshToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refresh
}

// Mutations returns the stored mutations in seq order.
func (s *Server) Mutations() []syncproto.Mutation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mutations)
}

// Requests counts the requests to a path ("/api/v1/sync/pull").
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// GzipPushes counts the push bodies that came gzip-compressed.
func (s *Server) GzipPushes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gzipped
}

// Checkpoint is the count and checksum of the live rows.
func (s *Server) Checkpoint() syncproto.Checkpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkpoint()
}

func (s *Server) checkpoint() syncproto.Checkpoint {
	var items []syncproto.ReplicaItem
	for _, r := range s.rows {
		if r.change.Op == syncproto.OpUpsert && r.change.Entity != syncproto.EntitySettings {
			items = append(items, syncproto.ReplicaItem{Entity: r.change.Entity, ID: r.change.ID, Seq: r.change.Seq})
		}
	}
	cp := syncproto.Checkpoint{Count: len(items), Checksum: syncproto.ReplicaChecksum(items)}
	if s.tamperCP {
		cp.Count++
	}
	return cp
}

func token() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func writeError(w http.ResponseWriter, status int, code syncproto.Code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(syncproto.ErrorBody{Error: syncproto.ErrorDetail{Code: code, Message: msg, MessageZH: msg}})
}

// writeJSON answers v, gzip-compressed when the client accepts it.
func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(b)
		zw.Close()
		w.Header().Set("Content-Encoding", "gzip")
		b = z.Bytes()
	}
	w.Write(b)
}

// ServeHTTP serves the three endpoints the tablet syncs with.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[r.URL.Path]++
	if r.Header.Get(syncproto.HeaderProtocol) != strconv.Itoa(syncproto.ProtocolVersion) {
		s.badHeader++
		writeError(w, http.StatusUpgradeRequired, syncproto.CodeProtocolVersion, "unsupported protocol version")
		return
	}
	if len(s.fail) > 0 {
		f := s.fail[0]
		s.fail = s.fail[1:]
		if f.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		writeError(w, f.status, f.code, fmt.Sprintf("injected %d", f.status))
		return
	}
	switch r.URL.Path {
	case "/api/v1/auth/refresh":
		s.serveRefresh(w, r)
	case "/api/v1/sync/push":
		if s.authorise(w, r) {
			s.servePush(w, r)
		}
	case "/api/v1/sync/pull":
		if s.authorise(w, r) {
			s.servePull(w, r)
		}
	default:
		writeError(w, http.StatusNotFound, syncproto.CodeNotFound, "no such route")
	}
}

func (s *Server) authorise(w http.ResponseWriter, r *http.Request) bool {
	if s.revoked {
		writeError(w, http.StatusUnauthorized, syncproto.CodeDeviceRevoked, "device revoked")
		return false
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !s.access[tok] {
		writeError(w, http.StatusUnauthorized, syncproto.CodeUnauthenticated, "token expired or unknown")
		return false
	}
	return true
}

func (s *Server) serveRefresh(w http.ResponseWriter, r *http.Request) {
	var in struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, syncproto.CodeInvalidInput, "bad body")
		return
	}
	if s.revoked {
		writeError(w, http.StatusUnauthorized, syncproto.CodeDeviceRevoked, "device revoked")
		return
	}
	switch {
	case in.RefreshToken == s.refresh:
	case in.RefreshToken == s.previous && s.previous != "":
		// The answer to the first exchange was lost: issue again.
	default:
		writeError(w, http.StatusUnauthorized, syncproto.CodeRefreshReused, "refresh token reused")
		return
	}
	if in.RefreshToken == s.refresh {
		s.previous = s.refresh
	}
	s.refresh = "rt_" + token()
	access := "at_" + token()
	s.access[access] = true
	writeJSON(w, r, syncproto.TokenPair{AccessToken: access, RefreshToken: s.refresh, TokenType: "Bearer", ExpiresIn: 900})
}

func (s *Server) body(r *http.Request) ([]byte, error) {
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		s.gzipped++
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, err
		}
		rd = zr
	}
	return io.ReadAll(rd)
}

func (s *Server) servePush(w http.ResponseWriter, r *http.Request) {
	b, err := s.body(r)
	var req syncproto.PushRequest
	if err == nil {
		err = json.Unmarshal(b, &req)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, syncproto.CodeInvalidInput, "bad body: "+err.Error())
		return
	}
	stored := slices.Clone(s.mutations)
	var res syncproto.PushResponse
	var statuses []syncproto.Change
	for _, m := range req.Mutations {
		if m.DeviceID != s.deviceID {
			writeError(w, http.StatusForbidden, syncproto.CodeForbidden, "another device's mutation")
			return
		}
		if err := m.Check(s.pub); err != nil {
			writeError(w, http.StatusConflict, syncproto.ErrorCode(err), err.Error())
			return
		}
		if m.Seq <= int64(len(stored)) {
			if stored[m.Seq-1].Hash != m.Hash {
				writeError(w, http.StatusConflict, syncproto.CodeChainTampered, fmt.Sprintf("seq %d comes with another hash", m.Seq))
				return
			}
			res.Outcomes = append(res.Outcomes, syncproto.Outcome{ID: m.ID, Seq: m.Seq, Status: syncproto.OutcomeDuplicate})
			continue
		}
		if m.Seq != int64(len(stored))+1 {
			writeError(w, http.StatusConflict, syncproto.CodeChainGap, fmt.Sprintf("seq %d after %d", m.Seq, len(stored)))
			return
		}
		prev := syncproto.ZeroHash
		if len(stored) > 0 {
			prev = stored[len(stored)-1].Hash
		}
		if m.PrevHash != prev {
			writeError(w, http.StatusConflict, syncproto.CodeChainBroken, fmt.Sprintf("seq %d does not link", m.Seq))
			return
		}
		stored = append(stored, m)
		o := syncproto.Outcome{ID: m.ID, Seq: m.Seq, Status: syncproto.OutcomeStored}
		if s.rejecter != nil {
			if rej := s.rejecter(m); rej != nil {
				o = *rej
				o.ID, o.Seq, o.Status = m.ID, m.Seq, syncproto.OutcomeRejected
			}
		}
		res.Outcomes = append(res.Outcomes, o)
		if o.Status == syncproto.OutcomeStored {
			statuses = append(statuses, s.statusChange(m)...)
		}
	}
	s.mutations = stored
	res.AckSeq = int64(len(stored))
	for _, c := range statuses {
		s.write(c)
	}
	if s.drop > 0 {
		s.drop--
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
	}
	writeJSON(w, r, res)
}

// statusChange is the collection status a stored mutation produces.
func (s *Server) statusChange(m syncproto.Mutation) []syncproto.Change {
	var id, no, status string
	switch m.Kind {
	case syncproto.MutationCollection:
		var p syncproto.Collection
		json.Unmarshal(m.Payload, &p)
		id, no, status = m.ID, p.ReceiptNo, "synced"
	case syncproto.MutationVoid:
		var p syncproto.Void
		json.Unmarshal(m.Payload, &p)
		id, no, status = p.CollectionID, p.ReceiptNo, "voided"
	default:
		return nil
	}
	b, _ := json.Marshal(syncproto.CollectionStatus{ID: id, ReceiptNo: no, Status: status})
	return []syncproto.Change{{Stream: "d:" + s.deviceID, Entity: syncproto.EntityCollection, ID: id, Op: syncproto.OpUpsert, Data: b}}
}

func (s *Server) servePull(w http.ResponseWriter, r *http.Request) {
	var after int64
	if c := r.URL.Query().Get("cursor"); c != "" {
		var err error
		if after, err = strconv.ParseInt(strings.TrimPrefix(c, "c"), 10, 64); err != nil {
			writeError(w, http.StatusBadRequest, syncproto.CodeBadCursor, "bad cursor")
			return
		}
	}
	bootstrap := after == 0
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 5000 {
		limit = 1000
	}
	var todo []*row
	for _, rw := range s.rows {
		if rw.pos > after {
			todo = append(todo, rw)
		}
	}
	slices.SortFunc(todo, func(a, b *row) int { return int(a.pos - b.pos) })
	res := syncproto.PullResponse{Changes: []syncproto.Change{}, Cursor: "c" + strconv.FormatInt(after, 10)}
	n := 0
	for _, rw := range todo {
		if n == limit {
			res.HasMore = true
			break
		}
		res.Cursor = "c" + strconv.FormatInt(rw.pos, 10)
		if bootstrap && rw.change.Op == syncproto.OpDelete {
			continue // a bootstrap is compacted: no tombstones
		}
		res.Changes = append(res.Changes, rw.change)
		n++
	}
	if !res.HasMore {
		cp := s.checkpoint()
		res.Checkpoint = &cp
	}
	writeJSON(w, r, res)
}
