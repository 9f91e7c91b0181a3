package proving

import (
	"context"
	"fmt"
	"time"

	"villagesync/syncproto"
)

// MeasurePull is the pull of one village's tablet — a bootstrap from an
// empty cursor and a caught-up pull (the checkpoint of its whole scope)
// — in two databases set up alike, one of which also holds a million
// collections of other villages (and their change-log rows). The pulls
// alternate between the two, so that a busy machine slows both alike. It
// must stay flat: within 20 %.
func MeasurePull(ctx context.Context, env *Env, opt Options) ([]Result, error) {
	bulk := opt.size(1_000_000, 20_000)
	reps := opt.size(15, 3)
	var sides [2]*pullSide
	for i := range sides {
		p, err := newPullSide(ctx, env, opt)
		if err != nil {
			return nil, err
		}
		defer p.close(env)
		sides[i] = p
	}
	if err := fillOthers(ctx, sides[1].d, bulk); err != nil {
		return nil, err
	}
	var boots, tails [2][]time.Duration
	var lines [2]int
	for range reps {
		for i, p := range sides {
			boot, tail, n, err := p.pull(ctx)
			if err != nil {
				return nil, err
			}
			boots[i], tails[i], lines[i] = append(boots[i], boot), append(tails[i], tail), n
		}
	}
	if lines[1] != lines[0] {
		return nil, fmt.Errorf("the bootstrap served %d changes with the other villages' rows, %d without", lines[1], lines[0])
	}
	boot0, boot1 := percentile(boots[0], 50), percentile(boots[1], 50)
	tail0, tail1 := percentile(tails[0], 50), percentile(tails[1], 50)
	base := fmt.Sprintf("same pull, a database without the other villages' collections; medians of %d, alternating", reps)
	return []Result{{
		Name:   fmt.Sprintf("pull: bootstrap of one village (%s changes) with %s collections of other villages", num(float64(lines[0])), num(float64(bulk))),
		Figure: ms(boot1), Unit: "ms", Baseline: ms(boot0), BaseWhat: base,
		Ratio: boot1.Seconds() / boot0.Seconds(), RatioWhat: "of empty", Goal: "≤ 1.20×", Met: boot1.Seconds() <= 1.2*boot0.Seconds(),
	}, {
		Name:   fmt.Sprintf("pull: caught up (checkpoint) with %s collections of other villages", num(float64(bulk))),
		Figure: ms(tail1), Unit: "ms", Baseline: ms(tail0), BaseWhat: base,
		Ratio: tail1.Seconds() / tail0.Seconds(), RatioWhat: "of empty", Goal: "≤ 1.20×", Met: tail1.Seconds() <= 1.2*tail0.Seconds(),
	}}, nil
}

// pullSide is one of the two databases of MeasurePull: a township whose
// first village's tablet is measured, served over HTTP.
type pullSide struct {
	name string
	d    *district
	srv  interface{ Close() }
	c    *client
}

func newPullSide(ctx context.Context, env *Env, opt Options) (*pullSide, error) {
	others, perVillage, own := opt.size(20, 2), opt.size(1000, 50), opt.size(400, 20)
	clock := fixedClock()
	db, name, err := env.openDB(ctx, clock)
	if err != nil {
		return nil, err
	}
	p := &pullSide{name: name}
	d, err := setupDistrict(ctx, db, districtSpec{villages: 1 + others, perVillage: perVillage, receipts: int64(own) + 100}, clock)
	if err == nil {
		err = d.loadLines(ctx)
	}
	if err != nil {
		db.Close()
		env.dropDatabase(context.Background(), name)
		return nil, err
	}
	p.d = d
	srv, c, err := startServer(ctx, d)
	if err != nil {
		p.close(env)
		return nil, err
	}
	p.srv, p.c = srv, c
	// The measured tablet holds some collections of its own, so that its
	// own stream and its checkpoint have rows.
	t := d.tablets[0]
	var batch []syncproto.Mutation
	for range own {
		m, err := t.collect()
		if err != nil {
			p.close(env)
			return nil, err
		}
		batch = append(batch, m)
	}
	if _, err := c.push(ctx, t, batch); err != nil {
		p.close(env)
		return nil, err
	}
	return p, nil
}

// pull times one bootstrap of the measured tablet and one caught-up pull.
func (p *pullSide) pull(ctx context.Context) (boot, tail time.Duration, lines int, err error) {
	t := p.d.tablets[0]
	t.cursor, t.received = "", 0
	start := time.Now()
	if _, err := p.c.pullToEnd(ctx, t, 1000); err != nil {
		return 0, 0, 0, err
	}
	boot = time.Since(start)
	start = time.Now()
	resp, err := p.c.pull(ctx, t, t.cursor, 1000)
	if err != nil {
		return 0, 0, 0, err
	}
	if len(resp.Changes) != 0 || resp.Checkpoint == nil {
		return 0, 0, 0, fmt.Errorf("caught-up pull: %d changes, checkpoint %v", len(resp.Changes), resp.Checkpoint)
	}
	return boot, time.Since(start), t.received, nil
}

func (p *pullSide) close(env *Env) {
	if p.srv != nil {
		p.srv.Close()
	}
	if p.d != nil {
		p.d.db.Close()
	}
	env.dropDatabase(context.Background(), p.name)
}

// fillOthers writes n collections of the other villages' tablets (all
// but the first) as a push would leave them: the collection rows, their
// mutation rows, one change each in the tablet's stream, and a paid-flag
// change in the village's stream; the streams' counters move on to match.
// Generated in SQL (generate_series) so that a million rows take seconds,
// then vacuumed and checkpointed.
func fillOthers(ctx context.Context, d *district, n int) error {
	var devices []string
	for _, t := range d.tablets[1:] {
		devices = append(devices, t.deviceID)
	}
	steps := []string{
		`CREATE TEMP TABLE gen AS
		SELECT i, d.id AS device_id, d.agent_id, av.village_code, d.township_code,
			'G' || lpad(i::text, 25, '0') AS cid, 100000 + i / k.k AS seq
		FROM (SELECT count(*) AS k FROM device WHERE id = ANY($1)) k,
			generate_series(0, $2::int - 1) i
			JOIN (SELECT id, agent_id, township_code, row_number() OVER (ORDER BY id) - 1 AS n FROM device WHERE id = ANY($1)) d ON true
			JOIN agent_village av ON av.user_id = d.agent_id
		WHERE d.n = i % k.k`,
		`INSERT INTO collection (id, device_id, agent_id, seq, receipt_no, roster_entry_id, roster_version, resident_id, name,
			village_code, township_code, kind, year, category, grade_fen, amount_fen, device_time, received_at, business_day,
			status, change_seq)
		SELECT cid, device_id, agent_id, seq, 900000000 + i, 'R' || cid, 1, '370403' || lpad((i % 1000000000000)::text, 12, '0'),
			'居民' || i, village_code, township_code, CASE WHEN i % 2 = 0 THEN 'medical' ELSE 'pension' END, 2026, 'general',
			CASE WHEN i % 2 = 0 THEN 0 ELSE 30000 END, CASE WHEN i % 2 = 0 THEN 40000 ELSE 30000 END,
			'2026-11-19T02:00:00Z', '2026-11-19T02:00:00Z', '2026-11-19', 'synced', seq
		FROM gen`,
		`INSERT INTO mutation (device_id, seq, id, kind, device_time, device_time_text, prev_hash, payload, hash, signature,
			received_at, status, township_code)
		SELECT device_id, seq, cid, 'collection', '2026-11-19T02:00:00Z', '2026-11-19T02:00:00Z', repeat('0', 64),
			convert_to('{"receipt_no":"' || (900000000 + i) || '"}', 'UTF8'), md5(cid) || md5(cid || 'x'), repeat('A', 88),
			'2026-11-19T02:00:00Z', 'stored', township_code
		FROM gen`,
		`INSERT INTO device_change (device_id, seq, entity, entity_id, op, at)
		SELECT device_id, seq, 'collection', cid, 'upsert', '2026-11-19T02:00:00Z' FROM gen`,
		`INSERT INTO sync_change (village_code, seq, township_code, entity, entity_id, op, at)
		SELECT village_code, 100000 + row_number() OVER (PARTITION BY village_code ORDER BY i), township_code, 'roster_entry',
			'R' || cid, 'upsert', '2026-11-19T02:00:00Z' FROM gen`,
		`INSERT INTO device_sync (device_id, last_seq) SELECT device_id, max(seq) FROM gen GROUP BY device_id
		ON CONFLICT (device_id) DO UPDATE SET last_seq = excluded.last_seq`,
		`UPDATE village_sync v SET last_seq = 100000 + m.n FROM (SELECT village_code, count(*) AS n FROM gen GROUP BY village_code) m
		WHERE v.village_code = m.village_code AND v.village_code <> $1`,
		// What autovacuum would have done long before in a real
		// district: done now, so that it does not run during the pulls.
		`VACUUM (ANALYZE) collection`, `VACUUM (ANALYZE) mutation`, `VACUUM (ANALYZE) device_change`,
		`VACUUM (ANALYZE) sync_change`, `CHECKPOINT`,
	}
	conn, err := d.db.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	for _, s := range steps {
		var args []any
		switch {
		case s == steps[0]:
			args = []any{devices, n}
		case s == steps[6]:
			args = []any{d.tablets[0].village}
		}
		if _, err := conn.Exec(ctx, s, args...); err != nil {
			return fmt.Errorf("%.60s…: %w", s, err)
		}
	}
	_, err = conn.Exec(ctx, `DROP TABLE gen`)
	return err
}
