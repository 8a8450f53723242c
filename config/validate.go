package config

import (
	"strings"
)

// validate checks module m, found at at, and returns every problem.
func (m *Module) validate(at location) []problem {
	var probs []problem
	add := func(key, format string, args ...any) {
		probs = append(probs, at.key(key).problem(format, args...))
	}
	if m.Timeout <= 0 {
		add("timeout", "timeout must be positive, got %s", m.Timeout)
	}
	if strings.ContainsAny(m.EHLOHostname, " \t\r\n\x00") {
		add("ehlo_hostname", "ehlo_hostname %q must not contain spaces or control characters", m.EHLOHostname)
	}
	switch m.IPProtocol {
	case IPProtocolAuto, IPProtocol4, IPProtocol6:
	default:
		add("ip_protocol", "ip_protocol must be auto, ip4 or ip6, got %q", m.IPProtocol)
	}
	if m.TLSConfig.InsecureSkipVerify {
		add("tls_config", "%s", insecureSkipVerify)
	}
	switch {
	case len(m.Ports) == 0:
		add("ports", "ports must list at least one port")
	case len(m.Ports) > MaxPorts:
		add("ports", "ports lists %d ports, more than the %d a module may have", len(m.Ports), MaxPorts)
	}
	probs = append(probs, m.validatePorts(at)...)
	probs = append(probs, m.checkExpectNeeds(m.Expect, at)...)
	probs = append(probs, m.Auth.validate(at.key("auth"))...)
	probs = append(probs, m.validateSchema(at)...)
	allowed, allowedProbs := parseAllowlist(m.AllowedTargets, at.key("allowed_targets"))
	m.allowed = allowed
	if m.Auth.Enabled() && allowed.empty() && len(allowedProbs) == 0 {
		add("auth", "auth needs the module's own allowed_targets, listing the servers the credentials are for: without it they would go to any target a requester names")
	}
	return append(probs, allowedProbs...)
}

const insecureSkipVerify = "tls_config.insecure_skip_verify is not supported: the probe always completes the handshake and reports verification on its own gauges; use expect.verify_certificate: false"

// validatePorts checks each port entry, alone and with the module's
// expectations merged in.
func (m *Module) validatePorts(at location) []problem {
	var probs []problem
	seen := map[int]bool{}
	for i, p := range m.Ports {
		pat := at.portEntry(i, p.Port)
		if prob, ok := p.validate(pat); !ok {
			probs = append(probs, prob)
			continue
		}
		if seen[p.Port] {
			probs = append(probs, pat.key("port").problem("this port is listed twice"))
		}
		seen[p.Port] = true
		probs = append(probs, m.checkApplies(p, pat, at)...)
		probs = append(probs, m.checkExpectNeeds(p.Expect, pat)...)
	}
	return probs
}

// checkApplies reports settings that cannot apply to port p, found at at
// in the module at mat: TLS expectations and tls_config on a port that never
// runs TLS, require_tls where TLS is not optional, and a password sent in
// cleartext. An expectation's line is where it is set: the port's expect,
// else the module's.
func (m *Module) checkApplies(p Port, at, mat location) []problem {
	var probs []problem
	e := m.Expect.merge(p.Expect)
	add := func(key, format string, args ...any) {
		probs = append(probs, at.key(key).problem(format, args...))
	}
	setAt := func(key string, inPort bool) location {
		if inPort {
			return at.key("expect", key)
		}
		l := mat.key("expect", key)
		l.port = p.Port
		return l
	}
	if p.TLS != TLSStartTLS && valueOr(e.RequireTLS, false) {
		probs = append(probs, setAt("require_tls", p.Expect.RequireTLS != nil).problem("require_tls applies to starttls ports only, not %s", p.TLS))
	}
	if p.TLS == TLSNone {
		for _, key := range tlsOnlyKeys(e, p.Expect) {
			probs = append(probs, setAt(key.name, key.inPort).problem("%s applies to TLS sessions, and a tls: none port never has one", key.name))
		}
		if p.TLSConfig != nil {
			add("tls_config", "tls_config applies to TLS sessions, and a tls: none port never has one")
		}
	}
	if p.TLSConfig != nil && p.TLSConfig.InsecureSkipVerify {
		add("tls_config", "%s", insecureSkipVerify)
	}
	if p.TLS == TLSNone && m.Auth.Enabled() && !m.Auth.InsecureAuth {
		add("tls", "auth on a port without TLS sends the password in cleartext; set auth.insecure_auth: true to allow it")
	}
	return probs
}

// expectKey names an expectation and whether the port itself sets it.
type expectKey struct {
	name   string
	inPort bool
}

// tlsOnlyKeys names the expectations of e (port's merged into the module's)
// that demand something of a TLS session.
func tlsOnlyKeys(e, port Expect) []expectKey {
	var keys []expectKey
	if valueOr(e.VerifyCertificate, false) {
		keys = append(keys, expectKey{"verify_certificate", port.VerifyCertificate != nil})
	}
	if e.MinTLSVersion != nil {
		keys = append(keys, expectKey{"min_tls_version", port.MinTLSVersion != nil})
	}
	if valueOr(e.RequireOCSPStaple, false) {
		keys = append(keys, expectKey{"require_ocsp_staple", port.RequireOCSPStaple != nil})
	}
	return keys
}

// validate checks a port entry on its own; a port without a valid number
// or mode is not checked further.
func (p Port) validate(at location) (problem, bool) {
	if p.Port < 1 || p.Port > 65535 {
		return at.key("port").problem("port must be between 1 and 65535, got %d", p.Port), false
	}
	switch p.TLS {
	case TLSStartTLS, TLSImplicit, TLSNone:
		return problem{}, true
	case "":
		return at.problem("tls must be set to starttls, implicit or none"), false
	}
	return at.key("tls").problem("tls must be starttls, implicit or none, got %q", p.TLS), false
}

// validate checks the auth keys and fills in the default mechanism.
func (a *Auth) validate(at location) []problem {
	if !a.Enabled() {
		if a.PasswordFile != "" || a.Mechanism != "" {
			return []problem{at.problem("auth.username is required when auth is configured")}
		}
		return nil
	}
	var probs []problem
	if a.Mechanism == "" {
		a.Mechanism = MechanismPlain
	}
	a.Mechanism = strings.ToUpper(a.Mechanism)
	if a.Mechanism != MechanismPlain && a.Mechanism != MechanismLogin {
		probs = append(probs, at.key("mechanism").problem("auth.mechanism must be PLAIN or LOGIN, got %q", a.Mechanism))
	}
	if a.PasswordFile == "" {
		probs = append(probs, at.problem("auth.password_file is required with auth.username"))
	}
	return probs
}
