package certtest

import (
	"crypto/tls"
	"testing"
)

// Handshake runs a TLS handshake on 127.0.0.1 between a server with config
// server and a client with config client, and returns the client's
// connection state. The server's side ends when the client closes.
func Handshake(t testing.TB, server, client *tls.Config) tls.ConnectionState {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatalf("certtest: listen: %v", err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.(*tls.Conn).Handshake()
		conn.Read(make([]byte, 1))
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), client)
	if err != nil {
		t.Fatalf("certtest: handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState()
}
