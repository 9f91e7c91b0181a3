-- +goose Up
-- Daily remittance batches: one per township and business day (a new
-- revision after a rejection). Approved batches are never edited: a
-- correction is a reversing line in a later batch.
CREATE TABLE batch (
    id              text PRIMARY KEY,
    township_code   text NOT NULL REFERENCES township (code),
    business_day    date NOT NULL,
    revision        int NOT NULL DEFAULT 1,
    state           text NOT NULL CHECK (state IN ('submitted', 'approved', 'rejected', 'exported', 'posted', 'partially_posted')),
    count           int NOT NULL DEFAULT 0,
    total_fen       bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL,
    created_by      text REFERENCES app_user (id),   -- NULL: the daily cutoff
    approved_at     timestamptz,
    approved_by     text REFERENCES app_user (id),
    override_reason text,
    rejected_at     timestamptz,
    rejected_by     text REFERENCES app_user (id),
    reject_reason   text,
    exported_at     timestamptz,
    posted_at       timestamptz,
    UNIQUE (township_code, business_day, revision)
);
CREATE INDEX batch_day_idx ON batch (business_day, state);

-- No foreign keys on the lines: they are written set-based by the cut
-- from the very rows they name (a per-row key check doubled the cut's
-- time at 100,000 lines); reconciliation checks them.
CREATE TABLE batch_line (
    batch_id      text NOT NULL,
    line_no       int NOT NULL,
    collection_id text NOT NULL,
    village_code  text NOT NULL,
    township_code text NOT NULL,
    agent_id      text NOT NULL,
    name          text NOT NULL,
    resident_id   text NOT NULL,
    kind          text NOT NULL,
    year          int NOT NULL,
    grade_fen     bigint NOT NULL,
    amount_fen    bigint NOT NULL,     -- negative on a reversal
    receipt_no    bigint NOT NULL,
    device_time   timestamptz NOT NULL,
    server_time   timestamptz NOT NULL,
    reverses_batch text,
    reverses_line  int,
    voucher       text,
    posted_date   date,
    post_error    text,
    PRIMARY KEY (batch_id, line_no)
);
CREATE INDEX batch_line_collection_idx ON batch_line (collection_id);

-- The batch a collection is in (set by the cut, cleared by a rejection).
-- Not indexed, so that the cut's update of every line stays HOT: batch
-- membership is found through batch_line's primary key.
ALTER TABLE collection ADD COLUMN batch_id text;

-- Every download of a batch file: who and when.
CREATE TABLE batch_download (
    batch_id text NOT NULL REFERENCES batch (id),
    user_id  text NOT NULL REFERENCES app_user (id),
    format   text NOT NULL,
    sha256   text NOT NULL,
    at       timestamptz NOT NULL
);
CREATE INDEX batch_download_batch_idx ON batch_download (batch_id);

-- Posting results uploaded by the tax office; the same file again is a no-op.
CREATE TABLE posting_upload (
    id          text PRIMARY KEY,
    batch_id    text NOT NULL REFERENCES batch (id),
    sha256      text NOT NULL,
    uploaded_by text NOT NULL REFERENCES app_user (id),
    at          timestamptz NOT NULL,
    UNIQUE (batch_id, sha256)
);

-- Refunds: a flagged payment (duplicate, wrong amount) put up by the
-- township, approved by the tax office, and marked refunded when the cash
-- is handed back. A refund of a payment in an approved batch becomes a
-- reversing line in the township's next batch.
CREATE TABLE refund (
    id             text PRIMARY KEY,
    collection_id  text NOT NULL UNIQUE REFERENCES collection (id),
    township_code  text NOT NULL,
    reason         text NOT NULL,
    state          text NOT NULL CHECK (state IN ('requested', 'approved', 'refunded')),
    requested_by   text NOT NULL REFERENCES app_user (id),
    requested_at   timestamptz NOT NULL,
    approved_by    text REFERENCES app_user (id),
    approved_at    timestamptz,
    refunded_by    text REFERENCES app_user (id),
    refunded_at    timestamptz,
    reversal_batch text,
    reversal_line  int
);
CREATE INDEX refund_township_idx ON refund (township_code, state);

-- +goose Down
DROP TABLE refund;
DROP TABLE posting_upload;
DROP TABLE batch_download;
ALTER TABLE collection DROP COLUMN batch_id;
DROP TABLE batch_line;
DROP TABLE batch;
