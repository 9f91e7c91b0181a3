// Package textenc turns the text files that office software on Chinese
// Windows saves (CSV in UTF-8 with or without BOM, UTF-16 with BOM, or
// GB18030/GBK) into UTF-8, without ever producing mojibake: a file that
// decodes to replacement characters is refused. Roster uploads and the
// tax office's posting results both read their CSV through it.
package textenc

import (
	"bytes"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	xunicode "golang.org/x/text/encoding/unicode"

	"villagesync/syncproto"
)

var (
	bomUTF8 = []byte("\xef\xbb\xbf")
	bomLE   = []byte{0xFF, 0xFE}
	bomBE   = []byte{0xFE, 0xFF}
)

// Decode returns data as UTF-8, detecting its encoding. A refusal carries
// code, the caller's "unsupported format" code.
func Decode(data []byte, code syncproto.Code) ([]byte, error) {
	switch {
	case bytes.HasPrefix(data, bomUTF8):
		data = data[len(bomUTF8):]
		if !utf8.Valid(data) {
			return nil, syncproto.Errorf(code,
				"the file starts with a UTF-8 byte order mark but is not valid UTF-8",
				"文件标记为 UTF-8 编码，但内容不是有效的 UTF-8")
		}
		return data, nil
	case bytes.HasPrefix(data, bomLE), bytes.HasPrefix(data, bomBE):
		out, err := xunicode.UTF16(xunicode.LittleEndian, xunicode.ExpectBOM).NewDecoder().Bytes(data)
		if err != nil || bytes.ContainsRune(out, utf8.RuneError) {
			return nil, syncproto.Errorf(code,
				"the file is marked UTF-16 but is not valid UTF-16",
				"文件标记为 UTF-16 编码，但内容不是有效的 UTF-16")
		}
		return out, nil
	case utf8.Valid(data):
		return data, nil
	}
	out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data)
	if err != nil || bytes.ContainsRune(out, utf8.RuneError) {
		return nil, syncproto.Errorf(code,
			"the file's text encoding is neither UTF-8 nor GB18030/GBK; save it as CSV UTF-8",
			"文件编码既不是 UTF-8 也不是 GB18030/GBK，请另存为“CSV UTF-8”格式")
	}
	return out, nil
}
