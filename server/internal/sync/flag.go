package sync

// Flags raised on collections and deposits. Cash is never refused for
// them: the record is stored, flagged, and the agent gets a notice.
const (
	FlagDuplicate       = "duplicate_payment"    // the same person, kind and year paid twice
	FlagNotOnRoster     = "not_on_roster"        // no such roster line (removed, or never there)
	FlagMovedVillage    = "moved_village"        // the line is in another village than the tablet's
	FlagAmount          = "amount_mismatch"      // not the roster's amount, or not an allowed grade
	FlagOutsidePeriod   = "outside_period"       // collected outside the collection period
	FlagReceiptRange    = "receipt_out_of_range" // a receipt number not allocated to this device
	FlagReceiptReused   = "receipt_reused"       // a receipt number this device used before
	FlagDepositCount    = "deposit_count_mismatch"
	FlagDepositSum      = "deposit_sum_mismatch"
	FlagDepositChain    = "deposit_chain_mismatch"
	FlagDepositSlip     = "deposit_slip_mismatch" // the slip amount differs from the cash held
	FlagPaidElsewhere   = "paid_elsewhere"        // the roster says paid through another channel
	FlagFullySubsidised = "fully_subsidised"      // the government pays it all: nothing to collect
)

// NoticeDuplicateResolved tells an agent that a duplicate payment was
// resolved by voiding the other record.
const NoticeDuplicateResolved = "duplicate_resolved"

// flagText is the notice text of each flag, English and Chinese.
var flagText = map[string][2]string{
	FlagDuplicate:           {"This person has paid this insurance for this year more than once; the township will arrange a refund.", "该居民本年度此险种重复缴费，镇街将安排退费。"},
	FlagNotOnRoster:         {"This person is not (or no longer) on the collection roster.", "该居民不在（或已不在）征收清册中。"},
	FlagMovedVillage:        {"This person is on the roster of another village.", "该居民属于其他村居的征收清册。"},
	FlagAmount:              {"The amount does not match the roster or an allowed grade.", "收款金额与清册应缴金额或允许的缴费档次不符。"},
	FlagOutsidePeriod:       {"Collected outside the collection period.", "收款时间不在集中征缴期内。"},
	FlagReceiptRange:        {"The receipt number was not allocated to this tablet.", "该收据号不在本终端领用的号段内。"},
	FlagReceiptReused:       {"The receipt number was used twice on this tablet.", "该收据号在本终端被重复使用。"},
	FlagDepositCount:        {"The deposit covers a different number of collections than the server holds.", "解缴笔数与服务器记录不符。"},
	FlagDepositSum:          {"The deposit's total differs from the cash the server holds for this tablet.", "解缴合计金额与服务器记录不符。"},
	FlagDepositChain:        {"The deposit's chain head differs from the server's.", "解缴记录的链头与服务器记录不符。"},
	FlagDepositSlip:         {"The bank slip amount differs from the cash collected.", "银行缴款单金额与所收现金不符。"},
	FlagPaidElsewhere:       {"The roster says this person already paid through another channel.", "清册显示该居民已通过其他渠道缴费。"},
	NoticeDuplicateResolved: {"The other payment of this person was voided: this one is no longer a duplicate.", "该居民的另一笔缴费已作废，本笔不再属于重复缴费。"},
	FlagFullySubsidised:     {"The government pays this person's premium in full: no cash should be collected.", "该居民由政府全额代缴，不应收取现金。"},
}
