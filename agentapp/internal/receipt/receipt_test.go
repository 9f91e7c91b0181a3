package receipt_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"villagesync/agentapp/internal/receipt"
	"villagesync/syncproto"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestCapital(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		fen  int64
		want string
	}{
		{0, "零元整"},
		{1, "壹分"},
		{10, "壹角整"},
		{50, "伍角整"},
		{55, "伍角伍分"},
		{100, "壹元整"},
		{1000, "壹拾元整"},
		{1500, "壹拾伍元整"},
		{10000, "壹佰元整"},
		{28000, "贰佰捌拾元整"},
		{28050, "贰佰捌拾元伍角整"},
		{28005, "贰佰捌拾元零伍分"},
		{40000, "肆佰元整"},
		{100505, "壹仟零伍元零伍分"},
		{140950, "壹仟肆佰零玖元伍角整"},
		{600714, "陆仟零柒元壹角肆分"},
		{168032, "壹仟陆佰捌拾元叁角贰分"},
		{1010000, "壹万零壹佰元整"},
		{1001000, "壹万零壹拾元整"},
		{2000000, "贰万元整"},
		{10700053, "壹拾万柒仟元伍角叁分"},
		{10010000, "壹拾万零壹佰元整"},
		{100000100, "壹佰万零壹元整"},
		{100100000000, "壹拾亿零壹佰万元整"},
		{10000000000, "壹亿元整"},
		{10000000100, "壹亿零壹元整"},
		{100010000000, "壹拾亿零壹拾万元整"},
		{-28000, "负贰佰捌拾元整"},
	} {
		if got := receipt.Capital(syncproto.Money(tc.fen)); got != tc.want {
			t.Errorf("Capital(%s) = %s, want %s", syncproto.Money(tc.fen), got, tc.want)
		}
	}
}

func sample() receipt.Receipt {
	return receipt.Receipt{
		ReceiptNo: "000000001001", Name: "张𠀾", Masked: "370403********123X", Kind: syncproto.KindPension,
		Year: 2026, Grade: syncproto.Yuan(500), Amount: syncproto.Yuan(400), Agent: "张代办 (agent.zhang)",
		Village: "370403001001", DeviceID: "01JNM7Q8Z3X4Y5W6V7T8S9R0QP",
		DeviceTime: time.Date(2026, 10, 28, 1, 30, 5, 0, time.UTC),
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file (go test -update to rewrite):\n%s", name, got)
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	t.Run("OKPension", func(t *testing.T) {
		t.Parallel()
		var b bytes.Buffer
		if err := sample().Text(&b); err != nil {
			t.Fatal(err)
		}
		golden(t, "pension.txt", b.Bytes())
	})
	t.Run("OKMedicalVoided", func(t *testing.T) {
		t.Parallel()
		r := sample()
		r.Kind, r.Grade, r.Amount, r.Voided, r.VoidReason = syncproto.KindMedical, 0, syncproto.Money(40050), true, "收错人了"
		var b bytes.Buffer
		if err := r.Text(&b); err != nil {
			t.Fatal(err)
		}
		golden(t, "medical_voided.txt", b.Bytes())
	})
}

func TestHTML(t *testing.T) {
	t.Parallel()
	r := sample()
	r.Name = `<script>alert(1)</script>`
	var b bytes.Buffer
	if err := r.HTML(&b); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b.Bytes(), []byte("<script>")) {
		t.Fatal("the name was not escaped")
	}
	golden(t, "pension.html", b.Bytes())
}
