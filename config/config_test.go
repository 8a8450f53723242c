package config

import (
	"crypto/tls"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	promconfig "github.com/prometheus/common/config"
)

func TestLoadInvalid(t *testing.T) {
	tests := []struct {
		file string
		want string // every problem, one a line; %f stands for the file's path
	}{
		{"invalid-allowed-cidr.yml", "%f:7: allowed_targets: \"10.0.0.0/33\" is not a CIDR range: netip.ParsePrefix(\"10.0.0.0/33\"): prefix length out of range"},
		{"invalid-allowed-empty.yml", "%f:6: allowed_targets: \"\" is neither a CIDR range nor a domain pattern (example.com, *.example.com)"},
		{"invalid-allowed-host-port.yml", "%f:5: allowed_targets: \"mail.example.com:25\" is neither a CIDR range nor a domain pattern (example.com, *.example.com)"},
		{"invalid-allowed-not-list.yml", "%f:5: expected a list, got a string `192.0.2...`"},
		{"invalid-allowed-wildcard.yml", "%f:6: allowed_targets: \"mail.*.example.com\" is neither a CIDR range nor a domain pattern (example.com, *.example.com)"},
		{"invalid-auth-cleartext.yml", "%f:5: module \"default\": port 2525: auth on a port without TLS sends the password in cleartext; set auth.insecure_auth: true to allow it"},
		{"invalid-auth-empty-allowed-targets.yml", "%f:5: module \"submit\": auth needs the module's own allowed_targets, listing the servers the credentials are for: without it they would go to any target a requester names"},
		{"invalid-auth-mechanism.yml", "%f:5: module \"default\": auth needs the module's own allowed_targets, listing the servers the credentials are for: without it they would go to any target a requester names\n%f:8: module \"default\": auth.mechanism must be PLAIN or LOGIN, got \"CRAM-MD5\""},
		{"invalid-auth-no-allowed-targets.yml", "%f:5: module \"submit\": auth needs the module's own allowed_targets, listing the servers the credentials are for: without it they would go to any target a requester names"},
		{"invalid-auth-no-password-file.yml", "%f:5: module \"default\": auth.password_file is required with auth.username\n%f:5: module \"default\": auth needs the module's own allowed_targets, listing the servers the credentials are for: without it they would go to any target a requester names"},
		{"invalid-auth-no-username.yml", "%f:5: module \"default\": auth.username is required when auth is configured"},
		{"invalid-auth-password-file-missing.yml", "%f:7: module \"default\": auth.password_file: open testdata/no-such-password.txt: no such file or directory"},
		{"invalid-binary.yml", "%f: control characters are not allowed"},
		{"invalid-ca-file-missing.yml", "%f:5: module \"default\": tls_config: unable to read CA cert: unable to read file testdata/no-such-ca.pem: open testdata/no-such-ca.pem: no such file or directory"},
		{"invalid-ca-file-not-pem.yml", "%f:5: module \"default\": tls_config: unable to use specified CA cert file testdata/password.txt"},
		{"invalid-duplicate-module.yml", "%f:5: module \"default\": mapping key \"default\" already defined at line 2"},
		{"invalid-ehlo-hostname-space.yml", "%f:3: module \"default\": ehlo_hostname \"probe example.com\" must not contain spaces or control characters"},
		{"invalid-empty-file.yml", "%f: no modules defined"},
		{"invalid-empty-module-map.yml", "%f:2: module \"default\": ports must list at least one port"},
		{"invalid-empty-module.yml", "%f:2: module \"default\": the module is empty"},
		{"invalid-empty-ports.yml", "%f:3: module \"default\": ports must list at least one port"},
		{"invalid-insecure-skip-verify.yml", "%f:5: module \"default\": tls_config.insecure_skip_verify is not supported: the probe always completes the handshake and reports verification on its own gauges; use expect.verify_certificate: false"},
		{"invalid-ip-protocol.yml", "%f:3: module \"default\": ip_protocol must be auto, ip4 or ip6, got \"ipv4\""},
		{"invalid-min-tls-version.yml", "%f:6: module \"default\": min_tls_version: \"TLS14\" is not a TLS version; the versions are TLS10, TLS11, TLS12, TLS13"},
		{"invalid-module-allowed-cidr.yml", "%f:5: module \"default\": allowed_targets: \"192.0.2.0/40\" is not a CIDR range: netip.ParsePrefix(\"192.0.2.0/40\"): prefix length out of range"},
		{"invalid-modules-list.yml", "%f:2: expected a mapping, got a list"},
		{"invalid-modules-missing.yml", "%f: no modules defined"},
		{"invalid-no-modules.yml", "%f: no modules defined"},
		{"invalid-no-ports.yml", "%f:2: module \"default\": ports must list at least one port"},
		{"invalid-not-yaml.yml", "%f:1: expected a mapping, got a string `This is...`"},
		{"invalid-port-duplicate.yml", "%f:6: module \"default\": port 25: this port is listed twice"},
		{"invalid-port-not-number.yml", "%f:4: module \"default\": expected a number, got a string `smtp`"},
		{"invalid-port-too-big.yml", "%f:4: module \"default\": port 70000: port must be between 1 and 65535, got 70000"},
		{"invalid-port-zero.yml", "%f:5: module \"default\": port must be between 1 and 65535, got 0"},
		{"invalid-require-tls-implicit.yml", "%f:4: module \"submission\": port 465: require_tls applies to starttls ports only, not implicit"},
		{"invalid-require-tls-module-none.yml", "%f:4: module \"plain\": port 2525: require_tls applies to starttls ports only, not none"},
		{"invalid-require-tls-none.yml", "%f:4: module \"plain\": port 25: require_tls applies to starttls ports only, not none"},
		{"invalid-timeout-bogus.yml", "%f:3: module \"default\": expected a duration such as 10s, got a string `soon`"},
		{"invalid-timeout-negative.yml", "%f:3: module \"default\": timeout must be positive, got -5s"},
		{"invalid-timeout-zero.yml", "%f:3: module \"default\": timeout must be positive, got 0s"},
		{"invalid-tls-bogus.yml", "%f:4: module \"default\": port 25: tls must be starttls, implicit or none, got \"ssl\""},
		{"invalid-tls-config-min-version.yml", "%f:6: module \"default\": min_version: \"SSL3\" is not a TLS version; the versions are TLS10, TLS11, TLS12, TLS13"},
		{"invalid-tls-missing.yml", "%f:4: module \"default\": port 25: tls must be set to starttls, implicit or none"},
		{"invalid-too-many-ports.yml", "%f:3: module \"default\": ports lists 33 ports, more than the 32 a module may have"},
		{"invalid-truncated.yml", "%f:4: did not find expected ',' or '}'"},
		{"invalid-unknown-auth-key.yml", "%f:5: module \"default\": auth.password_file is required with auth.username\n%f:5: module \"default\": auth needs the module's own allowed_targets, listing the servers the credentials are for: without it they would go to any target a requester names\n%f:7: module \"default\": unknown field password"},
		{"invalid-unknown-expect-key.yml", "%f:7: module \"default\": unknown field verify_cert"},
		{"invalid-unknown-key-in-anchor.yml", "%f:6: module \"base\": unknown field ehlo"},
		{"invalid-unknown-module-key.yml", "%f:6: module \"default\": unknown field tiemout"},
		{"invalid-unknown-port-key.yml", "%f:6: module \"default\": port 25: unknown field starttls"},
		{"invalid-unknown-tls-config-key.yml", "%f:6: module \"default\": unknown field min_tls"},
		{"invalid-unknown-top-key.yml", "%f:5: unknown field allowed_target"},
		{"invalid-targets-bogus.yml", "%f:3: module \"m\": targets must be host or mx, got \"domain\""},
		{"invalid-max-hosts-without-mx.yml", "%f:3: module \"m\": max_hosts applies only with targets: mx"},
		{"invalid-max-hosts-range.yml", "%f:4: module \"low\": max_hosts must be between 1 and 64, got 0\n%f:8: module \"high\": max_hosts must be between 1 and 64, got 65"},
		{"invalid-addresses-bogus.yml", "%f:3: module \"m\": addresses must be first or all, got \"some\""},
		{"invalid-max-addresses.yml", "%f:3: module \"first\": max_addresses applies only with addresses: all\n%f:7: module \"all\": max_addresses must be between 1 and 16, got 17"},
		{"invalid-dns-server.yml", "%f:3: module \"name\": dns.server \"resolver.example.net\" must be an IP address with an optional port (192.0.2.53, 192.0.2.53:5353, [2001:db8::53]:5353); host names are not allowed, since resolving them would bypass the module's resolver\n%f:6: module \"port0\": dns.server \"192.0.2.53:0\": port 0 is not a port\n%f:10: module \"unbracketed\": dns.server \"[2001:db8::53]:99999\" must be an IP address with an optional port (192.0.2.53, 192.0.2.53:5353, [2001:db8::53]:5353); host names are not allowed, since resolving them would bypass the module's resolver"},
		{"invalid-dane-without-dnssec.yml", "%f:3: module \"m\": dane needs dns.dnssec: true (TLSA records count only when DNSSEC-secure)"},
		{"invalid-mta-sts-tlsrpt-host.yml", "%f:3: module \"m\": mta_sts applies to mail domains only: it needs targets: mx\n%f:4: module \"m\": tlsrpt applies to mail domains only: it needs targets: mx"},
		{"invalid-expect-needs.yml", "%f:3: module \"m\": expect.dane_match needs dane: true in the module\n%f:3: module \"m\": expect.require_mta_sts needs mta_sts: true in the module\n%f:8: module \"m\": port 25: expect.require_dane needs dane: true in the module\n%f:9: module \"m\": port 25: expect.mta_sts_match needs mta_sts: true in the module"},
		{"invalid-share-window.yml", "%f:3: module \"long\": share_window must be between 0s (off) and 10m0s, got 11m0s\n%f:6: module \"negative\": share_window must be between 0s (off) and 10m0s, got -1s"},
		{"invalid-tls-keys-on-none.yml", "%f:3: module \"m\": port 2525: verify_certificate applies to TLS sessions, and a tls: none port never has one\n%f:8: module \"m\": port 2525: tls_config applies to TLS sessions, and a tls: none port never has one\n%f:9: module \"m\": port 2525: min_tls_version applies to TLS sessions, and a tls: none port never has one\n%f:9: module \"m\": port 2525: require_ocsp_staple applies to TLS sessions, and a tls: none port never has one"},
		{"invalid-port-tls-config.yml", "%f:6: module \"m\": port 465: tls_config.insecure_skip_verify is not supported: the probe always completes the handshake and reports verification on its own gauges; use expect.verify_certificate: false\n%f:9: module \"m\": port 587: tls_config: unable to read CA cert: unable to read file testdata/no-such-ca.pem: open testdata/no-such-ca.pem: no such file or directory"},
		{"invalid-min-tls-version-spelling.yml", "%f:5: module \"m\": min_tls_version: \"TLS1.2\" is not a TLS version; the versions are TLS10, TLS11, TLS12, TLS13"},
		{"invalid-many.yml", "%f:4: module \"first\": timeout must be positive, got 0s\n%f:5: module \"first\": ip_protocol must be auto, ip4 or ip6, got \"ipv5\"\n%f:7: module \"first\": port 25: tls must be starttls, implicit or none, got \"ssl\"\n%f:8: module \"first\": port 587: min_tls_version: \"TLS1.3\" is not a TLS version; the versions are TLS10, TLS11, TLS12, TLS13\n%f:13: module \"second\": port 465: require_tls applies to starttls ports only, not implicit\n%f:14: module \"second\": port 465: unknown field bogus\n%f:17: module \"third\": max_hosts must be between 1 and 64, got 100\n%f:19: allowed_targets: \"not a pattern\" is neither a CIDR range nor a domain pattern (example.com, *.example.com)"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(strings.TrimSuffix(tt.file, ".yml"), func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			c, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%q) = %+v, want error %q", path, c, tt.want)
			}
			if want := strings.ReplaceAll(tt.want, "%f", path); err.Error() != want {
				t.Errorf("Load(%q) error\n got: %s\nwant: %s", path, err, want)
			}
			if leak := regexp.MustCompile(`config\.[A-Z]|config\.plain|map\[|time\.Duration|\binto int\b`).FindString(err.Error()); leak != "" {
				t.Errorf("error leaks a Go type name: %s", err)
			}
		})
	}
	// Every invalid file in testdata must be in the table.
	files, err := filepath.Glob("testdata/invalid-*.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s has no expected error in the table", f)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/no-such-config.yml")
	want := "reading config: open testdata/no-such-config.yml: no such file or directory"
	if err == nil || err.Error() != want {
		t.Errorf("Load() error = %v, want %q", err, want)
	}
}

// TestParseUnknownKeyNamesLine checks that strictness holds at every depth,
// not only at the top level: yaml.v3 drops KnownFields inside UnmarshalYAML.
func TestParseUnknownKeyNamesLine(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"top", "modules: {m: {ports: [{port: 25, tls: none}]}}\nbogus: 1\n", "line 2: unknown field bogus"},
		{"module", "modules:\n  m:\n    ports: [{port: 25, tls: none}]\n    bogus: 1\n", "line 4: module \"m\": unknown field bogus"},
		{"port", "modules:\n  m:\n    ports:\n      - {port: 25, tls: none}\n      - {port: 26, tls: none, bogus: 1}\n", "line 5: module \"m\": port 26: unknown field bogus"},
		{"port expect", "modules:\n  m:\n    ports:\n      - port: 25\n        tls: starttls\n        expect:\n          require_tls: true\n          bogus: 1\n", "line 8: module \"m\": port 25: unknown field bogus"},
		{"tls_config", "modules:\n  m:\n    ports: [{port: 25, tls: none}]\n    tls_config: {bogus: 1}\n", "line 4: module \"m\": unknown field bogus"},
		{"auth", "modules:\n  m:\n    ports: [{port: 25, tls: none}]\n    auth:\n      bogus: 1\n", "line 5: module \"m\": unknown field bogus"},
		{"second module", "modules:\n  a:\n    ports: [{port: 25, tls: none}]\n  b:\n    ports: [{port: 25, tls: none}]\n    ehlo_host: x\n", "line 6: module \"b\": unknown field ehlo_host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), ".")
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse() error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestLoadDefault(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatalf("Load(\"\") = %v", err)
	}
	want := map[string][]Port{
		"default": {
			{Port: 25, TLS: TLSStartTLS},
			{Port: 465, TLS: TLSImplicit},
			{Port: 587, TLS: TLSStartTLS, Expect: Expect{RequireTLS: ptr(true)}},
		},
		"mx": {{Port: 25, TLS: TLSStartTLS}},
		"submission": {
			{Port: 465, TLS: TLSImplicit},
			{Port: 587, TLS: TLSStartTLS, Expect: Expect{RequireTLS: ptr(true)}},
		},
	}
	if len(c.Modules) != len(want) {
		t.Errorf("modules = %v, want %d modules", moduleNames(c), len(want))
	}
	if c.Modules["mx"].Targets != TargetsMX || c.Modules["default"].Targets != TargetsHost {
		t.Error("the shipped mx module must take mail domains, default hosts")
	}
	for name, ports := range want {
		m := c.Modules[name]
		if m == nil {
			t.Errorf("module %q missing", name)
			continue
		}
		if !reflect.DeepEqual(m.Ports, ports) {
			t.Errorf("module %q ports = %+v, want %+v", name, m.Ports, ports)
		}
		if m.Timeout != 10*time.Second || m.IPProtocol != IPProtocolAuto || m.Auth.Enabled() || m.EHLOHostname != "" {
			t.Errorf("module %q = timeout %s, ip_protocol %q, auth %v, ehlo %q; want 10s, auto, no auth, empty",
				name, m.Timeout, m.IPProtocol, m.Auth.Enabled(), m.EHLOHostname)
		}
	}
	if !c.TargetAllowed(c.Modules["default"], "anything.example", netip.MustParseAddr("203.0.113.1")) {
		t.Error("default config must allow every target")
	}
}

func TestLoadValid(t *testing.T) {
	c, err := Load("testdata/valid-full.yml")
	if err != nil {
		t.Fatal(err)
	}
	if got := moduleNames(c); !reflect.DeepEqual(got, []string{"cleartext", "default", "defaults", "domains", "merged", "mx", "submission"}) {
		t.Errorf("modules = %v", got)
	}

	sub := c.Modules["submission"]
	if sub.Timeout != 4*time.Second || sub.IPProtocol != IPProtocol6 || sub.EHLOHostname != "probe.example.com" {
		t.Errorf("submission: timeout %s, ip_protocol %q, ehlo %q", sub.Timeout, sub.IPProtocol, sub.EHLOHostname)
	}
	wantAuth := Auth{Username: "probe@example.com", PasswordFile: "testdata/password.txt", Mechanism: MechanismLogin}
	if got := sub.Auth; got.Username != wantAuth.Username || got.PasswordFile != wantAuth.PasswordFile || got.Mechanism != wantAuth.Mechanism || got.InsecureAuth {
		t.Errorf("submission auth = %+v, want %+v", got, wantAuth)
	}
	if got := sub.Auth.Password(); got != "hunter2" {
		t.Errorf("submission password = %q, want %q (trailing newline trimmed)", got, "hunter2")
	}
	if got := sub.TLSConfig.CAFile; got != "testdata/ca.pem" {
		t.Errorf("ca_file = %q, want testdata/ca.pem", got)
	}
	tc := sub.ClientTLSConfig()
	if tc.MinVersion != tls.VersionTLS12 || tc.ServerName != "mail.example.com" || tc.RootCAs == nil || tc.InsecureSkipVerify {
		t.Errorf("ClientTLSConfig = min %x, server name %q, roots %v, insecure %v", tc.MinVersion, tc.ServerName, tc.RootCAs != nil, tc.InsecureSkipVerify)
	}
	if got, want := sub.EndpointSettings(587), (Settings{TLS: TLSStartTLS, RequireTLS: true, MinTLSVersion: tls.VersionTLS13, ServerName: "mail.example.com", clientTLS: tc}); got != want {
		t.Errorf("submission 587 = %+v, want %+v", got, want)
	}
	if got, want := sub.EndpointSettings(465), (Settings{TLS: TLSImplicit, MinTLSVersion: tls.VersionTLS12, ServerName: "mail.example.com", clientTLS: tc}); got != want {
		t.Errorf("submission 465 = %+v, want %+v", got, want)
	}

	ct := c.Modules["cleartext"]
	if ct.Timeout != DefaultTimeout || ct.IPProtocol != IPProtocolAuto {
		t.Errorf("cleartext defaults: timeout %s, ip_protocol %q; want 10s, auto", ct.Timeout, ct.IPProtocol)
	}
	if ct.Auth.Mechanism != MechanismPlain || !ct.Auth.InsecureAuth {
		t.Errorf("cleartext auth = %+v, want PLAIN with insecure_auth", ct.Auth)
	}
	if got := ct.Auth.Password(); got != " pass word " {
		t.Errorf("cleartext password = %q, want %q (only CR/LF trimmed)", got, " pass word ")
	}
	if tc := ct.ClientTLSConfig(); tc == nil || tc.RootCAs != nil || tc.MinVersion != 0 {
		t.Errorf("cleartext ClientTLSConfig = %+v, want an empty config", tc)
	}

	merged := c.Modules["merged"]
	if merged.IPProtocol != IPProtocol4 || !reflect.DeepEqual(merged.Ports, []Port{{Port: 25, TLS: TLSStartTLS}}) {
		t.Errorf("merged = ip_protocol %q, ports %+v; want ip4 and the anchor's ports", merged.IPProtocol, merged.Ports)
	}

	if !reflect.DeepEqual(c.AllowedTargets, []string{"192.0.2.0/24", "*.example.com"}) {
		t.Errorf("allowed_targets = %q", c.AllowedTargets)
	}
	public := netip.MustParseAddr("1.2.3.4")
	if m := c.Modules["merged"]; !c.TargetAllowed(m, "mx.example.com", public) || c.TargetAllowed(m, "example.org", public) {
		t.Error("allowed_targets not applied")
	}
}

// TestLoadRelativeToConfigDir checks that relative files are found beside the
// config file, wherever the process runs.
func TestLoadRelativeToConfigDir(t *testing.T) {
	dir := t.TempDir()
	ca, err := os.ReadFile("testdata/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "ca.pem"), string(ca))
	writeFile(t, filepath.Join(dir, "secret"), "s3cr3t\r\n\n")
	path := filepath.Join(dir, "smtp.yml")
	writeFile(t, path, `modules:
  m:
    ports: [{port: 465, tls: implicit}]
    tls_config: {ca_file: ca.pem}
    auth: {username: u, password_file: secret, mechanism: plain}
    allowed_targets: [mail.example.com]
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	m := c.Modules["m"]
	if want := filepath.Join(dir, "secret"); m.Auth.PasswordFile != want {
		t.Errorf("password_file = %q, want %q", m.Auth.PasswordFile, want)
	}
	if want := filepath.Join(dir, "ca.pem"); m.TLSConfig.CAFile != want {
		t.Errorf("ca_file = %q, want %q", m.TLSConfig.CAFile, want)
	}
	if m.Auth.Password() != "s3cr3t" {
		t.Errorf("password = %q, want s3cr3t", m.Auth.Password())
	}
	if m.Auth.Mechanism != MechanismPlain {
		t.Errorf("mechanism = %q, want PLAIN", m.Auth.Mechanism)
	}

	// An absolute path stays as it is.
	abs := filepath.Join(dir, "secret")
	writeFile(t, path, "modules:\n  m:\n    ports: [{port: 465, tls: implicit}]\n    auth: {username: u, password_file: "+abs+"}\n    allowed_targets: [mail.example.com]\n")
	c, err = Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Modules["m"].Auth.PasswordFile; got != abs {
		t.Errorf("absolute password_file = %q, want %q", got, abs)
	}
}

func TestAuthMechanism(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", MechanismPlain},
		{"plain", MechanismPlain},
		{"Plain", MechanismPlain},
		{"login", MechanismLogin},
		{"LOGIN", MechanismLogin},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			yml := "modules:\n  m:\n    ports: [{port: 465, tls: implicit}]\n    auth: {username: u, password_file: password.txt, mechanism: '" + tt.in + "'}\n    allowed_targets: [mail.example.com]\n"
			c, err := Parse([]byte(yml), "testdata")
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Modules["m"].Auth.Mechanism; got != tt.want {
				t.Errorf("mechanism %q → %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestEndpointSettings(t *testing.T) {
	tls12 := promconfig.TLSVersion(tls.VersionTLS12)
	tls13 := promconfig.TLSVersion(tls.VersionTLS13)
	standard := &Module{Ports: []Port{
		{Port: 25, TLS: TLSStartTLS},
		{Port: 465, TLS: TLSImplicit},
		{Port: 587, TLS: TLSStartTLS, Expect: Expect{RequireTLS: ptr(true)}},
		{Port: 2525, TLS: TLSNone},
	}}
	mxOnly := &Module{Ports: []Port{{Port: 25, TLS: TLSStartTLS}}}
	strict := &Module{
		Expect: Expect{RequireTLS: ptr(true), VerifyCertificate: ptr(false), MinTLSVersion: &tls12},
		Ports: []Port{
			{Port: 25, TLS: TLSStartTLS, Expect: Expect{RequireTLS: ptr(false)}},
			{Port: 587, TLS: TLSStartTLS},
		},
	}
	verifying := &Module{
		Expect: Expect{VerifyCertificate: ptr(true)},
		Ports: []Port{
			{Port: 25, TLS: TLSStartTLS, Expect: Expect{VerifyCertificate: ptr(false), MinTLSVersion: &tls13}},
			{Port: 2525, TLS: TLSNone},
		},
	}
	// Not loadable (validation rejects it); EndpointSettings must still
	// ignore require_tls where it means nothing.
	requireEverywhere := &Module{
		Expect: Expect{RequireTLS: ptr(true)},
		Ports:  []Port{{Port: 2525, TLS: TLSNone}, {Port: 465, TLS: TLSImplicit}},
	}
	// A listed 465 that is not implicit keeps its listed mode.
	odd465 := &Module{Ports: []Port{{Port: 465, TLS: TLSStartTLS}}}

	tests := []struct {
		name   string
		module *Module
		port   int
		want   Settings
	}{
		{"listed starttls", standard, 25, Settings{TLS: TLSStartTLS}},
		{"listed implicit verifies", standard, 465, Settings{TLS: TLSImplicit, VerifyCertificate: true}},
		{"listed require_tls verifies", standard, 587, Settings{TLS: TLSStartTLS, RequireTLS: true, VerifyCertificate: true}},
		{"listed none", standard, 2525, Settings{TLS: TLSNone}},
		{"unlisted 465 is implicit", mxOnly, 465, Settings{TLS: TLSImplicit, VerifyCertificate: true}},
		{"unlisted 587 is plain starttls", mxOnly, 587, Settings{TLS: TLSStartTLS}},
		{"unlisted other is starttls", mxOnly, 2526, Settings{TLS: TLSStartTLS}},
		{"port overrides require_tls", strict, 25, Settings{TLS: TLSStartTLS, MinTLSVersion: tls.VersionTLS12}},
		{"module require_tls, explicit no verify", strict, 587, Settings{TLS: TLSStartTLS, RequireTLS: true, MinTLSVersion: tls.VersionTLS12}},
		{"module expect on unlisted starttls", strict, 26, Settings{TLS: TLSStartTLS, RequireTLS: true, MinTLSVersion: tls.VersionTLS12}},
		{"module expect on unlisted 465", strict, 465, Settings{TLS: TLSImplicit, MinTLSVersion: tls.VersionTLS12}},
		{"port overrides verify and min version", verifying, 25, Settings{TLS: TLSStartTLS, MinTLSVersion: tls.VersionTLS13}},
		{"module verify on none port", verifying, 2525, Settings{TLS: TLSNone, VerifyCertificate: true}},
		{"module verify on unlisted", verifying, 26, Settings{TLS: TLSStartTLS, VerifyCertificate: true}},
		{"require_tls ignored on none", requireEverywhere, 2525, Settings{TLS: TLSNone}},
		{"require_tls ignored on implicit", requireEverywhere, 465, Settings{TLS: TLSImplicit, VerifyCertificate: true}},
		{"listed 465 keeps its mode", odd465, 465, Settings{TLS: TLSStartTLS}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.module.EndpointSettings(tt.port); got != tt.want {
				t.Errorf("EndpointSettings(%d) = %+v, want %+v", tt.port, got, tt.want)
			}
		})
	}
	// EndpointSettings must not change the module's own expectations.
	if *strict.Expect.RequireTLS != true || *strict.Ports[0].Expect.RequireTLS != false {
		t.Error("EndpointSettings modified the module")
	}
}

func TestTargetAllowed(t *testing.T) {
	open := parseAllowed(t)
	for _, host := range []string{"example.com", "192.0.2.1", ""} {
		for _, addr := range []string{"192.0.2.1", "2001:db8::1", "::ffff:10.0.0.1"} {
			if !open.TargetAllowed(open.Modules["m"], host, netip.MustParseAddr(addr)) {
				t.Errorf("empty list: TargetAllowed(%q, %s) = false, want true", host, addr)
			}
		}
	}

	c := parseAllowed(t,
		"192.0.2.0/24", "2001:db8:1::/48", "198.51.100.7", "2001:db8::25",
		"example.com", "*.example.net", "Mixed.Case.ORG.", "*.Upper.Example.",
		"10.1.2.3/8", // not masked in the file: still the whole /8
		"::ffff:203.0.113.5", "::ffff:100.64.0.0/112",
	)
	other := "1.2.3.4" // public: outside every special-purpose range
	tests := []struct {
		host, addr string
		want       bool
	}{
		{"x.test", "192.0.2.0", true},
		{"x.test", "192.0.2.255", true},
		{"x.test", "192.0.3.1", false},
		{"x.test", "198.51.100.7", true},
		{"x.test", "198.51.100.8", false},
		{"x.test", "2001:db8:1:ffff::1", true},
		{"x.test", "2001:db8:2::1", false},
		{"x.test", "2001:db8::25", true},
		{"x.test", "2001:db8::26", false},
		{"x.test", "10.200.0.1", true},
		{"x.test", "11.0.0.1", false},
		// An IPv4-mapped IPv6 address is its IPv4 address.
		{"x.test", "::ffff:192.0.2.9", true},
		{"x.test", "::ffff:198.51.100.7", true},
		{"x.test", "::ffff:192.0.3.1", false},
		// An IPv4-mapped entry allows the IPv4 address it names.
		{"x.test", "203.0.113.5", true},
		{"x.test", "::ffff:203.0.113.5", true},
		{"x.test", "203.0.113.6", false},
		{"x.test", "100.64.0.99", true},
		{"x.test", "100.64.255.1", true},
		{"x.test", "100.65.0.1", false},
		// Exact domains.
		{"example.com", other, true},
		{"EXAMPLE.COM.", other, true},
		{"Example.Com", other, true},
		{"www.example.com", other, false},
		{"notexample.com", other, false},
		{"example.com.evil.test", other, false},
		{"mixed.case.org", other, true},
		{"MIXED.case.org.", other, true},
		// Wildcards: subdomains at any depth, not the domain itself.
		{"mail.example.net", other, true},
		{"a.b.example.net", other, true},
		{"MAIL.EXAMPLE.NET.", other, true},
		{"example.net", other, false},
		{"example.net.", other, false},
		{"badexample.net", other, false},
		{"mail.example.net.evil.test", other, false},
		{"mx.upper.example", other, true},
		{"upper.example", other, false},
		// A domain match admits public addresses only; an address match is
		// enough, whatever the name.
		{"mail.example.net", "2a00:1450:4001::1a", true},
		{"mail.example.net", "2001:db8:ffff::1", false}, // documentation
		{"unlisted.test", "2001:db8:1::1", true},
		{"mail.example.net", "127.0.0.1", false},
		{"mail.example.net", "::1", false},
		{"mail.example.net", "172.16.0.1", false},
		{"mail.example.net", "192.168.1.1", false},
		{"mail.example.net", "fd00::1", false},
		{"mail.example.net", "169.254.169.254", false},
		{"mail.example.net", "fe80::1", false},
		{"mail.example.net", "0.0.0.0", false},
		{"mail.example.net", "224.0.0.1", false},
		{"mail.example.net", "::ffff:127.0.0.1", false},
		// Public means outside the IANA special-purpose registries, an
		// embedded IPv4 address judged by itself.
		{"mail.example.net", "100.100.0.1", false},
		{"mail.example.net", "198.18.0.1", false},
		{"mail.example.net", "0.0.0.1", false},
		{"mail.example.net", "203.0.113.200", false},
		{"mail.example.net", "::7f00:1", false},
		{"mail.example.net", "64:ff9b::7f00:1", false},
		{"mail.example.net", "2002:7f00:1::1", false},
		{"mail.example.net", "fec0::1", false},
		{"mail.example.net", "64:ff9b::102:304", true},
		// …unless the range is listed too (10.0.0.0/8 is, from 10.1.2.3/8).
		{"mail.example.net", "10.9.9.9", true},
		{"", other, false},
	}
	for _, tt := range tests {
		t.Run(tt.host+"_"+tt.addr, func(t *testing.T) {
			if got := c.TargetAllowed(c.Modules["m"], tt.host, netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Errorf("TargetAllowed(%q, %s) = %v, want %v", tt.host, tt.addr, got, tt.want)
			}
		})
	}
}

// TestModuleAllowedTargets: a target must pass the global and the module's
// list.
func TestModuleAllowedTargets(t *testing.T) {
	c, err := Parse([]byte(`modules:
  open:
    ports: [{port: 25, tls: starttls}]
  narrow:
    ports: [{port: 587, tls: starttls}]
    allowed_targets: [192.0.2.0/28, submit.example.com]
allowed_targets: [192.0.2.0/24, "*.example.com"]
`), ".")
	if err != nil {
		t.Fatal(err)
	}
	public := netip.MustParseAddr("1.2.3.4")
	tests := []struct {
		module, host, addr string
		want               bool
	}{
		{"open", "x.test", "192.0.2.200", true},
		{"narrow", "x.test", "192.0.2.200", false}, // global yes, module no
		{"narrow", "x.test", "192.0.2.5", true},
		{"open", "mx.example.com", "1.2.3.4", true},
		{"narrow", "mx.example.com", "1.2.3.4", false},
		{"narrow", "submit.example.com", "1.2.3.4", true},
		{"narrow", "submit.example.com", "10.0.0.1", false},
	}
	for _, tt := range tests {
		if got := c.TargetAllowed(c.Modules[tt.module], tt.host, netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("%s: TargetAllowed(%q, %s) = %v, want %v", tt.module, tt.host, tt.addr, got, tt.want)
		}
	}
	if !c.RestrictsTargets(c.Modules["open"]) {
		t.Error("RestrictsTargets = false with a global list")
	}
	only, err := Parse([]byte("modules:\n  m:\n    ports: [{port: 25, tls: starttls}]\n    allowed_targets: [10.0.0.0/8]\n"), ".")
	if err != nil {
		t.Fatal(err)
	}
	if m := only.Modules["m"]; !only.RestrictsTargets(m) || only.TargetAllowed(m, "x.test", public) {
		t.Error("a module list alone does not restrict targets")
	}
}

func TestSafeConfigReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "smtp.yml")
	good := "modules:\n  a:\n    ports: [{port: 25, tls: starttls}]\n"
	writeFile(t, path, good)

	reg := prometheus.NewRegistry()
	s := NewSafeConfig(path, reg)
	if s.Get() != nil {
		t.Fatal("Get() before the first Reload must be nil")
	}
	if err := s.Reload(); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	first := s.Get()
	if got := moduleNames(first); !reflect.DeepEqual(got, []string{"a", "default", "mx", "submission"}) {
		t.Fatalf("modules = %v, want a and the shipped ones", got)
	}
	assertReloadGauge(t, reg, 1)
	stamp := testutil.ToFloat64(s.reloadTimestamp)
	if now := float64(time.Now().Unix()); stamp < now-60 || stamp > now+1 {
		t.Errorf("success timestamp = %v, want about %v", stamp, now)
	}

	writeFile(t, path, "modules:\n  b:\n    ports: [{port: 0, tls: starttls}]\n")
	err := s.Reload()
	want := "config not reloaded, keeping the running one: " + path + ":3: module \"b\": port must be between 1 and 65535, got 0"
	if err == nil || err.Error() != want {
		t.Fatalf("Reload() of a bad file = %v, want %q", err, want)
	}
	if s.Get() != first {
		t.Errorf("a failed reload replaced the running config: modules %v", moduleNames(s.Get()))
	}
	assertReloadGauge(t, reg, 0)
	if got := testutil.ToFloat64(s.reloadTimestamp); got != stamp {
		t.Errorf("a failed reload moved the success timestamp from %v to %v", stamp, got)
	}

	writeFile(t, path, "modules:\n  b:\n    ports: [{port: 587, tls: starttls}]\n  c:\n    ports: [{port: 465, tls: implicit}]\n")
	if err := s.Reload(); err != nil {
		t.Fatalf("Reload() of a fixed file = %v", err)
	}
	bc := []string{"b", "c", "default", "mx", "submission"}
	if got := moduleNames(s.Get()); !reflect.DeepEqual(got, bc) {
		t.Errorf("modules after fix = %v, want %v", got, bc)
	}
	assertReloadGauge(t, reg, 1)

	// The file going away is a failed reload too.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil {
		t.Error("Reload() of a missing file succeeded")
	}
	if got := moduleNames(s.Get()); !reflect.DeepEqual(got, bc) {
		t.Errorf("modules after missing file = %v, want %v", got, bc)
	}
	assertReloadGauge(t, reg, 0)
}

func TestSafeConfigEmbeddedDefault(t *testing.T) {
	s := NewSafeConfig("", prometheus.NewRegistry())
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := moduleNames(s.Get()); !reflect.DeepEqual(got, []string{"default", "mx", "submission"}) {
		t.Errorf("modules = %v", got)
	}
}

// TestSafeConfigConcurrent is for the race detector: readers never see a torn
// or nil config while reloads run.
func TestSafeConfigConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smtp.yml")
	writeFile(t, path, "modules:\n  a:\n    ports: [{port: 25, tls: starttls}]\n")
	s := NewSafeConfig(path, prometheus.NewRegistry())
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				if c := s.Get(); c == nil || c.Modules["a"] == nil {
					t.Error("Get() returned an incomplete config")
					return
				}
			}
		})
	}
	for range 20 {
		if err := s.Reload(); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}

func assertReloadGauge(t *testing.T, reg *prometheus.Registry, want int) {
	t.Helper()
	expected := "# HELP smtp_exporter_config_last_reload_successful Whether the last configuration load or reload succeeded (1) or failed (0).\n" +
		"# TYPE smtp_exporter_config_last_reload_successful gauge\n" +
		"smtp_exporter_config_last_reload_successful " + strconv.Itoa(want) + "\n"
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expected), "smtp_exporter_config_last_reload_successful"); err != nil {
		t.Error(err)
	}
}

// parseAllowed returns a config whose allowed_targets are entries.
func parseAllowed(t *testing.T, entries ...string) *Config {
	t.Helper()
	yml := "modules:\n  m:\n    ports: [{port: 25, tls: starttls}]\nallowed_targets:\n"
	for _, e := range entries {
		yml += "  - '" + e + "'\n"
	}
	if len(entries) == 0 {
		yml += "  []\n"
	}
	c, err := Parse([]byte(yml), ".")
	if err != nil {
		t.Fatalf("Parse(%v) = %v", entries, err)
	}
	return c
}

func moduleNames(c *Config) []string {
	var names []string
	for name := range c.Modules {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }
