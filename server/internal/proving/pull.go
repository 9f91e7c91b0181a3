package proving

import (
	"context"
	"fmt"
	"time"

	"villagesync/syncproto"
)

// MeasurePull is the pull of one village's tablet — a bootstrap from an
// empty cursor and a caught-up pull (the checkpoint of its whole scope)
// — first with no other collections in the database, then with a million
// collections of other villages (and their change-log rows) added: it
// must stay flat, within 20 %.
func MeasurePull(ctx context.Context, env *Env, opt Options) ([]Result, error) {
	others, perVillage, own := opt.size(20, 2), opt.size(1000, 50), opt.size(400, 20)
	bulk := opt.size(1_000_000, 20_000)
	reps := opt.size(15, 3)
	clock := fixedClock()
	db, name, err := env.openDB(ctx, clock)
	if err != nil {
		return nil, err
	}
	defer env.dropDatabase(context.Background(), name)
	defer db.Close()
	d, err := setupDistrict(ctx, db, districtSpec{villages: 1 + others, perVillage: perVillage, receipts: int64(own) + 100}, clock)
	if err != nil {
		return nil, err
	}
	if err := d.loadLines(ctx); err != nil {
		return nil, err
	}
	srv, c, err := startServer(ctx, d)
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	// The measured tablet holds some collections of its own, so that its
	// own stream and its checkpoint have rows.
	t := d.tablets[0]
	var batch []syncproto.Mutation
	for range own {
		m, err := t.collect()
		if err != nil {
			return nil, err
		}
		batch = append(batch, m)
	}
	if _, err := c.push(ctx, t, batch); err != nil {
		return nil, err
	}
	measure := func() (boot, tail time.Duration, lines int, err error) {
		var boots, tails []time.Duration
		for range reps {
			t.cursor, t.received = "", 0
			start := time.Now()
			if _, err := c.pullToEnd(ctx, t, 1000); err != nil {
				return 0, 0, 0, err
			}
			boots = append(boots, time.Since(start))
			lines = t.received
			start = time.Now()
			resp, err := c.pull(ctx, t, t.cursor, 1000)
			if err != nil {
				return 0, 0, 0, err
			}
			if len(resp.Changes) != 0 || resp.Checkpoint == nil {
				return 0, 0, 0, fmt.Errorf("caught-up pull: %d changes, checkpoint %v", len(resp.Changes), resp.Checkpoint)
			}
			tails = append(tails, time.Since(start))
		}
		return percentile(boots, 50), percentile(tails, 50), lines, nil
	}
	boot0, tail0, lines0, err := measure()
	if err != nil {
		return nil, err
	}
	if err := fillOthers(ctx, d, bulk); err != nil {
		return nil, err
	}
	boot1, tail1, lines1, err := measure()
	if err != nil {
		return nil, err
	}
	if lines1 != lines0 {
		return nil, fmt.Errorf("the bootstrap served %d changes with the other villages' rows, %d without", lines1, lines0)
	}
	base := fmt.Sprintf("same pull, no collections of other villages (median of %d)", reps)
	return []Result{{
		Name:   fmt.Sprintf("pull: bootstrap of one village (%s changes) with %s collections of other villages", num(float64(lines0)), num(float64(bulk))),
		Figure: ms(boot1), Unit: "ms", Baseline: ms(boot0), BaseWhat: base,
		Ratio: boot1.Seconds() / boot0.Seconds(), RatioWhat: "of empty", Goal: "≤ 1.20×", Met: boot1.Seconds() <= 1.2*boot0.Seconds(),
	}, {
		Name:   fmt.Sprintf("pull: caught up (checkpoint) with %s collections of other villages", num(float64(bulk))),
		Figure: ms(tail1), Unit: "ms", Baseline: ms(tail0), BaseWhat: base,
		Ratio: tail1.Seconds() / tail0.Seconds(), RatioWhat: "of empty", Goal: "≤ 1.20×", Met: tail1.Seconds() <= 1.2*tail0.Seconds(),
	}}, nil
}

// fillOthers writes n collections of the other villages' tablets (all
// but the first) as a push would leave them: the collection rows, their
// mutation rows, one change each in the tablet's stream, and a paid-flag
// change in the village's stream; the streams' counters move on to match.
// Generated in SQL (generate_series) so that a million rows take seconds.
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
		`ANALYZE`,
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
