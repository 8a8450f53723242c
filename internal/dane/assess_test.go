package dane_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/smtp-exporter/smtp_exporter/internal/certtest"
	"github.com/smtp-exporter/smtp_exporter/internal/dane"
	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
	"github.com/smtp-exporter/smtp_exporter/internal/dnstest"
)

func TestUsable(t *testing.T) {
	p := newPKI(t, certtest.Spec{})
	leaf := p.leaf.Cert
	spki := record(3, 1, 0, leaf).Data
	for _, tc := range []struct {
		name string
		r    dane.Record
		want bool
	}{
		{"3 1 1", record(3, 1, 1, leaf), true},
		{"3 0 2", record(3, 0, 2, leaf), true},
		{"2 0 0 certificate", record(2, 0, 0, p.root.Cert), true},
		{"3 1 0 key", record(3, 1, 0, leaf), true},
		{"PKIX-TA 0 0 1", record(0, 0, 1, leaf), false},
		{"PKIX-EE 1 1 1", record(1, 1, 1, leaf), false},
		{"usage 4", record(4, 1, 1, leaf), false},
		{"selector 2", dane.Record{Usage: 3, Selector: 2, MatchingType: 1, Data: make([]byte, 32)}, false},
		{"matching type 3", dane.Record{Usage: 3, Selector: 1, MatchingType: 3, Data: make([]byte, 32)}, false},
		{"SHA-256 of 31 bytes", dane.Record{Usage: 3, Selector: 1, MatchingType: 1, Data: make([]byte, 31)}, false},
		{"SHA-256 of 33 bytes", dane.Record{Usage: 3, Selector: 1, MatchingType: 1, Data: make([]byte, 33)}, false},
		{"SHA-256 of 64 bytes", dane.Record{Usage: 3, Selector: 1, MatchingType: 1, Data: make([]byte, 64)}, false},
		{"SHA-512 of 32 bytes", dane.Record{Usage: 3, Selector: 1, MatchingType: 2, Data: make([]byte, 32)}, false},
		{"full empty", dane.Record{Usage: 3, Selector: 1, MatchingType: 0}, false},
		{"full garbage key", dane.Record{Usage: 3, Selector: 1, MatchingType: 0, Data: []byte("not a key")}, false},
		{"full garbage certificate", dane.Record{Usage: 2, Selector: 0, MatchingType: 0, Data: []byte("not a cert")}, false},
		{"full key after a certificate selector", dane.Record{Usage: 3, Selector: 0, MatchingType: 0, Data: spki}, false},
		{"full key with trailing bytes", dane.Record{Usage: 3, Selector: 1, MatchingType: 0, Data: append(bytes.Clone(spki), 0)}, false},
	} {
		if got := dane.Usable(tc.r); got != tc.want {
			t.Errorf("%s: Usable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// tlsa converts records to the form dnsclient answers with.
func tlsa(records ...dane.Record) []dnsclient.TLSA {
	out := make([]dnsclient.TLSA, len(records))
	for i, r := range records {
		out[i] = dnsclient.TLSA{Usage: r.Usage, Selector: r.Selector, MatchingType: r.MatchingType, Data: r.Data}
	}
	return out
}

// TestDistinctAndRollover: duplicates count once, unusable records not at
// all, and rollover needs two distinct usable records, one DANE-EE.
func TestDistinctAndRollover(t *testing.T) {
	p, next := newPKI(t, certtest.Spec{}), newPKI(t, certtest.Spec{})
	ee := record(3, 1, 1, p.leaf.Cert)
	eeNext := record(3, 1, 1, next.leaf.Cert)
	ta := record(2, 1, 1, p.inter.Cert)
	taNext := record(2, 1, 1, next.inter.Cert)
	eeCopy := dane.Record{Usage: 3, Selector: 1, MatchingType: 1, Data: bytes.Clone(ee.Data)}
	pkix := record(1, 1, 1, p.leaf.Cert)
	for _, tc := range []struct {
		name     string
		records  []dane.Record
		want     []dane.Record
		rollover bool
	}{
		{"one", []dane.Record{ee}, []dane.Record{ee}, false},
		{"a duplicate", []dane.Record{ee, eeCopy, ee}, []dane.Record{ee}, false},
		{"current and next key", []dane.Record{ee, eeNext}, []dane.Record{ee, eeNext}, true},
		{"EE and TA", []dane.Record{ta, ee}, []dane.Record{ta, ee}, true},
		{"two TAs", []dane.Record{ta, taNext}, []dane.Record{ta, taNext}, false},
		{"EE with a PKIX record", []dane.Record{pkix, ee}, []dane.Record{ee}, false},
		{"same data, other selector", []dane.Record{ee, {Usage: 3, Selector: 0, MatchingType: 1, Data: ee.Data}}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := dane.Assess(dnsclient.TLSAAnswer{Records: tlsa(tc.records...), LookupInfo: dnsclient.LookupInfo{Secure: true}}, nil, true)
			want := tc.want
			if want == nil {
				want = tc.records
			}
			if a.Records != len(want) || len(a.Usable) != len(want) {
				t.Fatalf("Records = %d, Usable = %d, want %d", a.Records, len(a.Usable), len(want))
			}
			for i := range want {
				if !a.Usable[i].Equal(want[i]) {
					t.Errorf("Usable[%d] = %+v, want %+v", i, a.Usable[i], want[i])
				}
			}
			if a.Rollover != tc.rollover {
				t.Errorf("Rollover = %v, want %v", a.Rollover, tc.rollover)
			}
		})
	}
}

// zoneRecord is a TLSA record in zone-file syntax.
func zoneRecord(owner string, r dane.Record) string {
	return fmt.Sprintf("%s. 300 IN TLSA %d %d %d %s", owner, r.Usage, r.Selector, r.MatchingType, hex.EncodeToString(r.Data))
}

// stateCase is a TLSA name served by the test server, how the client
// asks, and what Assess must make of the answer.
type stateCase struct {
	host       string
	hostSecure bool
	want       dane.State
	records    int
}

// TestAssessStates: every state from answers a real dnsclient.Client got
// from an in-process DNS server.
func TestAssessStates(t *testing.T) {
	p := newPKI(t, certtest.Spec{})
	ee, ta := record(3, 1, 1, p.leaf.Cert), record(2, 0, 2, p.inter.Cert)
	srv := dnstest.NewServer(t,
		zoneRecord("_25._tcp.secure.test", ee), zoneRecord("_25._tcp.secure.test", ta),
		zoneRecord("_25._tcp.plain.test", ee),
		zoneRecord("_25._tcp.pkix.test", record(1, 1, 1, p.leaf.Cert)),
		zoneRecord("_25._tcp.pkix.test", record(0, 0, 1, p.root.Cert)),
		"_25._tcp.nodata.test. 300 IN TXT \"not TLSA\"",
		"_25._tcp.alias.test. 300 IN CNAME _25._tcp.target.zone.",
		"_25._tcp.halfalias.test. 300 IN CNAME _25._tcp.target.zone.",
		zoneRecord("_25._tcp.target.zone", ee),
		"_25._tcp.dangling.test. 300 IN CNAME _25._tcp.gone.test.",
	)
	srv.SetDefault(dnstest.Behaviour{Secure: true})
	srv.Set("_25._tcp.plain.test", dnstest.Behaviour{})
	srv.Set("_25._tcp.insecure-nx.test", dnstest.Behaviour{})
	srv.Set("_25._tcp.insecure-nodata.test", dnstest.Behaviour{})
	srv.Set("_25._tcp.servfail.test", dnstest.Behaviour{Secure: true, Rcode: dns.RcodeServerFailure})
	srv.Set("_25._tcp.refused.test", dnstest.Behaviour{Rcode: dns.RcodeRefused})
	srv.Set("_25._tcp.silent.test", dnstest.Behaviour{Drop: true})
	srv.Set("_25._tcp.halfalias.test", dnstest.Behaviour{CNAMEOnly: true, Secure: true})
	srv.Set("_25._tcp.target.zone", dnstest.Behaviour{Secure: false})
	srv.Add(t, "_25._tcp.insecure-nodata.test. 300 IN TXT \"x\"")
	client, err := dnsclient.New(dnsclient.Options{Server: srv.Addr(), DNSSEC: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []stateCase{
		{"secure.test", true, dane.StateUsable, 2},
		{"secure.test", false, dane.StateInsecure, 2},
		{"plain.test", true, dane.StateInsecure, 1},
		{"pkix.test", true, dane.StateUnusable, 0},
		{"absent.test", true, dane.StateNone, 0},
		{"absent.test", false, dane.StateInsecure, 0},
		{"insecure-nx.test", true, dane.StateInsecure, 0},
		{"nodata.test", true, dane.StateNone, 0},
		{"insecure-nodata.test", true, dane.StateInsecure, 0},
		{"servfail.test", true, dane.StateError, 0},
		{"servfail.test", false, dane.StateInsecure, 0},
		{"refused.test", true, dane.StateError, 0},
		{"silent.test", true, dane.StateError, 0},
		{"alias.test", true, dane.StateUsable, 1},
		{"halfalias.test", true, dane.StateInsecure, 1},
		{"dangling.test", true, dane.StateNone, 0},
	} {
		t.Run(fmt.Sprintf("%s host secure %v", tc.host, tc.hostSecure), func(t *testing.T) {
			checkState(t, client, tc)
		})
	}
}

// checkState looks up tc's TLSA records and checks Assess's verdict.
func checkState(t *testing.T, client *dnsclient.Client, tc stateCase) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	answer, err := client.LookupTLSA(ctx, 25, tc.host)
	a := dane.Assess(answer, err, tc.hostSecure)
	if a.State != tc.want || a.Records != tc.records {
		t.Errorf("State %q, Records %d (lookup err %v); want %q, %d", a.State, a.Records, err, tc.want, tc.records)
	}
}

// TestAssessMalformed: a reply that is not DNS is an error, not a denial.
func TestAssessMalformed(t *testing.T) {
	addr := dnstest.NewUDPResponder(t, func(q *dns.Msg) []byte {
		reply := new(dns.Msg)
		reply.SetRcode(q, dns.RcodeNameError)
		reply.AuthenticatedData = true
		reply.Id++ // another query's reply
		out, _ := reply.Pack()
		return out
	})
	client, err := dnsclient.New(dnsclient.Options{Server: addr, DNSSEC: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	answer, err := client.LookupTLSA(ctx, 25, "mx.example.test")
	var dnsErr *dnsclient.Error
	if !errors.As(err, &dnsErr) || dnsErr.Kind != dnsclient.Malformed {
		t.Fatalf("lookup err %v, want a malformed reply", err)
	}
	if a := dane.Assess(answer, err, true); a.State != dane.StateError {
		t.Errorf("State %q (lookup err %v), want error", a.State, err)
	}
}

// TestAssessOtherErrors: an error that is not a dnsclient.Error is a
// failure too.
func TestAssessOtherErrors(t *testing.T) {
	secure := dnsclient.TLSAAnswer{LookupInfo: dnsclient.LookupInfo{Secure: true}}
	if a := dane.Assess(secure, context.Canceled, true); a.State != dane.StateError {
		t.Errorf("State %q, want error", a.State)
	}
}
