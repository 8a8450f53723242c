package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/kex"
	"github.com/smtp-exporter/smtp_exporter/internal/ocspstaple"
	"github.com/smtp-exporter/smtp_exporter/internal/smtpwire"
	"github.com/smtp-exporter/smtp_exporter/internal/tlsinspect"
)

// quitWait bounds the wait for the 221 to QUIT: a missing 221 never fails
// an endpoint, so it must not hold the whole probe up either.
const quitWait = time.Second

// session is one SMTP conversation with one endpoint. It holds a single
// deadline, the probe's, for every read and write.
type session struct {
	ctx    context.Context
	ep     Endpoint
	module *config.Module
	prober *Prober
	res    *Result
	tr     *Transcript
	start  time.Time

	dialer  net.Dialer       // probeDialer's
	raw     net.Conn         // the TCP connection
	client  *smtpwire.Client // speaks on raw, or on the TLS connection over it
	capture tlsinspect.Capture
	tlsa    *tlsaLookup // under way when the module has dane
}

func (p *Prober) probeEndpoint(ctx context.Context, m *config.Module, ep Endpoint) *Result {
	start := time.Now()
	s := &session{
		ctx: ctx, ep: ep, module: m, prober: p, start: start, tr: NewTranscript(start),
		res:    &Result{Host: ep.Host, Port: ep.Port, IP: ep.IP, Settings: ep.Settings},
		dialer: probeDialer(),
	}
	s.res.Transcript = s.tr
	s.run()
	s.checkDANE() // after QUIT: a slow TLSA answer never holds a session open
	s.checkOCSPRequired()
	s.finish()
	if m.ReverseDNS && s.res.Dialled.IsValid() {
		s.res.Reverse = checkReverse(ctx, p.resolverFor(m), s.res)
	}
	return s.res
}

// probeDialer dials without TCP keep-alive: a probe's connection lives for
// one short session, never long enough for a keep-alive probe, and turning
// keep-alive on costs four setsockopt calls per connection.
func probeDialer() net.Dialer { return net.Dialer{KeepAlive: -1} }

// run plays the session: connect, [tls,] banner, ehlo, [starttls, tls,
// ehlo_tls,] [auth,] quit. Each step that fails ends it.
func (s *session) run() {
	s.res.Phases[PhaseResolve] = s.ep.ResolveTime
	if s.ep.ResolveErr != nil {
		s.record(PhaseResolve, s.ep.ResolveErr)
		return
	}
	if s.module.DANE && s.ep.Settings.TLS != config.TLSNone {
		s.tlsa = s.startTLSA()
	}
	if !s.step(PhaseConnect, s.connect) {
		return
	}
	// Closing the raw conn when the budget ends unblocks any read, write or
	// handshake; it stays armed while the TLS conn's Close sends close_notify.
	defer context.AfterFunc(s.ctx, func() { s.raw.Close() })()
	defer func() { s.client.Conn().Close() }()

	if s.ep.Settings.TLS == config.TLSImplicit && !s.step(PhaseTLS, s.handshake) {
		return
	}
	if !s.step(PhaseBanner, s.banner) || !s.step(PhaseEHLO, s.hello) {
		return
	}
	s.res.Up = true
	if s.ep.Settings.TLS == config.TLSStartTLS && !s.startTLS() {
		return
	}
	s.res.Handshake, s.res.HandshakeDone = time.Since(s.start), true
	s.checkTLS()
	if s.module.Auth.Enabled() && s.res.Failure == nil && !s.step(PhaseAuth, s.auth) {
		return
	}
	s.quit()
}

// step runs one phase, timing it. On failure it records the reason, says
// QUIT when the connection is still in a state to hear it, and reports false.
func (s *session) step(p Phase, f func() error) bool {
	t := time.Now()
	err := f()
	s.res.Phases[p] = time.Since(t)
	if err == nil {
		return true
	}
	s.record(p, err)
	var replyErr *smtpwire.ReplyError
	var expectErr *expectationError
	if errors.As(err, &replyErr) || errors.As(err, &expectErr) {
		s.quit()
	}
	return false
}

// record notes err as the session's failure in phase p, in the transcript
// where it happened with a hint when the module's configuration is the
// likely cause, and logs it, unless an earlier failure was recorded: SPEC
// reports the first.
func (s *session) record(p Phase, err error) {
	reason := classify(s.ctx, p, err)
	var expectErr *expectationError
	if errors.As(err, &expectErr) {
		reason = expectErr.reason
	}
	if s.res.Failure != nil {
		s.tr.notef("later failure, not reported: phase %s, reason %s: %v", p, reason, err)
		return
	}
	s.tr.notef("failed in phase %s, reason %s: %v", p, reason, err)
	if hint := failureHint(err, s.module, s.ep.Port); hint != "" {
		s.tr.notef("hint: %s", hint)
	}
	s.res.fail(p, reason, err)
	s.prober.logger().Debug("SMTP probe failed", "host", s.ep.Host, "port", s.ep.Port,
		"phase", p.String(), "reason", reason, "err", err)
}

// finish settles the status code once the session is over.
func (s *session) finish() {
	var replyErr *smtpwire.ReplyError
	switch {
	case s.res.Failure == nil && s.client != nil:
		s.res.StatusCode = s.client.LastCode()
	case errors.As(s.res.Failure.Err, &replyErr):
		s.res.StatusCode = replyErr.Reply.Code
	}
}

// connect dials the endpoint's addresses in order; all but the last get
// half of the remaining budget, so a dead IPv6 path leaves time for IPv4.
func (s *session) connect() error {
	err := errNoAddress // the resolver step gives every endpoint an address or a failure
	for i, addr := range s.ep.Addrs {
		ctx, cancel := s.ctx, context.CancelFunc(func() {})
		if deadline, ok := s.ctx.Deadline(); ok && i < len(s.ep.Addrs)-1 {
			ctx, cancel = context.WithTimeout(s.ctx, time.Until(deadline)/2)
		}
		s.res.IPProtocol = ipFamily(addr)
		s.res.Addr, s.res.Dialled = netip.AddrPortFrom(addr, uint16(s.ep.Port)).String(), addr
		s.tr.notef("connecting to %s", s.res.Addr)
		var conn net.Conn
		conn, err = s.dialer.DialContext(ctx, "tcp", s.res.Addr)
		cancel()
		if err == nil {
			return s.connected(conn)
		}
		s.tr.notef("connect to %s failed: %v", s.res.Addr, err)
	}
	return fmt.Errorf("connecting to %s port %d: %w", s.ep.Host, s.ep.Port, err)
}

// errNoAddress: an endpoint without an address to dial.
var errNoAddress = errors.New("no address to dial")

// connected adopts a dialled connection under the probe's deadline.
func (s *session) connected(conn net.Conn) error {
	if deadline, ok := s.ctx.Deadline(); ok {
		if err := conn.SetDeadline(deadline); err != nil {
			conn.Close()
			return fmt.Errorf("setting the probe deadline: %w", err)
		}
	}
	s.raw = conn
	s.client = smtpwire.NewClient(conn, s.tr)
	return nil
}

func ipFamily(a netip.Addr) int {
	if a.Unmap().Is4() {
		return 4
	}
	return 6
}

// handshake runs TLS over the raw connection. Certificate facts are kept
// even when the handshake fails after the Certificate message.
func (s *session) handshake() error {
	name := s.ep.Settings.ServerName
	if name == "" {
		name = s.ep.Host
	}
	base := s.ep.Settings.ClientTLSConfig() // the port's tls_config, else the module's
	tc := tls.Client(s.raw, tlsinspect.ClientConfig(base, name, &s.capture))
	// Handshake, not HandshakeContext: the raw conn's deadline and the
	// AfterFunc that closes it already bound the handshake by the probe's
	// context, and HandshakeContext would start a watcher goroutine and
	// two channels per handshake on top.
	err := tc.Handshake()
	s.res.Cert = s.prober.inspector().Inspect(s.capture.Chain(), base.RootCAs, name, time.Now())
	if err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	state := tc.ConnectionState()
	s.res.TLSState, s.res.TLS = &state, true
	ocsp := ocspstaple.Check(state.OCSPResponse, s.capture.Chain(), time.Now())
	s.res.OCSP = &ocsp
	s.client.Upgrade(tc)
	s.tr.notef("TLS established: %s, %s, %s", tlsinspect.VersionName(state.Version), tlsinspect.CipherName(state.CipherSuite), kex.Group(state))
	return nil
}

// banner waits for the whole greeting and wants a 220.
func (s *session) banner() error {
	r, err := s.client.Read()
	if err != nil {
		return fmt.Errorf("reading greeting: %w", err)
	}
	if r.Code != 220 {
		return &smtpwire.ReplyError{Reply: r}
	}
	if len(r.Lines) > 0 {
		s.res.BannerName = bannerName(r.Lines[0])
	}
	return nil
}

// hello sends EHLO, and HELO when the server does not know EHLO.
func (s *session) hello() error {
	name := s.ehloName()
	r, err := s.client.Command("EHLO "+name, "")
	if err != nil {
		return err
	}
	if r.Code == 250 {
		s.noteExtensions(smtpwire.ParseEHLO(r))
		return nil
	}
	if r.Code != 500 && r.Code != 502 {
		return &smtpwire.ReplyError{Command: "EHLO", Reply: r}
	}
	if _, err := s.client.Expect("HELO "+name, "", 250); err != nil {
		return err
	}
	s.noteExtensions(smtpwire.Extensions{})
	return nil
}

func (s *session) noteExtensions(ext smtpwire.Extensions) {
	s.res.Extensions = ext
	if s.res.TLS {
		s.res.AuthAfterTLS = ext.AuthMechanisms()
		return
	}
	s.res.AuthBeforeTLS = ext.AuthMechanisms()
	s.res.StartTLSAdvertised = ext.Has("STARTTLS")
}

// ehloName is the module's ehlo_hostname, else the host name when it is
// fully qualified, else the local address as an address literal.
func (s *session) ehloName() string {
	if s.module.EHLOHostname != "" {
		return s.module.EHLOHostname
	}
	if strings.Contains(s.prober.Hostname, ".") {
		return s.prober.Hostname
	}
	ap, err := netip.ParseAddrPort(s.raw.LocalAddr().String())
	if err != nil {
		return "[127.0.0.1]"
	}
	if ip := ap.Addr().Unmap(); ip.Is4() {
		return "[" + ip.String() + "]"
	}
	return "[IPv6:" + ap.Addr().WithZone("").String() + "]"
}

// startTLS upgrades when the server offers STARTTLS; when it does not, the
// session goes on in cleartext and fails only if TLS is required.
func (s *session) startTLS() bool {
	if !s.res.StartTLSAdvertised {
		if s.ep.Settings.RequireTLS {
			s.record(PhaseStartTLS, &expectationError{ReasonStartTLSMissing, errors.New("STARTTLS required but not advertised")})
		}
		return true
	}
	return s.step(PhaseStartTLS, s.client.StartTLS) && s.step(PhaseTLS, s.handshake) && s.step(PhaseEHLOTLS, s.hello)
}

// checkTLS applies the TLS expectations once the handshake is over.
func (s *session) checkTLS() {
	if !s.res.TLS {
		return
	}
	set := s.ep.Settings
	if v := s.res.TLSState.Version; set.MinTLSVersion != 0 && v < set.MinTLSVersion {
		s.record(PhaseTLS, &expectationError{ReasonTLSVersion, fmt.Errorf("negotiated %s, below the expected %s", tlsinspect.VersionName(v), tlsinspect.VersionName(set.MinTLSVersion))})
	}
	if set.VerifyCertificate && s.res.Cert != nil {
		if reason, err := certExpectationFailure(s.res.Cert, time.Now()); err != nil {
			s.record(PhaseTLS, &expectationError{reason, err})
		}
	}
	s.checkOCSP()
}

// checkOCSP applies require_ocsp_staple and fails a verified revoked
// staple; a staple that does not verify is noted, never believed.
func (s *session) checkOCSP() {
	o := s.res.OCSP
	switch {
	case o == nil:
		return
	case o.Stapled && !o.Verified:
		s.tr.notef("OCSP staple not verified (ocsp_invalid): %v", o.Err)
	case o.Verified && o.Status == ocspstaple.Revoked:
		s.record(PhaseTLS, &expectationError{ReasonOCSPRevoked, fmt.Errorf("the stapled OCSP response says the certificate was revoked at %s", o.RevokedAt.UTC().Format(time.RFC3339))})
	}
	if s.ep.Settings.RequireOCSPStaple && !o.Stapled {
		s.record(PhaseTLS, &expectationError{ReasonOCSPMissing, errors.New("OCSP staple required, none stapled")})
	}
}

// checkOCSPRequired fails require_ocsp_staple on a session that never
// reached TLS, so had no staple either.
func (s *session) checkOCSPRequired() {
	if s.ep.Settings.RequireOCSPStaple && !s.res.TLS && s.res.Up {
		s.record(PhaseTLS, &expectationError{ReasonOCSPMissing, errors.New("OCSP staple required, and the session never reached TLS")})
	}
}

// auth authenticates with the module's credentials; they are sent only
// under TLS with a verified certificate unless insecure_auth allows
// otherwise, and never recorded.
func (s *session) auth() error {
	a := s.module.Auth
	if err := s.unprotected(); err != nil && !a.InsecureAuth {
		return &expectationError{ReasonAuthInsecure, fmt.Errorf("%w, and insecure_auth is off: credentials not sent", err)}
	}
	if !s.res.Extensions.OffersAuth(a.Mechanism) {
		return &expectationError{ReasonAuthNotOffered, fmt.Errorf("server does not offer AUTH %s (offers %q)", a.Mechanism, s.res.Extensions.AuthMechanisms())}
	}
	var err error
	if a.Mechanism == config.MechanismLogin {
		err = s.client.AuthLogin(a.Username, a.Password())
	} else {
		err = s.client.AuthPlain(a.Username, a.Password())
	}
	var replyErr *smtpwire.ReplyError
	if errors.As(err, &replyErr) {
		return &expectationError{ReasonAuthFailed, err}
	}
	return err
}

// unprotected says why credentials would not be safe on this session: no
// TLS, or TLS with a certificate that does not verify for the host (anyone
// in the path could present one).
func (s *session) unprotected() error {
	switch c := s.res.Cert; {
	case !s.res.TLS:
		return errors.New("the session has no TLS")
	case c == nil || !c.Verified || !c.HostnameMatch:
		return errors.New("the server's certificate did not verify for this host")
	}
	return nil
}

// quit says QUIT and waits briefly for the 221.
func (s *session) quit() {
	t := time.Now()
	defer func() { s.res.Phases[PhaseQuit] = time.Since(t) }()
	deadline := t.Add(quitWait)
	if d, ok := s.ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := s.client.Quit(deadline); err != nil {
		s.tr.notef("%v", err)
	}
}

// inspector returns the prober's inspector, or a new one for a prober
// without.
func (p *Prober) inspector() *tlsinspect.Inspector {
	if p.Inspector == nil {
		return tlsinspect.NewInspector()
	}
	return p.Inspector
}
