package smtpwire

import (
	"reflect"
	"strings"
	"testing"
)

// ehloReply is a 250 reply whose first line is the server's name.
func ehloReply(keywords ...string) Reply {
	return Reply{Code: 250, Lines: append([]string{"mail.example.com Hello client.example [192.0.2.1]"}, keywords...)}
}

func TestParseEHLO(t *testing.T) {
	tests := []struct {
		name     string
		reply    Reply
		keywords []string
		params   map[string]string
	}{
		{"no lines", Reply{Code: 250}, nil, map[string]string{}},
		{"greeting only", ehloReply(), nil, map[string]string{}},
		{"first line ignored", Reply{Code: 250, Lines: []string{"STARTTLS", "SIZE 100"}},
			[]string{"SIZE"}, map[string]string{"SIZE": "100"}},
		{"postfix",
			ehloReply("PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"),
			[]string{"PIPELINING", "SIZE", "VRFY", "ETRN", "STARTTLS", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"},
			map[string]string{"PIPELINING": "", "SIZE": "10240000", "VRFY": "", "ETRN": "", "STARTTLS": "", "ENHANCEDSTATUSCODES": "", "8BITMIME": "", "DSN": "", "SMTPUTF8": "", "CHUNKING": ""}},
		{"upper-cased", ehloReply("starttls", "Size 52428800", "auth plain Login"),
			[]string{"STARTTLS", "SIZE", "AUTH"},
			map[string]string{"STARTTLS": "", "SIZE": "52428800", "AUTH": "plain Login"}},
		{"first duplicate wins", ehloReply("AUTH PLAIN", "auth LOGIN", "SIZE 1", "SIZE 2"),
			[]string{"AUTH", "SIZE"}, map[string]string{"AUTH": "PLAIN", "SIZE": "1"}},
		{"invalid keywords skipped", ehloReply("AUTH=LOGIN PLAIN", "-X", "X_Y", "", "   ", "ÜBER", "SIZE\t100", "STARTTLS"),
			[]string{"STARTTLS"}, map[string]string{"STARTTLS": ""}},
		{"private and unregistered kept", ehloReply("X-EXPS GSSAPI", "XCLIENT NAME ADDR", "X-LINK2STATE"),
			[]string{"X-EXPS", "XCLIENT", "X-LINK2STATE"},
			map[string]string{"X-EXPS": "GSSAPI", "XCLIENT": "NAME ADDR", "X-LINK2STATE": ""}},
		{"spaces trimmed", ehloReply("  SIZE   1000  ", " AUTH  PLAIN   LOGIN "),
			[]string{"SIZE", "AUTH"}, map[string]string{"SIZE": "1000", "AUTH": "PLAIN   LOGIN"}},
		{"digit first and trailing hyphen", ehloReply("8BITMIME", "MT-PRIORITY MIXER", "A-"),
			[]string{"8BITMIME", "MT-PRIORITY", "A-"}, map[string]string{"8BITMIME": "", "MT-PRIORITY": "MIXER", "A-": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ext := ParseEHLO(tt.reply)
			if !reflect.DeepEqual(ext.keywords, tt.keywords) {
				t.Errorf("keywords = %q, want %q", ext.keywords, tt.keywords)
			}
			if !reflect.DeepEqual(ext.params, tt.params) {
				t.Errorf("params = %q, want %q", ext.params, tt.params)
			}
			for _, k := range tt.keywords {
				if !ext.Has(k) {
					t.Errorf("Has(%q) = false", k)
				}
			}
		})
	}
}

func TestExtensionsHas(t *testing.T) {
	ext := ParseEHLO(ehloReply("starttls", "SIZE 10", "AUTH=LOGIN"))
	tests := []struct {
		keyword string
		want    bool
	}{
		{"STARTTLS", true},
		{"SIZE", true},
		{"starttls", false}, // callers ask in upper case
		{"AUTH", false},     // only the invalid AUTH=LOGIN form was sent
		{"AUTH=LOGIN", false},
		{"PIPELINING", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ext.Has(tt.keyword); got != tt.want {
			t.Errorf("Has(%q) = %v, want %v", tt.keyword, got, tt.want)
		}
	}
	if (Extensions{}).Has("STARTTLS") {
		t.Error("zero Extensions has STARTTLS")
	}
}

func TestExtensionsRegistered(t *testing.T) {
	all := make([]string, 0, len(ianaExtensions))
	for k := range ianaExtensions {
		all = append(all, k)
	}
	tests := []struct {
		name  string
		reply Reply
		want  []string
	}{
		{"none", ehloReply(), nil},
		{"only registered, in order",
			ehloReply("XCLIENT NAME", "pipelining", "X-EXPS GSSAPI", "SIZE 100", "XFORWARD NAME", "STARTTLS", "BOGUS", "AUTH PLAIN"),
			[]string{"PIPELINING", "SIZE", "STARTTLS", "AUTH"}},
		{"duplicates once", ehloReply("SIZE 1", "size 2", "STARTTLS", "StartTLS"), []string{"SIZE", "STARTTLS"}},
		{"every registered keyword", ehloReply(all...), all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseEHLO(tt.reply).Registered(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Registered() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestExtensionsRegisteredCap fills Extensions directly: the registry holds
// fewer than 64 keywords and ParseEHLO drops duplicates, so no EHLO reply can
// reach the cap, but Registered must hold it whatever the keyword list.
func TestExtensionsRegisteredCap(t *testing.T) {
	var ext Extensions
	for range 3 {
		for k := range ianaExtensions {
			ext.keywords = append(ext.keywords, k, "X-PRIVATE")
		}
	}
	got := ext.Registered()
	if len(got) != MaxExtensionSeries {
		t.Fatalf("Registered() returned %d keywords, want %d", len(got), MaxExtensionSeries)
	}
	if !reflect.DeepEqual(got, filterRegistered(ext.keywords)[:MaxExtensionSeries]) {
		t.Errorf("Registered() = %q, want the first %d registered keywords", got, MaxExtensionSeries)
	}
}

func filterRegistered(keywords []string) []string {
	var out []string
	for _, k := range keywords {
		if ianaExtensions[k] {
			out = append(out, k)
		}
	}
	return out
}

func TestExtensionsSizeLimit(t *testing.T) {
	tests := []struct {
		lines []string
		want  int64
		ok    bool
	}{
		{[]string{"SIZE 10240000"}, 10240000, true},
		{[]string{"size 52428800"}, 52428800, true},
		{[]string{"SIZE 0"}, 0, true},
		{[]string{"SIZE  35882577 "}, 35882577, true},
		{[]string{"SIZE 9223372036854775807"}, 9223372036854775807, true},
		{[]string{"SIZE"}, 0, false},
		{[]string{"SIZE abc"}, 0, false},
		{[]string{"SIZE -1"}, 0, false},
		{[]string{"SIZE 1.5"}, 0, false},
		{[]string{"SIZE 10 20"}, 0, false},
		{[]string{"SIZE 9223372036854775808"}, 0, false},
		{[]string{"SIZE=1000"}, 0, false},
		{[]string{"PIPELINING"}, 0, false},
		{nil, 0, false},
		{[]string{"SIZE 1000", "SIZE 2000"}, 1000, true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.lines, "|"), func(t *testing.T) {
			got, ok := ParseEHLO(ehloReply(tt.lines...)).SizeLimit()
			if got != tt.want || ok != tt.ok {
				t.Errorf("SizeLimit() = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestExtensionsAuthMechanisms(t *testing.T) {
	tests := []struct {
		lines []string
		want  []string
	}{
		{[]string{"AUTH PLAIN LOGIN"}, []string{"PLAIN", "LOGIN"}},
		{[]string{"auth plain login cram-md5"}, []string{"PLAIN", "LOGIN", "CRAM-MD5"}},
		{[]string{"AUTH   PLAIN\tLOGIN  "}, []string{"PLAIN", "LOGIN"}},
		{[]string{"AUTH"}, nil},
		{[]string{"AUTH=PLAIN LOGIN"}, nil},
		{[]string{"STARTTLS"}, nil},
		{[]string{"AUTH PLAIN", "AUTH LOGIN"}, []string{"PLAIN"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.lines, "|"), func(t *testing.T) {
			if got := ParseEHLO(ehloReply(tt.lines...)).AuthMechanisms(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("AuthMechanisms() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExtensionsOffersAuth(t *testing.T) {
	ext := ParseEHLO(ehloReply("AUTH plain LOGIN"))
	for mech, want := range map[string]bool{"PLAIN": true, "LOGIN": true, "plain": false, "CRAM-MD5": false, "": false} {
		if got := ext.OffersAuth(mech); got != want {
			t.Errorf("OffersAuth(%q) = %v, want %v", mech, got, want)
		}
	}
}

func TestMechanismLabel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"PLAIN", "PLAIN"},
		{"LOGIN", "LOGIN"},
		{"CRAM-MD5", "CRAM-MD5"},
		{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256-PLUS"},
		{"XOAUTH2", "XOAUTH2"},
		{"GSSAPI", "GSSAPI"},
		{"NTLM", "NTLM"},
		{"X-UNKNOWN", "OTHER"},
		{"plain", "OTHER"}, // labels are taken from upper-cased names
		{"PLAIN=", "OTHER"},
		{"", "OTHER"},
		{"OTHER", "OTHER"},
		{strings.Repeat("A", 1000), "OTHER"},
	}
	for _, tt := range tests {
		if got := MechanismLabel(tt.in); got != tt.want {
			t.Errorf("MechanismLabel(%q) = %q, want %q", truncate(tt.in, 20), got, tt.want)
		}
	}
}

func FuzzParseEHLO(f *testing.F) {
	f.Add("mail.example.com\nPIPELINING\nSIZE 10240000\nSTARTTLS\nAUTH PLAIN LOGIN")
	f.Add("x\nauth=login plain\n-X\nsize abc\nSIZE 1\nsize 2")
	f.Add("x\n\n \n\t\nÜ\n8BITMIME")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		ext := ParseEHLO(Reply{Code: 250, Lines: strings.Split(text, "\n")})
		seen := map[string]bool{}
		for _, k := range ext.keywords {
			if !validKeyword(k) || k != strings.ToUpper(k) || seen[k] || !ext.Has(k) {
				t.Fatalf("keyword %q: invalid, not upper-case, repeated or not found by Has", k)
			}
			seen[k] = true
		}
		if len(ext.params) != len(ext.keywords) {
			t.Fatalf("%d params for %d keywords", len(ext.params), len(ext.keywords))
		}
		reg := ext.Registered()
		if len(reg) > MaxExtensionSeries {
			t.Fatalf("Registered() returned %d keywords", len(reg))
		}
		for _, k := range reg {
			if !ianaExtensions[k] {
				t.Fatalf("Registered() returned %q", k)
			}
		}
		if n, ok := ext.SizeLimit(); n < 0 || (!ok && n != 0) {
			t.Fatalf("SizeLimit() = %d, %v", n, ok)
		}
		for _, m := range ext.AuthMechanisms() {
			if m == "" || m != strings.ToUpper(m) || strings.ContainsAny(m, " \t") {
				t.Fatalf("AuthMechanisms() has %q", m)
			}
			if l := MechanismLabel(m); l != m && l != OtherMechanism {
				t.Fatalf("MechanismLabel(%q) = %q", m, l)
			}
		}
	})
}
