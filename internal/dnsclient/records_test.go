package dnsclient_test

import (
	"bytes"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
	"github.com/smtp-exporter/smtp_exporter/internal/dnstest"
)

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func TestLookupAddrs(t *testing.T) {
	srv := dnstest.NewServer(t,
		"dual.test. 300 IN A 192.0.2.2",
		"dual.test. 300 IN A 192.0.2.1",
		"dual.test. 300 IN A 192.0.2.2",
		"dual.test. 300 IN AAAA 2001:db8::1",
		"dual.test. 300 IN AAAA ::ffff:192.0.2.9",
		"v4only.test. 300 IN A 192.0.2.3",
		"v4only.test. 300 IN MX 10 v4only.test.",
		"mxonly.test. 300 IN MX 10 mx.mxonly.test.",
		"halfbroken.test. 300 IN A 192.0.2.4",
		"v6broken.test. 300 IN MX 10 v6broken.test.",
		"www.test. 300 IN CNAME dual.test.",
	)
	srv.SetType("halfbroken.test", dns.TypeAAAA, dnstest.Behaviour{Rcode: dns.RcodeServerFailure})
	srv.SetType("v6broken.test", dns.TypeAAAA, dnstest.Behaviour{Rcode: dns.RcodeServerFailure})
	c := newClient(t, srv, false)
	for _, tc := range []struct {
		host, network string
		v4, v6        []netip.Addr
		kind          dnsclient.Kind
		v6Failed      bool
	}{
		{host: "dual.test", network: "ip", v4: addrs("192.0.2.1", "192.0.2.2", "192.0.2.9"), v6: addrs("2001:db8::1")},
		{host: "dual.test", network: "ip4", v4: addrs("192.0.2.1", "192.0.2.2")},
		{host: "dual.test", network: "ip6", v4: addrs("192.0.2.9"), v6: addrs("2001:db8::1")},
		{host: "www.test", network: "ip", v4: addrs("192.0.2.1", "192.0.2.2", "192.0.2.9"), v6: addrs("2001:db8::1")},
		{host: "v4only.test", network: "ip", v4: addrs("192.0.2.3")},
		{host: "mxonly.test", network: "ip"},
		{host: "halfbroken.test", network: "ip", v4: addrs("192.0.2.4"), v6Failed: true},
		{host: "v6broken.test", network: "ip", kind: dnsclient.ServFail},
		{host: "absent.test", network: "ip", kind: dnsclient.NXDomain},
	} {
		t.Run(tc.host+"/"+tc.network, func(t *testing.T) {
			got, err := c.LookupAddrs(testContext(t), tc.host, tc.network)
			wantKind(t, err, tc.kind)
			if !slices.Equal(got.IPv4, tc.v4) || !slices.Equal(got.IPv6, tc.v6) {
				t.Errorf("got v4 %v v6 %v, want %v %v", got.IPv4, got.IPv6, tc.v4, tc.v6)
			}
			if failed := got.IPv6Err != nil; failed != tc.v6Failed || got.IPv4Err != nil {
				t.Errorf("IPv4Err %v, IPv6Err %v; want an IPv6 failure: %v", got.IPv4Err, got.IPv6Err, tc.v6Failed)
			}
		})
	}
	if _, err := c.LookupAddrs(testContext(t), "dual.test", "tcp"); err == nil {
		t.Error("network tcp accepted")
	}
}

// TestLookupAddrsAsksBothFamiliesAtOnce: with each answer held back 400 ms,
// both families arrive well before 800 ms.
func TestLookupAddrsAsksBothFamiliesAtOnce(t *testing.T) {
	srv := dnstest.NewServer(t, "slow.test. 300 IN A 192.0.2.1", "slow.test. 300 IN AAAA 2001:db8::1")
	srv.Set("slow.test", dnstest.Behaviour{Delay: 400 * time.Millisecond, Secure: true})
	start := time.Now()
	got, err := newClient(t, srv, true).LookupAddrs(testContext(t), "slow.test", "ip")
	wantKind(t, err, 0)
	if elapsed := time.Since(start); elapsed > 750*time.Millisecond {
		t.Errorf("took %v: families asked one after the other", elapsed)
	}
	if len(got.Addrs()) != 2 || !got.Secure {
		t.Errorf("addrs %v secure %v, want 2 addresses, secure", got.Addrs(), got.Secure)
	}
}

func TestLookupAddrsSecureNeedsBothFamilies(t *testing.T) {
	srv := dnstest.NewServer(t, "h.test. 300 IN A 192.0.2.1", "h.test. 300 IN AAAA 2001:db8::1")
	srv.SetType("h.test", dns.TypeA, dnstest.Behaviour{Secure: true})
	c := newClient(t, srv, true)
	if got, _ := c.LookupAddrs(testContext(t), "h.test", "ip"); got.Secure {
		t.Error("Secure with an insecure AAAA answer")
	}
	if got, _ := c.LookupAddrs(testContext(t), "h.test", "ip4"); !got.Secure {
		t.Error("ip4 alone not Secure though the A answer was")
	}
}

func TestLookupPTR(t *testing.T) {
	srv := dnstest.NewServer(t,
		"1.2.0.192.in-addr.arpa. 300 IN PTR Mail.Example.Test.",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 300 IN PTR mail6.example.test.",
	)
	c := newClient(t, srv, false)
	for _, tc := range []struct {
		addr string
		want []string
		kind dnsclient.Kind
	}{
		{"192.0.2.1", []string{"mail.example.test"}, 0},
		{"::ffff:192.0.2.1", []string{"mail.example.test"}, 0},
		{"2001:db8::1", []string{"mail6.example.test"}, 0},
		{"192.0.2.2", nil, dnsclient.NXDomain},
	} {
		got, err := c.LookupPTR(testContext(t), netip.MustParseAddr(tc.addr))
		wantKind(t, err, tc.kind)
		if !slices.Equal(got.Names, tc.want) {
			t.Errorf("PTR %s = %q, want %q", tc.addr, got.Names, tc.want)
		}
	}
}

func TestLookupTLSA(t *testing.T) {
	srv := dnstest.NewServer(t,
		"_25._tcp.mx.test. 300 IN TLSA 3 1 1 0A0b0C0d0E0f101112131415161718191a1b1c1d1e1f20212223242526272829",
		"_25._tcp.mx.test. 300 IN TLSA 2 0 0 DEADBEEF",
		"_25._tcp.alias.test. 300 IN CNAME _25._tcp.mx.test.",
		"_465._tcp.mx.test. 300 IN TXT \"not tlsa\"",
	)
	srv.Set("_25._tcp.mx.test", dnstest.Behaviour{Secure: true})
	c := newClient(t, srv, true)
	got, err := c.LookupTLSA(testContext(t), 25, "MX.test")
	wantKind(t, err, 0)
	wantEE := []byte{0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}
	if len(got.Records) != 2 || !got.Secure {
		t.Fatalf("records %+v secure %v, want 2, secure", got.Records, got.Secure)
	}
	ee, ta := got.Records[0], got.Records[1]
	if ee.Usage != 3 || ee.Selector != 1 || ee.MatchingType != 1 || len(ee.Data) != 32 || !bytes.HasPrefix(ee.Data, wantEE) {
		t.Errorf("DANE-EE record = %+v", ee)
	}
	if ta.Usage != 2 || !bytes.Equal(ta.Data, []byte{0xde, 0xad, 0xbe, 0xef}) {
		t.Errorf("DANE-TA record = %+v", ta)
	}
	aliased, err := c.LookupTLSA(testContext(t), 25, "alias.test")
	wantKind(t, err, 0)
	if len(aliased.Records) != 2 || !slices.Equal(aliased.CNAMEs, []string{"_25._tcp.mx.test"}) {
		t.Errorf("aliased TLSA: %d records, CNAMEs %q", len(aliased.Records), aliased.CNAMEs)
	}
	none, err := c.LookupTLSA(testContext(t), 465, "mx.test")
	wantKind(t, err, 0)
	if len(none.Records) != 0 {
		t.Errorf("NODATA gave records %+v", none.Records)
	}
	if name := dnsclient.TLSAName(587, "mx.test"); name != "_587._tcp.mx.test" {
		t.Errorf("TLSAName = %q", name)
	}
}

func TestLookupTXT(t *testing.T) {
	srv := dnstest.NewServer(t,
		`_mta-sts.example.test. 300 IN TXT "v=STSv1; " "id=20240101T000000;"`,
		`odd.test. 300 IN TXT "quote\" back\\slash \255\000end"`,
		`odd.test. 300 IN TXT "v=TLSRPTv1;" "rua=mailto:tls@example.test"`,
	)
	c := newClient(t, srv, false)
	got, err := c.LookupTXT(testContext(t), "_mta-sts.example.test")
	wantKind(t, err, 0)
	if !slices.Equal(got.Records, []string{"v=STSv1; id=20240101T000000;"}) {
		t.Errorf("TXT = %q", got.Records)
	}
	got, err = c.LookupTXT(testContext(t), "odd.test")
	wantKind(t, err, 0)
	want := []string{"quote\" back\\slash \xff\x00end", "v=TLSRPTv1;rua=mailto:tls@example.test"}
	if !slices.Equal(got.Records, want) {
		t.Errorf("TXT = %q, want %q", got.Records, want)
	}
}
