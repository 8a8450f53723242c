package config

import (
	"errors"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSchemaDefaults(t *testing.T) {
	c, err := Parse([]byte("modules:\n  m:\n    ports: [{port: 25, tls: starttls}]\n"), ".")
	if err != nil {
		t.Fatal(err)
	}
	m := c.Modules["m"]
	if m.Targets != TargetsHost || m.Addresses != AddressesFirst || m.HostLimit() != DefaultMaxHosts || m.AddressLimit() != DefaultMaxAddresses {
		t.Errorf("targets %q, addresses %q, host limit %d, address limit %d; want host, first, 10, 4",
			m.Targets, m.Addresses, m.HostLimit(), m.AddressLimit())
	}
	if m.DNS != (DNS{}) || m.ReverseDNS || m.DANE || m.MTASTS || m.TLSRPT || m.ShareWindow != 0 {
		t.Errorf("module = %+v, want every DNS, DANE, MTA-STS and sharing key off", m)
	}
	if ap, ok := m.DNS.ServerAddr(); ok {
		t.Errorf("ServerAddr() = %v, true; want false without dns.server", ap)
	}
	if got := m.EndpointSettings(25); got != (Settings{TLS: TLSStartTLS, clientTLS: m.tlsBase}) {
		t.Errorf("EndpointSettings(25) = %+v, want STARTTLS and nothing else", got)
	}
}

func TestSchemaFull(t *testing.T) {
	c, err := Load("testdata/valid-full.yml")
	if err != nil {
		t.Fatal(err)
	}
	m := c.Modules["domains"]
	if m.Targets != TargetsMX || m.HostLimit() != 3 || m.Addresses != AddressesAll || m.AddressLimit() != 2 {
		t.Errorf("targets %q, host limit %d, addresses %q, address limit %d; want mx, 3, all, 2",
			m.Targets, m.HostLimit(), m.Addresses, m.AddressLimit())
	}
	if !m.ReverseDNS || !m.DANE || !m.MTASTS || !m.TLSRPT || !m.DNS.DNSSEC || m.ShareWindow != 30*time.Second {
		t.Errorf("module = %+v, want reverse_dns, dane, mta_sts, tlsrpt, dnssec on and a 30s window", m)
	}
	if ap, ok := m.DNS.ServerAddr(); !ok || ap != netip.MustParseAddrPort("[2001:db8::53]:5353") {
		t.Errorf("ServerAddr() = %v, %t; want [2001:db8::53]:5353", ap, ok)
	}
	// Port 25 turns the matches off and requires MTA-STS; the module
	// requires DANE and a staple everywhere.
	want25 := Settings{TLS: TLSStartTLS, RequireDANE: true, RequireMTASTS: true, RequireOCSPStaple: true, clientTLS: m.tlsBase}
	if got := m.EndpointSettings(25); got != want25 {
		t.Errorf("EndpointSettings(25) = %+v, want %+v", got, want25)
	}
	got465 := m.EndpointSettings(465)
	want465 := Settings{TLS: TLSImplicit, VerifyCertificate: true, DANEMatch: true, RequireDANE: true, MTASTSMatch: true,
		RequireOCSPStaple: true, ServerName: "smtps.example.com", clientTLS: m.Ports[1].tlsBase}
	if got465 != want465 {
		t.Errorf("EndpointSettings(465) = %+v, want %+v", got465, want465)
	}
	// tls_config on the port replaces the module's (which has none).
	if tc := got465.ClientTLSConfig(); tc.RootCAs == nil || tc.ServerName != "smtps.example.com" || tc == m.ClientTLSConfig() {
		t.Errorf("port 465's TLS config: roots %t, server name %q; want the port's CA and name", tc.RootCAs != nil, tc.ServerName)
	}
	if got := m.EndpointSettings(25).ClientTLSConfig(); got != m.ClientTLSConfig() {
		t.Error("port 25 has no tls_config of its own, so it must use the module's")
	}
}

func TestParseDNSServer(t *testing.T) {
	tests := []struct {
		in, want string // want "" for an error
	}{
		{"192.0.2.53", "192.0.2.53:53"},
		{"192.0.2.53:5353", "192.0.2.53:5353"},
		{"2001:db8::53", "[2001:db8::53]:53"},
		{"[2001:db8::53]", "[2001:db8::53]:53"},
		{"[2001:db8::53]:5353", "[2001:db8::53]:5353"},
		{"[::ffff:192.0.2.53]:53", "192.0.2.53:53"},
		{"127.0.53.1:10054", "127.0.53.1:10054"},
		{"resolver.example.net", ""},
		{"resolver.example.net:53", ""},
		{"192.0.2.53:0", ""},
		{"192.0.2.53:65536", ""},
		{"192.0.2.256", ""},
		{"fe80::1%eth0", ""},
	}
	for _, tt := range tests {
		ap, err := parseDNSServer(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("parseDNSServer(%q) = %v, want an error", tt.in, ap)
		case tt.want != "" && (err != nil || ap.String() != tt.want):
			t.Errorf("parseDNSServer(%q) = %v, %v; want %s", tt.in, ap, err, tt.want)
		}
	}
}

// TestShippedModules: the shipped modules stay in force beside a file's
// own unless the file defines a module of the same name, which wins.
func TestShippedModules(t *testing.T) {
	dir := t.TempDir()
	own := filepath.Join(dir, "own.yml")
	writeFile(t, own, "modules:\n  lab:\n    ports: [{port: 2525, tls: none}]\n")
	redefined := filepath.Join(dir, "redefined.yml")
	writeFile(t, redefined, "modules:\n  default:\n    ports: [{port: 2525, tls: none}]\n")

	c, err := Load(own)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ModuleNames(); !reflect.DeepEqual(got, []string{"default", "lab", "mx", "submission"}) {
		t.Errorf("ModuleNames() = %v", got)
	}
	if !c.Shipped("default") || c.Shipped("lab") || len(c.Modules["default"].Ports) != 3 {
		t.Errorf("default shipped %t with %d ports, lab shipped %t; want the shipped default (3 ports) and lab from the file",
			c.Shipped("default"), len(c.Modules["default"].Ports), c.Shipped("lab"))
	}

	c, err = Load(redefined)
	if err != nil {
		t.Fatal(err)
	}
	if def := c.Modules["default"]; c.Shipped("default") || len(def.Ports) != 1 || def.Ports[0].Port != 2525 {
		t.Errorf("default = %+v (shipped %t), want the file's, port 2525 only", def.Ports, c.Shipped("default"))
	}
	if !c.Shipped("mx") || !c.Shipped("submission") {
		t.Error("mx and submission must stay when the file redefines only default")
	}

	c, err = Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range c.ModuleNames() {
		if !c.Shipped(name) {
			t.Errorf("embedded default: module %q not marked shipped", name)
		}
	}
}

// TestErrorListIsTyped: every problem is an *Error callers can inspect,
// and a file's problems all come back, in line order.
func TestErrorListIsTyped(t *testing.T) {
	_, err := Load("testdata/invalid-many.yml")
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 8 {
		t.Fatalf("Load() = %v, want an ErrorList of 8 problems", err)
	}
	var first *Error
	if !errors.As(err, &first) || first.File != "testdata/invalid-many.yml" || first.Line != 4 || first.Module != "first" {
		t.Errorf("first problem = %+v, want line 4 of module first in testdata/invalid-many.yml", first)
	}
	for i := 1; i < len(list); i++ {
		if list[i].Line < list[i-1].Line {
			t.Errorf("problem %d (line %d) after line %d", i, list[i].Line, list[i-1].Line)
		}
	}
	if got := strings.Count(err.Error(), "\n") + 1; got != len(list) {
		t.Errorf("Error() has %d lines for %d problems", got, len(list))
	}
}

// TestParseKeepsGoingPastABadTLSVersion: a misspelt version stops yaml's
// decoder; it is reported and the rest of the file is still checked.
func TestParseKeepsGoingPastABadTLSVersion(t *testing.T) {
	yml := "modules:\n  m:\n    tls_config: {min_version: TLS1.2}\n    ip_protocol: ipv4\n    ports: [{port: 25, tls: starttls}]\n"
	_, err := Parse([]byte(yml), ".")
	want := "line 3: module \"m\": min_version: \"TLS1.2\" is not a TLS version; the versions are TLS10, TLS11, TLS12, TLS13\n" +
		"line 4: module \"m\": ip_protocol must be auto, ip4 or ip6, got \"ipv4\""
	if err == nil || err.Error() != want {
		t.Errorf("Parse() error =\n%v\nwant\n%s", err, want)
	}
}
