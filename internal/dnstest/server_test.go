package dnstest_test

import (
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/smtp-exporter/smtp_exporter/internal/dnstest"
)

// ask sends one query with miekg/dns's own client, so the server is checked
// independently of the exporter's.
func ask(t *testing.T, srv *dnstest.Server, network, name string, qtype uint16, do bool) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.SetEdns0(1232, do)
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(q, srv.Addr())
	if err != nil {
		t.Fatalf("%s %s over %s: %v", name, dns.TypeToString[qtype], network, err)
	}
	return r
}

func TestServerAnswers(t *testing.T) {
	srv := dnstest.NewServer(t,
		"example.test. 300 IN MX 10 mx.example.test.",
		"www.example.test. 300 IN CNAME example.test.",
		"dangling.example.test. 300 IN CNAME gone.example.test.",
	)
	srv.Set("example.test", dnstest.Behaviour{Secure: true})
	srv.SetType("example.test", dns.TypeTXT, dnstest.Behaviour{Rcode: dns.RcodeRefused})
	for _, tc := range []struct {
		name    string
		qtype   uint16
		rcode   int
		answers int
		ad      bool
	}{
		{"example.test", dns.TypeMX, dns.RcodeSuccess, 1, true},
		{"EXAMPLE.test", dns.TypeA, dns.RcodeSuccess, 0, true}, // NODATA
		{"example.test", dns.TypeTXT, dns.RcodeRefused, 0, false},
		{"www.example.test", dns.TypeMX, dns.RcodeSuccess, 2, false}, // CNAME and MX
		{"dangling.example.test", dns.TypeMX, dns.RcodeNameError, 1, false},
		{"absent.test", dns.TypeMX, dns.RcodeNameError, 0, false},
	} {
		r := ask(t, srv, "udp", tc.name, tc.qtype, true)
		if r.Rcode != tc.rcode || len(r.Answer) != tc.answers || r.AuthenticatedData != tc.ad {
			t.Errorf("%s %s: rcode %s, %d answers, AD %v; want %s, %d, %v", tc.name, dns.TypeToString[tc.qtype],
				dns.RcodeToString[r.Rcode], len(r.Answer), r.AuthenticatedData, dns.RcodeToString[tc.rcode], tc.answers, tc.ad)
		}
	}
}

func TestServerTruncatesOverUDPOnly(t *testing.T) {
	srv := dnstest.NewServer(t, "tc.test. 300 IN MX 10 mx.tc.test.")
	srv.Set("tc.test", dnstest.Behaviour{Truncate: true})
	if r := ask(t, srv, "udp", "tc.test", dns.TypeMX, false); !r.Truncated || len(r.Answer) != 0 {
		t.Errorf("UDP: TC %v with %d answers, want TC and none", r.Truncated, len(r.Answer))
	}
	if r := ask(t, srv, "tcp", "tc.test", dns.TypeMX, false); r.Truncated || len(r.Answer) != 1 {
		t.Errorf("TCP: TC %v with %d answers, want the answer", r.Truncated, len(r.Answer))
	}
	want := []dnstest.Query{
		{Name: "tc.test.", Type: dns.TypeMX, Proto: "udp", RD: true},
		{Name: "tc.test.", Type: dns.TypeMX, Proto: "tcp", RD: true},
	}
	got := srv.Queries()
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("queries %+v, want %+v", got, want)
	}
}

func TestServerDelaysAndDrops(t *testing.T) {
	srv := dnstest.NewServer(t, "slow.test. 300 IN A 192.0.2.1", "gone.test. 300 IN A 192.0.2.2")
	srv.Set("slow.test", dnstest.Behaviour{Delay: 300 * time.Millisecond})
	srv.Set("gone.test", dnstest.Behaviour{Drop: true})
	start := time.Now()
	ask(t, srv, "udp", "slow.test", dns.TypeA, false)
	if elapsed := time.Since(start); elapsed < 300*time.Millisecond {
		t.Errorf("answered after %v, want at least 300ms", elapsed)
	}
	q := new(dns.Msg)
	q.SetQuestion("gone.test.", dns.TypeA)
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	if r, _, err := c.Exchange(q, srv.Addr()); err == nil {
		t.Errorf("dropped query answered: %v", r)
	}
}
