package dane_test

import (
	"crypto/x509"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/smtp-exporter/smtp_exporter/internal/certtest"
	"github.com/smtp-exporter/smtp_exporter/internal/dane"
)

var selectors = []uint8{dane.SelectorCert, dane.SelectorSPKI}

var matchingTypes = []uint8{dane.MatchingFull, dane.MatchingSHA256, dane.MatchingSHA512}

// TestDANEEEMatchesLeaf: every selector and matching type of a DANE-EE
// record for the leaf verifies; the same record for another certificate
// with the same name and key type does not.
func TestDANEEEMatchesLeaf(t *testing.T) {
	p := newPKI(t, certtest.Spec{})
	other := newPKI(t, certtest.Spec{})
	for _, sel := range selectors {
		for _, mt := range matchingTypes {
			t.Run(fmt.Sprintf("3 %d %d", sel, mt), func(t *testing.T) {
				match := record(dane.UsageDANEEE, sel, mt, p.leaf.Cert)
				miss := record(dane.UsageDANEEE, sel, mt, other.leaf.Cert)
				if v := dane.Verify([]dane.Record{match}, p.served(), []string{mxHost}, time.Now()); !v.Verified || !v.Match.Equal(match) {
					t.Errorf("matching record: %+v", v)
				}
				v := dane.Verify([]dane.Record{miss}, p.served(), []string{mxHost}, time.Now())
				if v.Verified || v.Match != nil || v.Reason == "" {
					t.Errorf("record of another leaf: %+v", v)
				}
			})
		}
	}
}

// TestDANEEEIgnoresNameAndDates: a self-signed leaf that has expired and
// names another host still passes DANE-EE (RFC 7672 §3.1.1).
func TestDANEEEIgnoresNameAndDates(t *testing.T) {
	leaf := certtest.SelfSigned(t, certtest.Spec{
		CommonName: "other.test", DNSNames: []string{"other.test"},
		NotBefore: hours(-48), NotAfter: hours(-24),
	})
	for _, sel := range selectors {
		r := record(dane.UsageDANEEE, sel, dane.MatchingSHA256, leaf.Cert)
		if v := dane.Verify([]dane.Record{r}, certtest.Chain(leaf), []string{mxHost}, time.Now()); !v.Verified {
			t.Errorf("3 %d 1: %+v", sel, v)
		}
	}
}

// TestDANEEEMatchesLeafOnly: a DANE-EE record for the intermediate does not
// authenticate the leaf.
func TestDANEEEMatchesLeafOnly(t *testing.T) {
	p := newPKI(t, certtest.Spec{})
	r := record(dane.UsageDANEEE, dane.SelectorSPKI, dane.MatchingSHA256, p.inter.Cert)
	if v := dane.Verify([]dane.Record{r}, p.served(), []string{mxHost}, time.Now()); v.Verified {
		t.Errorf("3 1 1 of the intermediate verified: %+v", v)
	}
}

// taCase is a DANE-TA check: the chain served, the record, the names, and
// whether it verifies (else a fragment of the reason).
type taCase struct {
	name   string
	chain  []*x509.Certificate
	record dane.Record
	names  []string
	want   bool
	reason string
}

func TestDANETA(t *testing.T) {
	p := newPKI(t, certtest.Spec{})
	stranger := certtest.SelfSigned(t, certtest.Spec{CommonName: "Stranger CA", CA: true})
	expiredRoot := certtest.SelfSigned(t, certtest.Spec{CommonName: "Old Root", CA: true, NotBefore: hours(-48), NotAfter: hours(-24)})
	underExpired := expiredRoot.Issue(t, certtest.Spec{CommonName: mxHost, DNSNames: []string{mxHost}})
	expiredInter := p.root.Issue(t, certtest.Spec{CommonName: "Old Intermediate", CA: true, NotBefore: hours(-48), NotAfter: hours(-24)})
	underExpiredInter := expiredInter.Issue(t, certtest.Spec{CommonName: mxHost, DNSNames: []string{mxHost}})
	expiredLeaf := p.inter.Issue(t, certtest.Spec{CommonName: mxHost, DNSNames: []string{mxHost}, NotBefore: hours(-48), NotAfter: hours(-24)})
	wildcard := p.inter.Issue(t, certtest.Spec{CommonName: "*.example.test", DNSNames: []string{"*.example.test"}})
	cnOnly := p.inter.Issue(t, certtest.Spec{CommonName: mxHost, DNSNames: []string{}})
	baseOnly := p.inter.Issue(t, certtest.Spec{CommonName: "mail.hoster.test", DNSNames: []string{"mail.hoster.test"}})
	names := []string{mxHost}
	ta := func(sel, mt uint8, c *certtest.Cert) dane.Record { return record(dane.UsageDANETA, sel, mt, c.Cert) }
	for _, tc := range []taCase{
		{"root served, 2 0 1", certtest.Chain(p.leaf, p.inter, p.root), ta(0, 1, p.root), names, true, ""},
		{"root served, 2 1 2", certtest.Chain(p.leaf, p.inter, p.root), ta(1, 2, p.root), names, true, ""},
		{"intermediate served, 2 1 1", p.served(), ta(1, 1, p.inter), names, true, ""},
		{"intermediate served, 2 0 0", p.served(), ta(0, 0, p.inter), names, true, ""},
		{"root not served, 2 0 1", p.served(), ta(0, 1, p.root), names, false, "no TLSA record matches"},
		{"root not served, given whole 2 0 0", p.served(), ta(0, 0, p.root), names, true, ""},
		{"root not served, key given whole 2 1 0", p.served(), ta(1, 0, p.root), names, true, ""},
		{"intermediate's key given whole, nothing above it served", certtest.Chain(p.leaf), ta(1, 0, p.inter), names, true, ""},
		{"key given whole, names another host", p.served(), ta(1, 0, p.root), []string{"mx.other.test"}, false, "not valid for"},
		{"stranger's key given whole", p.served(), ta(1, 0, stranger), names, false, "does not verify"},
		{"leaf's key given whole is no trust anchor", p.served(), ta(1, 0, p.leaf), names, false, "does not verify"},
		{"leaf is no trust anchor", p.served(), ta(0, 1, p.leaf), names, false, "no TLSA record matches"},
		{"leaf given whole is no trust anchor", p.served(), ta(0, 0, p.leaf), names, false, "no TLSA record matches"},
		{"leaf names another host", p.served(), ta(1, 1, p.inter), []string{"mx.other.test"}, false, "not valid for mx.other.test"},
		{"no reference name", p.served(), ta(1, 1, p.inter), nil, false, "no reference name"},
		{"wildcard leaf", certtest.Chain(wildcard, p.inter), ta(1, 1, p.inter), names, true, ""},
		{"wildcard is one label", certtest.Chain(wildcard, p.inter), ta(1, 1, p.inter), []string{"a.mx.example.test"}, false, "not valid"},
		{"common name without SANs", certtest.Chain(cnOnly, p.inter), ta(1, 1, p.inter), []string{"MX.Example.Test."}, true, ""},
		{"leaf names the base domain", certtest.Chain(baseOnly, p.inter), ta(1, 1, p.inter), []string{"mail.hoster.test", mxHost}, true, ""},
		{"leaf names the base domain, MX host only given", certtest.Chain(baseOnly, p.inter), ta(1, 1, p.inter), names, false, "not valid"},
		{"served CA that did not sign the chain", certtest.Chain(p.leaf, p.inter, stranger), ta(0, 1, stranger), names, false, "does not verify"},
		{"given whole CA that did not sign the chain", p.served(), ta(0, 0, stranger), names, false, "does not verify"},
		{"expired leaf", certtest.Chain(expiredLeaf, p.inter), ta(1, 1, p.inter), names, false, "does not verify"},
		{"expired intermediate under the anchor", certtest.Chain(underExpiredInter, expiredInter), ta(1, 1, p.root), names, false, "no TLSA record matches"},
		{"expired intermediate under the anchor, served", certtest.Chain(underExpiredInter, expiredInter, p.root), ta(1, 1, p.root), names, false, "does not verify"},
		{"expired anchor served", certtest.Chain(underExpired, expiredRoot), ta(0, 1, expiredRoot), names, true, ""},
		{"expired anchor given whole", certtest.Chain(underExpired), ta(0, 0, expiredRoot), names, true, ""},
		{"expired intermediate as the anchor", certtest.Chain(underExpiredInter, expiredInter), ta(1, 1, expiredInter), names, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) { checkTA(t, tc) })
	}
}

// checkTA runs one taCase.
func checkTA(t *testing.T, tc taCase) {
	t.Helper()
	v := dane.Verify([]dane.Record{tc.record}, tc.chain, tc.names, time.Now())
	if v.Verified != tc.want {
		t.Fatalf("Verified = %v, want %v (%+v)", v.Verified, tc.want, v)
	}
	if tc.want && (v.Match == nil || !v.Match.Equal(tc.record) || v.Reason != "") {
		t.Errorf("verified with Match %+v, Reason %q; want the record, no reason", v.Match, v.Reason)
	}
	if !tc.want && (v.Match != nil || !strings.Contains(v.Reason, tc.reason)) {
		t.Errorf("Match %+v, Reason %q; want no match, a reason with %q", v.Match, v.Reason, tc.reason)
	}
}

// TestVerifyFirstMatchWins: records are tried in order and the first that
// authenticates is reported, also when an earlier DANE-TA record matched a
// certificate whose checks then failed.
func TestVerifyFirstMatchWins(t *testing.T) {
	p := newPKI(t, certtest.Spec{CommonName: "elsewhere.test", DNSNames: []string{"elsewhere.test"}})
	other := newPKI(t, certtest.Spec{})
	miss := record(dane.UsageDANEEE, 1, 1, other.leaf.Cert)
	taNameFails := record(dane.UsageDANETA, 1, 1, p.inter.Cert)
	ee := record(dane.UsageDANEEE, 0, 2, p.leaf.Cert)
	ee2 := record(dane.UsageDANEEE, 1, 1, p.leaf.Cert)
	usable := []dane.Record{miss, taNameFails, ee, ee2}
	v := dane.Verify(usable, p.served(), []string{mxHost}, time.Now())
	if !v.Verified || v.Match != &usable[2] {
		t.Fatalf("got %+v, want the third record", v)
	}
	v = dane.Verify(usable[:2], p.served(), []string{mxHost}, time.Now())
	if v.Verified || !strings.Contains(v.Reason, "2 1 1 matched") {
		t.Errorf("without DANE-EE: %+v, want the DANE-TA failure as the reason", v)
	}
}

func TestVerifyNothingToCheck(t *testing.T) {
	p := newPKI(t, certtest.Spec{})
	r := record(dane.UsageDANEEE, 1, 1, p.leaf.Cert)
	if v := dane.Verify(nil, p.served(), []string{mxHost}, time.Now()); v.Verified || v.Reason == "" {
		t.Errorf("no records: %+v", v)
	}
	if v := dane.Verify([]dane.Record{r}, nil, []string{mxHost}, time.Now()); v.Verified || v.Reason == "" {
		t.Errorf("no chain: %+v", v)
	}
}

// TestVerifyUsesNow: a DANE-TA check is made at the time given, not the
// clock's.
func TestVerifyUsesNow(t *testing.T) {
	p := newPKI(t, certtest.Spec{})
	r := record(dane.UsageDANETA, 1, 1, p.inter.Cert)
	if v := dane.Verify([]dane.Record{r}, p.served(), []string{mxHost}, hours(48)); v.Verified {
		t.Errorf("verified two days on, when the leaf has expired: %+v", v)
	}
	ee := record(dane.UsageDANEEE, 1, 1, p.leaf.Cert)
	if v := dane.Verify([]dane.Record{ee}, p.served(), []string{mxHost}, hours(48)); !v.Verified {
		t.Errorf("DANE-EE two days on: %+v", v)
	}
}
