package dane_test

import (
	"slices"
	"testing"

	"github.com/smtp-exporter/smtp_exporter/internal/dane"
)

func TestBaseDomains(t *testing.T) {
	for _, tc := range []struct {
		host   string
		cnames []string
		want   []string
	}{
		{"MX.Example.Test.", nil, []string{mxHost}},
		{mxHost, []string{"mid.example.test", "Mail.Hoster.Test."}, []string{"mail.hoster.test", mxHost}},
		{mxHost, []string{"mx.example.test."}, []string{mxHost}},
	} {
		if got := dane.BaseDomains(tc.host, tc.cnames); !slices.Equal(got, tc.want) {
			t.Errorf("BaseDomains(%q, %q) = %q, want %q", tc.host, tc.cnames, got, tc.want)
		}
	}
}

func TestReferenceNames(t *testing.T) {
	if got, want := dane.ReferenceNames("Mail.Hoster.Test.", mxHost), []string{"mail.hoster.test", mxHost}; !slices.Equal(got, want) {
		t.Errorf("expanded base: %q, want %q", got, want)
	}
	if got, want := dane.ReferenceNames(mxHost+".", "MX.example.test"), []string{mxHost}; !slices.Equal(got, want) {
		t.Errorf("same name: %q, want %q", got, want)
	}
}

func TestRecordParams(t *testing.T) {
	u, s, m := dane.Record{Usage: 3, Selector: 1, MatchingType: 2}.Params()
	if u != "3" || s != "1" || m != "2" {
		t.Errorf("Params = %q %q %q, want 3 1 2", u, s, m)
	}
}
