package proving

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	// The answers are inflated and decoded as the agent app's sync client
	// does: the stand-in tablets should cost what real ones do.
	jsonfast "github.com/go-json-experiment/json/v1"
	"github.com/jackc/pgx/v5"
	"github.com/klauspost/compress/gzip"

	"villagesync/server/internal/demo"
	"villagesync/server/internal/settings"
	"villagesync/server/internal/store"
	"villagesync/syncproto"
)

// rosterRef is what a simulated tablet needs of a roster line to collect
// against it.
type rosterRef struct {
	ID        string
	Kind      string
	ChangeSeq int64
	DueFen    int64
	Name      string
}

// tablet is a simulated tablet at the wire: its own key, hash chain and
// receipt numbers, pushing and pulling over real HTTP. The server cannot
// tell it from the agent app. (The tablet-side measurements use the real
// agent store through the fleet simulator.)
type tablet struct {
	deviceID, village, access string
	key                       ed25519.PrivateKey
	ids                       *syncproto.IDGenerator
	now                       func() time.Time

	seq      int64
	prev     string
	receipt  int64 // next receipt number to issue
	lastNo   int64
	lines    []rosterRef
	next     int // next roster line to collect
	cursor   string
	received int // changes pulled
}

// allocateReceipts hands the tablet a block of n receipt numbers, as the
// server does at its first pull, in one go so that a long push run never
// flags a number as out of range.
func (t *tablet) allocateReceipts(ctx context.Context, db *store.DB, n int64) error {
	return db.InTx(ctx, func(tx pgx.Tx) error {
		if err := db.LockDeviceStream(ctx, tx, t.deviceID); err != nil {
			return err
		}
		id := db.NewID()
		seq, err := db.AppendDeviceChange(ctx, tx, t.deviceID, syncproto.EntityReceiptRange, id, syncproto.OpUpsert, db.Now())
		if err != nil {
			return err
		}
		r, err := db.AllocateReceiptRange(ctx, tx, id, t.deviceID, n, db.Now(), seq)
		t.receipt, t.lastNo = r.First, r.Last
		return err
	})
}

// pensionGrade is the grade the simulated agents collect for a general
// pension payer: the lowest allowed.
var pensionGrade = func() syncproto.Money {
	g, _ := settings.Shandong2026Pension(demo.DistrictCode).MinGrade(syncproto.CategoryGeneral)
	return g
}()

// collect makes the next collection record: the next roster line of the
// village, the amount it is due, the next receipt number; sealed into
// the chain.
func (t *tablet) collect() (syncproto.Mutation, error) {
	if len(t.lines) == 0 {
		return syncproto.Mutation{}, fmt.Errorf("tablet %s has no roster lines", t.deviceID)
	}
	l := t.lines[t.next%len(t.lines)]
	t.next++
	c := syncproto.Collection{ReceiptNo: syncproto.FormatReceipt(t.receipt), RosterEntryID: l.ID, RosterVersion: l.ChangeSeq,
		Name: l.Name, VillageCode: t.village, Kind: syncproto.Kind(l.Kind), Year: 2026, Category: syncproto.CategoryGeneral,
		Amount: syncproto.Money(l.DueFen)}
	if c.Kind == syncproto.KindPension {
		c.Grade, c.Amount = pensionGrade, pensionGrade
	}
	t.receipt++
	payload, err := json.Marshal(c)
	if err != nil {
		return syncproto.Mutation{}, err
	}
	t.seq++
	m := syncproto.Mutation{ID: t.ids.New().String(), DeviceID: t.deviceID, Seq: t.seq, Kind: syncproto.MutationCollection,
		DeviceTime: t.now().UTC().Truncate(time.Millisecond), PrevHash: t.prev, Payload: payload}
	m.Seal(t.key)
	t.prev = m.Hash
	return m, nil
}

// client speaks the sync protocol over HTTP as the agent app does:
// gzip-compressed push bodies, the protocol header, a bearer token.
type client struct {
	base string
	http *http.Client
}

func (c *client) push(ctx context.Context, t *tablet, ms []syncproto.Mutation) (syncproto.PushResponse, error) {
	body, err := encodePush(ms)
	if err != nil {
		return syncproto.PushResponse{}, err
	}
	return c.pushBody(ctx, t, body)
}

// encodePush is a push request's body as a tablet sends it: JSON, gzip.
func encodePush(ms []syncproto.Mutation) ([]byte, error) {
	b, err := json.Marshal(syncproto.PushRequest{Mutations: ms})
	if err != nil {
		return nil, err
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return z.Bytes(), nil
}

// pushBody sends a body made by encodePush.
func (c *client) pushBody(ctx context.Context, t *tablet, body []byte) (syncproto.PushResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/v1/sync/push", bytes.NewReader(body))
	if err != nil {
		return syncproto.PushResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	var out syncproto.PushResponse
	err = c.do(req, t.access, &out)
	return out, err
}

func (c *client) pull(ctx context.Context, t *tablet, cursor string, limit int) (syncproto.PullResponse, error) {
	q := url.Values{"cursor": {cursor}, "limit": {strconv.Itoa(limit)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/sync/pull?"+q.Encode(), nil)
	if err != nil {
		return syncproto.PullResponse{}, err
	}
	var out syncproto.PullResponse
	err = c.do(req, t.access, &out)
	return out, err
}

func (c *client) do(req *http.Request, token string, out any) error {
	req.Header.Set(syncproto.HeaderProtocol, strconv.Itoa(syncproto.ProtocolVersion))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var r io.Reader = res.Body
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			return err
		}
		r = zr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, res.Status, b)
	}
	return jsonfast.Unmarshal(b, out) // as the agent app's client decodes
}

// pullToEnd pulls until the server says the replica is caught up, and
// returns the number of pages.
func (c *client) pullToEnd(ctx context.Context, t *tablet, limit int) (int, error) {
	for pages := 1; ; pages++ {
		resp, err := c.pull(ctx, t, t.cursor, limit)
		if err != nil {
			return pages, err
		}
		t.cursor = resp.Cursor
		t.received += len(resp.Changes)
		if !resp.HasMore {
			if resp.Checkpoint == nil {
				return pages, fmt.Errorf("caught-up pull without a checkpoint")
			}
			return pages, nil
		}
	}
}
