package dane

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"

	"github.com/smtp-exporter/smtp_exporter/internal/dnsclient"
)

// Assessment is what one TLSA lookup says about DANE for an endpoint.
type Assessment struct {
	// State is the DANE state of the endpoint.
	State State
	// Usable are the distinct usable records of the answer, in answer order.
	// They are computed whatever the State, so that "TLSA present but not
	// DNSSEC-secure" can be told from "no TLSA"; only in StateUsable does a
	// DANE sender use them.
	Usable []Record
	// Records is len(Usable).
	Records int
	// Rollover: at least two distinct usable records, one of them DANE-EE,
	// so a key or certificate change can be announced before it is made.
	Rollover bool
}

// Assess judges the answer and error of a TLSA lookup. hostSecure says
// whether the host's A/AAAA answer was DNSSEC-secure: DANE applies only when
// it was (RFC 7672 §2.1), so an insecure host makes the state insecure
// whatever the TLSA lookup gave, failures included.
func Assess(answer dnsclient.TLSAAnswer, err error, hostSecure bool) Assessment {
	usable := UsableRecords(answer.Records)
	return Assessment{
		State:    assessState(answer, err, hostSecure, len(usable)),
		Usable:   usable,
		Records:  len(usable),
		Rollover: hasRollover(usable),
	}
}

// assessState decides the State; usable counts the usable records.
func assessState(answer dnsclient.TLSAAnswer, err error, hostSecure bool, usable int) State {
	if !hostSecure {
		return StateInsecure
	}
	if err != nil {
		var dnsErr *dnsclient.Error
		if !errors.As(err, &dnsErr) || dnsErr.Kind != dnsclient.NXDomain {
			return StateError
		}
	}
	switch {
	case !answer.Secure:
		return StateInsecure
	case err != nil || len(answer.Records) == 0:
		return StateNone
	case usable == 0:
		return StateUnusable
	default:
		return StateUsable
	}
}

// UsableRecords returns the distinct usable records of records, in order:
// usage DANE-TA or DANE-EE, selector Cert or SPKI, matching type Full,
// SHA2-256 or SHA2-512 with data of the right shape (Usable). The rest are
// ignored, as RFC 7672 §3.1.3 has SMTP clients do.
func UsableRecords(records []dnsclient.TLSA) []Record {
	var out []Record
	for _, t := range records {
		r := Record{Usage: t.Usage, Selector: t.Selector, MatchingType: t.MatchingType, Data: t.Data}
		if Usable(r) && !containsRecord(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// Usable reports whether r is a record an SMTP client uses: usage 2 or 3,
// selector 0 or 1, and data that fits the matching type: 32 bytes for
// SHA2-256, 64 for SHA2-512, and for Full a DER certificate (selector 0) or
// SubjectPublicKeyInfo (selector 1).
func Usable(r Record) bool {
	if r.Usage != UsageDANETA && r.Usage != UsageDANEEE {
		return false
	}
	if r.Selector != SelectorCert && r.Selector != SelectorSPKI {
		return false
	}
	switch r.MatchingType {
	case MatchingSHA256:
		return len(r.Data) == sha256.Size
	case MatchingSHA512:
		return len(r.Data) == sha512.Size
	case MatchingFull:
		return fullDataParses(r.Selector, r.Data)
	default:
		return false
	}
}

// fullDataParses reports whether data is a DER certificate (selector Cert)
// or a DER SubjectPublicKeyInfo (selector SPKI). The SPKI is parsed for its
// structure only, so keys of algorithms crypto/x509 does not know still count.
func fullDataParses(selector uint8, data []byte) bool {
	if len(data) == 0 {
		return false
	}
	if selector == SelectorCert {
		_, err := x509.ParseCertificate(data)
		return err == nil
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	rest, err := asn1.Unmarshal(data, &spki)
	return err == nil && len(rest) == 0
}

// containsRecord reports whether records holds r.
func containsRecord(records []Record, r Record) bool {
	for _, have := range records {
		if have.Equal(r) {
			return true
		}
	}
	return false
}

// hasRollover reports whether distinct usable records are at least two, one
// of them DANE-EE.
func hasRollover(usable []Record) bool {
	if len(usable) < 2 {
		return false
	}
	for _, r := range usable {
		if r.Usage == UsageDANEEE {
			return true
		}
	}
	return false
}
