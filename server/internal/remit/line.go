// Package remit is the daily remittance: batches cut per township and
// business day from the synced collections, approved or rejected by the
// township, downloaded by the tax office and posted (入库) with voucher
// numbers; reconciliation, refunds, and the files each party reads.
package remit

import (
	"time"

	"villagesync/syncproto"
)

// Batch states.
const (
	StateSubmitted       = "submitted"
	StateApproved        = "approved"
	StateRejected        = "rejected"
	StateExported        = "exported"
	StatePosted          = "posted"
	StatePartiallyPosted = "partially_posted"
)

// Batch is one township's remittance batch for one business day.
type Batch struct {
	ID             string          `json:"id"`
	TownshipCode   string          `json:"township_code"`
	TownshipName   string          `json:"township_name"`
	BusinessDay    string          `json:"business_day"` // 2026-11-26 (Asia/Shanghai)
	Revision       int             `json:"revision"`     // 1, or more after a rejection
	State          string          `json:"state"`
	Count          int             `json:"count"`
	Total          syncproto.Money `json:"total"`
	CreatedAt      time.Time       `json:"created_at"`
	ApprovedAt     *time.Time      `json:"approved_at,omitempty"`
	OverrideReason string          `json:"override_reason,omitempty"`
	RejectReason   string          `json:"reject_reason,omitempty"`
	ExportedAt     *time.Time      `json:"exported_at,omitempty"`
	PostedAt       *time.Time      `json:"posted_at,omitempty"`
}

// Line is one line of a batch: a collection, or a reversal of a line of
// an earlier approved batch (negative amount, ReversesLine set).
type Line struct {
	No           int             `json:"no"` // 1-based within the batch
	CollectionID string          `json:"collection_id"`
	VillageCode  string          `json:"village_code"`
	VillageName  string          `json:"village_name"`
	AgentName    string          `json:"agent"`
	Name         string          `json:"name"`
	ResidentID   string          `json:"resident_id"` // full: the tax office posts per person
	Kind         syncproto.Kind  `json:"kind"`
	Year         int             `json:"year"`
	Grade        syncproto.Money `json:"grade"`
	Amount       syncproto.Money `json:"amount"`
	ReceiptNo    string          `json:"receipt_no"`
	DeviceTime   time.Time       `json:"device_time"`
	ServerTime   time.Time       `json:"server_time"`
	ReversesLine string          `json:"reverses,omitempty"`    // "<batch id>#<line no>" for a correction
	Voucher      string          `json:"voucher,omitempty"`     // 完税凭证号, once posted
	PostedDate   string          `json:"posted_date,omitempty"` // 入库日期
	PostError    string          `json:"post_error,omitempty"`
}

// Posting is one row of the tax office's posting result (入库结果): a
// line (by line number or receipt number) posted with a voucher number
// and date, or an error.
type Posting struct {
	Row        int    // row in the uploaded file, for the error report
	LineNo     int    // 0 when the row names a receipt instead
	ReceiptNo  string // "" when the row names a line number
	Voucher    string
	PostedDate string // YYYY-MM-DD
	Error      string
}
