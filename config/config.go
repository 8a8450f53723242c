// Package config loads, validates and safely reloads the smtp_exporter
// configuration: the probe modules and the targets the exporter may probe.
package config

import (
	"crypto/tls"
	_ "embed"
	"errors"
	"fmt"

	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	promconfig "github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"
)

//go:embed default.yml
var defaultYAML []byte

// TLSMode says how a port gets to TLS.
type TLSMode string

// The TLS modes of a port.
const (
	// TLSStartTLS upgrades with STARTTLS when the server advertises it.
	TLSStartTLS TLSMode = "starttls"
	// TLSImplicit starts TLS before the greeting (port 465).
	TLSImplicit TLSMode = "implicit"
	// TLSNone never upgrades.
	TLSNone TLSMode = "none"
)

// IP protocol choices of a module.
const (
	IPProtocolAuto = "auto"
	IPProtocol4    = "ip4"
	IPProtocol6    = "ip6"
)

// Auth mechanisms the prober speaks.
const (
	MechanismPlain = "PLAIN"
	MechanismLogin = "LOGIN"
)

// DefaultTimeout is a module's probe timeout when the file gives none.
const DefaultTimeout = 10 * time.Second

// Config is the whole configuration file.
type Config struct {
	// Modules maps module names to their settings.
	Modules map[string]*Module `yaml:"modules"`
	// AllowedTargets lists the CIDR ranges and domain patterns that may be
	// probed; empty allows any target.
	AllowedTargets []string `yaml:"allowed_targets,omitempty"`

	allowed allowlist
	shipped []string // the embedded default's modules the file left in force
}

// Module is one way of probing a target: which ports, how, and what to expect.
type Module struct {
	// Timeout caps the whole probe.
	Timeout time.Duration `yaml:"timeout"`
	// EHLOHostname is the name sent with EHLO; empty derives one.
	EHLOHostname string `yaml:"ehlo_hostname,omitempty"`
	// IPProtocol is auto, ip4 or ip6.
	IPProtocol string `yaml:"ip_protocol"`
	// Ports are probed concurrently when the target names no port.
	Ports []Port `yaml:"ports"`
	// TLSConfig holds CA, client certificate, server name and versions.
	TLSConfig promconfig.TLSConfig `yaml:"tls_config,omitempty"`
	// Expect holds the module-wide expectations.
	Expect Expect `yaml:"expect,omitempty"`
	// Auth, when it has a username, makes the probe authenticate.
	Auth Auth `yaml:"auth,omitempty"`
	// AllowedTargets narrows the global allowed_targets for this module; a
	// target must pass both. Mandatory with Auth: credentials go only to
	// the servers their owner listed.
	AllowedTargets []string `yaml:"allowed_targets,omitempty"`
	// Targets says what a target names: a host (TargetsHost) or a mail
	// domain whose MX hosts are probed (TargetsMX).
	Targets TargetKind `yaml:"targets"`
	// MaxHosts caps the MX hosts probed (targets: mx only); see HostLimit.
	MaxHosts *int `yaml:"max_hosts,omitempty"`
	// Addresses says which addresses of a host are dialled: the first
	// (AddressesFirst) or every one (AddressesAll).
	Addresses AddressMode `yaml:"addresses"`
	// MaxAddresses caps the addresses probed per family (addresses: all
	// only); see AddressLimit.
	MaxAddresses *int `yaml:"max_addresses,omitempty"`
	// DNS chooses the module's resolver and whether it trusts DNSSEC.
	DNS DNS `yaml:"dns,omitempty"`
	// ReverseDNS checks the dialled address's PTR name and the greeting.
	ReverseDNS bool `yaml:"reverse_dns,omitempty"`
	// DANE looks up and checks TLSA records; needs DNS.DNSSEC.
	DANE bool `yaml:"dane,omitempty"`
	// MTASTS fetches and checks the domain's MTA-STS policy (targets: mx).
	MTASTS bool `yaml:"mta_sts,omitempty"`
	// TLSRPT reads the domain's TLS-RPT record (targets: mx).
	TLSRPT bool `yaml:"tlsrpt,omitempty"`
	// ShareWindow lets probes of the same target and module that start
	// within it share one probe; 0 turns sharing off.
	ShareWindow time.Duration `yaml:"share_window,omitempty"`

	tlsBase *tls.Config
	allowed allowlist
}

// MaxPorts is the most ports a module may list.
const MaxPorts = 32

// ClientTLSConfig returns the tls.Config built from tls_config when the
// configuration loaded; callers must clone it before changing it.
func (m *Module) ClientTLSConfig() *tls.Config {
	if m.tlsBase == nil {
		return &tls.Config{}
	}
	return m.tlsBase
}

// Port is one SMTP port of a module.
type Port struct {
	// Port is the TCP port number.
	Port int `yaml:"port"`
	// TLS is the port's TLS mode.
	TLS TLSMode `yaml:"tls"`
	// Expect overrides the module's expectations key by key.
	Expect Expect `yaml:"expect,omitempty"`
	// TLSConfig, when set, replaces the module's tls_config on this port.
	TLSConfig *promconfig.TLSConfig `yaml:"tls_config,omitempty"`

	tlsBase *tls.Config
}

// Expect is a set of expectations; a nil field is unset.
type Expect struct {
	// RequireTLS fails a STARTTLS port whose session did not run under TLS.
	RequireTLS *bool `yaml:"require_tls,omitempty"`
	// VerifyCertificate fails a TLS session whose certificate does not
	// verify, match the host name, or has expired.
	VerifyCertificate *bool `yaml:"verify_certificate,omitempty"`
	// MinTLSVersion fails a TLS session older than this version.
	MinTLSVersion *promconfig.TLSVersion `yaml:"min_tls_version,omitempty"`
	// DANEMatch fails an endpoint with usable TLSA records none of which
	// matches the served chain (default true with dane).
	DANEMatch *bool `yaml:"dane_match,omitempty"`
	// RequireDANE fails an endpoint without usable TLSA records.
	RequireDANE *bool `yaml:"require_dane,omitempty"`
	// MTASTSMatch fails, under an enforced MTA-STS policy, an endpoint that
	// does not meet it (default true with mta_sts).
	MTASTSMatch *bool `yaml:"mta_sts_match,omitempty"`
	// RequireMTASTS fails every endpoint when no MTA-STS policy is in force.
	RequireMTASTS *bool `yaml:"require_mta_sts,omitempty"`
	// RequireOCSPStaple fails a TLS session without a stapled OCSP response.
	RequireOCSPStaple *bool `yaml:"require_ocsp_staple,omitempty"`
}

// Auth holds credentials for SMTP AUTH.
type Auth struct {
	// Username to authenticate as; empty disables AUTH.
	Username string `yaml:"username,omitempty"`
	// PasswordFile holds the password; read when the config loads.
	PasswordFile string `yaml:"password_file,omitempty"`
	// Mechanism is PLAIN or LOGIN.
	Mechanism string `yaml:"mechanism,omitempty"`
	// InsecureAuth allows sending credentials without TLS.
	InsecureAuth bool `yaml:"insecure_auth,omitempty"`

	password promconfig.Secret
}

// Enabled reports whether the module authenticates.
func (a Auth) Enabled() bool { return a.Username != "" }

// Password returns the password read from PasswordFile.
func (a Auth) Password() string { return string(a.password) }

// Settings are the effective expectations of one endpoint.
type Settings struct {
	// TLS is the endpoint's mode.
	TLS TLSMode
	// RequireTLS: a STARTTLS port must end up under TLS.
	RequireTLS bool
	// VerifyCertificate: chain, name and expiry must check out.
	VerifyCertificate bool
	// MinTLSVersion is the lowest acceptable version; 0 for none.
	MinTLSVersion uint16
	// DANEMatch: usable TLSA records must match the served chain.
	DANEMatch bool
	// RequireDANE: the endpoint must have usable TLSA records.
	RequireDANE bool
	// MTASTSMatch: under an enforced MTA-STS policy the endpoint must meet it.
	MTASTSMatch bool
	// RequireMTASTS: an MTA-STS policy must be in force.
	RequireMTASTS bool
	// RequireOCSPStaple: the server must staple an OCSP response.
	RequireOCSPStaple bool
	// ServerName is the name certificates are checked against; empty: the
	// endpoint's host.
	ServerName string

	clientTLS *tls.Config
}

// ClientTLSConfig returns the tls.Config of the endpoint's tls_config (the
// port's own, else the module's); callers must clone it before changing it.
func (s Settings) ClientTLSConfig() *tls.Config {
	if s.clientTLS == nil {
		return &tls.Config{}
	}
	return s.clientTLS
}

// EndpointSettings returns the settings for port: the module's own entry when
// it lists the port, otherwise implicit TLS for 465 and STARTTLS for any other
// port, each with the module-wide expectations.
func (m *Module) EndpointSettings(port int) Settings {
	p := Port{Port: port, TLS: TLSStartTLS}
	if port == 465 {
		p.TLS = TLSImplicit
	}
	for _, listed := range m.Ports {
		if listed.Port == port {
			p = listed
		}
	}
	s := m.Expect.merge(p.Expect).settings(p.TLS, m)
	s.ServerName, s.clientTLS = m.TLSConfig.ServerName, m.tlsBase
	if p.TLSConfig != nil {
		s.ServerName, s.clientTLS = p.TLSConfig.ServerName, p.tlsBase
	}
	return s
}

// override returns override when it is set, else base.
func override[T any](base, override *T) *T {
	if override != nil {
		return override
	}
	return base
}

// merge returns e with every key that o sets replaced.
func (e Expect) merge(o Expect) Expect {
	return Expect{
		RequireTLS:        override(e.RequireTLS, o.RequireTLS),
		VerifyCertificate: override(e.VerifyCertificate, o.VerifyCertificate),
		MinTLSVersion:     override(e.MinTLSVersion, o.MinTLSVersion),
		DANEMatch:         override(e.DANEMatch, o.DANEMatch),
		RequireDANE:       override(e.RequireDANE, o.RequireDANE),
		MTASTSMatch:       override(e.MTASTSMatch, o.MTASTSMatch),
		RequireMTASTS:     override(e.RequireMTASTS, o.RequireMTASTS),
		RequireOCSPStaple: override(e.RequireOCSPStaple, o.RequireOCSPStaple),
	}
}

// valueOr is *b, or def when b is unset.
func valueOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// settings applies the defaults: require_tls only means something on a
// STARTTLS port, and certificates are verified by default where TLS is
// mandatory (implicit or required), not on opportunistic STARTTLS, where MTAs
// accept any certificate unless DANE or MTA-STS says otherwise. DANE and
// MTA-STS matching default to on where the module looks them up.
func (e Expect) settings(mode TLSMode, m *Module) Settings {
	s := Settings{TLS: mode}
	s.RequireTLS = mode == TLSStartTLS && valueOr(e.RequireTLS, false)
	s.VerifyCertificate = valueOr(e.VerifyCertificate, mode == TLSImplicit || s.RequireTLS)
	if e.MinTLSVersion != nil {
		s.MinTLSVersion = uint16(*e.MinTLSVersion)
	}
	s.DANEMatch = m.DANE && valueOr(e.DANEMatch, true)
	s.RequireDANE = m.DANE && valueOr(e.RequireDANE, false)
	s.MTASTSMatch = m.MTASTS && valueOr(e.MTASTSMatch, true)
	s.RequireMTASTS = m.MTASTS && valueOr(e.RequireMTASTS, false)
	s.RequireOCSPStaple = valueOr(e.RequireOCSPStaple, false)
	return s
}

// UnmarshalYAML fills in the module defaults.
func (m *Module) UnmarshalYAML(unmarshal func(any) error) error {
	type plain Module
	*m = Module{Timeout: DefaultTimeout, IPProtocol: IPProtocolAuto, Targets: TargetsHost, Addresses: AddressesFirst}
	return unmarshal((*plain)(m))
}

// loadSecrets makes relative paths relative to dir, builds the TLS configs
// and reads the password file, so that a missing file is a config error
// rather than a failed probe.
func (m *Module) loadSecrets(dir string, at location) []problem {
	var probs []problem
	base, err := newTLSConfig(&m.TLSConfig, dir)
	if err != nil {
		probs = append(probs, at.key("tls_config").problem("tls_config: %v", err))
	}
	m.tlsBase = base
	for i := range m.Ports {
		p := &m.Ports[i]
		if p.TLSConfig == nil {
			continue
		}
		if p.tlsBase, err = newTLSConfig(p.TLSConfig, dir); err != nil {
			probs = append(probs, at.portEntry(i, p.Port).key("tls_config").problem("tls_config: %v", err))
		}
	}
	if !m.Auth.Enabled() || m.Auth.PasswordFile == "" {
		return probs
	}
	m.Auth.PasswordFile = promconfig.JoinDir(dir, m.Auth.PasswordFile)
	pw, err := os.ReadFile(m.Auth.PasswordFile)
	if err != nil {
		return append(probs, at.key("auth", "password_file").problem("auth.password_file: %v", err))
	}
	m.Auth.password = promconfig.Secret(strings.TrimRight(string(pw), "\r\n"))
	return probs
}

// newTLSConfig builds the tls.Config of c with relative paths taken from dir.
func newTLSConfig(c *promconfig.TLSConfig, dir string) (*tls.Config, error) {
	c.SetDirectory(dir)
	return promconfig.NewTLSConfig(c)
}

// Parse decodes and validates a configuration strictly: unknown keys are
// errors. Relative file paths are taken relative to dir. Its error is an
// ErrorList holding every problem found, each with its line.
func Parse(data []byte, dir string) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, ErrorList{syntaxError(err)}
	}
	doc := newDocument(&root)
	errs := doc.checkKeys(reflect.TypeFor[Config]())
	c := &Config{}
	if err := root.Decode(c); err != nil {
		errs = append(errs, decodeErrors(err)...)
	}
	errs = doc.attribute(errs)
	// The decoder leaves out a module with a type error: the others are
	// still checked.
	if len(errs) == 0 || len(c.Modules) > 0 {
		errs = append(errs, doc.locate(c.validate(dir))...)
	}
	if len(errs) > 0 {
		return nil, errs.sorted()
	}
	return c, nil
}

// validate checks every module, then the global allowed_targets.
func (c *Config) validate(dir string) []problem {
	if len(c.Modules) == 0 {
		return []problem{{msg: "no modules defined"}}
	}
	var probs []problem
	for _, name := range slices.Sorted(maps.Keys(c.Modules)) {
		at := location{module: name, keys: []string{"modules", name}}
		m := c.Modules[name]
		if m == nil {
			probs = append(probs, at.problem("the module is empty"))
			continue
		}
		probs = append(probs, m.validate(at)...)
		probs = append(probs, m.loadSecrets(dir, at)...)
	}
	allowed, allowedProbs := parseAllowlist(c.AllowedTargets, location{keys: []string{"allowed_targets"}})
	c.allowed = allowed
	return append(probs, allowedProbs...)
}

// Load reads the configuration at path, or the embedded default when path is
// empty. A file's modules come with the shipped ones (default, mx,
// submission) that it does not define itself. Errors name the file.
func Load(path string) (*Config, error) {
	shipped, err := Parse(defaultYAML, ".")
	if err != nil {
		return nil, fmt.Errorf("embedded default config: %w", err)
	}
	if path == "" {
		shipped.shipped = shipped.moduleNames()
		return shipped, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	c, err := Parse(data, filepath.Dir(path))
	var list ErrorList
	if errors.As(err, &list) {
		return nil, list.inFile(path)
	}
	if err != nil {
		return nil, err
	}
	c.addShipped(shipped)
	return c, nil
}

// addShipped adds the shipped modules the file does not define.
func (c *Config) addShipped(shipped *Config) {
	for name, m := range shipped.Modules {
		if _, defined := c.Modules[name]; !defined {
			c.Modules[name] = m
			c.shipped = append(c.shipped, name)
		}
	}
	slices.Sort(c.shipped)
}

// moduleNames returns the module names, sorted.
func (c *Config) moduleNames() []string { return slices.Sorted(maps.Keys(c.Modules)) }

// ModuleNames returns the names of every module in force, sorted.
func (c *Config) ModuleNames() []string { return c.moduleNames() }

// Shipped reports whether module name is one of the embedded default
// modules, in force because the file does not define a module of that name.
func (c *Config) Shipped(name string) bool { return slices.Contains(c.shipped, name) }
