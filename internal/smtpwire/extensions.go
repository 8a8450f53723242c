package smtpwire

import (
	"strconv"
	"strings"
)

// MaxExtensionSeries caps probe_smtp_extension_info series per endpoint.
const MaxExtensionSeries = 64

// ianaExtensions are the EHLO keywords of the IANA "SMTP Service Extensions"
// registry. Only these become extension series, so a server cannot invent
// label values.
var ianaExtensions = setOf(
	"8BITMIME", "ATRN", "AUTH", "BINARYMIME", "BURL", "CHECKPOINT", "CHUNKING",
	"CONNEG", "CONPERM", "DELIVERBY", "DSN", "ENHANCEDSTATUSCODES", "ETRN",
	"EXPN", "FUTURERELEASE", "HELP", "LIMITS", "MT-PRIORITY", "MTRK",
	"NO-SOLICITING", "ONEX", "PIPELINING", "REQUIRETLS", "RRVS", "SAML", "SEND",
	"SIZE", "SMTPUTF8", "SOML", "STARTTLS", "SUBMITTER", "TURN", "UTF8SMTP",
	"VERB", "VRFY",
)

// ianaSASLMechanisms are the names of the IANA "SASL Mechanisms" registry
// that servers offer in practice; anything else is reported as OTHER.
var ianaSASLMechanisms = setOf(
	"9798-M-DSA-SHA1", "9798-M-ECDSA-SHA1", "9798-M-RSA-SHA1-ENC",
	"9798-U-DSA-SHA1", "9798-U-ECDSA-SHA1", "9798-U-RSA-SHA1-ENC", "ANONYMOUS",
	"CRAM-MD5", "DIGEST-MD5", "EAP-AES128", "EAP-AES128-PLUS",
	"ECDH-X25519-CHALLENGE", "ECDSA-NIST256P-CHALLENGE", "EXTERNAL", "GS2-KRB5",
	"GS2-KRB5-PLUS", "GSS-SPNEGO", "GSSAPI", "KERBEROS_V4", "KERBEROS_V5",
	"LOGIN", "NMAS-SAMBA-AUTH", "NMAS_AUTHEN", "NMAS_LOGIN", "NTLM",
	"OAUTH10A", "OAUTHBEARER", "OPENID20", "OTP", "PLAIN", "SAML20",
	"SCRAM-SHA-1", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS",
	"SCRAM-SHA-512", "SCRAM-SHA-512-PLUS", "SCRAM-SHA3-512", "SCRAM-SHA3-512-PLUS",
	"SECURID", "SKEY", "SPNEGO", "SPNEGO-PLUS", "SXOVER-PLUS", "XOAUTH",
	"XOAUTH2",
)

// OtherMechanism stands for every SASL name outside the registry.
const OtherMechanism = "OTHER"

// RegisteredExtensions returns the keywords of the IANA registry, in no
// particular order.
func RegisteredExtensions() []string {
	out := make([]string, 0, len(ianaExtensions))
	for k := range ianaExtensions {
		out = append(out, k)
	}
	return out
}

func setOf(names ...string) map[string]bool {
	s := make(map[string]bool, len(names))
	for _, n := range names {
		s[n] = true
	}
	return s
}

// Extensions are the service extensions of one EHLO reply.
type Extensions struct {
	keywords []string          // upper-case, first occurrence order
	params   map[string]string // keyword → its parameters, as sent
}

// ParseEHLO reads the keywords of an EHLO reply; its first line is the
// server's name and greeting, not an extension.
func ParseEHLO(r Reply) Extensions {
	ext := Extensions{params: map[string]string{}}
	if len(r.Lines) < 2 {
		return ext
	}
	for _, line := range r.Lines[1:] {
		keyword, params, _ := strings.Cut(strings.TrimSpace(line), " ")
		keyword = strings.ToUpper(keyword)
		if !validKeyword(keyword) {
			continue
		}
		if _, dup := ext.params[keyword]; dup {
			continue
		}
		ext.keywords = append(ext.keywords, keyword)
		ext.params[keyword] = strings.TrimSpace(params)
	}
	return ext
}

// validKeyword checks RFC 5321's ehlo-keyword: alphanumeric, then
// alphanumerics and hyphens.
func validKeyword(k string) bool {
	if k == "" || !IsAlnum(k[0]) {
		return false
	}
	for i := 1; i < len(k); i++ {
		if !IsAlnum(k[i]) && k[i] != '-' {
			return false
		}
	}
	return true
}

// IsAlnum reports whether b is an ASCII letter or digit.
func IsAlnum(b byte) bool {
	return IsDigit(b) || (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z')
}

// Has reports whether keyword (upper-case) was advertised.
func (e Extensions) Has(keyword string) bool {
	_, ok := e.params[keyword]
	return ok
}

// Registered returns the advertised keywords found in the IANA registry, at
// most MaxExtensionSeries of them.
func (e Extensions) Registered() []string {
	var out []string
	for _, k := range e.keywords {
		if ianaExtensions[k] && len(out) < MaxExtensionSeries {
			out = append(out, k)
		}
	}
	return out
}

// SizeLimit returns the SIZE keyword's value when the server gave one.
func (e Extensions) SizeLimit() (int64, bool) {
	v, err := strconv.ParseInt(e.params["SIZE"], 10, 64)
	if err != nil || v < 0 {
		return 0, false
	}
	return v, true
}

// AuthMechanisms returns the offered SASL mechanisms, upper-cased.
func (e Extensions) AuthMechanisms() []string {
	var out []string
	for _, m := range strings.Fields(e.params["AUTH"]) {
		out = append(out, strings.ToUpper(m))
	}
	return out
}

// OffersAuth reports whether mechanism is among the offered ones.
func (e Extensions) OffersAuth(mechanism string) bool {
	for _, m := range e.AuthMechanisms() {
		if m == mechanism {
			return true
		}
	}
	return false
}

// MechanismLabel maps a SASL name to its label value: the registered name,
// or OTHER.
func MechanismLabel(m string) string {
	if ianaSASLMechanisms[m] {
		return m
	}
	return OtherMechanism
}
