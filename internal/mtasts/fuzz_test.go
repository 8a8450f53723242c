package mtasts_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/smtp-exporter/smtp_exporter/internal/mtasts"
)

// FuzzParsePolicy checks that a policy ParsePolicy accepts is one a sender
// can apply, and that writing it out again gives the same policy.
func FuzzParsePolicy(f *testing.F) {
	f.Add(goodPolicy)
	f.Add("version: STSv1\nmode: none\nmax_age: 0")
	f.Add("version: STSv1\nmode: testing\nmx:\t*.mx.test \nmax_age: 31557600\nx: ü\n")
	f.Add("version: STSv1\r\n\r\nmode: enforce")
	f.Fuzz(func(t *testing.T, text string) {
		p, err := mtasts.ParsePolicy(text)
		if err != nil {
			return
		}
		if p.Mode != mtasts.ModeEnforce && p.Mode != mtasts.ModeTesting && p.Mode != mtasts.ModeNone {
			t.Fatalf("mode %q accepted", p.Mode)
		}
		if p.MaxAge < 0 || p.MaxAge > mtasts.MaxMaxAge {
			t.Fatalf("max_age %v accepted", p.MaxAge)
		}
		if len(p.MX) == 0 && p.Mode != mtasts.ModeNone {
			t.Fatalf("mode %s without mx accepted", p.Mode)
		}
		again, err := mtasts.ParsePolicy(writePolicy(p))
		if err != nil || again.Mode != p.Mode || again.MaxAge != p.MaxAge || strings.Join(again.MX, " ") != strings.Join(p.MX, " ") {
			t.Fatalf("%+v written out parses as %+v, %v", p, again, err)
		}
	})
}

// writePolicy writes p as a policy file.
func writePolicy(p mtasts.Policy) string {
	var b strings.Builder
	b.WriteString("version: STSv1\nmode: " + p.Mode + "\nmax_age: " + strconv.FormatInt(int64(p.MaxAge.Seconds()), 10) + "\n")
	for _, mx := range p.MX {
		b.WriteString("mx: " + mx + "\n")
	}
	return b.String()
}

// FuzzParseRecord checks that an accepted MTA-STS record has a valid id.
func FuzzParseRecord(f *testing.F) {
	f.Add("v=STSv1; id=20160831085700Z;")
	f.Add("v=STSv1 ;id=a; ext=b")
	f.Add("v=STSv1;;id=a")
	f.Fuzz(func(t *testing.T, record string) {
		id, err := mtasts.ParseRecord(record)
		if err != nil {
			return
		}
		if !strings.HasPrefix(record, "v=STSv1") || id == "" || len(id) > 32 || !strings.Contains(record, "id="+id) {
			t.Fatalf("ParseRecord(%q) = %q", record, id)
		}
		for _, c := range id {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
				t.Fatalf("ParseRecord(%q) = %q, not letters and digits", record, id)
			}
		}
	})
}

// FuzzParseTLSRPTRecord checks that an accepted TLS-RPT record has only
// mailto: and https: URIs.
func FuzzParseTLSRPTRecord(f *testing.F) {
	f.Add("v=TLSRPTv1; rua=mailto:a@mail.test, https://r.test/x")
	f.Add("v=TLSRPTv1;rua=mailto:a@b;ext=1;")
	f.Fuzz(func(t *testing.T, record string) {
		rua, err := mtasts.ParseTLSRPTRecord(record)
		if err != nil {
			return
		}
		if !strings.HasPrefix(record, "v=TLSRPTv1") || len(rua) == 0 {
			t.Fatalf("ParseTLSRPTRecord(%q) = %q", record, rua)
		}
		for _, uri := range rua {
			scheme, _, _ := strings.Cut(strings.ToLower(uri), ":")
			if scheme != "mailto" && scheme != "https" || strings.ContainsAny(uri, " \t,;") {
				t.Fatalf("ParseTLSRPTRecord(%q) gave URI %q", record, uri)
			}
		}
	})
}
