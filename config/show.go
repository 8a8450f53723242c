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
// as <hidden>, as the debug output hides them.
func (c *Config) MaskedYAML() ([]byte, error) {
	shown := Config{AllowedTargets: c.AllowedTargets, Modules: make(map[string]*Module, len(c.Modules))}
	for name, m := range c.Modules {
		masked := *m
		if masked.Auth.Username != "" {
			masked.Auth.Username = Hidden
		}
		shown.Modules[name] = &masked
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(shown); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}
