package probe

import (
	"errors"
	"fmt"
	"time"

	"github.com/smtp-exporter/smtp_exporter/internal/dane"
)

// DANEResult is what DANE found for one endpoint.
type DANEResult struct {
	// Assessment is the TLSA lookup judged: state, usable records, rollover.
	dane.Assessment
	// Verdict is the served chain checked against the usable records; nil
	// unless the state is usable and a Certificate message arrived.
	Verdict *dane.Verdict
	// Err is the TLSA lookup's failure, if any.
	Err error
}

// tlsaLookup is a TLSA lookup under way, started with the connect.
type tlsaLookup struct {
	done   chan struct{}
	result *DANEResult
}

// startTLSA looks up TLSA at _<port>._tcp.<host> in the background; the
// time it takes is the tlsa phase.
func (s *session) startTLSA() *tlsaLookup {
	l := &tlsaLookup{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		start := time.Now()
		answer, err := s.prober.resolverFor(s.module).LookupTLSA(s.ctx, s.ep.Port, s.ep.Host)
		s.res.Phases[PhaseTLSA] = time.Since(start)
		l.result = &DANEResult{Assessment: dane.Assess(answer, err, s.ep.HostSecure), Err: err}
	}()
	return l
}

// checkDANE, once the session is over, waits for the TLSA lookup, checks
// the served chain against its usable records, and applies dane_match and
// require_dane. A port with usable TLSA that never reached TLS is a
// mismatch: a DANE sender would not deliver there.
func (s *session) checkDANE() {
	if s.tlsa == nil || s.res.DANE != nil {
		return // DANE is off, or checked already
	}
	<-s.tlsa.done // bounded: the lookup ends with the probe's context
	r := s.tlsa.result
	s.res.DANE = r
	s.tr.notef("DANE: TLSA state %s, %d usable records (lookup error: %v)", r.State, r.Records, r.Err)
	set := s.ep.Settings
	if r.State != dane.StateUsable {
		if set.RequireDANE {
			s.record(PhaseTLSA, &expectationError{ReasonDANEMissing, fmt.Errorf("DANE required, TLSA state is %s", r.State)})
		}
		return
	}
	if chain := s.capture.Chain(); len(chain) > 0 {
		base := dane.BaseDomains(s.ep.Host, s.ep.HostCNAMEs)[0]
		v := dane.Verify(r.Usable, chain, dane.ReferenceNames(base, s.ep.Host), time.Now())
		r.Verdict = &v
		s.tr.notef("DANE: verified %t %s", v.Verified, v.Reason)
	}
	if !set.DANEMatch {
		return
	}
	switch {
	case !s.res.TLS || r.Verdict == nil:
		s.record(PhaseTLS, &expectationError{ReasonDANEMismatch, errors.New("usable TLSA records, but the session did not reach TLS")})
	case !r.Verdict.Verified:
		s.record(PhaseTLS, &expectationError{ReasonDANEMismatch, fmt.Errorf("no usable TLSA record authenticates the served chain: %s", r.Verdict.Reason)})
	}
}
