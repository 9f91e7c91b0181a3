package syncproto

// DecodeRosterLineDirect is UnmarshalRosterLine's direct path, for tests
// that show which documents take it.
func DecodeRosterLineDirect(data []byte, l *RosterLine) bool { return decodeRosterLine(data, l) }
