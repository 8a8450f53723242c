package mtasts_test

import (
	"errors"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
	"github.com/smtp-exporter/smtp_exporter/internal/dnstest"
	"github.com/smtp-exporter/smtp_exporter/internal/mtasts"
)

func TestCheckTLSRPT(t *testing.T) {
	const good = `_smtp._tls.mail.test. 300 IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@mail.test"`
	for _, tc := range []struct {
		name string
		zone []string
		want string
	}{
		{name: "ok", zone: []string{good}, want: mtasts.TLSRPTOK},
		{name: "ok, split into character-strings", want: mtasts.TLSRPTOK,
			zone: []string{`_smtp._tls.mail.test. 300 IN TXT "v=TLSRPTv1; rua=mailto:tls" "rpt@mail.test"`}},
		{name: "ok beside other records", zone: []string{good, `_smtp._tls.mail.test. 300 IN TXT "v=spf1 -all"`}, want: mtasts.TLSRPTOK},
		{name: "NXDOMAIN", zone: []string{"mail.test. 300 IN A 192.0.2.1"}, want: mtasts.TLSRPTAbsent},
		{name: "NODATA", zone: []string{"_smtp._tls.mail.test. 300 IN A 192.0.2.1"}, want: mtasts.TLSRPTAbsent},
		{name: "only other TXT", zone: []string{`_smtp._tls.mail.test. 300 IN TXT "v=TLSRPTv10; rua=mailto:a@mail.test"`}, want: mtasts.TLSRPTAbsent},
		{name: "two records", zone: []string{good, `_smtp._tls.mail.test. 300 IN TXT "v=TLSRPTv1; rua=https://r.test/"`}, want: mtasts.TLSRPTMultiple},
		{name: "http URI", zone: []string{`_smtp._tls.mail.test. 300 IN TXT "v=TLSRPTv1; rua=http://r.test/"`}, want: mtasts.TLSRPTInvalid},
		{name: "no rua", zone: []string{`_smtp._tls.mail.test. 300 IN TXT "v=TLSRPTv1;"`}, want: mtasts.TLSRPTInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := dnstest.NewServer(t, tc.zone...)
			got, err := mtasts.CheckTLSRPT(testContext(t, 3*time.Second), newResolver(t, srv), "Mail.Test.")
			if got != tc.want {
				t.Fatalf("CheckTLSRPT = %q (%v), want %q", got, err, tc.want)
			}
			if (err != nil) != (got == mtasts.TLSRPTMultiple || got == mtasts.TLSRPTInvalid) {
				t.Errorf("err = %v with result %q", err, got)
			}
		})
	}
}

func TestCheckTLSRPTLookupFailure(t *testing.T) {
	srv := dnstest.NewServer(t, `_smtp._tls.mail.test. 300 IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@mail.test"`)
	srv.Set("_smtp._tls.mail.test", dnstest.Behaviour{Rcode: dns.RcodeServerFailure})
	got, err := mtasts.CheckTLSRPT(testContext(t, 3*time.Second), newResolver(t, srv), "mail.test")
	var dnsErr *dnsclient.Error
	if got != "" || !errors.As(err, &dnsErr) || dnsErr.Kind != dnsclient.ServFail {
		t.Fatalf("CheckTLSRPT = %q, %v; want no result and a SERVFAIL", got, err)
	}
}
