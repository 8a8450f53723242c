package probe

import (
	"context"
	"time"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/exposition"
	"github.com/smtp-exporter/smtp_exporter/internal/plan"
)

// Request is one probe to run: a parsed target, the module and the
// configuration it comes from, and the budget.
type Request struct {
	// Target is the parsed target; RawTarget is as requested.
	Target    Target
	RawTarget string
	// ModuleName names Module in Config.
	ModuleName string
	Module     *config.Module
	// Config holds the global allowed_targets.
	Config *config.Config
	// Budget bounds the whole probe, resolving included.
	Budget time.Duration
}

// Outcome is one finished probe: what was asked, what each session found,
// and the answer built from that. It is complete when Run returns it and
// never changed afterwards: the handler, debug output and /history share it.
type Outcome struct {
	// Time is when the probe started.
	Time       time.Time
	Target     string
	ModuleName string
	Module     *config.Module
	Budget     time.Duration
	// Duration is the wall time of the whole probe.
	Duration time.Duration
	// Results are the sessions' results, in endpoint order.
	Results []*Result
	// Domain holds the MX facts of a mail-domain target; nil for a host.
	Domain *plan.Domain
	// Hosts are the hosts resolved, in probe order.
	Hosts []plan.Host
	// Skipped counts endpoints past plan.MaxEndpoints, not probed.
	Skipped int
	// TargetFailure says why a target had no endpoints at all.
	TargetFailure *plan.TargetFailure
	// Checks are the mail domain's MTA-STS and TLS-RPT checks.
	Checks DomainChecks
	// Answer is the probe's series.
	Answer *exposition.Answer
}

// Success reports probe_success: at least one endpoint, and every
// endpoint succeeded.
func (o *Outcome) Success() bool { return probeSucceeded(o.Results) }

// Run probes req's target on ctx within req's budget: the resolver step
// makes the plan (a host target that allowed_targets does not admit is
// refused with a *NotAllowedError), the sessions run, all at once, and the
// outcome is returned.
func (p *Prober) Run(ctx context.Context, req Request) (*Outcome, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, req.Budget)
	defer cancel()
	pl, err := p.makePlan(ctx, req)
	if err != nil {
		return nil, err
	}
	waitChecks := func() DomainChecks { return DomainChecks{} }
	if pl.Domain != nil && pl.Failure == nil {
		waitChecks = p.startDomainChecks(ctx, req, allowedFor(req))
	}
	results := p.Probe(ctx, req.Module, pl.Endpoints)
	checks := waitChecks()
	applyMTASTS(results, checks.MTASTS)
	o := &Outcome{
		Time: start, Target: req.RawTarget, ModuleName: req.ModuleName, Module: req.Module,
		Budget: req.Budget, Duration: time.Since(start), Results: results,
		Domain: pl.Domain, Hosts: pl.Hosts, Skipped: pl.Skipped, TargetFailure: pl.Failure,
		Checks: checks,
	}
	o.Answer = buildAnswer(o, start)
	return o, nil
}
