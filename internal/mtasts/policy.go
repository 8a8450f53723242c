package mtasts

import (
	"strconv"
	"strings"
	"time"
)

// Policy modes (RFC 8461 §5): the values of probe_smtp_mta_sts_mode_info{mode}.
const (
	ModeEnforce = "enforce"
	ModeTesting = "testing"
	ModeNone    = "none"
)

// MaxMaxAge is the largest max_age a policy may give: 31557600 s, a year.
const MaxMaxAge = 31557600 * time.Second

// maxAgeDigits bounds the digits of max_age: 1*10(DIGIT).
const maxAgeDigits = 10

// Policy is a parsed MTA-STS policy file (RFC 8461 §3.2); its version is
// always STSv1.
type Policy struct {
	// Mode is ModeEnforce, ModeTesting or ModeNone.
	Mode string
	// MaxAge is how long a sender may cache the policy, in whole seconds.
	MaxAge time.Duration
	// MX holds the mx patterns in the order given: host names, or "*."
	// and a domain. Empty only in mode none.
	MX []string
}

// policyFields are the fields of a policy file as read, before they are
// checked for presence.
type policyFields struct {
	single map[string]string // version, mode, max_age: at most one each
	mx     []string
}

// ParsePolicy parses a policy file (RFC 8461 §3.2): lines ending in LF or
// CRLF (the last one may lack it; no empty lines), each "name:" then
// optional spaces or tabs, a value, and optional spaces or tabs. version
// (STSv1), mode and max_age (0 to 31557600) must appear exactly once; mx,
// a host name or "*." and a domain, once or more unless the mode is none.
// Names and values are case-sensitive. Fields of other names, well formed,
// are ignored. Errors are *SyntaxError.
func ParsePolicy(text string) (Policy, error) {
	fields, err := readPolicyFields(text)
	if err != nil {
		return Policy{}, err
	}
	for _, name := range []string{"version", "mode", "max_age"} {
		if _, ok := fields.single[name]; !ok {
			return Policy{}, policyError(0, "no "+name+" field")
		}
	}
	p := Policy{Mode: fields.single["mode"], MX: fields.mx}
	maxAge, _ := strconv.ParseInt(fields.single["max_age"], 10, 64)
	p.MaxAge = time.Duration(maxAge) * time.Second
	if len(p.MX) == 0 && p.Mode != ModeNone {
		return Policy{}, policyError(0, "no mx field in mode "+p.Mode)
	}
	return p, nil
}

// readPolicyFields reads every line of a policy file, checking each
// field's value as it goes.
func readPolicyFields(text string) (policyFields, error) {
	if text == "" {
		return policyFields{}, policyError(0, "empty")
	}
	fields := policyFields{single: map[string]string{}}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	for i, line := range lines {
		if err := fields.add(i+1, strings.TrimSuffix(line, "\r")); err != nil {
			return policyFields{}, err
		}
	}
	return fields, nil
}

// add reads line number n into f.
func (f *policyFields) add(n int, line string) error {
	name, rest, ok := strings.Cut(line, ":")
	if !ok || !validExtName(name) {
		return policyError(n, "not a \"name: value\" field: "+quote(line))
	}
	value := trimWSP(rest)
	if problem := checkPolicyValue(name, value); problem != "" {
		return policyError(n, problem)
	}
	switch name {
	case "mx":
		f.mx = append(f.mx, value)
	case "version", "mode", "max_age":
		if _, dup := f.single[name]; dup {
			return policyError(n, "a second "+name+" field")
		}
		f.single[name] = value
	}
	return nil
}

// checkPolicyValue returns what is wrong with the value of field name, or "".
func checkPolicyValue(name, value string) string {
	switch name {
	case "version":
		if value != "STSv1" {
			return "version " + quote(value) + " is not STSv1"
		}
	case "mode":
		if value != ModeEnforce && value != ModeTesting && value != ModeNone {
			return "mode " + quote(value) + " is not enforce, testing or none"
		}
	case "max_age":
		if !validMaxAge(value) {
			return "max_age " + quote(value) + " is not a number of seconds from 0 to 31557600"
		}
	case "mx":
		if !validMXPattern(value) {
			return "mx " + quote(value) + " is not a host name or \"*.\" and a domain"
		}
	default:
		if !validPolicyExtValue(value) {
			return "malformed value of field " + quote(name)
		}
	}
	return ""
}

// validMaxAge reports 1 to 10 digits whose value is at most MaxMaxAge.
func validMaxAge(s string) bool {
	if s == "" || len(s) > maxAgeDigits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return err == nil && time.Duration(v)*time.Second <= MaxMaxAge
}

// validMXPattern reports an mx value: ["*."] Domain.
func validMXPattern(s string) bool {
	return validDomain(strings.TrimPrefix(s, "*."))
}

func policyError(line int, problem string) *SyntaxError {
	return &SyntaxError{What: "policy", Line: line, Problem: problem}
}
