package dnsclient_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/miekg/dns"
	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
)

func TestErrorReadsAndUnwraps(t *testing.T) {
	for _, tc := range []struct {
		err          *dnsclient.Error
		text         string
		deadlineLike bool
	}{
		{&dnsclient.Error{Name: "a.test", Type: "MX", Kind: dnsclient.NXDomain, Rcode: dns.RcodeNameError}, "dns MX a.test: nxdomain", false},
		{&dnsclient.Error{Name: "a.test", Type: "A", Kind: dnsclient.ServFail, Rcode: dns.RcodeNotImplemented}, "dns A a.test: servfail (NOTIMP)", false},
		{&dnsclient.Error{Name: "a.test", Type: "TXT", Kind: dnsclient.Timeout, Err: io.ErrNoProgress}, "dns TXT a.test: timeout: " + io.ErrNoProgress.Error(), true},
		{&dnsclient.Error{Name: ".", Type: "NS", Kind: dnsclient.Network, Err: io.EOF}, "dns NS .: network: EOF", false},
	} {
		wrapped := fmt.Errorf("probe: %w", tc.err)
		if got := tc.err.Error(); got != tc.text {
			t.Errorf("Error() = %q, want %q", got, tc.text)
		}
		if errors.Is(wrapped, context.DeadlineExceeded) != tc.deadlineLike {
			t.Errorf("%v: errors.Is(DeadlineExceeded) = %v", tc.err, !tc.deadlineLike)
		}
		if tc.err.Err != nil && !errors.Is(wrapped, tc.err.Err) {
			t.Errorf("%v does not unwrap to its cause", tc.err)
		}
	}
	if got := dnsclient.Malformed.String(); got != "malformed" {
		t.Errorf("Malformed.String() = %q", got)
	}
	if got := dnsclient.Kind(0).String(); got != "kind(0)" {
		t.Errorf("Kind(0).String() = %q", got)
	}
}
