package limits

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Connections bounds an http.Server's connections through its ConnState
// hook, whatever listeners serve it: past the bound, the connection that
// has idled longest is closed to make room, and when none idles the new
// one is closed. Idle keep-alive connections thus cannot lock scrapers
// out, and the server never holds more descriptors than its share.
type Connections struct {
	max     int
	onEvict func(reason string)

	mu    sync.Mutex
	conns map[net.Conn]time.Time // zero time: active or new; else idle since
}

// NewConnections bounds a server at max connections; onEvict, if not nil,
// is told of each connection closed, with reason "idle" or "refused".
func NewConnections(max int, onEvict func(reason string)) *Connections {
	if onEvict == nil {
		onEvict = func(string) {}
	}
	return &Connections{max: max, onEvict: onEvict, conns: map[net.Conn]time.Time{}}
}

// ConnState is the http.Server hook.
func (c *Connections) ConnState(conn net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		c.admit(conn)
	case http.StateActive:
		c.set(conn, time.Time{})
	case http.StateIdle:
		c.set(conn, time.Now())
	case http.StateClosed, http.StateHijacked:
		c.mu.Lock()
		delete(c.conns, conn)
		c.mu.Unlock()
	}
}

// Open returns how many connections the server holds.
func (c *Connections) Open() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.conns)
}

func (c *Connections) set(conn net.Conn, idleSince time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.conns[conn]; ok {
		c.conns[conn] = idleSince
	}
}

// admit takes conn in, closing the longest-idle connection when the server
// is full, or conn itself when none idles.
func (c *Connections) admit(conn net.Conn) {
	c.mu.Lock()
	victim, reason := net.Conn(nil), ""
	if len(c.conns) >= c.max {
		victim, reason = c.longestIdle(), "idle"
		if victim == nil {
			victim, reason = conn, "refused"
		}
		delete(c.conns, victim)
	}
	if victim != conn {
		c.conns[conn] = time.Time{}
	}
	c.mu.Unlock()
	if victim != nil {
		victim.Close()
		c.onEvict(reason)
	}
}

// longestIdle returns the connection idle the longest, or nil. Called with
// mu held.
func (c *Connections) longestIdle() net.Conn {
	var oldest net.Conn
	var since time.Time
	for conn, t := range c.conns {
		if !t.IsZero() && (oldest == nil || t.Before(since)) {
			oldest, since = conn, t
		}
	}
	return oldest
}
