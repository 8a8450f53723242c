package collector

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/smtp-exporter/smtp_exporter/config"
)

// quitWait bounds the wait for the 221 to QUIT: a missing 221 never fails
// an endpoint, so it must not hold the whole probe up either.
const quitWait = time.Second

// expectationError is a failure the prober decides itself (STARTTLS missing,
// AUTH not offered …) rather than one the network or server caused.
type expectationError struct {
	reason string
	err    error
}

func (e *expectationError) Error() string { return e.err.Error() }
func (e *expectationError) Unwrap() error { return e.err }

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

	raw      net.Conn // the TCP connection
	conn     net.Conn // raw, or the TLS connection over it
	r        *bufio.Reader
	lastCode int // code of the last reply read, QUIT's excluded
	capture  certCapture
}

func (p *Prober) probeEndpoint(ctx context.Context, m *config.Module, ep Endpoint) *Result {
	start := time.Now()
	s := &session{
		ctx: ctx, ep: ep, module: m, prober: p, start: start, tr: newTranscript(start),
		res: &Result{Host: ep.Host, Port: ep.Port, Settings: ep.Settings},
	}
	s.res.Transcript = s.tr
	s.run()
	s.finish()
	return s.res
}

// run plays the session: connect, [tls,] banner, ehlo, [starttls, tls,
// ehlo_tls,] [auth,] quit. Each step that fails ends it.
func (s *session) run() {
	s.res.Phases[PhaseResolve] = s.ep.ResolveDuration
	if s.ep.ResolveErr != nil {
		s.record(PhaseResolve, s.ep.ResolveErr)
		return
	}
	if !s.step(PhaseConnect, s.connect) {
		return
	}
	// Closing the raw conn when the budget ends unblocks any read, write or
	// handshake; it stays armed while the TLS conn's Close sends close_notify.
	defer context.AfterFunc(s.ctx, func() { s.raw.Close() })()
	defer func() { s.conn.Close() }()

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
	var replyErr *ReplyError
	var expectErr *expectationError
	if errors.As(err, &replyErr) || errors.As(err, &expectErr) {
		s.quit()
	}
	return false
}

// record notes err as the session's failure in phase p and logs it, unless
// an earlier failure was recorded: SPEC reports the first.
func (s *session) record(p Phase, err error) {
	reason := classify(s.ctx, p, err)
	var expectErr *expectationError
	if errors.As(err, &expectErr) {
		reason = expectErr.reason
	}
	s.tr.notef("%s failed (%s): %v", p, reason, err)
	if s.res.Failure != nil {
		return // a later failure: in the transcript, not logged again
	}
	s.res.fail(p, reason, err)
	s.prober.logger().Debug("SMTP probe failed", "host", s.ep.Host, "port", s.ep.Port,
		"phase", p.String(), "reason", reason, "err", err)
}

// finish settles the status code once the session is over.
func (s *session) finish() {
	var replyErr *ReplyError
	switch {
	case s.res.Failure == nil:
		s.res.StatusCode = s.lastCode
	case errors.As(s.res.Failure.Err, &replyErr):
		s.res.StatusCode = replyErr.Reply.Code
	}
}

// connect dials the endpoint's addresses in order; all but the last get
// half of the remaining budget, so a dead IPv6 path leaves time for IPv4.
func (s *session) connect() error {
	err := errNoAddress
	for i, addr := range s.ep.Addrs {
		ctx, cancel := s.ctx, context.CancelFunc(func() {})
		if deadline, ok := s.ctx.Deadline(); ok && i < len(s.ep.Addrs)-1 {
			ctx, cancel = context.WithTimeout(s.ctx, time.Until(deadline)/2)
		}
		s.res.IPProtocol = ipFamily(addr)
		s.res.Addr = netip.AddrPortFrom(addr, uint16(s.ep.Port)).String()
		s.tr.notef("connecting to %s", s.res.Addr)
		var conn net.Conn
		conn, err = probeDialer.DialContext(ctx, "tcp", s.res.Addr)
		cancel()
		if err == nil {
			return s.connected(conn)
		}
		s.tr.notef("connect to %s failed: %v", s.res.Addr, err)
	}
	return fmt.Errorf("connecting to %s port %d: %w", s.ep.Host, s.ep.Port, err)
}

// connected adopts a dialled connection under the probe's deadline.
func (s *session) connected(conn net.Conn) error {
	if deadline, ok := s.ctx.Deadline(); ok {
		if err := conn.SetDeadline(deadline); err != nil {
			conn.Close()
			return fmt.Errorf("setting the probe deadline: %w", err)
		}
	}
	s.raw, s.conn = conn, conn
	s.r = bufio.NewReaderSize(conn, sessionBufferBytes)
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
	tc := tls.Client(s.raw, clientTLSConfig(base, name, &s.capture))
	// Handshake, not HandshakeContext: the raw conn's deadline and the
	// AfterFunc that closes it already bound the handshake by the probe's
	// context, and HandshakeContext would start a watcher goroutine and
	// two channels per handshake on top.
	err := tc.Handshake()
	s.res.Cert = inspectCertificates(s.capture.chain, base.RootCAs, name, time.Now())
	if err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	state := tc.ConnectionState()
	s.res.TLSState, s.res.TLS = &state, true
	s.conn = tc
	s.r.Reset(tc) // empty: sendStartTLS refused any byte after the 220
	s.tr.notef("TLS established: %s, %s", tlsVersionName(state.Version), cipherName(state.CipherSuite))
	return nil
}

// banner waits for the whole greeting and wants a 220.
func (s *session) banner() error {
	r, err := s.read()
	if err != nil {
		return fmt.Errorf("reading greeting: %w", err)
	}
	if r.Code != 220 {
		return &ReplyError{Reply: r}
	}
	return nil
}

// hello sends EHLO, and HELO when the server does not know EHLO.
func (s *session) hello() error {
	name := s.ehloName()
	r, err := s.command("EHLO "+name, "")
	if err != nil {
		return err
	}
	if r.Code == 250 {
		s.noteExtensions(parseEHLO(r))
		return nil
	}
	if r.Code != 500 && r.Code != 502 {
		return &ReplyError{Command: "EHLO", Reply: r}
	}
	if _, err := s.expect("HELO "+name, "", 250); err != nil {
		return err
	}
	s.noteExtensions(Extensions{})
	return nil
}

func (s *session) noteExtensions(ext Extensions) {
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
	return s.step(PhaseStartTLS, s.sendStartTLS) && s.step(PhaseTLS, s.handshake) && s.step(PhaseEHLOTLS, s.hello)
}

// sendStartTLS sends STARTTLS and wants a 220 with nothing after it: bytes
// that arrive with the 220 are a response injection and never reach TLS.
func (s *session) sendStartTLS() error {
	if _, err := s.expect("STARTTLS", "", 220); err != nil {
		return err
	}
	if n := s.r.Buffered(); n > 0 {
		return protocolErrorf("%d bytes arrived after the 220 to STARTTLS, before the TLS handshake (response injection)", n)
	}
	return nil
}

// checkTLS applies the TLS expectations once the handshake is over.
func (s *session) checkTLS() {
	if !s.res.TLS {
		return
	}
	set := s.ep.Settings
	if v := s.res.TLSState.Version; set.MinTLSVersion != 0 && v < set.MinTLSVersion {
		s.record(PhaseTLS, &expectationError{ReasonTLSVersion, fmt.Errorf("negotiated %s, below the expected %s", tlsVersionName(v), tlsVersionName(set.MinTLSVersion))})
	}
	if !set.VerifyCertificate || s.res.Cert == nil {
		return
	}
	if reason, err := certExpectationFailure(s.res.Cert, time.Now()); err != nil {
		s.record(PhaseTLS, &expectationError{reason, err})
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
	if !s.res.Extensions.offersAuth(a.Mechanism) {
		return &expectationError{ReasonAuthNotOffered, fmt.Errorf("server does not offer AUTH %s (offers %q)", a.Mechanism, s.res.Extensions.AuthMechanisms())}
	}
	var err error
	if a.Mechanism == config.MechanismLogin {
		err = s.authLogin(a.Username, a.Password())
	} else {
		resp := base64.StdEncoding.EncodeToString([]byte("\x00" + a.Username + "\x00" + a.Password()))
		_, err = s.expect("AUTH PLAIN "+resp, "AUTH PLAIN <credentials hidden>", 235)
	}
	var replyErr *ReplyError
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

func (s *session) authLogin(user, password string) error {
	if _, err := s.expect("AUTH LOGIN", "", 334); err != nil {
		return err
	}
	if _, err := s.expect(base64.StdEncoding.EncodeToString([]byte(user)), "<username hidden>", 334); err != nil {
		return err
	}
	_, err := s.expect(base64.StdEncoding.EncodeToString([]byte(password)), "<password hidden>", 235)
	return err
}

// quit says QUIT and waits briefly for the 221.
func (s *session) quit() {
	t := time.Now()
	defer func() { s.res.Phases[PhaseQuit] = time.Since(t) }()
	deadline := t.Add(quitWait)
	if d, ok := s.ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := s.conn.SetReadDeadline(deadline); err != nil {
		return
	}
	if err := s.send("QUIT", "QUIT"); err != nil {
		return
	}
	r, err := readReply(s.r)
	if err != nil {
		s.tr.notef("no reply to QUIT: %v", err)
		return
	}
	s.tr.reply(r)
}

// send writes one command line; shown replaces it in the transcript when
// it carries credentials.
func (s *session) send(line, shown string) error {
	s.tr.add("C", shown)
	if _, err := s.conn.Write([]byte(line + "\r\n")); err != nil {
		return fmt.Errorf("sending %s: %w", shown, err)
	}
	return nil
}

// read reads one reply and remembers its code.
func (s *session) read() (Reply, error) {
	r, err := readReply(s.r)
	if err != nil {
		return r, err
	}
	s.tr.reply(r)
	s.lastCode = r.Code
	return r, nil
}

// command sends a line and reads the reply to it.
func (s *session) command(line, shown string) (Reply, error) {
	if shown == "" {
		shown = line
	}
	if err := s.send(line, shown); err != nil {
		return Reply{}, err
	}
	r, err := s.read()
	if err != nil {
		return r, fmt.Errorf("reading reply to %s: %w", verb(shown), err)
	}
	return r, nil
}

// expect sends a command and wants the reply code want.
func (s *session) expect(line, shown string, want int) (Reply, error) {
	r, err := s.command(line, shown)
	if err == nil && r.Code != want {
		command := verb(line)
		if shown != "" {
			command = shown
		}
		return r, &ReplyError{Command: command, Reply: r}
	}
	return r, err
}

// verb returns a command's first word, or the first two for AUTH.
func verb(line string) string {
	fields := strings.Fields(line)
	switch {
	case len(fields) == 0:
		return ""
	case len(fields) > 1 && strings.EqualFold(fields[0], "AUTH"):
		return fields[0] + " " + fields[1]
	}
	return fields[0]
}

// logger returns the prober's logger, or a discarding one.
func (p *Prober) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}
