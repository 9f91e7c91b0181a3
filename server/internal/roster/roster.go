// Package roster reads the collection rosters (征收清册) that HRSS (pension)
// and medical security (medical) upload, checks every row against the
// district's villages and the year settings, and writes the row-level error
// report a bureau downloads when its file is refused.
//
// The flow is Parse (XLSX or CSV bytes to raw Rows), then Validate (raw Rows
// to clean Entries, or RowErrors), then, on errors, WriteReportCSV or
// WriteReportXLSX. A file with any bad row is refused whole: Validate
// returns no entries at all when it finds an error. These functions do no
// I/O beyond the reader and writer they are given; XLSX is read by a small
// scanner of its own (xlsx.go) for speed, and excelize only writes the
// XLSX report. Service (service.go) is the part that stores: it applies an
// accepted roster to the database as a diff.
package roster

import "villagesync/syncproto"

// Limits of Parse.
const (
	// MaxFileBytes is the largest roster file Parse reads (200 MiB, a
	// district of 250,000 rows is about 30 MB as CSV).
	MaxFileBytes = 200 << 20
	// MaxRows is the largest number of data rows Parse accepts.
	MaxRows = 1_000_000
	// MaxNameRunes is the longest name accepted. Names are never
	// truncated: a longer one is an error.
	MaxNameRunes = 100
	// MaxNoteRunes is the longest note (备注) accepted.
	MaxNoteRunes = 500
	// maxValueRunes caps RowError.Value, so that a runaway cell (e.g. a CSV
	// quote never closed) does not blow up the report.
	maxValueRunes = 256
)

// Row is one data row of a roster file as written: the 1-based row number
// as a spreadsheet shows it and the raw text of each known column ("" when
// the column is absent or the cell blank). Parse produces Rows; Validate
// turns them into Entries, which carry the parsed values and SourceRow.
type Row struct {
	// Num is the row number in the file, 1-based: the spreadsheet row for
	// XLSX, and the row a spreadsheet program shows for CSV (blank lines
	// count, line breaks inside quoted cells do not).
	Num int
	// Name is 姓名.
	Name string
	// ResidentID is 公民身份号码.
	ResidentID string
	// Village is 村居: a 12-digit village code or a village name.
	Village string
	// VillageName is the village name when the file has both a code column
	// (村居编码) and a name column (村居名称); it is checked against the
	// village the code names. Empty otherwise.
	VillageName string
	// Kind is 险种.
	Kind string
	// Category is 人员类别.
	Category string
	// Year is 缴费年度.
	Year string
	// Due is 应缴金额, in yuan.
	Due string
	// Subsidy is 代缴金额, in yuan.
	Subsidy string
	// Note is 备注.
	Note string
	// Header is the file's header row, shared by all rows of a file; nil
	// for rows built in code, whose errors then name the standard Chinese
	// headers.
	Header *Header
}

// Header holds the column headers exactly as the file writes them
// (surrounding spaces trimmed), "" for a column the file lacks. RowError
// names columns this way, so that a bureau finds them in its own file.
type Header struct {
	Name, ResidentID, Village, VillageName, Kind, Category, Year, Due, Subsidy, Note string
}

// Entry is one clean roster line: a person who owes (or, fully subsidised,
// does not owe) a premium of one kind for one coverage year in a village.
type Entry struct {
	// ResidentID is the validated, normalised ID number.
	ResidentID syncproto.ResidentID `json:"resident_id"`
	// Name is the name trimmed and NFC-normalised, never truncated;
	// padding spaces between Chinese characters (张　三) are removed.
	Name string `json:"name"`
	// VillageCode and TownshipCode place the entry.
	VillageCode  string `json:"village_code"`
	TownshipCode string `json:"township_code"`
	// Kind is the insurance.
	Kind syncproto.Kind `json:"kind"`
	// Category is the payer group; sensitive, never shown in public lists.
	Category syncproto.Category `json:"category"`
	// Year is the coverage year (缴费年度).
	Year int `json:"year"`
	// Due is what the person pays personally (应缴金额). For pension, zero
	// without FullySubsidised means the person chooses a grade at payment
	// (at least the category's minimum less 代缴).
	Due syncproto.Money `json:"due"`
	// Subsidy is what the government pays on the person's behalf (代缴).
	Subsidy syncproto.Money `json:"subsidy"`
	// Note is 备注, trimmed.
	Note string `json:"note,omitempty"`
	// FullySubsidised is true when the government pays it all (Due is zero
	// and the settings' 代缴 covers the minimum): nobody collects from
	// this person.
	FullySubsidised bool `json:"fully_subsidised"`
	// Initials are the pinyin initials of Name for search (see Initials).
	Initials string `json:"initials"`
	// SourceRow is the Row.Num the entry came from.
	SourceRow int `json:"source_row"`
}

// Codes of roster errors, besides syncproto's CodeInvalidID,
// CodeInvalidKind, CodeInvalidCategory and CodeInvalidMoney (whose messages
// come from syncproto's parsers) and CodeTooLarge. File-level errors from
// Parse are *syncproto.Error; row-level ones are RowError.
const (
	// CodeUnsupportedFormat: the file is neither XLSX nor CSV (e.g. an old
	// .xls), or its text encoding is not UTF-8, UTF-16 or GB18030.
	CodeUnsupportedFormat syncproto.Code = "roster_unsupported_format"
	// CodeUnreadable: a damaged XLSX or malformed CSV (e.g. an unclosed
	// quote).
	CodeUnreadable syncproto.Code = "roster_unreadable"
	// CodeNoHeader: no header row among the first rows of the file.
	CodeNoHeader syncproto.Code = "roster_no_header"
	// CodeMissingColumn: a required column is absent.
	CodeMissingColumn syncproto.Code = "roster_missing_column"
	// CodeDuplicateColumn: two columns mean the same field.
	CodeDuplicateColumn syncproto.Code = "roster_duplicate_column"
	// CodeEmpty: a header but no data rows.
	CodeEmpty syncproto.Code = "roster_empty"

	// CodeMissingValue: a required cell is blank.
	CodeMissingValue syncproto.Code = "roster_missing_value"
	// CodeInvalidName: a name with control or undecodable characters, or
	// longer than MaxNameRunes.
	CodeInvalidName syncproto.Code = "roster_invalid_name"
	// CodeUnknownVillage: no village of the district has this code or name.
	CodeUnknownVillage syncproto.Code = "roster_unknown_village"
	// CodeAmbiguousVillage: several villages of the district have this name.
	CodeAmbiguousVillage syncproto.Code = "roster_ambiguous_village"
	// CodeVillageMismatch: the village name column contradicts the code.
	CodeVillageMismatch syncproto.Code = "roster_village_mismatch"
	// CodeKindMismatch: the row's insurance is not the uploader's.
	CodeKindMismatch syncproto.Code = "roster_kind_mismatch"
	// CodeInvalidYear: the coverage year is not a year.
	CodeInvalidYear syncproto.Code = "roster_invalid_year"
	// CodeNoSettings: no year settings for the row's year and village.
	CodeNoSettings syncproto.Code = "roster_no_settings"
	// CodeSubsidyMismatch: 代缴金额 differs from the settings' 代缴 for the
	// category.
	CodeSubsidyMismatch syncproto.Code = "roster_subsidy_mismatch"
	// CodeAmountMismatch: 应缴金额 is not what the settings allow.
	CodeAmountMismatch syncproto.Code = "roster_amount_mismatch"
	// CodeInvalidNote: a note longer than MaxNoteRunes or with control
	// characters.
	CodeInvalidNote syncproto.Code = "roster_invalid_note"
	// CodeDuplicateInFile: the same person twice for the same kind and
	// year; both rows are reported.
	CodeDuplicateInFile syncproto.Code = "roster_duplicate_in_file"
)
