package probe

import (
	"crypto/x509"
	"errors"

	"github.com/smtp-exporter/smtp_exporter/config"
)

// failureHint says how to fix a failure that comes from the module's
// configuration rather than from the server, or "" when err is not one.
// A chain that leads to no trusted root is usually a private CA that the
// module does not name.
func failureHint(err error, m *config.Module, port int) string {
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		return ""
	}
	if file := caFileFor(m, port); file != "" {
		return "the chain does not lead to the CA in tls_config.ca_file (" + file +
			"): set ca_file to a PEM file holding the certificate of the CA that issued the server's certificate"
	}
	return "the chain does not lead to a root in the system's CA bundle: if the server's certificate comes from a private CA, " +
		"set tls_config.ca_file in the module (or in the port's own tls_config) to a PEM file holding that CA's certificate"
}

// caFileFor is the ca_file that applies on port: the port's own
// tls_config when it has one, else the module's.
func caFileFor(m *config.Module, port int) string {
	for _, p := range m.Ports {
		if p.Port == port && p.TLSConfig != nil {
			return p.TLSConfig.CAFile
		}
	}
	return m.TLSConfig.CAFile
}
