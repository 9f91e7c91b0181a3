-- +goose Up
-- The tablet's offline unlock (package agentapp/internal/keystore): at most
-- one row, written after enrollment. The PIN is kept only as an argon2id
-- hash (PHC string, its own salt). The device secrets (Ed25519 private key,
-- refresh credential) are sealed with XChaCha20-Poly1305 under a random data
-- key; the data key is sealed under a key derived from the PIN with argon2id
-- (kdf_* columns, a second salt). Nothing secret is stored in clear.
-- The failure counter and the lock survive restarts; last_seen_ms is the
-- latest wall-clock time the keystore saw, so a clock moved backwards does
-- not shorten a lock. Times are Unix milliseconds, 0 meaning none.
CREATE TABLE keystore (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    device_id       TEXT    NOT NULL CHECK (length(device_id) = 26),
    pin_hash        TEXT    NOT NULL CHECK (pin_hash LIKE '$argon2id$%'),
    kdf_salt        BLOB    NOT NULL CHECK (length(kdf_salt) >= 16),
    kdf_memory_kib  INTEGER NOT NULL CHECK (kdf_memory_kib > 0),
    kdf_iterations  INTEGER NOT NULL CHECK (kdf_iterations > 0),
    kdf_parallelism INTEGER NOT NULL CHECK (kdf_parallelism BETWEEN 1 AND 255),
    wrap_nonce      BLOB    NOT NULL CHECK (length(wrap_nonce) = 24),
    wrapped_key     BLOB    NOT NULL,
    nonce           BLOB    NOT NULL CHECK (length(nonce) = 24),
    sealed          BLOB    NOT NULL,
    failures        INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    locked_until_ms INTEGER NOT NULL DEFAULT 0,
    last_seen_ms    INTEGER NOT NULL,
    created_ms      INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE keystore;
