package mtasts

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/plan"
)

// MaxPolicySize is the longest policy file Check reads (RFC 8461 §3.3
// leaves the limit to senders; 64 KiB is what common senders allow).
const MaxPolicySize = 64 << 10

// maxResponseBytes bounds everything read from the policy host after the
// handshake (status line, headers, body with its chunk framing), so that a
// hostile host cannot make the exporter hold more.
const maxResponseBytes = 1 << 20

// policyPath is where the policy lives on the policy host (RFC 8461 §3.3).
const policyPath = "/.well-known/mta-sts.txt"

// userAgent names the exporter to the policy host.
const userAgent = "smtp_exporter (MTA-STS policy check)"

// defaultPort is the policy host's HTTPS port.
const defaultPort = 443

// fetched is what fetching the policy gave, as far as it got.
type fetched struct {
	text       string
	addr       netip.AddrPort
	certExpiry time.Time
}

// fetchPolicy fetches the policy from host over one connection to a
// checked address, under ctx's deadline.
func fetchPolicy(ctx context.Context, host string, opts Options) (fetched, *stepError) {
	addrs, failed := policyAddrs(ctx, host, opts)
	if failed != nil {
		return fetched{}, failed
	}
	port := opts.Port
	if port == 0 {
		port = defaultPort
	}
	conn, addr, err := dialFirst(ctx, addrs, port)
	if err != nil {
		return fetched{}, fail(ResultFetchFailed, fmt.Errorf("connecting to policy host %s: %w", host, err))
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	f := fetched{addr: addr}
	if deadline, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(deadline); err != nil {
			return f, fail(ResultFetchFailed, fmt.Errorf("setting the deadline: %w", err))
		}
	}
	tlsConn, leaf, failed := handshake(ctx, conn, host, opts.RootCAs)
	if leaf != nil {
		f.certExpiry = leaf.NotAfter
	}
	if failed != nil {
		return f, failed
	}
	f.text, failed = get(tlsConn, policyURL(host, port))
	return f, failed
}

// policyAddrs resolves host and returns the addresses to dial, in order,
// once every address of the wanted IP protocol passed opts.Allowed.
func policyAddrs(ctx context.Context, host string, opts Options) ([]netip.Addr, *stepError) {
	answer, err := opts.Resolver.LookupAddrs(ctx, host, plan.Network(opts.IPProtocol))
	if err != nil {
		return nil, fail(ResultFetchFailed, fmt.Errorf("resolving policy host %s: %w", host, err))
	}
	v4, v6 := answer.IPv4, answer.IPv6
	switch opts.IPProtocol {
	case config.IPProtocol4:
		v6 = nil
	case config.IPProtocol6:
		v4 = nil
	}
	all := append(slices.Clone(v6), v4...)
	if len(all) == 0 {
		return nil, fail(ResultFetchFailed, fmt.Errorf("resolving policy host %s: %w", host, errNoAddress))
	}
	if err := plan.CheckAllowed(host, all, answer.Truncated, opts.Allowed); err != nil {
		return nil, fail(ResultFetchFailed, err)
	}
	return plan.DialOrder(v6, v4), nil
}

// dialFirst connects to the first of addrs that answers on port and
// returns the connection and the address it reached; every attempt but the
// last gets half of the remaining budget, so that a dead IPv6 path leaves
// time for IPv4.
func dialFirst(ctx context.Context, addrs []netip.Addr, port int) (net.Conn, netip.AddrPort, error) {
	var dialer net.Dialer
	var errs []error
	for i, addr := range addrs {
		attempt, cancel := ctx, context.CancelFunc(func() {})
		if deadline, ok := ctx.Deadline(); ok && i < len(addrs)-1 {
			attempt, cancel = context.WithTimeout(ctx, time.Until(deadline)/2)
		}
		target := netip.AddrPortFrom(addr, uint16(port))
		conn, err := dialer.DialContext(attempt, "tcp", target.String())
		cancel()
		if err == nil {
			return conn, target, nil
		}
		errs = append(errs, err)
	}
	return nil, netip.AddrPort{}, errors.Join(errs...)
}

// handshake runs the TLS handshake for host, verifying its certificate
// against roots (the system roots when nil). It returns the leaf received,
// verified or not.
func handshake(ctx context.Context, conn net.Conn, host string, roots *x509.CertPool) (*tls.Conn, *x509.Certificate, *stepError) {
	tlsConn := tls.Client(conn, &tls.Config{ServerName: host, RootCAs: roots, MinVersion: tls.VersionTLS12})
	err := tlsConn.HandshakeContext(ctx)
	var verifyErr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &verifyErr):
		return nil, firstCert(verifyErr.UnverifiedCertificates), fail(ResultCertificate, fmt.Errorf("policy host %s: %w", host, err))
	case err != nil:
		return nil, nil, fail(ResultFetchFailed, fmt.Errorf("TLS handshake with policy host %s: %w", host, err))
	}
	return tlsConn, firstCert(tlsConn.ConnectionState().PeerCertificates), nil
}

func firstCert(certs []*x509.Certificate) *x509.Certificate {
	if len(certs) == 0 {
		return nil
	}
	return certs[0]
}

// policyURL is the policy's address on host; the port is named only when
// it is not 443.
func policyURL(host string, port int) *url.URL {
	if port != defaultPort {
		host = net.JoinHostPort(host, strconv.Itoa(port))
	}
	return &url.URL{Scheme: "https", Host: host, Path: policyPath}
}

// get sends one GET for u over conn, asking the server to close the
// connection after it, and reads the policy from the answer.
func get(conn net.Conn, u *url.URL) (string, *stepError) {
	req := &http.Request{
		Method: http.MethodGet, URL: u, Host: u.Host, Close: true,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"User-Agent": {userAgent}, "Accept": {"text/plain"}},
	}
	if err := req.Write(conn); err != nil {
		return "", fail(ResultFetchFailed, fmt.Errorf("sending the policy request to %s: %w", u.Host, err))
	}
	resp, err := http.ReadResponse(bufio.NewReader(io.LimitReader(conn, maxResponseBytes)), req)
	if err != nil {
		return "", fail(ResultFetchFailed, fmt.Errorf("reading the policy answer from %s: %w", u.Host, err))
	}
	defer resp.Body.Close()
	return readPolicy(resp)
}

// readPolicy judges an answer and returns its body: status 200 (a 3xx is a
// redirect, which is not followed), media type text/plain, at most
// MaxPolicySize bytes.
func readPolicy(resp *http.Response) (string, *stepError) {
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return "", fail(ResultRedirect, fmt.Errorf("policy answer is %s, a redirect to %s", quote(resp.Status), quote(resp.Header.Get("Location"))))
	case resp.StatusCode != http.StatusOK:
		return "", fail(ResultHTTPStatus, fmt.Errorf("policy answer is %s, not 200", quote(resp.Status)))
	}
	contentType := resp.Header.Get("Content-Type")
	if mediaType, _, err := mime.ParseMediaType(contentType); err != nil || mediaType != "text/plain" {
		return "", fail(ResultContentType, fmt.Errorf("policy media type is %s, not text/plain", quote(contentType)))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPolicySize+1))
	if err != nil {
		return "", fail(ResultFetchFailed, fmt.Errorf("reading the policy: %w", err))
	}
	if len(body) > MaxPolicySize {
		return "", fail(ResultTooLarge, fmt.Errorf("policy is longer than %d bytes", MaxPolicySize))
	}
	return string(body), nil
}
