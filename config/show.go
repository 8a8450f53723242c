package config

import (
	"bytes"

	"go.yaml.in/yaml/v3"
)

// Hidden replaces the usernames in MaskedYAML.
const Hidden = "<hidden>"

// MaskedYAML returns the configuration in force, shipped modules included,
// as YAML with the secrets masked: a password is never in it (password_file
// shows the file's path), inline TLS keys show as <secret>, and usernames
// as <hidden>, as the debug output hides them. It holds only keys Parse
// accepts, so it loads again.
func (c *Config) MaskedYAML() ([]byte, error) {
	shown := Config{AllowedTargets: c.AllowedTargets, Modules: make(map[string]*Module, len(c.Modules))}
	for name, m := range c.Modules {
		masked := *m
		if masked.Auth.Username != "" {
			masked.Auth.Username = Hidden
		}
		shown.Modules[name] = &masked
	}
	var doc yaml.Node
	if err := doc.Encode(shown); err != nil {
		return nil, err
	}
	dropRefusedKeys(&doc)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// MaskedModuleYAML returns a configuration holding module m alone, under
// name, masked as MaskedYAML masks the whole configuration.
func MaskedModuleYAML(name string, m *Module) ([]byte, error) {
	return (&Config{Modules: map[string]*Module{name: m}}).MaskedYAML()
}

// dropRefusedKeys removes from n the keys the configuration refuses but
// its Go types encode: tls_config's insecure_skip_verify, which
// prometheus/common always writes and validation rejects when true.
func dropRefusedKeys(n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k, v := n.Content[i], n.Content[i+1]; k.Value != "insecure_skip_verify" || v.Kind != yaml.ScalarNode {
				kept = append(kept, k, v)
			}
		}
		n.Content = kept
	}
	for _, child := range n.Content {
		dropRefusedKeys(child)
	}
}
