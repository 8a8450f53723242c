package dnsclient_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
	"github.com/smtp-exporter/smtp_exporter/internal/dnstest"
)

func TestTruncatedAnswerRetriedOverTCP(t *testing.T) {
	srv := dnstest.NewServer(t, "tc.test. 300 IN MX 10 mx.tc.test.")
	srv.Set("tc.test", dnstest.Behaviour{Truncate: true})
	got, err := newClient(t, srv, false).LookupMX(testContext(t), "tc.test")
	wantKind(t, err, 0)
	if len(got.Records) != 1 || got.Records[0].Host != "mx.tc.test" {
		t.Errorf("records = %v, want the TCP answer", got.Records)
	}
	var protos []string
	for _, q := range srv.QueriesFor("tc.test", dns.TypeMX) {
		protos = append(protos, q.Proto)
	}
	if !slices.Equal(protos, []string{"udp", "tcp"}) {
		t.Errorf("queries went over %v, want udp then tcp", protos)
	}
}

// TestLargeRRsetCapped: 100 addresses do not fit 1232 bytes of UDP, so the
// server truncates; over TCP the client keeps MaxRecords of them.
func TestLargeRRsetCapped(t *testing.T) {
	var zone []string
	for i := range 100 {
		zone = append(zone, fmt.Sprintf("big.test. 300 IN A 198.51.100.%d", i+1))
	}
	for i := range dnsclient.MaxRecords {
		zone = append(zone, fmt.Sprintf("exact.test. 300 IN A 198.51.100.%d", i+1))
	}
	srv := dnstest.NewServer(t, zone...)
	got, err := newClient(t, srv, false).LookupAddrs(testContext(t), "big.test", "ip4")
	wantKind(t, err, 0)
	if len(got.IPv4) != dnsclient.MaxRecords || !got.Truncated {
		t.Errorf("kept %d addresses, truncated %t; want %d, true", len(got.IPv4), got.Truncated, dnsclient.MaxRecords)
	}
	exact, err := newClient(t, srv, false).LookupAddrs(testContext(t), "exact.test", "ip4")
	wantKind(t, err, 0)
	if len(exact.IPv4) != dnsclient.MaxRecords || exact.Truncated {
		t.Errorf("exactly %d records: kept %d, truncated %t", dnsclient.MaxRecords, len(exact.IPv4), exact.Truncated)
	}
	if n := len(srv.QueriesFor("big.test", dns.TypeA)); n != 2 {
		t.Errorf("%d queries, want 2 (UDP truncated, then TCP)", n)
	}
}

// TestDeadlineEndsLookup: a slow or silent server costs the caller its
// deadline and no more, and the failure reads as a timeout.
func TestDeadlineEndsLookup(t *testing.T) {
	srv := dnstest.NewServer(t,
		"slow.test. 300 IN MX 10 mx.slow.test.",
		"silent.test. 300 IN MX 10 mx.silent.test.",
		"slowtcp.test. 300 IN MX 10 mx.slowtcp.test.",
	)
	srv.Set("slow.test", dnstest.Behaviour{Delay: 10 * time.Second})
	srv.Set("silent.test", dnstest.Behaviour{Drop: true})
	srv.Set("slowtcp.test", dnstest.Behaviour{Truncate: true, Delay: 200 * time.Millisecond})
	c := newClient(t, srv, false)
	const budget = 300 * time.Millisecond
	for _, domain := range []string{"slow.test", "silent.test", "slowtcp.test"} {
		t.Run(domain, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), budget)
			defer cancel()
			start := time.Now()
			_, err := c.LookupMX(ctx, domain)
			elapsed := time.Since(start)
			wantKind(t, err, dnsclient.Timeout)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("errors.Is(%v, DeadlineExceeded) = false", err)
			}
			if elapsed < budget-20*time.Millisecond || elapsed > budget+time.Second {
				t.Errorf("returned after %v, want about %v", elapsed, budget)
			}
		})
	}
}

func TestCancelEndsLookup(t *testing.T) {
	srv := dnstest.NewServer(t, "silent.test. 300 IN MX 10 mx.silent.test.")
	srv.Set("silent.test", dnstest.Behaviour{Drop: true})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := newClient(t, srv, false).LookupMX(ctx, "silent.test")
	wantKind(t, err, dnsclient.Network)
	if !errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want it to be context.Canceled only", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("returned after %v, want soon after the cancel", elapsed)
	}
}

func TestNothingListeningIsNetwork(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close() // the port now answers ICMP port unreachable
	c, err := dnsclient.New(dnsclient.Options{Server: addr})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.LookupMX(testContext(t), "example.test")
	wantKind(t, err, dnsclient.Network)
}
