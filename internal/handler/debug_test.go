package handler

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/smtptest"
)

// endpointSection is the part of debug output about the endpoint on port:
// from its "== " heading to the next heading.
func endpointSection(t *testing.T, body string, port int) []string {
	t.Helper()
	start := strings.Index(body, fmt.Sprintf(" port %d (", port))
	if start < 0 {
		t.Fatalf("no section for port %d:\n%s", port, body)
	}
	section := body[start:]
	if end := strings.Index(section, "\n== "); end >= 0 {
		section = section[:end]
	}
	return strings.Split(strings.TrimSpace(section), "\n")
}

// lineIndex is the index of the only line containing text, failing the test
// unless exactly one does.
func lineIndex(t *testing.T, lines []string, text string) int {
	t.Helper()
	found := -1
	for i, l := range lines {
		if strings.Contains(l, text) {
			if found >= 0 {
				t.Errorf("%q on lines %d and %d:\n%s", text, found, i, strings.Join(lines, "\n"))
			}
			found = i
		}
	}
	if found < 0 {
		t.Fatalf("no line has %q:\n%s", text, strings.Join(lines, "\n"))
	}
	return found
}

// TestDebugFailureInSessionOrder: each endpoint's failure line stands where
// the session failed, between what came before and after, not above the
// transcript; a certificate from an unknown CA gets a hint about
// tls_config.ca_file right after it, naming the file when one is set.
func TestDebugFailureInSessionOrder(t *testing.T) {
	ca, otherCA := smtptest.NewCA(t), smtptest.NewCA(t)
	cert := ca.Issue(t, smtptest.CertSpec{Names: []string{"127.0.0.1"}})
	tlsPort := smtptest.GoSMTPServer{TLS: smtptest.ServerTLS(cert)}.Start(t)
	dead := refusingPort(t)
	otherFile := otherCA.WriteFile(t)
	f := newHandlerFixture(t, modulesYAML(map[string]string{
		"system": fmt.Sprintf("timeout: 5s\nports:\n  - {port: %d, tls: starttls, expect: {require_tls: true}}\n  - {port: %d, tls: starttls}\n", tlsPort, dead),
		"other":  fmt.Sprintf("timeout: 5s\ntls_config: {ca_file: %s}\nports:\n  - {port: %d, tls: starttls, expect: {require_tls: true}}\n", otherFile, tlsPort),
		"portca": fmt.Sprintf("timeout: 5s\nports:\n  - {port: %d, tls: starttls, expect: {require_tls: true}, tls_config: {ca_file: %s}}\n", tlsPort, otherFile),
	}), fixtureOptions{})

	body := f.probe(t.Context(), probeQuery("127.0.0.1", "system", true)).Body.String()
	tls := endpointSection(t, body, tlsPort)
	established, failure := lineIndex(t, tls, "TLS established"), lineIndex(t, tls, "failed in phase tls, reason cert_unverified")
	if quit := lineIndex(t, tls, "C: QUIT"); !(established < failure && failure < quit) {
		t.Errorf("failure line %d not between the handshake (%d) and QUIT (%d):\n%s", failure, established, quit, strings.Join(tls, "\n"))
	}
	if !strings.Contains(tls[failure], "x509: certificate signed by unknown authority") {
		t.Errorf("failure line lacks the x509 error: %q", tls[failure])
	}
	if hint := tls[failure+1]; !strings.Contains(hint, "hint:") || !strings.Contains(hint, "tls_config.ca_file") || !strings.Contains(hint, "system's CA bundle") {
		t.Errorf("line after the failure is %q, want a hint to set tls_config.ca_file", hint)
	}

	refused := endpointSection(t, body, dead)
	if connecting, failure := lineIndex(t, refused, "*: connecting to"), lineIndex(t, refused, "failed in phase connect, reason refused"); connecting > failure {
		t.Errorf("connect failure (line %d) before the connect attempt (line %d):\n%s", failure, connecting, strings.Join(refused, "\n"))
	}
	if strings.Contains(strings.Join(refused, "\n"), "hint:") {
		t.Errorf("a refused connection gets a hint:\n%s", strings.Join(refused, "\n"))
	}

	for _, module := range []string{"other", "portca"} {
		body := f.probe(t.Context(), probeQuery("127.0.0.1", module, true)).Body.String()
		lines := endpointSection(t, body, tlsPort)
		failure := lineIndex(t, lines, "reason cert_unverified")
		if hint := lines[failure+1]; !strings.Contains(hint, "hint:") || !strings.Contains(hint, "("+otherFile+")") {
			t.Errorf("module %s: line after the failure is %q, want a hint naming %s", module, hint, otherFile)
		}
	}
}

// moduleSection is the YAML after debug output's "== Module" heading.
func moduleSection(t *testing.T, body string) string {
	t.Helper()
	_, yamlText, found := strings.Cut(body, "\n== Module\n")
	if !found {
		t.Fatalf("no module section:\n%s", body)
	}
	return yamlText
}

// TestDebugModuleLoadsAgain: the module debug output shows is a
// configuration that config.Parse loads strictly, holding that module
// alone, with the username hidden as /config hides it and none of the
// keys the configuration refuses.
func TestDebugModuleLoadsAgain(t *testing.T) {
	ca := smtptest.NewCA(t)
	caFile := ca.WriteFile(t)
	pwFile := writePassword(t, "pw-not-shown")
	port := refusingPort(t)
	f := newHandlerFixture(t, modulesYAML(map[string]string{
		"full": fmt.Sprintf("timeout: 3s\nehlo_hostname: probe.example.net\ntls_config: {ca_file: %s, server_name: mx.example.net, min_version: TLS12}\n"+
			"ports:\n  - {port: %d, tls: starttls, expect: {require_tls: true, min_tls_version: TLS13}, tls_config: {ca_file: %s}}\n"+
			"expect: {verify_certificate: true}\nauth: {username: probe-user, password_file: %s, mechanism: LOGIN}\nallowed_targets: [127.0.0.1]\n",
			caFile, port, caFile, pwFile),
		"plain": fmt.Sprintf("timeout: 3s\nports:\n  - {port: %d, tls: none}\n", port),
	}), fixtureOptions{})
	for _, module := range []string{"full", "plain"} {
		t.Run(module, func(t *testing.T) {
			shown := moduleSection(t, f.probe(t.Context(), probeQuery("127.0.0.1", module, true)).Body.String())
			cfg, err := config.Parse([]byte(shown), filepath.Dir(caFile))
			if err != nil {
				t.Fatalf("the module shown does not load: %v\n%s", err, shown)
			}
			if names := cfg.ModuleNames(); len(names) != 1 || names[0] != module {
				t.Errorf("modules shown %v, want [%s]", names, module)
			}
			for _, refused := range []string{"insecure_skip_verify", "probe-user", "pw-not-shown"} {
				if strings.Contains(shown, refused) {
					t.Errorf("module shown contains %q:\n%s", refused, shown)
				}
			}
			if module == "full" {
				m := cfg.Modules[module]
				if m.Auth.Username != config.Hidden || m.Auth.PasswordFile != pwFile || m.TLSConfig.CAFile != caFile || m.Ports[0].TLSConfig.CAFile != caFile {
					t.Errorf("module shown loads as auth %+v, ca_file %q:\n%s", m.Auth, m.TLSConfig.CAFile, shown)
				}
			}
		})
	}
}
