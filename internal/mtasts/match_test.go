package mtasts_test

import (
	"crypto/tls"
	"testing"

	"github.com/smtp-exporter/smtp_exporter/internal/mtasts"
)

func TestMatchMX(t *testing.T) {
	patterns := []string{"mx1.mail.test", "*.mx.mail.test"}
	for _, tc := range []struct {
		patterns []string
		host     string
		want     bool
	}{
		{patterns, "mx1.mail.test", true},
		{patterns, "MX1.Mail.Test", true},
		{patterns, "mx1.mail.test.", true},
		{[]string{"MX1.MAIL.TEST."}, "mx1.mail.test", true},
		{patterns, "a.mx.mail.test", true},
		{patterns, "A.MX.mail.test.", true},
		{patterns, "mx.mail.test", false},
		{patterns, "a.b.mx.mail.test", false},
		{patterns, ".mx.mail.test", false},
		{patterns, "amx.mail.test", false},
		{patterns, "mx2.mail.test", false},
		{patterns, "mx1.mail.test.evil", false},
		{patterns, "evil-mx1.mail.test", false},
		{patterns, "", false},
		{patterns, ".", false},
		{[]string{"*.test"}, "mail.test", true},
		{[]string{"*."}, "mail.", false},
		{[]string{"*"}, "mail", false},
		{[]string{"mx.*.test"}, "mx.mail.test", false},
		{nil, "mx1.mail.test", false},
	} {
		if got := mtasts.MatchMX(tc.patterns, tc.host); got != tc.want {
			t.Errorf("MatchMX(%q, %q) = %v, want %v", tc.patterns, tc.host, got, tc.want)
		}
	}
}

func TestSessionValid(t *testing.T) {
	good := mtasts.Session{MXMatched: true, TLSVersion: tls.VersionTLS12, ChainVerified: true, NameMatched: true}
	for _, tc := range []struct {
		name string
		edit func(*mtasts.Session)
		want bool
	}{
		{"TLS 1.2, all good", func(*mtasts.Session) {}, true},
		{"TLS 1.3", func(s *mtasts.Session) { s.TLSVersion = tls.VersionTLS13 }, true},
		{"MX not matched", func(s *mtasts.Session) { s.MXMatched = false }, false},
		{"TLS 1.1", func(s *mtasts.Session) { s.TLSVersion = tls.VersionTLS11 }, false},
		{"no TLS", func(s *mtasts.Session) { s.TLSVersion = 0 }, false},
		{"chain not verified", func(s *mtasts.Session) { s.ChainVerified = false }, false},
		{"leaf names another host", func(s *mtasts.Session) { s.NameMatched = false }, false},
	} {
		s := good
		tc.edit(&s)
		if got := s.Valid(); got != tc.want {
			t.Errorf("%s: Valid() = %v, want %v", tc.name, got, tc.want)
		}
	}
}
