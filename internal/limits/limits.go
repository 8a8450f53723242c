// Package limits keeps the exporter inside its descriptor limit: it splits
// RLIMIT_NOFILE between the HTTP server's connections and the probes'
// sessions, admits sessions only while descriptors remain for them, and
// bounds the HTTP server's connections, evicting idle ones first.
package limits

import (
	"fmt"
)

// Reserve is the number of descriptors kept for the process itself: the
// listeners, the config and password files, logs, the runtime's own.
const Reserve = 64

// maxAutoConnections caps the HTTP connections chosen automatically.
const maxAutoConnections = 1024

// Budget is how the descriptor limit is shared.
type Budget struct {
	// Descriptors is the process's descriptor limit.
	Descriptors int
	// Connections is how many HTTP connections the server holds at most.
	Connections int
	// Sessions is how many probe sockets (SMTP sessions and DNS lookups)
	// may be open at once.
	Sessions int
}

// Split shares descriptors between HTTP connections and probe sessions.
// connections 0 picks a quarter of the descriptors, at most 1,024.
func Split(descriptors, connections int) (Budget, error) {
	if connections == 0 {
		connections = min(maxAutoConnections, max(descriptors/4, 1))
	}
	b := Budget{Descriptors: descriptors, Connections: connections}
	b.Sessions = descriptors - Reserve - connections
	if connections < 1 || b.Sessions < 1 {
		return b, fmt.Errorf("the descriptor limit %d leaves no room for %d HTTP connections, %d reserved descriptors and any probe session; raise the limit (ulimit -n) or lower --web.max-connections",
			descriptors, connections, Reserve)
	}
	return b, nil
}
