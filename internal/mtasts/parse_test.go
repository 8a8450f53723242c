package mtasts_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtp-exporter/smtp_exporter/internal/mtasts"
)

// basePolicy is a valid policy the invalid cases break.
const basePolicy = "version: STSv1\nmode: enforce\nmx: mx.mail.test\nmax_age: 604800\n"

// policyCase is a policy text and what ParsePolicy must make of it.
type policyCase struct {
	name, text string
	want       *mtasts.Policy // nil: invalid
	line       int            // the line an invalid policy is blamed on
}

func TestParsePolicyValid(t *testing.T) {
	const base = basePolicy
	runPolicyCases(t, []policyCase{
		{name: "LF", text: base, want: &mtasts.Policy{Mode: "enforce", MaxAge: 604800 * time.Second, MX: []string{"mx.mail.test"}}},
		{name: "CRLF", text: strings.ReplaceAll(base, "\n", "\r\n"), want: &mtasts.Policy{Mode: "enforce", MaxAge: 604800 * time.Second, MX: []string{"mx.mail.test"}}},
		{name: "no final line end", text: strings.TrimSuffix(base, "\n"), want: &mtasts.Policy{Mode: "enforce", MaxAge: 604800 * time.Second, MX: []string{"mx.mail.test"}}},
		{name: "any field order, wildcard, spaces and tabs",
			text: "mx:\t*.mx.mail.test \t\nmax_age:0\nmx: MX2.Mail.Test\r\nmode:  testing\nversion: STSv1 \n",
			want: &mtasts.Policy{Mode: "testing", MaxAge: 0, MX: []string{"*.mx.mail.test", "MX2.Mail.Test"}}},
		{name: "mode none without mx", text: "version: STSv1\nmode: none\nmax_age: 31557600\n",
			want: &mtasts.Policy{Mode: "none", MaxAge: mtasts.MaxMaxAge}},
		{name: "unknown fields ignored, repeated too", text: base + "comment: any text, with ünïcode\ncomment: twice\nx.y-z_1: 1\n",
			want: &mtasts.Policy{Mode: "enforce", MaxAge: 604800 * time.Second, MX: []string{"mx.mail.test"}}},
		{name: "leading zeros", text: "version: STSv1\nmode: none\nmax_age: 0000000086\n",
			want: &mtasts.Policy{Mode: "none", MaxAge: 86 * time.Second}},
	})
}

func TestParsePolicyInvalid(t *testing.T) {
	const base = basePolicy
	runPolicyCases(t, []policyCase{
		{name: "empty", text: ""},
		{name: "no version", text: "mode: enforce\nmx: mx.mail.test\nmax_age: 1\n"},
		{name: "no mode", text: "version: STSv1\nmx: mx.mail.test\nmax_age: 1\n"},
		{name: "no max_age", text: "version: STSv1\nmode: enforce\nmx: mx.mail.test\n"},
		{name: "no mx in enforce", text: "version: STSv1\nmode: enforce\nmax_age: 1\n"},
		{name: "no mx in testing", text: "version: STSv1\nmode: testing\nmax_age: 1\n"},
		{name: "version STSv2", text: strings.Replace(base, "STSv1", "STSv2", 1), line: 1},
		{name: "version in lower case", text: strings.Replace(base, "STSv1", "stsv1", 1), line: 1},
		{name: "mode in upper case", text: strings.Replace(base, "enforce", "ENFORCE", 1), line: 2},
		{name: "key in upper case is another field", text: strings.Replace(base, "mode:", "Mode:", 1)},
		{name: "mode report", text: strings.Replace(base, "enforce", "report", 1), line: 2},
		{name: "max_age too big", text: strings.Replace(base, "604800", "31557601", 1), line: 4},
		{name: "max_age 11 digits", text: strings.Replace(base, "604800", "00000000001", 1), line: 4},
		{name: "max_age negative", text: strings.Replace(base, "604800", "-1", 1), line: 4},
		{name: "max_age with unit", text: strings.Replace(base, "604800", "604800s", 1), line: 4},
		{name: "max_age empty", text: strings.Replace(base, "604800", "", 1), line: 4},
		{name: "duplicate mode", text: base + "mode: testing\n", line: 5},
		{name: "duplicate version", text: base + "version: STSv1\n", line: 5},
		{name: "duplicate max_age", text: base + "max_age: 604800\n", line: 5},
		{name: "space before colon", text: strings.Replace(base, "mode:", "mode :", 1), line: 2},
		{name: "leading space", text: strings.Replace(base, "mode:", " mode:", 1), line: 2},
		{name: "equals instead of colon", text: strings.Replace(base, "mode:", "mode=", 1), line: 2},
		{name: "empty line inside", text: "version: STSv1\n\nmode: none\nmax_age: 1\n", line: 2},
		{name: "two line ends at the end", text: base + "\n", line: 5},
		{name: "bare CR line ends", text: strings.ReplaceAll(base, "\n", "\r"), line: 1},
		{name: "mx with trailing dot", text: strings.Replace(base, "mx.mail.test", "mx.mail.test.", 1), line: 3},
		{name: "mx wildcard in the middle", text: strings.Replace(base, "mx.mail.test", "mx.*.mail.test", 1), line: 3},
		{name: "mx bare wildcard", text: strings.Replace(base, "mx.mail.test", "*", 1), line: 3},
		{name: "mx with port", text: strings.Replace(base, "mx.mail.test", "mx.mail.test:25", 1), line: 3},
		{name: "mx with underscore", text: strings.Replace(base, "mx.mail.test", "mx_1.mail.test", 1), line: 3},
		{name: "mx label starting with hyphen", text: strings.Replace(base, "mx.mail.test", "-mx.mail.test", 1), line: 3},
		{name: "mx label of 64 octets", text: strings.Replace(base, "mx.mail.test", strings.Repeat("a", 64)+".test", 1), line: 3},
		{name: "two mx on a line", text: strings.Replace(base, "mx.mail.test", "a.test b.test", 1), line: 3},
		{name: "field name too long", text: base + strings.Repeat("x", 33) + ": y\n", line: 5},
		{name: "field name with space", text: base + "my field: y\n", line: 5},
		{name: "extension without value", text: base + "comment:\n", line: 5},
		{name: "extension with control character", text: base + "comment: a\x01b\n", line: 5},
		{name: "extension with invalid UTF-8", text: base + "comment: \xff\n", line: 5},
		{name: "CR inside a line", text: "version: STSv1\rmode: none\nmax_age: 1\n", line: 1},
	})
}

// runPolicyCases parses each case's text and checks the outcome.
func runPolicyCases(t *testing.T, cases []policyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mtasts.ParsePolicy(tc.text)
			if tc.want == nil {
				var syntaxErr *mtasts.SyntaxError
				if !errors.As(err, &syntaxErr) {
					t.Fatalf("ParsePolicy = %+v, %v; want a *SyntaxError", got, err)
				}
				if syntaxErr.Line != tc.line {
					t.Errorf("error %q on line %d, want line %d", err, syntaxErr.Line, tc.line)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePolicy: %v", err)
			}
			if got.Mode != tc.want.Mode || got.MaxAge != tc.want.MaxAge || !slices.Equal(got.MX, tc.want.MX) {
				t.Errorf("ParsePolicy = %+v, want %+v", got, *tc.want)
			}
		})
	}
}

func TestParseRecord(t *testing.T) {
	for _, tc := range []struct {
		record, id string // id "": invalid
	}{
		{record: "v=STSv1; id=20160831085700Z", id: "20160831085700Z"},
		{record: "v=STSv1;id=abc", id: "abc"},
		{record: "v=STSv1 ;\tid=abc ;", id: "abc"},
		{record: "v=STSv1; id=abc;", id: "abc"},
		{record: "v=STSv1; ext=value; id=abc; other=1", id: "abc"},
		{record: "v=STSv1; id=" + strings.Repeat("a", 32), id: strings.Repeat("a", 32)},
		{record: "v=STSv1; id=" + strings.Repeat("a", 33)},
		{record: "v=STSv1; id="},
		{record: "v=STSv1; id=a-b"},
		{record: "v=STSv1; id=a b"},
		{record: "v=STSv1; id=a; id=b"},
		{record: "v=STSv1; ID=abc"},
		{record: "v=STSv1"},
		{record: "v=STSv1;"},
		{record: "v=STSv1 id=abc"},
		{record: "v=STSv1; ; id=abc"},
		{record: "v=STSv1; id=abc; ext"},
		{record: "v=STSv1; id=abc; ext=a=b"},
		{record: "v=STSv1; id=abc; ext="},
		{record: "v=STSv1; id=abc; _ext=1"},
		{record: "v=STSv10; id=abc"},
		{record: "v=stsv1; id=abc"},
		{record: " v=STSv1; id=abc"},
		{record: ""},
	} {
		t.Run(tc.record, func(t *testing.T) {
			id, err := mtasts.ParseRecord(tc.record)
			if tc.id == "" {
				var syntaxErr *mtasts.SyntaxError
				if !errors.As(err, &syntaxErr) {
					t.Fatalf("ParseRecord = %q, %v; want a *SyntaxError", id, err)
				}
				return
			}
			if err != nil || id != tc.id {
				t.Fatalf("ParseRecord = %q, %v; want %q", id, err, tc.id)
			}
		})
	}
}

func TestParseTLSRPTRecord(t *testing.T) {
	for _, tc := range []struct {
		record string
		rua    []string // nil: invalid
	}{
		{record: "v=TLSRPTv1; rua=mailto:tlsrpt@mail.test", rua: []string{"mailto:tlsrpt@mail.test"}},
		{record: "v=TLSRPTv1;rua=https://reports.mail.test/tlsrpt", rua: []string{"https://reports.mail.test/tlsrpt"}},
		{record: "v=TLSRPTv1; rua=mailto:a@mail.test, https://r.test/x?y=1 ;", rua: []string{"mailto:a@mail.test", "https://r.test/x?y=1"}},
		{record: "v=TLSRPTv1; rua=mailto:a@mail.test,mailto:b@mail.test", rua: []string{"mailto:a@mail.test", "mailto:b@mail.test"}},
		{record: "v=TLSRPTv1; ext=1; rua=MAILTO:a@mail.test", rua: []string{"MAILTO:a@mail.test"}},
		{record: "v=TLSRPTv1; rua=mailto:a@mail.test?subject=tlsrpt", rua: []string{"mailto:a@mail.test?subject=tlsrpt"}},
		{record: "v=TLSRPTv1"},
		{record: "v=TLSRPTv1;"},
		{record: "v=TLSRPTv1; ext=1"},
		{record: "v=TLSRPTv1; rua="},
		{record: "v=TLSRPTv1; rua=http://r.test/"},
		{record: "v=TLSRPTv1; rua=ftp://r.test/"},
		{record: "v=TLSRPTv1; rua=tlsrpt@mail.test"},
		{record: "v=TLSRPTv1; rua=mailto:"},
		{record: "v=TLSRPTv1; rua=mailto:nobody"},
		{record: "v=TLSRPTv1; rua=https://"},
		{record: "v=TLSRPTv1; rua=https:/path-only"},
		{record: "v=TLSRPTv1; rua=mailto:a@mail.test,"},
		{record: "v=TLSRPTv1; rua=mailto:a@mail.test mailto:b@mail.test"},
		{record: "v=TLSRPTv1; rua=mailto:a@mail.test; rua=mailto:b@mail.test"},
		{record: "v=TLSRPTv1; rua=mailto:ä@mail.test"},
		{record: "v=TLSRPTv1 rua=mailto:a@mail.test"},
		{record: "v=TLSRPTv2; rua=mailto:a@mail.test"},
	} {
		t.Run(tc.record, func(t *testing.T) {
			rua, err := mtasts.ParseTLSRPTRecord(tc.record)
			if tc.rua == nil {
				var syntaxErr *mtasts.SyntaxError
				if !errors.As(err, &syntaxErr) {
					t.Fatalf("ParseTLSRPTRecord = %q, %v; want a *SyntaxError", rua, err)
				}
				return
			}
			if err != nil || !slices.Equal(rua, tc.rua) {
				t.Fatalf("ParseTLSRPTRecord = %q, %v; want %q", rua, err, tc.rua)
			}
		})
	}
}
