package plan

import (
	"net/netip"

	"github.com/smtp-exporter/smtp_exporter/config"
)

// OptionsFor returns the plan options of module m: every port it lists,
// or only port when the target names one (with the module's settings for
// it, or the defaults for an unlisted port). allowed admits an address of
// a host (nil admits every address).
func OptionsFor(m *config.Module, port int, allowed func(host string, addr netip.Addr) bool) Options {
	opts := Options{
		MX:           m.Targets == config.TargetsMX,
		MaxHosts:     m.HostLimit(),
		AllAddresses: m.Addresses == config.AddressesAll,
		MaxAddresses: m.AddressLimit(),
		IPProtocol:   m.IPProtocol,
		Allowed:      allowed,
	}
	if port != 0 {
		opts.Ports = []Port{{Port: port, Settings: m.EndpointSettings(port)}}
		return opts
	}
	for _, p := range m.Ports {
		opts.Ports = append(opts.Ports, Port{Port: p.Port, Settings: m.EndpointSettings(p.Port)})
	}
	return opts
}
