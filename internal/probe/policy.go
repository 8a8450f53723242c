package probe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/smtp-exporter/smtp_exporter/internal/mtasts"
)

// DomainChecks are the checks of a mail domain that run beside its
// sessions: MTA-STS (mta_sts) and TLS-RPT (tlsrpt).
type DomainChecks struct {
	// MTASTS is the MTA-STS check; nil when the module does not ask for it.
	MTASTS *mtasts.Report
	// TLSRPT is the TLS-RPT record's result ("" when the lookup failed or
	// the module does not ask for it); TLSRPTErr says why it failed.
	TLSRPT    string
	TLSRPTErr error
}

// startDomainChecks runs the module's domain checks of domain in the
// background, within ctx; wait returns them once done.
func (p *Prober) startDomainChecks(ctx context.Context, req Request, allowed func(string, netip.Addr) bool) (wait func() DomainChecks) {
	var checks DomainChecks
	var wg sync.WaitGroup
	m, domain, r := req.Module, req.Target.Host, p.resolverFor(req.Module)
	if m.MTASTS {
		wg.Go(func() {
			report := mtasts.Check(ctx, domain, mtasts.Options{
				Resolver: r, Allowed: allowed, RootCAs: m.ClientTLSConfig().RootCAs,
				Port: p.MTASTSPort, IPProtocol: m.IPProtocol,
			})
			checks.MTASTS = &report
		})
	}
	if m.TLSRPT {
		wg.Go(func() { checks.TLSRPT, checks.TLSRPTErr = mtasts.CheckTLSRPT(ctx, r, domain) })
	}
	return func() DomainChecks {
		wg.Wait()
		return checks
	}
}

// inForce reports whether an MTA-STS policy applies: one was served and
// its mode is not none.
func inForce(report *mtasts.Report) bool {
	return report != nil && report.Policy != nil && report.Policy.Mode != mtasts.ModeNone
}

// applyMTASTS judges each finished session against the domain's policy
// (RFC 8461 §4) and applies mta_sts_match (under mode enforce) and
// require_mta_sts. It runs before the outcome is built.
func applyMTASTS(results []*Result, report *mtasts.Report) {
	if report == nil {
		return
	}
	for _, r := range results {
		set := r.Settings
		if !inForce(report) {
			if set.RequireMTASTS {
				failPolicy(r, ReasonMTASTSMissing, fmt.Errorf("MTA-STS required, none in force (%s)", report.Result))
			}
			continue
		}
		valid := sessionMeetsPolicy(r, report.Policy)
		r.MTASTSValid = &valid
		if !valid && set.MTASTSMatch && report.Policy.Mode == mtasts.ModeEnforce {
			failPolicy(r, ReasonMTASTSMismatch, errors.New("the session does not meet the enforced MTA-STS policy (RFC 8461 §4): MX listed, TLS 1.2 or later, a chain that verifies naming the MX"))
		}
	}
}

// failPolicy records a policy failure after the session, unless an
// earlier failure was recorded, and notes it in the transcript.
func failPolicy(r *Result, reason string, err error) {
	r.Transcript.notef("%s failed (%s): %v", PhaseTLS, reason, err)
	if r.Failure == nil {
		r.StatusCode = 0 // SPEC: the status of a failure not caused by a reply
	}
	r.fail(PhaseTLS, reason, err)
}

// sessionMeetsPolicy applies RFC 8461 §4 to one session.
func sessionMeetsPolicy(r *Result, policy *mtasts.Policy) bool {
	s := mtasts.Session{MXMatched: mtasts.MatchMX(policy.MX, r.Host)}
	if r.TLSState != nil {
		s.TLSVersion = r.TLSState.Version
	}
	if c := r.Cert; c != nil {
		s.ChainVerified = c.Verified
		s.NameMatched = c.Leaf().VerifyHostname(r.Host) == nil // the MX, whatever server_name says
	}
	return s.Valid()
}
