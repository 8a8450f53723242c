package smtpwire

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"time"
)

// Recorder hears what a Client says and reads: the transcript's hook.
// Lines that carry credentials reach it masked.
type Recorder interface {
	// Sent is told each command line as it may be shown.
	Sent(line string)
	// Received is told each complete reply.
	Received(r Reply)
}

// Client sends commands on one connection and reads the replies, one at a
// time (never pipelined). It owns the connection's buffered reader. It sets
// no deadlines of its own: the connection's deadline bounds every call.
type Client struct {
	conn     net.Conn
	r        *bufio.Reader
	rec      Recorder
	lastCode int
}

// NewClient returns a client speaking on conn, telling rec what it says
// and reads.
func NewClient(conn net.Conn, rec Recorder) *Client {
	return &Client{conn: conn, r: bufio.NewReaderSize(conn, BufferBytes), rec: rec}
}

// Conn returns the connection the client speaks on.
func (c *Client) Conn() net.Conn { return c.conn }

// LastCode returns the code of the last reply read, QUIT's excluded; 0
// before any.
func (c *Client) LastCode() int { return c.lastCode }

// Upgrade makes the client speak on conn, the TLS connection over the old
// one. The reader holds nothing of the old connection: StartTLS refused
// any byte after its 220.
func (c *Client) Upgrade(conn net.Conn) {
	c.conn = conn
	c.r.Reset(conn)
}

// Send writes one command line; shown replaces it for the recorder and in
// errors when it carries credentials.
func (c *Client) Send(line, shown string) error {
	c.rec.Sent(shown)
	if _, err := c.conn.Write([]byte(line + "\r\n")); err != nil {
		return fmt.Errorf("sending %s: %w", shown, err)
	}
	return nil
}

// Read reads one reply and remembers its code.
func (c *Client) Read() (Reply, error) {
	r, err := ReadReply(c.r)
	if err != nil {
		return r, err
	}
	c.rec.Received(r)
	c.lastCode = r.Code
	return r, nil
}

// Command sends a line and reads the reply to it; shown ("" for line
// itself) is what the recorder and errors see.
func (c *Client) Command(line, shown string) (Reply, error) {
	if shown == "" {
		shown = line
	}
	if err := c.Send(line, shown); err != nil {
		return Reply{}, err
	}
	r, err := c.Read()
	if err != nil {
		return r, fmt.Errorf("reading reply to %s: %w", verb(shown), err)
	}
	return r, nil
}

// Expect sends a command and wants the reply code want; another code is a
// *ReplyError.
func (c *Client) Expect(line, shown string, want int) (Reply, error) {
	r, err := c.Command(line, shown)
	if err == nil && r.Code != want {
		command := verb(line)
		if shown != "" {
			command = shown
		}
		return r, &ReplyError{Command: command, Reply: r}
	}
	return r, err
}

// StartTLS sends STARTTLS and wants a 220 with nothing after it: bytes that
// arrive with the 220 are a response injection (a *ProtocolError) and must
// never reach TLS.
func (c *Client) StartTLS() error {
	if _, err := c.Expect("STARTTLS", "", 220); err != nil {
		return err
	}
	if n := c.r.Buffered(); n > 0 {
		return protocolErrorf("%d bytes arrived after the 220 to STARTTLS, before the TLS handshake (response injection)", n)
	}
	return nil
}

// AuthPlain authenticates with SASL PLAIN in the initial response.
func (c *Client) AuthPlain(user, password string) error {
	resp := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	_, err := c.Expect("AUTH PLAIN "+resp, "AUTH PLAIN <credentials hidden>", 235)
	return err
}

// AuthLogin authenticates with SASL LOGIN: the user name and the password,
// each on its own line.
func (c *Client) AuthLogin(user, password string) error {
	if _, err := c.Expect("AUTH LOGIN", "", 334); err != nil {
		return err
	}
	if _, err := c.Expect(base64.StdEncoding.EncodeToString([]byte(user)), "<username hidden>", 334); err != nil {
		return err
	}
	_, err := c.Expect(base64.StdEncoding.EncodeToString([]byte(password)), "<password hidden>", 235)
	return err
}

// Quit says QUIT and reads the reply until deadline, without counting it
// as the last reply. The error tells why no reply came; a reply of any code
// is not one.
func (c *Client) Quit(deadline time.Time) error {
	if err := c.conn.SetReadDeadline(deadline); err != nil {
		return fmt.Errorf("setting the QUIT deadline: %w", err)
	}
	if err := c.Send("QUIT", "QUIT"); err != nil {
		return err
	}
	r, err := ReadReply(c.r)
	if err != nil {
		return fmt.Errorf("no reply to QUIT: %w", err)
	}
	c.rec.Received(r)
	return nil
}

// verb returns a command's first word, or the first two for AUTH.
func verb(line string) string {
	fields := strings.Fields(line)
	switch {
	case len(fields) == 0:
		return ""
	case len(fields) > 1 && strings.EqualFold(fields[0], "AUTH"):
		return fields[0] + " " + fields[1]
	}
	return fields[0]
}
