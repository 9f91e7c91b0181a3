package roster

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"villagesync/syncproto"
)

// This file reads the cell values of an XLSX workbook (Office Open XML
// SpreadsheetML, transitional or strict, as Excel, WPS and LibreOffice
// write it). It is a small scanner over the few elements a roster needs —
// rows, cells, values, shared and inline strings — because the general
// readers are far too slow for a district roster: excelize, on
// encoding/xml, took 14 s for 250,000 rows, this scanner takes under 2 s
// including validation. The small workbook parts (relationships, sheet
// list) go through encoding/xml. Part names are matched ignoring case and
// with backslashes read as slashes, as some Windows tools write them.
//
// Cell values are the stored values, not the displayed ones: text as
// written; a number in its shortest form with at most 15 significant
// digits, as Excel keeps them (400 → "400", 0.1+0.2 → "0.3", an 18-digit ID
// typed as a number → "3.70403198001011e+17"); booleans TRUE/FALSE; the
// cached result of a formula.

// maxPartBytes caps the decompressed size of one workbook part, against
// zip bombs. A 250,000-row sheet is about 60 MB.
const maxPartBytes = 512 << 20

// xlsxBook is an opened workbook.
type xlsxBook struct {
	files      map[string]*zip.File
	sharedPath string // the shared string table's part, if any
	shared     []string
}

// xlsxSheet is a worksheet in workbook order.
type xlsxSheet struct {
	name, path string
	hidden     bool
}

// parseXLSX reads the first visible worksheet that has a header row. The
// reader runs under recover: a damaged upload must not crash the server.
func parseXLSX(data []byte) (rows []Row, err error) {
	defer func() {
		if p := recover(); p != nil {
			rows, err = nil, damaged(fmt.Errorf("panic: %v", p))
		}
	}()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !(errors.Is(err, zip.ErrInsecurePath) && zr != nil) {
		// ErrInsecurePath (GODEBUG zipinsecurepath=0) concerns extracting
		// to disk; parts are only looked up here.
		return nil, damaged(err)
	}
	book := &xlsxBook{files: make(map[string]*zip.File, len(zr.File))}
	for _, f := range zr.File {
		book.files[partKey(f.Name)] = f
	}
	sheets, err := book.sheets()
	if err != nil {
		return nil, err
	}
	if err := book.readSharedStrings(); err != nil {
		return nil, err
	}
	for _, sh := range sheets {
		if sh.hidden {
			continue
		}
		xml, err := book.read(sh.path)
		if err != nil {
			return nil, err
		}
		rows, err := readTable(&sheetScanner{x: xmlScanner{b: xml}, shared: book.shared, sheet: sh.name}, bytes.Count(xml, []byte("<row"))+1)
		if err != nil || rows != nil {
			return rows, err
		}
	}
	return nil, noHeader()
}

func damaged(err error) error {
	return syncproto.Wrap(err, CodeUnreadable,
		"the file is not a readable Excel workbook (.xlsx)", "文件不是可读取的 Excel 工作簿（.xlsx），可能已损坏")
}

// partKey normalises a part name for lookup.
func partKey(name string) string {
	return strings.ToLower(strings.TrimPrefix(strings.ReplaceAll(name, `\`, "/"), "/"))
}

// read returns a part's decompressed bytes.
func (b *xlsxBook) read(name string) ([]byte, error) {
	f, ok := b.files[partKey(name)]
	if !ok {
		return nil, damaged(fmt.Errorf("missing part %s", name))
	}
	rc, err := f.Open()
	if err != nil {
		return nil, damaged(err)
	}
	defer rc.Close()
	// Size the buffer from the header, but trust it only as far as a
	// plausible compression ratio goes: the header may lie.
	var buf bytes.Buffer
	buf.Grow(int(min(f.UncompressedSize64, 32*f.CompressedSize64+1<<20, maxPartBytes)) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(rc, maxPartBytes+1)); err != nil {
		return nil, damaged(err)
	}
	if buf.Len() > maxPartBytes {
		return nil, syncproto.Errorf(syncproto.CodeTooLarge,
			"the workbook is too large once unpacked", "工作簿解压后过大")
	}
	return buf.Bytes(), nil
}

// relationships reads a .rels part: Id → target path, resolved against
// the folder of the part the relationships belong to.
func (b *xlsxBook) relationships(relsPath, baseDir string) (map[string]string, map[string]string, error) {
	data, err := b.read(relsPath)
	if err != nil {
		return nil, nil, err
	}
	var rels struct {
		Relationship []struct {
			ID     string `xml:"Id,attr"`
			Type   string `xml:"Type,attr"`
			Target string `xml:"Target,attr"`
			Mode   string `xml:"TargetMode,attr"`
		}
	}
	if err := xml.Unmarshal(data, &rels); err != nil {
		return nil, nil, damaged(err)
	}
	byID, byType := map[string]string{}, map[string]string{}
	for _, r := range rels.Relationship {
		if r.Mode == "External" {
			continue
		}
		target := r.Target
		if strings.HasPrefix(target, "/") {
			target = strings.TrimPrefix(target, "/")
		} else {
			target = path.Join(baseDir, target)
		}
		byID[r.ID] = target
		// The type's last segment, e.g. officeDocument, worksheet,
		// sharedStrings: the same in transitional and strict OOXML.
		byType[path.Base(r.Type)] = target
	}
	return byID, byType, nil
}

// sheets lists the worksheets in workbook order.
func (b *xlsxBook) sheets() ([]xlsxSheet, error) {
	workbook := "xl/workbook.xml"
	if _, ok := b.files[partKey("_rels/.rels")]; ok {
		_, byType, err := b.relationships("_rels/.rels", "")
		if err != nil {
			return nil, err
		}
		if p, ok := byType["officeDocument"]; ok {
			workbook = p
		}
	}
	dir, file := path.Split(workbook)
	byID, byType, err := b.relationships(path.Join(dir, "_rels", file+".rels"), strings.TrimSuffix(dir, "/"))
	if err != nil {
		return nil, err
	}
	b.sharedPath = byType["sharedStrings"]
	data, err := b.read(workbook)
	if err != nil {
		return nil, err
	}
	var wb struct {
		Sheets []struct {
			Name  string `xml:"name,attr"`
			State string `xml:"state,attr"`
			RID   string `xml:"id,attr"`
		} `xml:"sheets>sheet"`
	}
	if err := xml.Unmarshal(data, &wb); err != nil {
		return nil, damaged(err)
	}
	var out []xlsxSheet
	for _, s := range wb.Sheets {
		p, ok := byID[s.RID]
		if !ok {
			return nil, damaged(fmt.Errorf("sheet %q has no part", s.Name))
		}
		out = append(out, xlsxSheet{name: s.Name, path: p, hidden: s.State == "hidden" || s.State == "veryHidden"})
	}
	if len(out) == 0 {
		return nil, damaged(errors.New("no worksheets"))
	}
	return out, nil
}

// readSharedStrings reads the shared string table, if the workbook has one.
func (b *xlsxBook) readSharedStrings() error {
	if b.sharedPath == "" {
		return nil
	}
	data, err := b.read(b.sharedPath)
	if err != nil {
		return err
	}
	x := xmlScanner{b: data}
	for {
		tag, ok := x.next()
		if !ok {
			return nil
		}
		if tag.name == "si" && tag.kind == tagOpen {
			s, err := x.richText("si")
			if err != nil {
				return damaged(err)
			}
			b.shared = append(b.shared, s)
		} else if tag.name == "si" && tag.kind == tagEmpty {
			b.shared = append(b.shared, "")
		}
	}
}

// sheetScanner yields a worksheet's rows as table rows.
type sheetScanner struct {
	x      xmlScanner
	shared []string
	sheet  string
	num    int      // the last row number
	cells  []string // reused
}

func (s *sheetScanner) next() (int, []string, error) {
	for {
		tag, ok := s.x.next()
		if !ok {
			return 0, nil, io.EOF
		}
		switch {
		case tag.name == "sheetData" && tag.kind == tagClose:
			return 0, nil, io.EOF
		case tag.name == "row" && tag.kind != tagClose:
			n := nextIndex(tag.attrRaw("r"), s.num, parseRowNum)
			if n <= s.num {
				return 0, nil, syncproto.Errorf(CodeUnreadable,
					fmt.Sprintf("worksheet %q has a row number out of order or range after row %d", s.sheet, s.num),
					fmt.Sprintf("工作表“%s”第 %d 行之后的行号顺序错误或超出范围", s.sheet, s.num))
			}
			s.num = n
			s.cells = s.cells[:0]
			if tag.kind == tagEmpty {
				return s.num, s.cells, nil
			}
			if err := s.readCells(); err != nil {
				return 0, nil, syncproto.Wrap(err, CodeUnreadable,
					fmt.Sprintf("worksheet %q row %d cannot be read", s.sheet, s.num),
					fmt.Sprintf("工作表“%s”第 %d 行无法读取", s.sheet, s.num))
			}
			return s.num, s.cells, nil
		}
	}
}

// maxColumns bounds the cells of a row that are kept (Excel's limit is
// 16,384); a roster has about ten.
const maxColumns = 16384

// readCells reads the cells of the current row up to </row>.
func (s *sheetScanner) readCells() error {
	col := 0
	for {
		tag, ok := s.x.next()
		if !ok {
			return errors.New("unexpected end of the sheet")
		}
		if tag.name == "row" && tag.kind == tagClose {
			return nil
		}
		if tag.name != "c" || tag.kind == tagClose {
			continue
		}
		ref, t := tag.cellAttrs()
		col = nextIndex(ref, col, parseColumn)
		if col < 1 || col > maxColumns {
			return fmt.Errorf("cell reference %q out of range", ref)
		}
		typ := cellType(t)
		value := ""
		if tag.kind == tagOpen {
			v, err := s.cellValue(typ)
			if err != nil {
				return err
			}
			value = v
		}
		for len(s.cells) < col {
			s.cells = append(s.cells, "")
		}
		s.cells[col-1] = value
	}
}

// cellValue reads a cell's content up to </c> and returns its value.
func (s *sheetScanner) cellValue(typ string) (string, error) {
	var raw, inline string
	shared := -1
	for {
		tag, ok := s.x.next()
		if !ok {
			return "", errors.New("unexpected end of a cell")
		}
		switch {
		case tag.name == "c" && tag.kind == tagClose:
			switch typ {
			case "s":
				if shared < 0 || shared >= len(s.shared) {
					return "", errors.New("shared string index out of range")
				}
				return s.shared[shared], nil
			case "inlineStr":
				return inline, nil
			case "b":
				if raw == "1" {
					return "TRUE", nil
				}
				return "FALSE", nil
			case "str", "e", "d":
				return raw, nil
			}
			return formatNumber(raw), nil
		case tag.name == "v" && tag.kind == tagOpen:
			v, err := s.x.textBytes("v")
			if err != nil {
				return "", err
			}
			if typ == "s" {
				i, ok := atoi(bytes.TrimSpace(v))
				if !ok {
					return "", errors.New("shared string index is not a number")
				}
				shared = i
			} else {
				raw = unescapeXML(v)
			}
		case tag.name == "is" && tag.kind == tagOpen:
			v, err := s.x.richText("is")
			if err != nil {
				return "", err
			}
			inline = v
		case tag.name == "f" && tag.kind == tagOpen:
			if _, err := s.x.textBytes("f"); err != nil { // the formula; its cached result is in <v>
				return "", err
			}
		}
	}
}

// formatNumber writes a stored number as Excel keeps it: integers exactly
// up to 15 digits, otherwise at most 15 significant digits.
func formatNumber(raw string) string {
	f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return raw
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', 15, 64)
}

// cellType interns a cell's t attribute.
func cellType(t []byte) string {
	switch string(t) {
	case "":
		return ""
	case "s":
		return "s"
	case "n":
		return "n"
	case "str":
		return "str"
	case "inlineStr":
		return "inlineStr"
	case "b":
		return "b"
	case "e":
		return "e"
	case "d":
		return "d"
	}
	return string(t)
}

// nextIndex parses a row or cell reference with parse, or continues from
// prev when the reference is absent. It returns -1 for a reference that is
// present but out of range.
func nextIndex(ref []byte, prev int, parse func([]byte) (int, bool)) int {
	if len(ref) == 0 {
		return prev + 1
	}
	if n, ok := parse(ref); ok {
		return n
	}
	return -1
}

// parseRowNum parses a row number attribute (Excel has 1,048,576 rows).
func parseRowNum(s []byte) (int, bool) {
	n, ok := atoi(s)
	return n, ok && n > 0 && n <= 1<<20
}

// atoi parses up to nine ASCII digits.
func atoi(s []byte) (int, bool) {
	if len(s) == 0 || len(s) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// parseColumn returns the 1-based column of a cell reference such as
// "AB12".
func parseColumn(ref []byte) (int, bool) {
	col := 0
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c < 'A' || c > 'Z' {
			break
		}
		col = col*26 + int(c-'A'+1)
		if col > maxColumns {
			return 0, false
		}
	}
	return col, col > 0
}

// tagKind is the kind of an XML tag.
type tagKind int

const (
	tagOpen  tagKind = iota // <x>
	tagClose                // </x>
	tagEmpty                // <x/>
)

// xmlTag is one element tag: its local name (prefix dropped) and its raw
// attributes.
type xmlTag struct {
	name  string
	attrs []byte
	kind  tagKind
}

// cellAttrs returns the raw r and t attributes of a cell in one pass.
func (t xmlTag) cellAttrs() (ref, typ []byte) {
	t.eachAttr(func(name, value []byte) bool {
		switch string(name) {
		case "r":
			ref = value
		case "t":
			typ = value
		}
		return true
	})
	return ref, typ
}

// attrRaw returns the raw value of the attribute with this local name
// (entities not decoded: the attributes read this way never have any).
func (t xmlTag) attrRaw(local string) []byte {
	var found []byte
	t.eachAttr(func(name, value []byte) bool {
		if string(name) == local {
			found = value
			return false
		}
		return true
	})
	return found
}

// eachAttr calls f with each attribute's local name and raw value until f
// returns false.
func (t xmlTag) eachAttr(f func(name, value []byte) bool) {
	a := t.attrs
	for {
		a = skipSpace(a)
		eq := bytes.IndexByte(a, '=')
		if eq < 0 {
			return
		}
		name := a[:eq]
		for len(name) > 0 && isSpace(name[len(name)-1]) {
			name = name[:len(name)-1]
		}
		if i := bytes.LastIndexByte(name, ':'); i >= 0 {
			name = name[i+1:]
		}
		a = skipSpace(a[eq+1:])
		if len(a) == 0 || (a[0] != '"' && a[0] != '\'') {
			return
		}
		end := bytes.IndexByte(a[1:], a[0])
		if end < 0 {
			return
		}
		value := a[1 : 1+end]
		a = a[end+2:]
		if !f(name, value) {
			return
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func skipSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	return b
}

// xmlScanner walks the tags of an XML document held in memory.
type xmlScanner struct {
	b   []byte
	i   int
	buf []byte // scratch for text
}

// next returns the next element tag, skipping text, comments, processing
// instructions, CDATA sections and the DOCTYPE.
func (x *xmlScanner) next() (xmlTag, bool) {
	for {
		j := bytes.IndexByte(x.b[x.i:], '<')
		if j < 0 {
			x.i = len(x.b)
			return xmlTag{}, false
		}
		x.i += j
		rest := x.b[x.i:]
		if len(rest) > 1 && (rest[1] == '!' || rest[1] == '?') {
			end := ">"
			switch {
			case bytes.HasPrefix(rest, []byte("<!--")):
				end = "-->"
			case bytes.HasPrefix(rest, []byte("<![CDATA[")):
				end = "]]>"
			case rest[1] == '?':
				end = "?>"
			}
			if !x.skipPast(end) {
				return xmlTag{}, false
			}
			continue
		}
		t := xmlTag{kind: tagOpen}
		k := 1
		if k < len(rest) && rest[k] == '/' {
			t.kind = tagClose
			k++
		}
		nameStart := k
		for k < len(rest) && !nameEnds(rest[k]) {
			k++
		}
		name := rest[nameStart:k]
		end := tagEnd(rest, k)
		if end < 0 {
			x.i = len(x.b)
			return xmlTag{}, false
		}
		attrs := rest[k:end]
		if len(attrs) > 0 && attrs[len(attrs)-1] == '/' {
			t.kind, attrs = tagEmpty, attrs[:len(attrs)-1]
		}
		x.i += end + 1
		if c := bytes.IndexByte(name, ':'); c >= 0 {
			name = name[c+1:]
		}
		t.name, t.attrs = internName(name), attrs
		return t, true
	}
}

// nameEnds reports whether c ends an element name.
func nameEnds(c byte) bool {
	return c == '>' || c == '/' || isSpace(c)
}

// tagEnd returns the index in b of the '>' closing the tag, searching from
// i and skipping quoted attribute values, or -1.
func tagEnd(b []byte, i int) int {
	for ; i < len(b); i++ {
		switch c := b[i]; c {
		case '>':
			return i
		case '"', '\'':
			q := bytes.IndexByte(b[i+1:], c)
			if q < 0 {
				return -1
			}
			i += q + 1
		}
	}
	return -1
}

// internName returns the names the scanner looks at without allocating.
func internName(b []byte) string {
	switch string(b) {
	case "row":
		return "row"
	case "c":
		return "c"
	case "v":
		return "v"
	case "t":
		return "t"
	case "is":
		return "is"
	case "si":
		return "si"
	case "r":
		return "r"
	case "f":
		return "f"
	case "rPh":
		return "rPh"
	case "sheetData":
		return "sheetData"
	}
	return string(b)
}

func (x *xmlScanner) skipPast(end string) bool {
	k := bytes.Index(x.b[x.i:], []byte(end))
	if k < 0 {
		x.i = len(x.b)
		return false
	}
	x.i += k + len(end)
	return true
}

// text returns the decoded text content of the element just opened, up
// to its closing tag, and consumes that tag.
func (x *xmlScanner) text(name string) (string, error) {
	b, err := x.textBytes(name)
	if err != nil {
		return "", err
	}
	return unescapeXML(b), nil
}

// textBytes is text without decoding entities; the result is valid until
// the next call. Child elements are not expected: their tags are dropped,
// their text kept.
func (x *xmlScanner) textBytes(name string) ([]byte, error) {
	x.buf = x.buf[:0]
	for {
		j := bytes.IndexByte(x.b[x.i:], '<')
		if j < 0 {
			return nil, fmt.Errorf("unclosed <%s>", name)
		}
		x.buf = append(x.buf, x.b[x.i:x.i+j]...)
		x.i += j
		if rest := x.b[x.i:]; bytes.HasPrefix(rest, []byte("<![CDATA[")) {
			k := bytes.Index(rest, []byte("]]>"))
			if k < 0 {
				return nil, errors.New("unclosed CDATA")
			}
			// Escape the raw CDATA so that unescapeXML gives it back.
			x.buf = append(x.buf, bytes.ReplaceAll(rest[len("<![CDATA["):k], []byte("&"), []byte("&amp;"))...)
			x.i += k + len("]]>")
			continue
		}
		tag, ok := x.next()
		if !ok {
			return nil, fmt.Errorf("unclosed <%s>", name)
		}
		if tag.kind == tagClose && tag.name == name {
			return x.buf, nil
		}
	}
}

// richText returns the text of a shared or inline string element (si or
// is) up to its closing tag: its <t> texts concatenated, leaving out the
// phonetic runs (<rPh>).
func (x *xmlScanner) richText(name string) (string, error) {
	var first string
	var more *strings.Builder
	phonetic := 0
	for {
		tag, ok := x.next()
		if !ok {
			return "", fmt.Errorf("unclosed <%s>", name)
		}
		switch {
		case tag.name == name && tag.kind == tagClose:
			if more != nil {
				return more.String(), nil
			}
			return first, nil
		case tag.name == "rPh" && tag.kind == tagOpen:
			phonetic++
		case tag.name == "rPh" && tag.kind == tagClose:
			phonetic--
		case tag.name == "t" && tag.kind == tagOpen:
			s, err := x.text("t")
			if err != nil {
				return "", err
			}
			switch {
			case phonetic > 0:
			case more != nil:
				more.WriteString(s)
			case first == "":
				first = s
			default:
				more = &strings.Builder{}
				more.WriteString(first)
				more.WriteString(s)
			}
		}
	}
}

// unescapeXML decodes the five XML entities, character references, and
// OOXML's _xHHHH_ escapes of characters XML cannot carry (_x000D_ is a
// carriage return). Unknown entities are kept as written.
func unescapeXML(b []byte) string {
	if bytes.IndexByte(b, '&') < 0 && bytes.IndexByte(b, '_') < 0 {
		return string(b)
	}
	var out []byte
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '&' {
			if semi := bytes.IndexByte(b[i:], ';'); semi > 1 && semi < 12 {
				if r, ok := entity(b[i+1 : i+semi]); ok {
					out = utf8.AppendRune(out, r)
					i += semi
					continue
				}
			}
		}
		if c == '_' && i+6 < len(b) && b[i+1] == 'x' && b[i+6] == '_' {
			if v, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 32); err == nil {
				out = utf8.AppendRune(out, rune(v))
				i += 6
				continue
			}
		}
		out = append(out, c)
	}
	return string(out)
}

// entity decodes the name of an entity or character reference.
func entity(name []byte) (rune, bool) {
	switch string(name) {
	case "amp":
		return '&', true
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "quot":
		return '"', true
	case "apos":
		return '\'', true
	}
	if len(name) > 1 && name[0] == '#' {
		var v uint64
		var err error
		if name[1] == 'x' || name[1] == 'X' {
			v, err = strconv.ParseUint(string(name[2:]), 16, 32)
		} else {
			v, err = strconv.ParseUint(string(name[1:]), 10, 32)
		}
		if err == nil && utf8.ValidRune(rune(v)) {
			return rune(v), true
		}
	}
	return 0, false
}
