package probe

// Benchmarks that make per-probe costs visible: run them with
//
//	go test ./internal/... -run '^$' -bench . -benchmem
//
// The probe benchmarks talk to an in-process go-smtp server, so their
// ns/op and allocs/op include the server's side of the dialogue.
// BenchmarkBareSTARTTLS plays the same dialogue against the same server with
// nothing but crypto/tls and a bufio.Reader: the difference between it and
// BenchmarkProbeSTARTTLS is what the prober adds over the bare dialogue.
// bench/run.sh measures the same things against a real Postfix, with the
// CPU time of each process from the OS (docs/benchmarks.md).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/exposition"
	"github.com/smtp-exporter/smtp_exporter/internal/smtptest"
	"github.com/smtp-exporter/smtp_exporter/internal/smtpwire"
)

// benchProbe runs one probe of target with module m as the handler does.
func benchProbe(b *testing.B, p *Prober, m *config.Module, target string) []*Result {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t, err := ParseTarget(target)
	if err != nil {
		b.Fatal(err)
	}
	results := p.Probe(ctx, m, p.Endpoints(ctx, t, m))
	for _, r := range results {
		if !r.Success() {
			b.Fatalf("probe of %s port %d failed: %s: %v", target, r.Port, failureOf(r), r.Failure.Err)
		}
	}
	return results
}

// BenchmarkProbeSTARTTLS is one full probe of one STARTTLS port through
// Prober.Probe: connect, greeting, EHLO, STARTTLS, handshake, certificate
// checks, EHLO, QUIT.
func BenchmarkProbeSTARTTLS(b *testing.B) {
	servers := smtptest.StartTLSServers(b)
	cfg := servers.Config(b)
	p := &Prober{Hostname: "prober.example.net"}
	target := fmt.Sprintf("127.0.0.1:%d", servers.StartTLS)
	b.ReportAllocs()
	for b.Loop() {
		benchProbe(b, p, cfg.Modules["one"], target)
	}
}

// BenchmarkProbeThreePorts is one probe of three ports at once (STARTTLS,
// implicit TLS, STARTTLS required).
func BenchmarkProbeThreePorts(b *testing.B) {
	cfg := smtptest.StartTLSServers(b).Config(b)
	p := &Prober{Hostname: "prober.example.net"}
	b.ReportAllocs()
	for b.Loop() {
		benchProbe(b, p, cfg.Modules["three"], "127.0.0.1")
	}
}

// BenchmarkBareSTARTTLS is the floor: the same dialogue against the same
// server, with crypto/tls verifying the certificate and nothing else.
func BenchmarkBareSTARTTLS(b *testing.B) {
	servers := smtptest.StartTLSServers(b)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(benchReadFile(b, servers.CAFile))
	cfg := &tls.Config{ServerName: "127.0.0.1", RootCAs: pool}
	addr := fmt.Sprintf("127.0.0.1:%d", servers.StartTLS)
	b.ReportAllocs()
	for b.Loop() {
		if err := bareSTARTTLS(addr, cfg); err != nil {
			b.Fatal(err)
		}
	}
}

func benchReadFile(b *testing.B, path string) []byte {
	b.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// bareSTARTTLS plays greeting, EHLO, STARTTLS, handshake, EHLO, QUIT.
func bareSTARTTLS(addr string, cfg *tls.Config) error {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	step := func(w io.Writer, line string, want string) error {
		if line != "" {
			if _, err := io.WriteString(w, line+"\r\n"); err != nil {
				return err
			}
		}
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if !strings.HasPrefix(l, want) {
				return fmt.Errorf("after %q: %q", line, l)
			}
			if len(l) < 4 || l[3] != '-' {
				return nil
			}
		}
	}
	if err := step(conn, "", "220"); err != nil {
		return err
	}
	if err := step(conn, "EHLO prober.example.net", "250"); err != nil {
		return err
	}
	if err := step(conn, "STARTTLS", "220"); err != nil {
		return err
	}
	tc := tls.Client(conn, cfg)
	defer tc.Close() // close_notify, as a correct client (and the prober) sends
	if err := tc.Handshake(); err != nil {
		return err
	}
	r = bufio.NewReader(tc)
	if err := step(tc, "EHLO prober.example.net", "250"); err != nil {
		return err
	}
	return step(tc, "QUIT", "221")
}

// BenchmarkTranscript records a session's worth of transcript lines.
func BenchmarkTranscript(b *testing.B) {
	reply, err := smtpwire.ReadReply(bufio.NewReaderSize(strings.NewReader(smtptest.PostfixEHLO), smtpwire.MaxLineBytes))
	if err != nil {
		b.Fatal(err)
	}
	greeting := smtpwire.Reply{Code: 220, Lines: []string{"localhost ESMTP Postfix"}}
	b.ReportAllocs()
	for b.Loop() {
		tr := NewTranscript(time.Now())
		tr.notef("connecting to %s", "127.0.0.1:25")
		tr.Received(greeting)
		tr.Sent("EHLO prober.example.net")
		tr.Received(reply)
		tr.Sent("STARTTLS")
		tr.Received(smtpwire.Reply{Code: 220, Lines: []string{"2.0.0 Ready to start TLS"}})
		tr.notef("TLS established: %s, %s", "TLS 1.3", "TLS_AES_128_GCM_SHA256")
		tr.Sent("EHLO prober.example.net")
		tr.Received(reply)
		tr.Sent("QUIT")
		tr.Received(smtpwire.Reply{Code: 221, Lines: []string{"2.0.0 Bye"}})
	}
}

// BenchmarkMetricsEncode turns a finished 3-port probe into the answer:
// the series built and written straight to the text format or OpenMetrics
// (what the handler does), against metric families written by expfmt (the
// protobuf path, and what the handler did before).
func BenchmarkMetricsEncode(b *testing.B) {
	cfg := smtptest.StartTLSServers(b).Config(b)
	p := &Prober{Hostname: "prober.example.net"}
	start := time.Now()
	results := benchProbe(b, p, cfg.Modules["three"], "127.0.0.1")
	duration := time.Since(start)

	for name, format := range map[string]expfmt.Format{"text": expfmt.FmtText, "openmetrics": expfmt.FmtOpenMetrics_1_0_0} {
		b.Run("build+"+name, func(b *testing.B) {
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = answerOf(results, duration, start).Encode(buf[:0], exposition.FormatOf(format)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(buf)), "bytes/answer")
		})
	}
	b.Run("build+gather+expfmt", func(b *testing.B) {
		var buf bytes.Buffer
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			families, _ := answerOf(results, duration, start).Gather()
			enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
			for _, mf := range families {
				if err := enc.Encode(mf); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
