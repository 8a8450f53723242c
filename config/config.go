// Package config loads, validates and safely reloads the smtp_exporter
// configuration: the probe modules and the targets the exporter may probe.
package config

import (
	"bytes"
	"crypto/tls"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
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
	return m.Expect.merge(p.Expect).settings(p.TLS)
}

// merge returns e with every key that override sets replaced.
func (e Expect) merge(override Expect) Expect {
	if override.RequireTLS != nil {
		e.RequireTLS = override.RequireTLS
	}
	if override.VerifyCertificate != nil {
		e.VerifyCertificate = override.VerifyCertificate
	}
	if override.MinTLSVersion != nil {
		e.MinTLSVersion = override.MinTLSVersion
	}
	return e
}

// settings applies the defaults: require_tls only means something on a
// STARTTLS port, and certificates are verified by default where TLS is
// mandatory (implicit or required), not on opportunistic STARTTLS, where MTAs
// accept any certificate unless DANE or MTA-STS says otherwise.
func (e Expect) settings(mode TLSMode) Settings {
	s := Settings{TLS: mode}
	s.RequireTLS = mode == TLSStartTLS && e.RequireTLS != nil && *e.RequireTLS
	s.VerifyCertificate = mode == TLSImplicit || s.RequireTLS
	if e.VerifyCertificate != nil {
		s.VerifyCertificate = *e.VerifyCertificate
	}
	if e.MinTLSVersion != nil {
		s.MinTLSVersion = uint16(*e.MinTLSVersion)
	}
	return s
}

// UnmarshalYAML fills in the module defaults. It takes the unmarshal
// function rather than a yaml.Node: yaml.v3 keeps the decoder's strictness
// (unknown keys are errors, with their line) only for this form.
func (m *Module) UnmarshalYAML(unmarshal func(any) error) error {
	type plain Module
	*m = Module{Timeout: DefaultTimeout, IPProtocol: IPProtocolAuto}
	return unmarshal((*plain)(m))
}

func (m *Module) validate() error {
	if m.Timeout <= 0 {
		return fmt.Errorf("timeout must be positive, got %s", m.Timeout)
	}
	if strings.ContainsAny(m.EHLOHostname, " \t\r\n\x00") {
		return fmt.Errorf("ehlo_hostname %q must not contain spaces or control characters", m.EHLOHostname)
	}
	switch m.IPProtocol {
	case IPProtocolAuto, IPProtocol4, IPProtocol6:
	default:
		return fmt.Errorf("ip_protocol must be auto, ip4 or ip6, got %q", m.IPProtocol)
	}
	if m.TLSConfig.InsecureSkipVerify {
		return errors.New("tls_config.insecure_skip_verify is not supported: the probe always completes the handshake and reports verification on its own gauges; use expect.verify_certificate: false")
	}
	if len(m.Ports) == 0 {
		return errors.New("ports must list at least one port")
	}
	if len(m.Ports) > MaxPorts {
		return fmt.Errorf("ports lists %d ports, more than the %d a module may have", len(m.Ports), MaxPorts)
	}
	if err := m.validatePorts(); err != nil {
		return err
	}
	if err := m.Auth.validate(); err != nil {
		return err
	}
	return m.validateAllowed()
}

// validateAllowed parses the module's allowed_targets, which a module with
// auth must have: otherwise its credentials would go to whatever host a
// requester names.
func (m *Module) validateAllowed() error {
	allowed, err := parseAllowlist(m.AllowedTargets)
	if err != nil {
		return err
	}
	if m.Auth.Enabled() && allowed.empty() {
		return errors.New("auth needs the module's own allowed_targets, listing the servers the credentials are for: without it they would go to any target a requester names")
	}
	m.allowed = allowed
	return nil
}

func (m *Module) validatePorts() error {
	seen := map[int]bool{}
	for _, p := range m.Ports {
		if err := p.validate(); err != nil {
			return err
		}
		if seen[p.Port] {
			return fmt.Errorf("port %d is listed twice", p.Port)
		}
		seen[p.Port] = true
		effective := m.Expect.merge(p.Expect)
		if p.TLS != TLSStartTLS && effective.RequireTLS != nil && *effective.RequireTLS {
			return fmt.Errorf("port %d: require_tls applies to starttls ports only, not %s", p.Port, p.TLS)
		}
		if p.TLS == TLSNone && m.Auth.Enabled() && !m.Auth.InsecureAuth {
			return fmt.Errorf("port %d: auth on a port without TLS sends the password in cleartext; set auth.insecure_auth: true to allow it", p.Port)
		}
	}
	return nil
}

// validate checks a port entry on its own.
func (p Port) validate() error {
	if p.Port < 1 || p.Port > 65535 {
		return fmt.Errorf("port must be between 1 and 65535, got %d", p.Port)
	}
	switch p.TLS {
	case TLSStartTLS, TLSImplicit, TLSNone:
		return nil
	case "":
		return fmt.Errorf("port %d: tls must be set to starttls, implicit or none", p.Port)
	}
	return fmt.Errorf("port %d: tls must be starttls, implicit or none, got %q", p.Port, p.TLS)
}

func (a *Auth) validate() error {
	if !a.Enabled() {
		if a.PasswordFile != "" || a.Mechanism != "" {
			return errors.New("auth.username is required when auth is configured")
		}
		return nil
	}
	if a.Mechanism == "" {
		a.Mechanism = MechanismPlain
	}
	a.Mechanism = strings.ToUpper(a.Mechanism)
	if a.Mechanism != MechanismPlain && a.Mechanism != MechanismLogin {
		return fmt.Errorf("auth.mechanism must be PLAIN or LOGIN, got %q", a.Mechanism)
	}
	if a.PasswordFile == "" {
		return errors.New("auth.password_file is required with auth.username")
	}
	return nil
}

// loadSecrets makes relative paths relative to dir and reads password files,
// so that a missing file is a config error rather than a failed probe.
func (c *Config) loadSecrets(dir string) error {
	for name, m := range c.Modules {
		m.TLSConfig.SetDirectory(dir)
		base, err := promconfig.NewTLSConfig(&m.TLSConfig)
		if err != nil {
			return fmt.Errorf("module %q: tls_config: %w", name, err)
		}
		m.tlsBase = base
		if !m.Auth.Enabled() {
			continue
		}
		m.Auth.PasswordFile = promconfig.JoinDir(dir, m.Auth.PasswordFile)
		pw, err := os.ReadFile(m.Auth.PasswordFile)
		if err != nil {
			return fmt.Errorf("module %q: auth.password_file: %w", name, err)
		}
		m.Auth.password = promconfig.Secret(strings.TrimRight(string(pw), "\r\n"))
	}
	return nil
}

var (
	yamlFieldError = regexp.MustCompile(`field (\S+) not found in type \S+`)
	yamlTypeError  = regexp.MustCompile("cannot unmarshal !!(\\w+) (`[^`]*` )?into (\\S+)")
)

// yamlKinds and goKinds name YAML node tags and Go types in words, so that
// type errors do not leak Go type names such as config.plain.
var (
	yamlKinds = map[string]string{
		"str": "a string", "int": "a number", "float": "a number", "bool": "a boolean",
		"seq": "a list", "map": "a mapping", "null": "nothing", "binary": "binary data",
	}
	goKinds = map[string]string{
		"int": "a number", "bool": "true or false", "string": "a string",
		"time.Duration": "a duration such as 10s", "config.TLSMode": "a string",
		"config.Secret": "a string", "config.TLSVersion": "a TLS version such as TLS12",
	}
)

// describeTypeError turns yaml.v3's "cannot unmarshal !!str `x` into int"
// into "expected a number, got a string `x`".
func describeTypeError(msg string) string {
	m := yamlTypeError.FindStringSubmatch(msg)
	got, ok := yamlKinds[m[1]]
	if !ok {
		got = "!!" + m[1]
	}
	want, ok := goKinds[m[3]]
	switch {
	case ok:
	case strings.HasPrefix(m[3], "[]"):
		want = "a list"
	default: // maps and the config structs
		want = "a mapping"
	}
	return strings.TrimSpace(fmt.Sprintf("expected %s, got %s %s", want, got, m[2]))
}

// Parse decodes a configuration strictly: unknown keys are errors.
// Relative file paths are taken relative to dir.
func Parse(data []byte, dir string) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	c := &Config{}
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) { // EOF: an empty file
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
		msg = yamlFieldError.ReplaceAllString(msg, "unknown field $1")
		msg = yamlTypeError.ReplaceAllStringFunc(msg, describeTypeError)
		// An anchor's errors repeat at each alias: say each line once.
		return nil, errors.New(strings.Join(slices.Compact(strings.Split(strings.TrimSpace(msg), "\n  ")), "; "))
	}
	if len(c.Modules) == 0 {
		return nil, errors.New("no modules defined")
	}
	for _, name := range slices.Sorted(maps.Keys(c.Modules)) {
		m := c.Modules[name]
		if m == nil {
			return nil, fmt.Errorf("module %q is empty", name)
		}
		if err := m.validate(); err != nil {
			return nil, fmt.Errorf("module %q: %w", name, err)
		}
	}
	allowed, err := parseAllowlist(c.AllowedTargets)
	if err != nil {
		return nil, err
	}
	c.allowed = allowed
	if err := c.loadSecrets(dir); err != nil {
		return nil, err
	}
	return c, nil
}

// Load reads the configuration at path, or the embedded default when path is
// empty. Errors name the file.
func Load(path string) (*Config, error) {
	if path == "" {
		c, err := Parse(defaultYAML, ".")
		if err != nil {
			return nil, fmt.Errorf("embedded default config: %w", err)
		}
		return c, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	c, err := Parse(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
