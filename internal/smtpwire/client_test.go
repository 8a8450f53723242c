package smtpwire

import (
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// heard records what a Client tells its Recorder.
type heard struct {
	sent     []string
	received []Reply
}

func (h *heard) Sent(line string) { h.sent = append(h.sent, line) }
func (h *heard) Received(r Reply) { h.received = append(h.received, r) }

// serve plays the server side on conn: for each line the client sends it
// answers with the next reply of replies, and returns what it read.
func serve(t *testing.T, conn net.Conn, replies ...string) <-chan []string {
	t.Helper()
	out := make(chan []string, 1)
	go func() {
		defer conn.Close()
		var lines []string
		buf := make([]byte, 4096)
		for _, reply := range replies {
			n, err := conn.Read(buf)
			if err != nil {
				break
			}
			lines = append(lines, strings.TrimSuffix(string(buf[:n]), "\r\n"))
			conn.Write([]byte(reply))
		}
		out <- lines
	}()
	return out
}

func newPipeClient(t *testing.T, rec Recorder) (*Client, net.Conn) {
	t.Helper()
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close() })
	client.SetDeadline(time.Now().Add(5 * time.Second))
	return NewClient(client, rec), server
}

// TestClientMasksCredentials: the wire carries the credentials, the
// recorder and errors never do.
func TestClientMasksCredentials(t *testing.T) {
	rec := &heard{}
	c, server := newPipeClient(t, rec)
	wire := serve(t, server, "334 VXNlcm5hbWU6\r\n", "334 UGFzc3dvcmQ6\r\n", "535 5.7.8 no\r\n")
	err := c.AuthLogin("alice", "s3cret")
	var replyErr *ReplyError
	if !errors.As(err, &replyErr) || replyErr.Reply.Code != 535 || replyErr.Command != "<password hidden>" {
		t.Fatalf("AuthLogin error = %v, want a 535 ReplyError for the hidden password", err)
	}
	if got := <-wire; !slices.Equal(got, []string{"AUTH LOGIN", "YWxpY2U=", "czNjcmV0"}) {
		t.Errorf("wire carried %q", got)
	}
	if want := []string{"AUTH LOGIN", "<username hidden>", "<password hidden>"}; !slices.Equal(rec.sent, want) {
		t.Errorf("recorder heard %q, want %q", rec.sent, want)
	}
	if len(rec.received) != 3 || c.LastCode() != 535 {
		t.Errorf("recorder got %d replies, last code %d; want 3 and 535", len(rec.received), c.LastCode())
	}
}

// TestClientStartTLSRefusesInjectedBytes: bytes that arrive with the 220
// to STARTTLS are a protocol error, never left for TLS.
func TestClientStartTLSRefusesInjectedBytes(t *testing.T) {
	for _, tc := range []struct {
		reply    string
		wantProt bool
	}{
		{"220 2.0.0 go ahead\r\n", false},
		{"220 2.0.0 go ahead\r\n250 injected\r\n", true},
	} {
		c, server := newPipeClient(t, &heard{})
		serve(t, server, tc.reply)
		err := c.StartTLS()
		var protoErr *ProtocolError
		if got := errors.As(err, &protoErr); got != tc.wantProt {
			t.Errorf("reply %q: StartTLS error %v, want protocol error %t", tc.reply, err, tc.wantProt)
		}
	}
}

// TestClientQuitIsNotTheLastCode: the 221 to QUIT is recorded, but the
// status code stays the last reply before it.
func TestClientQuitIsNotTheLastCode(t *testing.T) {
	rec := &heard{}
	c, server := newPipeClient(t, rec)
	serve(t, server, "250 ok\r\n", "221 bye\r\n")
	if _, err := c.Expect("NOOP", "", 250); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if c.LastCode() != 250 || len(rec.received) != 2 || rec.received[1].Code != 221 {
		t.Errorf("last code %d, replies %+v; want 250 and the 221 recorded", c.LastCode(), rec.received)
	}
}
