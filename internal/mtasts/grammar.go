package mtasts

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxExtNameLen is the longest extension field name of RFC 8461 §3.1, §3.2
// and RFC 8460 §3: a letter or digit and up to 31 more characters.
const maxExtNameLen = 32

// isWSP reports a space or a horizontal tab (RFC 5234 WSP).
func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// trimWSP removes spaces and tabs at both ends of s.
func trimWSP(s string) string { return strings.Trim(s, " \t") }

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool { return isAlpha(c) || isDigit(c) }

// validExtName reports an extension field name:
// (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".").
func validExtName(s string) bool {
	if s == "" || len(s) > maxExtNameLen || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// validTXTExtValue reports the value of an extension field of a TXT record:
// 1*(%x21-3A / %x3C / %x3E-7E), printable ASCII but "=" and ";".
func validTXTExtValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '=' || c == ';' {
			return false
		}
	}
	return true
}

// validPolicyExtValue reports the value of an extension field of a policy
// file: visible characters (printable ASCII or UTF-8 beyond it), with
// spaces and tabs only between them.
func validPolicyExtValue(s string) bool {
	if s == "" || isWSP(s[0]) || isWSP(s[len(s)-1]) || !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 && !isWSP(c) || c == 0x7f {
			return false
		}
	}
	return true
}

// validDomain reports a domain name of RFC 5321 §4.1.2: dot-separated
// labels of letters, digits and inner hyphens, at most 63 octets each and
// 253 in all, with no trailing dot.
func validDomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if !validLabel(label) {
			return false
		}
	}
	return true
}

// validLabel reports a sub-domain of RFC 5321: Let-dig [Ldh-str].
func validLabel(s string) bool {
	if s == "" || len(s) > 63 || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !isAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

// txtField is one name=value field of a TXT record.
type txtField struct{ name, value string }

// hasVersion reports whether record begins with the version tag version
// followed by its end, a space, a tab or ";": a record of that kind, valid
// or not. "v=STSv10" is not an STSv1 record.
func hasVersion(record, version string) bool {
	if !strings.HasPrefix(record, version) {
		return false
	}
	rest := record[len(version):]
	return rest == "" || isWSP(rest[0]) || rest[0] == ';'
}

// txtFields splits a record that hasVersion(version) into the fields that
// follow the version: version 1*(*WSP ";" *WSP field) [*WSP ";"], each
// field name=value with a valid extension name. Spaces and tabs at the end
// of the record are accepted. what names the record in errors.
func txtFields(what, record, version string) ([]txtField, error) {
	parts := strings.Split(record[len(version):], ";")
	if trimWSP(parts[0]) != "" {
		return nil, &SyntaxError{What: what, Problem: "the version is not followed by \";\""}
	}
	parts = parts[1:]
	if len(parts) > 0 && trimWSP(parts[len(parts)-1]) == "" {
		parts = parts[:len(parts)-1]
	}
	if len(parts) == 0 {
		return nil, &SyntaxError{What: what, Problem: "no field after the version"}
	}
	fields := make([]txtField, 0, len(parts))
	for _, part := range parts {
		name, value, ok := strings.Cut(trimWSP(part), "=")
		if !ok || !validExtName(name) {
			return nil, &SyntaxError{What: what, Problem: "malformed field " + quote(part)}
		}
		fields = append(fields, txtField{name: name, value: value})
	}
	return fields, nil
}

// maxQuoted bounds the text of a record or policy an error message repeats.
const maxQuoted = 64

// quote returns s quoted for an error message, cut to maxQuoted bytes.
func quote(s string) string {
	if len(s) > maxQuoted {
		return strconv.Quote(s[:maxQuoted]) + "…"
	}
	return strconv.Quote(s)
}
