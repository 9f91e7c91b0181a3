package syncclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"villagesync/agentapp/internal/keystore"
	"villagesync/agentapp/internal/localstore"
	"villagesync/syncproto"
)

// Credentials are the unlocked device secrets the sync needs: the refresh
// token, and a way to store its successor. *keystore.Unlocked is one.
type Credentials interface {
	DeviceID() string
	Secrets() keystore.Secrets
	SetRefresh(ctx context.Context, refresh string) error
}

// Options tune a Syncer; the zero value of each field means its default.
type Options struct {
	PushBatch      int              // mutations per push (200)
	PullLimit      int              // changes asked per pull page (2000, the server's cap)
	MaxElapsed     time.Duration    // how long one request is retried (2 min)
	InitialBackoff time.Duration    // first wait before a retry (1 s); doubles, ±50 % jitter
	MaxBackoff     time.Duration    // longest wait between retries (30 s)
	Now            func() time.Time // the clock (time.Now)
	OnEvent        func(Event)      // told of retries and re-pulls as they happen
	Logger         *slog.Logger     // nil: discard
}

func (o *Options) defaults() {
	if o.PushBatch <= 0 {
		o.PushBatch = 200
	}
	if o.PullLimit <= 0 {
		o.PullLimit = 2000
	}
	if o.MaxElapsed <= 0 {
		o.MaxElapsed = 2 * time.Minute
	}
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnEvent == nil {
		o.OnEvent = func(Event) {}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// EventKind says what an Event is about.
type EventKind string

// The events a sync reports while it runs.
const (
	// EventRetry: a request failed in a way worth retrying; the sync waits
	// Wait and tries again.
	EventRetry EventKind = "retry"
	// EventMismatch: the replica's checksum differs from the server's
	// checkpoint; the replica is dropped and pulled again from empty.
	EventMismatch EventKind = "checkpoint_mismatch"
	// EventResend: the server is missing earlier records (chain_gap); the
	// whole chain is sent again (the server ignores what it holds).
	EventResend EventKind = "resend"
	// EventBadCursor: the server refused the stored cursor (bad_cursor);
	// the replica is dropped and pulled again from empty.
	EventBadCursor EventKind = "bad_cursor"
)

// Event is something a running sync reports to its caller.
type Event struct {
	Kind EventKind
	Err  error         // EventRetry: what failed
	Wait time.Duration // EventRetry: the wait before the next try
	// Local and Server are the counts and checksums that differed
	// (EventMismatch).
	Local, Server syncproto.Checkpoint
}

// Report is what one sync did.
type Report struct {
	Pushed     int  `json:"pushed"`     // mutations sent
	Acked      int  `json:"acked"`      // now held by the server
	Parked     int  `json:"parked"`     // refused for good, parked for review
	Pulled     int  `json:"pulled"`     // changes applied
	Pages      int  `json:"pages"`      // pull pages
	Repulled   bool `json:"repulled"`   // a checkpoint mismatch made it pull the replica again
	Checkpoint bool `json:"checkpoint"` // the replica matched the server's checkpoint
}

// The coded errors of a sync.
const (
	// CodeReplicaMismatch: the replica still differs from the server's
	// checkpoint after a full re-pull.
	CodeReplicaMismatch = syncproto.Code("replica_mismatch")
	// CodeNoProgress: the server answered without moving on (a pull page
	// with has_more but no change and the same cursor, or a push answer
	// that acknowledges nothing sent).
	CodeNoProgress = syncproto.Code("sync_no_progress")
)

// Syncer runs syncs of one enrolled tablet. It is safe for concurrent
// use; syncs run one at a time.
type Syncer struct {
	client *Client
	store  *localstore.Store
	creds  Credentials
	opt    Options

	mu      sync.Mutex // one sync at a time; guards the token too
	access  string
	expires time.Time
}

// NewSyncer returns a syncer of the tablet whose store and unlocked
// credentials are given, talking to client.
func NewSyncer(client *Client, store *localstore.Store, creds Credentials, opt Options) *Syncer {
	opt.defaults()
	return &Syncer{client: client, store: store, creds: creds, opt: opt}
}

// Sync pushes the pending outbox, then pulls until caught up and verifies
// the replica against the server's checkpoint (pulling it again from empty
// once when it differs). progress, when not nil, is called as work is
// done: done counts mutations pushed and changes pulled; total is the
// whole when known, -1 while the pull has more pages. A push the server
// refuses as a whole (a broken chain) does not stop the pull: the pull
// runs and the push error is returned after it. The outcome is recorded in
// the store for the status screen. A revoked device fails at once with
// syncproto.CodeDeviceRevoked, without the network.
func (s *Syncer) Sync(ctx context.Context, progress func(done, total int)) (Report, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if progress == nil {
		progress = func(int, int) {}
	}
	rep, err := s.sync(ctx, progress)
	if ctx.Err() == nil {
		if rerr := s.store.RecordSync(context.WithoutCancel(ctx), s.opt.Now(), err); rerr != nil && err == nil {
			err = rerr
		}
		// The sync wrote the pages and acknowledgements into the WAL:
		// copy them into the database now rather than in the commit of a
		// later collection. Best effort: the data is durable already.
		if cerr := s.store.Checkpoint(ctx); cerr != nil {
			s.opt.Logger.Warn("WAL checkpoint after the sync failed", "err", cerr)
		}
	}
	return rep, err
}

func (s *Syncer) sync(ctx context.Context, progress func(done, total int)) (Report, error) {
	var rep Report
	st, err := s.store.SyncState(ctx)
	if err != nil {
		return rep, err
	}
	if st.Revoked {
		return rep, errRevoked()
	}
	en, err := s.store.Enrollment(ctx)
	if err != nil {
		return rep, fmt.Errorf("syncclient: enrollment: %w", err)
	}
	if en.DeviceID != s.creds.DeviceID() {
		return rep, syncproto.Errorf(syncproto.CodeConflict, "the unlocked keystore is not of the enrolled device",
			"解锁的密钥与本机登记的终端不一致")
	}
	counts, err := s.store.OutboxCounts(ctx, en.DeviceID)
	if err != nil {
		return rep, err
	}
	total := counts.Pending
	pushErr := s.push(ctx, en.DeviceID, &rep, func() { progress(rep.Pushed, total) })
	if pushErr != nil && !isChainError(pushErr) {
		return rep, pushErr
	}
	pullErr := s.pull(ctx, &rep, func(more bool) {
		if more {
			progress(rep.Pushed+rep.Pulled, -1)
		} else {
			progress(rep.Pushed+rep.Pulled, rep.Pushed+rep.Pulled)
		}
	})
	return rep, errors.Join(pushErr, pullErr)
}

// isChainError reports whether err is the server refusing the chain: the
// push cannot go on, but the pull can.
func isChainError(err error) bool {
	switch syncproto.ErrorCode(err) {
	case syncproto.CodeChainGap, syncproto.CodeChainBroken, syncproto.CodeChainTampered, syncproto.CodeBadSignature:
		return true
	}
	return false
}

func errRevoked() error {
	return syncproto.Errorf(syncproto.CodeDeviceRevoked,
		"the township revoked this tablet: syncing has stopped; export the unsynced records (agentapp outbox export) and enroll again",
		"此终端已被镇街停用，同步已停止；请导出未同步记录（agentapp outbox export）并重新登记")
}

// push sends the pending outbox in batches in seq order until none is
// pending. On chain_gap (the server lacks records the tablet thinks it
// holds, e.g. after a server restore) it sends the whole chain again once.
func (s *Syncer) push(ctx context.Context, deviceID string, rep *Report, tick func()) error {
	resent := false
	for {
		batch, err := s.store.Pending(ctx, deviceID, 0, s.opt.PushBatch)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		err = s.pushBatch(ctx, deviceID, batch, rep)
		if syncproto.ErrorCode(err) == syncproto.CodeChainGap && !resent {
			resent = true
			s.opt.OnEvent(Event{Kind: EventResend, Err: err})
			err = s.resendChain(ctx, deviceID, rep)
		}
		if err != nil {
			return err
		}
		tick()
	}
}

// pushBatch pushes one batch and records the answer.
func (s *Syncer) pushBatch(ctx context.Context, deviceID string, batch []syncproto.Mutation, rep *Report) error {
	var res syncproto.PushResponse
	err := s.call(ctx, func(token string) (err error) {
		res, err = s.client.Push(ctx, token, syncproto.PushRequest{Mutations: batch})
		return err
	})
	if err != nil {
		return err
	}
	t, err := s.store.ApplyPush(ctx, deviceID, res, s.opt.Now())
	if err != nil {
		return err
	}
	rep.Pushed += len(batch)
	rep.Acked += t.Acked
	rep.Parked += t.Parked
	if t.Acked+t.Parked == 0 {
		return syncproto.Errorf(CodeNoProgress,
			fmt.Sprintf("the server acknowledged none of the %d records sent (ack_seq %d, first sent %d)", len(batch), res.AckSeq, batch[0].Seq),
			"服务器未确认已发送的记录")
	}
	return nil
}

// resendChain sends every record of the device from seq 1, in batches.
func (s *Syncer) resendChain(ctx context.Context, deviceID string, rep *Report) error {
	for from := int64(1); ; {
		batch, err := s.store.Chain(ctx, deviceID, from, s.opt.PushBatch)
		if err != nil || len(batch) == 0 {
			return err
		}
		var res syncproto.PushResponse
		err = s.call(ctx, func(token string) (err error) {
			res, err = s.client.Push(ctx, token, syncproto.PushRequest{Mutations: batch})
			return err
		})
		if err != nil {
			return err
		}
		t, err := s.store.ApplyPush(ctx, deviceID, res, s.opt.Now())
		if err != nil {
			return err
		}
		rep.Pushed += len(batch)
		rep.Acked += t.Acked
		rep.Parked += t.Parked
		from = batch[len(batch)-1].Seq + 1
	}
}

// pull pulls pages until the server is caught up, each page committed with
// its cursor, then checks the checkpoint; on a mismatch it drops the
// replica and pulls from empty once more.
func (s *Syncer) pull(ctx context.Context, rep *Report, tick func(more bool)) error {
	for attempt := 0; ; attempt++ {
		cp, err := s.pullToEnd(ctx, rep, tick)
		if syncproto.ErrorCode(err) == syncproto.CodeBadCursor && attempt == 0 {
			// The server no longer knows the cursor (or never made it):
			// start over from empty.
			s.opt.Logger.Warn("the server refused the cursor: pulling the replica again", "err", err)
			s.opt.OnEvent(Event{Kind: EventBadCursor, Err: err})
			if err := s.store.ResetReplica(ctx); err != nil {
				return err
			}
			rep.Repulled = true
			continue
		}
		if err != nil || cp == nil {
			return err
		}
		items, err := s.store.ReplicaItems(ctx)
		if err != nil {
			return err
		}
		local := syncproto.Checkpoint{Count: len(items), Checksum: syncproto.ReplicaChecksum(items)}
		if local == *cp {
			rep.Checkpoint = true
			return nil
		}
		if attempt > 0 {
			return syncproto.Errorf(CodeReplicaMismatch,
				fmt.Sprintf("the replica still differs from the server's after pulling it again (%d rows here, %d on the server): report it to the township",
					local.Count, cp.Count),
				fmt.Sprintf("重新下载后本机数据仍与服务器不一致（本机 %d 条，服务器 %d 条）：请报告镇街", local.Count, cp.Count))
		}
		s.opt.Logger.Warn("replica differs from the server's checkpoint: pulling it again",
			"local_count", local.Count, "server_count", cp.Count)
		s.opt.OnEvent(Event{Kind: EventMismatch, Local: local, Server: *cp})
		if err := s.store.ResetReplica(ctx); err != nil {
			return err
		}
		rep.Repulled = true
	}
}

// pullToEnd pulls from the stored cursor until has_more is false and
// returns the last page's checkpoint (nil if the server sent none). The
// next page is fetched while the current one is applied: its cursor is
// known as soon as the page arrives, and the two use different resources
// (the server and the network, the local disk). Each page is still
// committed with its own cursor, in order, so a crash resumes from the
// last page committed; a fetched page whose predecessor failed to apply is
// dropped. Requests and callbacks stay on the calling goroutine.
func (s *Syncer) pullToEnd(ctx context.Context, rep *Report, tick func(more bool)) (*syncproto.Checkpoint, error) {
	st, err := s.store.SyncState(ctx)
	if err != nil {
		return nil, err
	}
	fetch := func(cursor string) (page syncproto.PullResponse, err error) {
		err = s.call(ctx, func(token string) (err error) {
			page, err = s.client.Pull(ctx, token, cursor, s.opt.PullLimit)
			return err
		})
		return page, err
	}
	cursor := st.Cursor
	page, err := fetch(cursor)
	if err != nil {
		return nil, err
	}
	for {
		applied := make(chan error, 1)
		go func(p syncproto.PullResponse) { applied <- s.store.ApplyPage(ctx, p.Changes, p.Cursor) }(page)
		var next syncproto.PullResponse
		var fetchErr error
		stalled := page.HasMore && len(page.Changes) == 0 && page.Cursor == cursor
		if page.HasMore && !stalled {
			next, fetchErr = fetch(page.Cursor)
		}
		if err := <-applied; err != nil {
			return nil, err
		}
		rep.Pulled += len(page.Changes)
		rep.Pages++
		tick(page.HasMore)
		if !page.HasMore {
			return page.Checkpoint, nil
		}
		if stalled {
			return nil, syncproto.Errorf(CodeNoProgress, "the server said there is more to pull but sent nothing new",
				"服务器表示还有数据但未发送新内容")
		}
		if fetchErr != nil {
			return nil, fetchErr
		}
		cursor, page = page.Cursor, next
	}
}

// call runs an authorised request with retries: network errors, 5xx and
// 429 are retried with exponential backoff and jitter (honouring
// Retry-After) for up to MaxElapsed; a 401 to the request gets one token
// refresh and a retry; device_revoked marks the device and stops; any other
// 4xx, and a refused refresh token, stop at once.
func (s *Syncer) call(ctx context.Context, fn func(token string) error) error {
	refreshed := false
	classify := func(err error, request bool) (struct{}, error) {
		var se *StatusError
		switch {
		case err == nil:
			return struct{}{}, nil
		case syncproto.ErrorCode(err) == syncproto.CodeDeviceRevoked:
			if merr := s.store.MarkRevoked(context.WithoutCancel(ctx)); merr != nil {
				s.opt.Logger.Error("cannot record the revocation", "err", merr)
			}
			return struct{}{}, backoff.Permanent(errRevoked())
		case request && errors.As(err, &se) && se.Status == http.StatusUnauthorized && !refreshed:
			refreshed = true
			s.access = "" // expired or refused: get a new one
			return struct{}{}, backoff.RetryAfter(0)
		case Retryable(err):
			if errors.As(err, &se) && se.RetryAfter > 0 {
				return struct{}{}, &backoff.RetryAfterError{Duration: se.RetryAfter}
			}
			return struct{}{}, err
		default:
			return struct{}{}, backoff.Permanent(err)
		}
	}
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		token, err := s.token(ctx)
		if err != nil {
			return classify(err, false)
		}
		return classify(fn(token), true)
	},
		backoff.WithBackOff(&backoff.ExponentialBackOff{
			InitialInterval: s.opt.InitialBackoff, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: s.opt.MaxBackoff,
		}),
		backoff.WithMaxElapsedTime(s.opt.MaxElapsed),
		backoff.WithNotify(func(err error, wait time.Duration) {
			if wait > 0 {
				s.opt.Logger.Info("sync request failed, retrying", "err", err, "wait", wait)
				s.opt.OnEvent(Event{Kind: EventRetry, Err: err, Wait: wait})
			}
		}))
	var ra *backoff.RetryAfterError
	if errors.As(err, &ra) {
		return syncproto.Errorf(syncproto.CodeUnavailable, "the server kept asking to wait", "服务器繁忙，请稍后再试")
	}
	return err
}

// token returns a valid access token, refreshing it when there is none or
// it expires within a minute. The refresh token rotates: its successor is
// sealed in the keystore before the access token is used. A refresh whose
// answer was lost is retried with the same token, which the server
// accepts once more for a short while.
func (s *Syncer) token(ctx context.Context) (string, error) {
	now := s.opt.Now()
	if s.access != "" && now.Before(s.expires) {
		return s.access, nil
	}
	refresh := s.creds.Secrets().Refresh
	if refresh == "" {
		return "", syncproto.Errorf(keystore.CodeSessionClosed, "the keystore was locked: unlock it with the PIN",
			"密钥已锁定：请输入 PIN 解锁")
	}
	pair, err := s.client.Refresh(ctx, refresh)
	if err != nil {
		return "", err
	}
	if err := s.creds.SetRefresh(context.WithoutCancel(ctx), pair.RefreshToken); err != nil {
		return "", fmt.Errorf("syncclient: keep the rotated refresh token: %w", err)
	}
	s.access = pair.AccessToken
	life := time.Duration(pair.ExpiresIn) * time.Second
	s.expires = now.Add(life - min(time.Minute, life/4))
	return s.access, nil
}

// Watch syncs until ctx is done: every interval after a success, after an
// exponential backoff with jitter (5 s doubling up to 10 min) after a
// failure. Each outcome goes to report. It stops early, returning the
// error, when the device is revoked or the server does not speak this
// protocol version; otherwise it returns nil when ctx is done.
func (s *Syncer) Watch(ctx context.Context, interval time.Duration, progress func(done, total int), report func(Report, error)) error {
	b := &backoff.ExponentialBackOff{InitialInterval: 5 * time.Second, RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: 10 * time.Minute}
	b.Reset()
	for {
		rep, err := s.Sync(ctx, progress)
		if ctx.Err() != nil {
			return nil
		}
		if report != nil {
			report(rep, err)
		}
		switch syncproto.ErrorCode(err) {
		case syncproto.CodeDeviceRevoked, syncproto.CodeProtocolVersion:
			return err
		}
		wait := interval
		if err != nil {
			wait = b.NextBackOff()
		} else {
			b.Reset()
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
