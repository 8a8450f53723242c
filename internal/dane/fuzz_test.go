package dane_test

import (
	"testing"
	"time"

	"github.com/smtp-exporter/smtp_exporter/internal/certtest"
	"github.com/smtp-exporter/smtp_exporter/internal/dane"
	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
)

// FuzzAssessVerify feeds arbitrary record bytes to Assess and Verify: they
// must never panic, a usable state must come with usable records, and a
// match must be a record that was given.
func FuzzAssessVerify(f *testing.F) {
	p := newPKI(f, certtest.Spec{})
	chain := certtest.Chain(p.leaf, p.inter, p.root)
	for _, r := range []dane.Record{
		record(3, 1, 1, p.leaf.Cert), record(3, 0, 0, p.leaf.Cert), record(2, 0, 0, p.root.Cert),
		record(2, 1, 2, p.inter.Cert), record(2, 1, 0, p.inter.Cert), {Usage: 3, Selector: 1, MatchingType: 1},
	} {
		f.Add(r.Usage, r.Selector, r.MatchingType, r.Data, true)
	}
	f.Fuzz(func(t *testing.T, usage, selector, matchingType uint8, data []byte, secure bool) {
		raw := dane.Record{Usage: usage, Selector: selector, MatchingType: matchingType, Data: data}
		answer := dnsclient.TLSAAnswer{Records: tlsa(raw, raw), LookupInfo: dnsclient.LookupInfo{Secure: secure}}
		a := dane.Assess(answer, nil, true)
		if (a.State == dane.StateUsable) != (secure && a.Records == 1) {
			t.Fatalf("State %q with %d usable records, secure %v", a.State, a.Records, secure)
		}
		for _, usable := range [][]dane.Record{a.Usable, {raw}} {
			v := dane.Verify(usable, chain, []string{mxHost}, time.Now())
			if v.Verified && (v.Match == nil || !v.Match.Equal(raw)) {
				t.Fatalf("verified by %+v, not the record given", v.Match)
			}
		}
	})
}
