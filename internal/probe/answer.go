package probe

import (
	"hash/fnv"
	"net/netip"
	"strconv"
	"time"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/exposition"
	"github.com/smtp-exporter/smtp_exporter/internal/kex"
	"github.com/smtp-exporter/smtp_exporter/internal/mtasts"
	"github.com/smtp-exporter/smtp_exporter/internal/ocspstaple"
	"github.com/smtp-exporter/smtp_exporter/internal/smtpwire"
	"github.com/smtp-exporter/smtp_exporter/internal/tlsinspect"
)

// buildAnswer collects the series of a finished probe.
func buildAnswer(o *Outcome, now time.Time) *exposition.Answer {
	b := exposition.NewBuilder(4 + 48*len(o.Results))
	b.Add(probeSuccessFamily, boolValue(probeSucceeded(o.Results)), nil)
	b.Add(probeDurationFamily, o.Duration.Seconds(), nil)
	if o.Domain != nil {
		collectDomain(b, o)
	}
	if o.Domain != nil || o.Skipped > 0 {
		b.Add(skippedFamily, float64(o.Skipped), nil)
	}
	collectHosts(b, o)
	withIP := o.Module != nil && o.Module.Addresses == config.AddressesAll
	for _, r := range o.Results {
		collectEndpoint(newEndpointEmitter(b, r, withIP), r, now)
	}
	return b.Answer()
}

// WithAge returns a probe's answer with probe_smtp_result_age_seconds:
// how old a shared probe's result is when it is served.
func WithAge(a *exposition.Answer, age time.Duration) *exposition.Answer {
	return a.With(resultAgeFamily, max(age, 0).Seconds())
}

// collectDomain emits the MX facts of a mail-domain target.
func collectDomain(b *exposition.Builder, o *Outcome) {
	d := o.Domain
	b.Add(mxLookupFamily, 1, []string{d.Lookup})
	b.Add(mxRecordsFamily, float64(d.Records), nil)
	for _, h := range d.Hosts {
		b.Add(mxInfoFamily, 1, []string{h.Name, strconv.Itoa(int(h.Preference))})
	}
	for _, p := range d.Problems {
		b.Add(mxProblemFamily, 1, []string{p.Host, p.Problem})
	}
	b.Add(deliverableFamily, boolValue(deliverable(o.Results)), nil)
	if f := o.TargetFailure; f != nil {
		b.Add(targetFailureFamily, 1, []string{f.Phase, f.Reason})
	}
	if o.dnssec() {
		b.Add(mxSecureFamily, boolValue(d.Secure), nil)
	}
	b.Add(dnsLookupFamily, d.LookupTime.Seconds(), nil)
	collectPolicy(b, o)
}

// collectPolicy emits the domain's MTA-STS and TLS-RPT results.
func collectPolicy(b *exposition.Builder, o *Outcome) {
	if r := o.Checks.MTASTS; r != nil {
		b.Add(mtaSTSInfoFamily, 1, []string{r.Result})
		if !r.PolicyCertExpiry.IsZero() {
			b.Add(mtaSTSCertFamily, float64(r.PolicyCertExpiry.Unix()), nil)
		}
		if p := r.Policy; p != nil {
			b.Add(mtaSTSModeFamily, 1, []string{p.Mode})
			b.Add(mtaSTSMaxAgeFamily, p.MaxAge.Seconds(), nil)
			for _, h := range o.Domain.Hosts {
				b.Add(mtaSTSMXMatchFamily, boolValue(mtasts.MatchMX(p.MX, h.Name)), []string{h.Name})
			}
		}
	}
	if o.Checks.TLSRPT != "" {
		b.Add(tlsrptInfoFamily, 1, []string{o.Checks.TLSRPT})
	}
}

// collectHosts emits the facts of every host resolved: addresses per
// family, DNSSEC, and for a host target the lookup time.
func collectHosts(b *exposition.Builder, o *Outcome) {
	for _, h := range o.Hosts {
		if h.Err == nil {
			b.Add(hostAddressesFamily, float64(len(h.IPv4)), []string{"4", h.Name})
			b.Add(hostAddressesFamily, float64(len(h.IPv6)), []string{"6", h.Name})
		}
		if o.dnssec() {
			b.Add(hostSecureFamily, boolValue(h.Secure), []string{h.Name})
		}
	}
	if o.Domain == nil && len(o.Hosts) == 1 {
		b.Add(dnsLookupFamily, o.Hosts[0].LookupTime.Seconds(), nil)
	}
}

// dnssec reports whether the probe's module trusts the AD bit.
func (o *Outcome) dnssec() bool { return o.Module != nil && o.Module.DNS.DNSSEC }

// deliverable: at least one endpoint succeeded.
func deliverable(results []*Result) bool {
	for _, r := range results {
		if r.Success() {
			return true
		}
	}
	return false
}

// endpointEmitter adds the series of one endpoint, each carrying its
// endpoint labels; the series without labels of their own share one slice.
type endpointEmitter struct {
	b      *exposition.Builder
	withIP bool
	values []string // values of the endpoint labels, in their order
	shared []string // the same in label-name order
}

func newEndpointEmitter(b *exposition.Builder, r *Result, withIP bool) *endpointEmitter {
	e := &endpointEmitter{b: b, withIP: withIP, values: endpointLabelValues(r, withIP)}
	e.shared = b.Labels(e.family(upFamily), e.values, nil)
	return e
}

// family returns f in the endpoint's label set.
func (e *endpointEmitter) family(f endpointFamily) *exposition.Family {
	if e.withIP {
		return f.withIP
	}
	return f.plain
}

// series adds one series of f; extra are the values of f's labels after
// the endpoint's, in declaration order.
func (e *endpointEmitter) series(f endpointFamily, v float64, extra ...string) {
	if len(extra) == 0 {
		e.b.Add(e.family(f), v, e.shared)
		return
	}
	e.b.Add(e.family(f), v, e.b.Labels(e.family(f), e.values, extra))
}

// probeSucceeded: at least one endpoint, and every endpoint succeeded.
func probeSucceeded(results []*Result) bool {
	for _, r := range results {
		if !r.Success() {
			return false
		}
	}
	return len(results) > 0
}

// collectEndpoint emits the series of one endpoint.
func collectEndpoint(emit *endpointEmitter, r *Result, now time.Time) {
	emit.series(upFamily, boolValue(r.Up))
	emit.series(successFamily, boolValue(r.Success()))
	if r.IPProtocol != 0 {
		emit.series(ipProtocolFamily, float64(r.IPProtocol))
	}
	for p := range PhaseCount {
		emit.series(phaseFamily, r.Phases[p].Seconds(), p.String())
	}
	if r.HandshakeDone {
		emit.series(handshakeFamily, r.Handshake.Seconds())
	}
	emit.series(statusCodeFamily, float64(r.StatusCode))
	if r.Failure != nil {
		emit.series(failureFamily, 1, r.Failure.Phase.String(), r.Failure.Reason)
	}
	if r.Settings.TLS == config.TLSStartTLS && r.Up {
		emit.series(startTLSFamily, boolValue(r.StartTLSAdvertised))
	}
	emit.series(tlsFamily, boolValue(r.TLS))
	if r.Dialled.IsValid() {
		emit.series(ipHashFamily, addrHash(r.Dialled))
	}
	if rev := r.Reverse; rev != nil {
		emit.series(fcrdnsFamily, boolValue(rev.FCrDNS))
		if r.BannerName != "" {
			emit.series(bannerMatchFamily, boolValue(rev.BannerMatch))
		}
	}
	if r.MTASTSValid != nil {
		emit.series(mtaSTSValidFamily, boolValue(*r.MTASTSValid))
	}
	collectExtensions(emit, r)
	collectTLS(emit, r, now)
	collectDANE(emit, r.DANE)
}

// collectDANE emits an endpoint's DANE state, records and verdict.
func collectDANE(emit *endpointEmitter, d *DANEResult) {
	if d == nil {
		return
	}
	emit.series(daneInfoFamily, 1, string(d.State))
	emit.series(daneRecordsFamily, float64(d.Records))
	emit.series(daneRolloverFamily, boolValue(d.Rollover))
	if v := d.Verdict; v != nil {
		emit.series(daneVerifiedFamily, boolValue(v.Verified))
		if v.Match != nil {
			usage, selector, matching := v.Match.Params()
			emit.series(daneMatchFamily, 1, usage, selector, matching)
		}
	}
}

// collectOCSP emits whether a response was stapled and, when it
// verified, its status and expiry.
func collectOCSP(emit *endpointEmitter, o *ocspstaple.Result) {
	if o == nil {
		return
	}
	emit.series(ocspStapledFamily, boolValue(o.Stapled))
	if !o.Verified {
		return
	}
	emit.series(ocspStatusFamily, float64(o.Status))
	if !o.NextUpdate.IsZero() {
		emit.series(ocspNextUpdateFamily, float64(o.NextUpdate.Unix()))
	}
}

// addrHash is blackbox_exporter's probe_ip_addr_hash: FNV-1a (32 bits)
// of the address's 4 (IPv4) or 16 (IPv6) bytes.
func addrHash(a netip.Addr) float64 {
	h := fnv.New32a()
	h.Write(a.Unmap().AsSlice())
	return float64(h.Sum32())
}

func collectExtensions(emit *endpointEmitter, r *Result) {
	for _, k := range r.Extensions.Registered() {
		emit.series(extensionFamily, 1, k)
	}
	if size, ok := r.Extensions.SizeLimit(); ok {
		emit.series(sizeLimitFamily, float64(size))
	}
	for _, offer := range []struct {
		mechanisms []string
		tls        string
	}{{r.AuthBeforeTLS, "false"}, {r.AuthAfterTLS, "true"}} {
		seen := map[string]bool{}
		for _, m := range offer.mechanisms {
			if label := smtpwire.MechanismLabel(m); !seen[label] {
				seen[label] = true
				emit.series(authMechanismFamily, 1, label, offer.tls)
			}
		}
	}
}

func collectTLS(emit *endpointEmitter, r *Result, now time.Time) {
	if st := r.TLSState; st != nil {
		emit.series(tlsVersionFamily, 1, tlsinspect.VersionName(st.Version))
		emit.series(tlsCipherFamily, 1, tlsinspect.CipherName(st.CipherSuite))
		if group := kex.Group(*st); group != "" {
			emit.series(kexFamily, 1, group)
		}
	}
	collectOCSP(emit, r.OCSP)
	c := r.Cert
	if c == nil {
		return
	}
	leaf := c.Leaf()
	emit.series(certExpiryFamily, float64(leaf.NotAfter.Unix()))
	emit.series(certDaysFamily, leaf.NotAfter.Sub(now).Hours()/24)
	emit.series(earliestExpiryFamily, float64(c.EarliestExpiry().Unix()))
	emit.series(certVerifiedFamily, boolValue(c.Verified))
	emit.series(hostnameMatchFamily, boolValue(c.HostnameMatch))
	emit.series(chainInfoFamily, 1, c.Info...)
	if c.Verified {
		emit.series(verifiedExpiryFamily, float64(c.VerifiedExpiry.Unix()))
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
