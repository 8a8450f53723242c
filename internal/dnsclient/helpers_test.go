package dnsclient_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
	"github.com/smtp-exporter/smtp_exporter/internal/dnstest"
)

// newClient returns a client of srv.
func newClient(t *testing.T, srv *dnstest.Server, dnssec bool) *dnsclient.Client {
	t.Helper()
	c, err := dnsclient.New(dnsclient.Options{Server: srv.Addr(), DNSSEC: dnssec})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// testContext returns a context that ends within a few seconds.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantKind fails t unless err is a *dnsclient.Error of kind want (0: nil).
func wantKind(t *testing.T, err error, want dnsclient.Kind) *dnsclient.Error {
	t.Helper()
	if want == 0 {
		if err != nil {
			t.Fatalf("err = %v, want none", err)
		}
		return nil
	}
	var dnsErr *dnsclient.Error
	if !errors.As(err, &dnsErr) {
		t.Fatalf("err = %v (%T), want a *dnsclient.Error of kind %s", err, err, want)
	}
	if dnsErr.Kind != want {
		t.Fatalf("kind = %s (%v), want %s", dnsErr.Kind, err, want)
	}
	return dnsErr
}
