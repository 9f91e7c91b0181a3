package syncproto

import (
	"cmp"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"time"
)

// ProtocolVersion is the sync protocol this code speaks. Every sync
// request carries it in HeaderProtocol; a server that does not speak the
// version answers 426 with CodeProtocolVersion.
const ProtocolVersion = 1

// HeaderProtocol is the request header that carries the protocol version.
const HeaderProtocol = "X-Sync-Protocol"

// Sync error codes.
const (
	// CodeChainGap: a push skips a sequence number the server has not got.
	CodeChainGap Code = "chain_gap"
	// CodeChainBroken: a mutation's prev_hash is not the hash of the one
	// before it, or its hash is not the hash of its content.
	CodeChainBroken Code = "chain_broken"
	// CodeChainTampered: a sequence number the server already holds comes
	// again with a different hash (an edited or replaced record).
	CodeChainTampered Code = "chain_tampered"
	// CodeBadSignature: a mutation is not signed by the device's key.
	CodeBadSignature Code = "bad_signature"
	// CodeBadCursor: a pull cursor that this server did not make.
	CodeBadCursor Code = "bad_cursor"
)

// MutationKind is what a tablet record is.
type MutationKind string

// The mutation kinds.
const (
	MutationCollection MutationKind = "collection" // cash taken, a receipt issued
	MutationVoid       MutationKind = "void"       // a receipt voided, its number stays used
	MutationDeposit    MutationKind = "deposit"    // cash paid into the bank
)

// ZeroHash is the prev_hash of a device's first mutation.
var ZeroHash = hex.EncodeToString(make([]byte, sha256.Size))

// Mutation is one append-only tablet record. The records of a device form
// a hash chain: Seq 1, 2, 3… without gaps, each carrying the hash of the one
// before. Hash covers every other field (Payload as its exact bytes); the
// device signs Hash with its Ed25519 key, so a record proves which tablet
// made it, also in an exported file.
type Mutation struct {
	ID         string          `json:"id"` // ULID, increasing per device
	DeviceID   string          `json:"device_id"`
	Seq        int64           `json:"seq"`
	Kind       MutationKind    `json:"kind"`
	DeviceTime time.Time       `json:"device_time"` // the tablet's clock: kept, never trusted
	PrevHash   string          `json:"prev_hash"`   // hex SHA-256
	Payload    json.RawMessage `json:"payload"`     // a JSON object, hashed byte for byte
	Hash       string          `json:"hash"`        // hex SHA-256 of CanonicalBytes
	Signature  string          `json:"signature"`   // base64 Ed25519 signature over the hash bytes
}

// CanonicalBytes is the unambiguous encoding the hash covers: a domain
// label, then each field as an 8-byte big-endian length and its bytes.
// DeviceTime is written as UTC RFC 3339 with nanoseconds.
func (m *Mutation) CanonicalBytes() []byte {
	return m.appendCanonical(make([]byte, 0, 256+len(m.Payload)))
}

func (m *Mutation) appendCanonical(b []byte) []byte {
	b = append(b, "villagesync/mutation/v1\n"...)
	field := func(b []byte, f []byte) []byte {
		return append(binary.BigEndian.AppendUint64(b, uint64(len(f))), f...)
	}
	var num [20]byte
	var at [40]byte
	b = field(b, []byte(m.ID))
	b = field(b, []byte(m.DeviceID))
	b = field(b, strconv.AppendInt(num[:0], m.Seq, 10))
	b = field(b, []byte(m.Kind))
	b = field(b, m.DeviceTime.UTC().AppendFormat(at[:0], time.RFC3339Nano))
	b = field(b, []byte(m.PrevHash))
	return field(b, m.Payload)
}

// ComputeHash returns the hex SHA-256 of the canonical bytes.
func (m *Mutation) ComputeHash() string {
	var buf [1024]byte // most records: no allocation but the result
	h := sha256.Sum256(m.appendCanonical(buf[:0]))
	var out [2 * sha256.Size]byte
	return string(hex.AppendEncode(out[:0], h[:]))
}

// Seal sets Hash and Signature with the device's key.
func (m *Mutation) Seal(key ed25519.PrivateKey) {
	m.Hash = m.ComputeHash()
	raw, _ := hex.DecodeString(m.Hash)
	m.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, raw))
}

// Check verifies a mutation on its own: well formed, Hash equal to the
// hash of its content and Signature made by pub. It does not look at the
// chain (Seq, PrevHash against the record before): the receiver does.
func (m *Mutation) Check(pub ed25519.PublicKey) error {
	if err := m.CheckContent(); err != nil {
		return err
	}
	if !m.signedBy(pub) {
		return m.SignatureError()
	}
	return nil
}

// signedBy reports whether Signature is pub's signature of Hash's bytes,
// by the rule of VerifySignature.
func (m *Mutation) signedBy(pub ed25519.PublicKey) bool {
	raw, err := hex.DecodeString(m.Hash)
	if err != nil {
		return false
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	return err == nil && VerifySignature(pub, raw, sig)
}

// CheckContent is Check without the signature: well formed and Hash
// equal to the hash of its content. A receiver of many mutations checks
// their signatures together with FirstBadSignature.
func (m *Mutation) CheckContent() error {
	if m.Seq < 1 || m.ID == "" || m.DeviceID == "" || len(m.PrevHash) != 64 || len(m.Hash) != 64 {
		return Errorf(CodeInvalidInput, fmt.Sprintf("mutation %d is incomplete", m.Seq), fmt.Sprintf("记录 %d 不完整", m.Seq))
	}
	if _, err := ParseULID(m.ID); err != nil {
		return err
	}
	if m.ComputeHash() != m.Hash {
		return Errorf(CodeChainBroken, fmt.Sprintf("mutation %d: hash does not match its content (edited?)", m.Seq),
			fmt.Sprintf("记录 %d 的哈希与内容不符（可能被篡改）", m.Seq))
	}
	return nil
}

// SignatureError is the error for a mutation whose signature is not its
// device's.
func (m *Mutation) SignatureError() *Error {
	return Errorf(CodeBadSignature, fmt.Sprintf("mutation %d is not signed by this device", m.Seq),
		fmt.Sprintf("记录 %d 的签名不属于本终端", m.Seq))
}

// Collection is the payload of a collection: cash taken from a person on
// the roster for one insurance kind and year, with its receipt number.
type Collection struct {
	ReceiptNo     string   `json:"receipt_no"`
	RosterEntryID string   `json:"roster_entry_id"`
	RosterVersion int64    `json:"roster_version"` // change number of the roster line it was made against
	Name          string   `json:"name"`
	VillageCode   string   `json:"village_code"`
	Kind          Kind     `json:"kind"`
	Year          int      `json:"year"`
	Category      Category `json:"category"`
	Grade         Money    `json:"grade"`  // pension: the chosen annual grade; medical: 0
	Amount        Money    `json:"amount"` // the cash taken
}

// Void is the payload of a void: the receipt number stays used.
type Void struct {
	CollectionID string `json:"collection_id"` // the collection mutation's ID
	ReceiptNo    string `json:"receipt_no"`
	Reason       string `json:"reason"`
}

// Deposit is the payload of the agent's bank deposit of the cash held: it
// covers every collection not deposited before, and carries their count,
// their sum (voided ones excluded) and the chain head at that point, which
// the server checks against what it holds.
type Deposit struct {
	SlipNo      string    `json:"slip_no"`
	Amount      Money     `json:"amount"` // the amount on the bank slip
	DepositedAt time.Time `json:"deposited_at"`
	Count       int       `json:"count"`      // collections covered (not voided)
	Sum         Money     `json:"sum"`        // their total
	ChainHead   string    `json:"chain_head"` // hash of the last mutation before this one
}

// PushRequest is POST /api/v1/sync/push: a device's mutations in seq order.
type PushRequest struct {
	Mutations []Mutation `json:"mutations"`
}

// Outcome statuses of a pushed mutation.
const (
	OutcomeStored    = "stored"    // new, stored (possibly with flags)
	OutcomeDuplicate = "duplicate" // already held: a re-send, nothing changed
	OutcomeRejected  = "rejected"  // well chained but unusable for good (reason): kept on the server, parked on the tablet
)

// Outcome is the server's answer for one mutation.
type Outcome struct {
	ID     string   `json:"id"`
	Seq    int64    `json:"seq"`
	Status string   `json:"status"`
	Flags  []string `json:"flags,omitempty"`
	Code   Code     `json:"code,omitempty"`
	Reason string   `json:"reason,omitempty"`
	// ReasonZH is the reason in Chinese, for the agent.
	ReasonZH string `json:"reason_zh,omitempty"`
}

// PushResponse answers a push: the highest contiguous seq the server holds
// and an outcome per mutation sent.
type PushResponse struct {
	AckSeq   int64     `json:"ack_seq"`
	Outcomes []Outcome `json:"outcomes"`
}

// Entities replicated to tablets.
const (
	EntityRosterEntry  = "roster_entry"
	EntityCollection   = "collection"    // status of the tablet's own collections
	EntityNotice       = "notice"        // a flag raised on a collection, for the agent
	EntityReceiptRange = "receipt_range" // receipt numbers the device may issue
	EntitySettings     = "settings"      // the year settings of the device's township
)

// Change ops.
const (
	OpUpsert = "upsert"
	OpDelete = "delete" // a tombstone
)

// Change is one replicated row at its latest change: Data is the row's
// current state (absent for a delete).
type Change struct {
	Stream string          `json:"stream"` // "v:<village code>" or "d:<device id>"
	Seq    int64           `json:"seq"`
	Entity string          `json:"entity"`
	ID     string          `json:"id"`
	Op     string          `json:"op"`
	Data   json.RawMessage `json:"data,omitempty"`
}

// Checkpoint is the count and checksum of the device's whole scope, sent
// when a pull is caught up; a replica that differs must be pulled again.
// The scope is every live replicated row except the settings, which are
// sent whole (stream "s", seq 0) whenever they change and are not counted.
type Checkpoint struct {
	Count    int    `json:"count"`
	Checksum string `json:"checksum"`
}

// PullResponse is GET /api/v1/sync/pull?cursor=…&limit=….
type PullResponse struct {
	Changes    []Change    `json:"changes"`
	Cursor     string      `json:"cursor"`
	HasMore    bool        `json:"has_more"`
	Checkpoint *Checkpoint `json:"checkpoint,omitempty"`
}

// RosterLine is a roster entry as a tablet holds it: no full ID number,
// only its masked form and a keyed hash for lookup by full ID; the amounts
// and the grades open to the person are worked out by the server.
type RosterLine struct {
	ID              string   `json:"id"`
	Kind            Kind     `json:"kind"`
	Year            int      `json:"year"`
	Name            string   `json:"name"`
	Initials        string   `json:"initials"`
	Masked          string   `json:"resident_id_masked"`
	IDHash          string   `json:"id_hash"` // IDHash(key, full ID), key from DeviceSettings
	VillageCode     string   `json:"village_code"`
	Category        Category `json:"category"`
	Due             Money    `json:"due"`
	Subsidy         Money    `json:"subsidy"`
	Grades          []Money  `json:"grades,omitempty"` // pension: the grades open to this person
	FullySubsidised bool     `json:"fully_subsidised"`
	Paid            bool     `json:"paid"`
	Review          string   `json:"review,omitempty"`
}

// IDHash is the keyed hash under which a tablet finds a person by full ID
// number without storing it: hex HMAC-SHA256(key, normalised ID).
func IDHash(key []byte, id ResidentID) string {
	return NewIDHasher(key).Hash(id)
}

// IDHasher is IDHash under one key for many ID numbers, keeping the keyed
// state between them (a bootstrap hashes 10,000). Not safe for concurrent
// use.
type IDHasher struct {
	mac hash.Hash
	sum [sha256.Size]byte
}

// NewIDHasher returns an IDHasher for key.
func NewIDHasher(key []byte) *IDHasher { return &IDHasher{mac: hmac.New(sha256.New, key)} }

// Hash is IDHash(key, id).
func (h *IDHasher) Hash(id ResidentID) string {
	h.mac.Reset()
	h.mac.Write([]byte(id))
	return hex.EncodeToString(h.mac.Sum(h.sum[:0]))
}

// ReceiptRange is a block of receipt numbers a device may issue, First to
// Last inclusive. Ranges never overlap across devices.
type ReceiptRange struct {
	ID    string `json:"id"`
	First int64  `json:"first"`
	Last  int64  `json:"last"`
}

// FormatReceipt writes a receipt number as printed: 12 digits.
func FormatReceipt(n int64) string { return fmt.Sprintf("%012d", n) }

// CollectionStatus is the server's view of one of the tablet's
// collections, pulled back to the tablet.
type CollectionStatus struct {
	ID        string   `json:"id"` // the collection mutation's ID
	ReceiptNo string   `json:"receipt_no"`
	Status    string   `json:"status"` // synced, batched, approved, exported, posted, voided, refund_requested, refunded
	Flags     []string `json:"flags,omitempty"`
}

// Notice tells the agent about a problem the server flagged on a
// collection (duplicate payment, not on the roster, wrong amount, outside
// the period, deposit mismatch, tamper alert).
type Notice struct {
	ID           string    `json:"id"`
	CollectionID string    `json:"collection_id,omitempty"`
	Code         string    `json:"code"`
	Message      string    `json:"message"`
	MessageZH    string    `json:"message_zh"`
	At           time.Time `json:"at"`
}

// DeviceSettings are what a tablet needs of the year settings: the dual
// limits, the period and the ID hash key.
type DeviceSettings struct {
	CashLimit      Money  `json:"cash_limit"`
	TimeLimitHours int    `json:"time_limit_hours"`
	Cutoff         string `json:"cutoff"`
	PeriodStart    string `json:"period_start"`
	PeriodEnd      string `json:"period_end"`
	IDHashKey      []byte `json:"id_hash_key"`
}

// ReplicaItem is one replicated row as the checksum sees it.
type ReplicaItem struct {
	Entity string
	ID     string
	Seq    int64 // the change number of its current state
}

// ReplicaChecksum is the checksum both sides compute over a scope: SHA-256
// of "entity id seq" lines sorted by entity and ID.
func ReplicaChecksum(items []ReplicaItem) string {
	sorted := make([]ReplicaItem, len(items))
	copy(sorted, items)
	sortItems(sorted)
	h := sha256.New()
	b := make([]byte, 0, 64<<10)
	for _, it := range sorted {
		// "<entity> <id> <seq>\n", written without fmt: a bootstrap
		// checksums 10,000 rows on each side.
		b = append(b, it.Entity...)
		b = append(b, ' ')
		b = append(b, it.ID...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, it.Seq, 10)
		b = append(b, '\n')
		if len(b) > 60<<10 {
			h.Write(b)
			b = b[:0]
		}
	}
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func sortItems(items []ReplicaItem) {
	slices.SortFunc(items, func(a, b ReplicaItem) int {
		return cmp.Or(cmp.Compare(a.Entity, b.Entity), cmp.Compare(a.ID, b.ID))
	})
}
