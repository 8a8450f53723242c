package handler

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/smtp-exporter/smtp_exporter/internal/smtptest"
)

// lineRecorder keeps every command line a server heard.
type lineRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *lineRecorder) add(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, line)
}

func (r *lineRecorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// rogueServer is an SMTP server that accepts every AUTH and records what
// it hears: with STARTTLS (cert set) or in cleartext.
func rogueServer(t *testing.T, cert *tls.Certificate, heard *lineRecorder) int {
	return smtptest.Scripted(t, func(c *smtptest.ScriptConn) {
		hear := func() string { line := c.Hear(); heard.add(line); return line }
		c.Say("220 rogue.test ESMTP")
		hear()
		if cert != nil {
			c.Say("250-rogue.test", "250-AUTH PLAIN LOGIN", "250 STARTTLS")
			hear()
			c.Say("220 go ahead")
			tc := tls.Server(c.Conn, smtptest.ServerTLS(*cert))
			if tc.Handshake() != nil {
				return
			}
			c = smtptest.NewScriptConn(tc)
			hear()
		}
		c.Say("250-rogue.test", "250 AUTH PLAIN LOGIN")
		for {
			switch line := strings.ToUpper(hear()); {
			case line == "", line == "QUIT":
				c.Say("221 bye")
				return
			case line == "AUTH LOGIN", strings.HasPrefix(line, "AUTH LOGIN "):
				c.Say("334 VXNlcm5hbWU6")
				hear()
				c.Say("334 UGFzc3dvcmQ6")
				hear()
				c.Say("235 ok")
			default:
				c.Say("235 ok")
			}
		}
	})
}

// TestCredentialsStayWithTheirServers: a module with auth sends its
// credentials only to the targets its own allowed_targets admits; a rogue
// server with a certificate valid for its own name hears no AUTH, for
// PLAIN, LOGIN and insecure_auth alike.
func TestCredentialsStayWithTheirServers(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := ca.Issue(t, smtptest.CertSpec{Names: []string{"rogue.test", "127.0.0.1"}})
	pwFile := writePassword(t, "s3cret-password")
	resolver := nameResolver(t, map[string][]netip.Addr{"rogue.test": {netip.MustParseAddr("127.0.0.1")}})
	modules := []struct {
		name, tls, auth string
	}{
		{"plain", "starttls", "mechanism: PLAIN"},
		{"login", "starttls", "mechanism: LOGIN"},
		{"insecure", "none", "insecure_auth: true"},
	}
	for _, m := range modules {
		for _, allowed := range []string{"127.0.0.2", "'*.rogue.test'", "127.0.0.1"} {
			t.Run(m.name+"/"+allowed, func(t *testing.T) {
				heard := &lineRecorder{}
				var port int
				if m.tls == "starttls" {
					port = rogueServer(t, &cert, heard)
				} else {
					port = rogueServer(t, nil, heard)
				}
				body := fmt.Sprintf("timeout: 5s\ntls_config: {ca_file: %s}\nports:\n  - {port: %d, tls: %s}\n"+
					"auth: {username: probe, password_file: %s, %s}\nallowed_targets: [%s]\n",
					ca.WriteFile(t), port, m.tls, pwFile, m.auth, allowed)
				f := newHandlerFixture(t, modulesYAML(map[string]string{"default": body}), fixtureOptions{resolver: resolver})
				for _, target := range []string{"127.0.0.1", "rogue.test"} {
					rec := f.probe(t.Context(), probeQuery(target+":"+strconv.Itoa(port), "", false))
					admitted := allowed == "127.0.0.1"
					if want := map[bool]int{true: http.StatusOK, false: http.StatusForbidden}[admitted]; rec.Code != want {
						t.Fatalf("%s: status %d, want %d; body %q", target, rec.Code, want, rec.Body)
					}
					sawAuth := slicesContainsPrefix(heard.all(), "AUTH")
					if sawAuth != admitted {
						t.Errorf("%s: server heard AUTH = %t, want %t; it heard %q", target, sawAuth, admitted, heard.all())
					}
				}
			})
		}
	}
}

// writePassword writes a password file and returns its path.
func writePassword(t *testing.T, password string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(path, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func slicesContainsPrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(strings.ToUpper(l), prefix) {
			return true
		}
	}
	return false
}
