package dnsclient_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
	"github.com/smtp-exporter/smtp_exporter/internal/dnstest"
)

func TestLookupMX(t *testing.T) {
	srv := dnstest.NewServer(t,
		// Equal preferences in reverse name order, and a higher one first.
		"sorted.test. 300 IN MX 20 backup.sorted.test.",
		"sorted.test. 300 IN MX 10 MX-B.Sorted.Test.",
		"sorted.test. 300 IN MX 10 mx-a.sorted.test.",
		"null.test. 300 IN MX 0 .",
		"mixed.test. 300 IN MX 10 mx.mixed.test.",
		"mixed.test. 300 IN MX 0 .",
		"nodata.test. 300 IN A 192.0.2.1",
		"servfail.test. 300 IN MX 10 mx.servfail.test.",
		"refused.test. 300 IN MX 10 mx.refused.test.",
	)
	srv.Set("servfail.test", dnstest.Behaviour{Rcode: dns.RcodeServerFailure})
	srv.Set("refused.test", dnstest.Behaviour{Rcode: dns.RcodeRefused})
	c := newClient(t, srv, false)
	for _, tc := range []struct {
		domain string
		want   []dnsclient.MX
		kind   dnsclient.Kind
	}{
		{"sorted.test", []dnsclient.MX{{10, "mx-a.sorted.test"}, {10, "mx-b.sorted.test"}, {20, "backup.sorted.test"}}, 0},
		{"SORTED.test.", []dnsclient.MX{{10, "mx-a.sorted.test"}, {10, "mx-b.sorted.test"}, {20, "backup.sorted.test"}}, 0},
		{"null.test", []dnsclient.MX{{0, "."}}, 0},
		{"mixed.test", []dnsclient.MX{{0, "."}, {10, "mx.mixed.test"}}, 0},
		{"nodata.test", nil, 0},
		{"absent.test", nil, dnsclient.NXDomain},
		{"servfail.test", nil, dnsclient.ServFail},
		{"refused.test", nil, dnsclient.Refused},
	} {
		t.Run(tc.domain, func(t *testing.T) {
			got, err := c.LookupMX(testContext(t), tc.domain)
			if e := wantKind(t, err, tc.kind); e != nil && e.Type != "MX" {
				t.Errorf("Error.Type = %q, want MX", e.Type)
			}
			if !slices.Equal(got.Records, tc.want) {
				t.Errorf("records = %v, want %v", got.Records, tc.want)
			}
			if got.Duration <= 0 {
				t.Errorf("Duration = %v, want > 0", got.Duration)
			}
		})
	}
}

func TestNullMXIsNull(t *testing.T) {
	if !(dnsclient.MX{Host: "."}).IsNull() || (dnsclient.MX{Host: "mx.test"}).IsNull() {
		t.Fatal("IsNull must hold for \".\" only")
	}
}

func TestNXDomainNamesTheName(t *testing.T) {
	srv := dnstest.NewServer(t)
	_, err := newClient(t, srv, false).LookupMX(testContext(t), "Gone.Example.")
	e := wantKind(t, err, dnsclient.NXDomain)
	if e.Name != "gone.example" || e.Rcode != dns.RcodeNameError {
		t.Errorf("Error = %+v, want name gone.example, rcode NXDOMAIN", e)
	}
}

// TestSecureFollowsADOnlyWithDNSSEC: AD is reported only when asked for,
// DO is set only with DNSSEC, CD never, RD always.
func TestSecureFollowsADOnlyWithDNSSEC(t *testing.T) {
	srv := dnstest.NewServer(t,
		"signed.test. 300 IN MX 10 mx.signed.test.",
		"plain.test. 300 IN MX 10 mx.plain.test.",
	)
	srv.Set("signed.test", dnstest.Behaviour{Secure: true})
	for _, tc := range []struct {
		domain     string
		dnssec     bool
		wantSecure bool
	}{
		{"signed.test", true, true},
		{"plain.test", true, false},
		{"signed.test", false, false}, // AD without DO is not trusted
		{"plain.test", false, false},
	} {
		got, err := newClient(t, srv, tc.dnssec).LookupMX(testContext(t), tc.domain)
		wantKind(t, err, 0)
		if got.Secure != tc.wantSecure {
			t.Errorf("%s dnssec=%v: Secure = %v, want %v", tc.domain, tc.dnssec, got.Secure, tc.wantSecure)
		}
		queries := srv.QueriesFor(tc.domain, dns.TypeMX)
		last := queries[len(queries)-1]
		if last.DO != tc.dnssec || last.CD || !last.RD {
			t.Errorf("%s dnssec=%v: query %+v, want DO=%v, CD clear, RD set", tc.domain, tc.dnssec, last, tc.dnssec)
		}
	}
}

func TestConcurrentLookups(t *testing.T) {
	srv := dnstest.NewServer(t, "many.test. 300 IN MX 10 mx.many.test.")
	c := newClient(t, srv, true)
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() {
			answer, err := c.LookupMX(testContext(t), "many.test")
			if err == nil && len(answer.Records) != 1 {
				t.Errorf("records = %v", answer.Records)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		wantKind(t, err, 0)
	}
	if n := len(srv.QueriesFor("many.test", dns.TypeMX)); n != len(errs) {
		t.Errorf("server saw %d queries, want %d", n, len(errs))
	}
}

// TestSecureOnFailure: a secure NXDOMAIN is an authenticated denial; a
// lookup that got no reply is never secure.
func TestSecureOnFailure(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.SetDefault(dnstest.Behaviour{Secure: true})
	srv.Set("silent.test", dnstest.Behaviour{Secure: true, Drop: true})
	c := newClient(t, srv, true)
	got, err := c.LookupMX(testContext(t), "absent.test")
	wantKind(t, err, dnsclient.NXDomain)
	if !got.Secure {
		t.Error("secure NXDOMAIN reported insecure")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	got, err = c.LookupMX(ctx, "silent.test")
	wantKind(t, err, dnsclient.Timeout)
	if got.Secure {
		t.Error("Secure without a reply")
	}
}
