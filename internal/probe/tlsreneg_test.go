package probe

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smtp-exporter/smtp_exporter/internal/smtptest"
)

// helloRequestServer is an implicit-TLS server that, once the TLS 1.2
// handshake is over, asks for renegotiation (a HelloRequest) instead of
// greeting. Go's server cannot renegotiate, so the record is sealed here
// with the session's keys, taken from the key log.
func helloRequestServer(cert tls.Certificate) func(t testing.TB) int {
	return func(t testing.TB) int {
		return smtptest.Scripted(t, func(c *smtptest.ScriptConn) {
			var keyLog bytes.Buffer
			written := &writeRecorder{Conn: c.Conn}
			cfg := smtptest.ServerTLS(cert)
			cfg.MaxVersion = tls.VersionTLS12
			cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
			cfg.SessionTicketsDisabled = true
			cfg.KeyLogWriter = &keyLog
			tc := tls.Server(written, cfg)
			if tc.Handshake() != nil {
				return
			}
			record, err := sealServerRecord(keyLog.String(), written.buf.Bytes(), 1, 22, []byte{0, 0, 0, 0})
			if err != nil {
				t.Errorf("sealing the HelloRequest: %v", err)
				return
			}
			c.Conn.Write(record)
			c.WaitGone(5 * time.Second)
		})
	}
}

// writeRecorder keeps what the server wrote: the ServerHello carries the
// server random the keys derive from.
type writeRecorder struct {
	net.Conn
	buf bytes.Buffer
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.buf.Write(p)
	return w.Conn.Write(p)
}

// sealServerRecord seals one TLS 1.2 AES-128-GCM record of content type
// typ, sent by the server with sequence number seq.
func sealServerRecord(keyLog string, serverFlight []byte, seq uint64, typ byte, plaintext []byte) ([]byte, error) {
	fields := strings.Fields(keyLog) // CLIENT_RANDOM <client random> <master secret>
	clientRandom, _ := hex.DecodeString(fields[1])
	master, _ := hex.DecodeString(fields[2])
	serverRandom := serverFlight[11:43] // record header 5, handshake header 4, version 2
	block := prf12(master, "key expansion", append(append([]byte{}, serverRandom...), clientRandom...), 40)
	serverKey, serverIV := block[16:32], block[36:40]
	aesBlock, err := aes.NewCipher(serverKey)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(aesBlock)
	if err != nil {
		return nil, err
	}
	explicit := binary.BigEndian.AppendUint64(nil, seq)
	nonce := append(append([]byte{}, serverIV...), explicit...)
	aad := append(append([]byte{}, explicit...), typ, 3, 3, 0, byte(len(plaintext)))
	body := gcm.Seal(explicit, nonce, plaintext, aad)
	return append([]byte{typ, 3, 3, byte(len(body) >> 8), byte(len(body))}, body...), nil
}

// prf12 is the TLS 1.2 PRF with SHA-256 (RFC 5246 §5).
func prf12(secret []byte, label string, seed []byte, n int) []byte {
	seed = append([]byte(label), seed...)
	var out []byte
	a := seed
	for len(out) < n {
		mac := hmac.New(sha256.New, secret)
		mac.Write(a)
		a = mac.Sum(nil)
		mac.Reset()
		mac.Write(a)
		mac.Write(seed)
		out = mac.Sum(out)
	}
	return out[:n]
}

// badRecordServer is an implicit-TLS server that, after the handshake,
// sends a record that does not decrypt.
func badRecordServer(cert tls.Certificate) func(t testing.TB) int {
	return func(t testing.TB) int {
		return smtptest.Scripted(t, func(c *smtptest.ScriptConn) {
			tc := tls.Server(c.Conn, smtptest.ServerTLS(cert))
			if tc.Handshake() != nil {
				return
			}
			c.Conn.Write(append([]byte{23, 3, 3, 0, 40}, bytes.Repeat([]byte{0x5a}, 40)...))
			c.WaitGone(5 * time.Second)
		})
	}
}

// TestTLSErrorsAfterTheHandshakeAreNotProtocol: a TLS-layer error is never
// "not SMTP", even when it ends the banner phase.
func TestTLSErrorsAfterTheHandshakeAreNotProtocol(t *testing.T) {
	ca := smtptest.NewCA(t)
	cert := ca.Issue(t, smtptest.CertSpec{Names: []string{"127.0.0.1"}})
	for name, server := range map[string]func(testing.TB) int{
		"renegotiation request":        helloRequestServer(cert),
		"record that does not decrypt": badRecordServer(cert),
	} {
		t.Run(name, func(t *testing.T) {
			port := server(t)
			m := smtptest.ModuleFrom(t, "tls_config: {ca_file: "+ca.WriteFile(t)+"}\n"+smtptest.PortModule(port, "implicit", ""))
			r := probePort(t, m, port, testBudget)
			if got := failureOf(r); got != "banner/tls_handshake" {
				t.Errorf("failure %q, want banner/tls_handshake\n%s", got, r.Transcript)
			}
			if !strings.Contains(r.Transcript.String(), map[string]string{
				"renegotiation request":        "no renegotiation",
				"record that does not decrypt": "bad record MAC",
			}[name]) {
				t.Errorf("transcript does not name the TLS error:\n%s", r.Transcript)
			}
		})
	}
}
