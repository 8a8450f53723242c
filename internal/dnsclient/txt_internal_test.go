package dnsclient

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// txtWire returns a DNS message whose one answer is a TXT record holding
// data as one character-string.
func txtWire(data []byte) []byte {
	msg := []byte{0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0} // ID 1, response, one answer
	msg = append(msg, 0)                                    // owner: the root
	msg = binary.BigEndian.AppendUint16(msg, dns.TypeTXT)
	msg = binary.BigEndian.AppendUint16(msg, dns.ClassINET)
	msg = binary.BigEndian.AppendUint32(msg, 300)
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(data)+1))
	msg = append(msg, byte(len(data)))
	return append(msg, data...)
}

// FuzzUnescapeTXT: whatever bytes a TXT string holds on the wire,
// miekg/dns's text form of it unescapes back to the same bytes.
func FuzzUnescapeTXT(f *testing.F) {
	f.Add([]byte(`v=STSv1; id=1;`))
	f.Add([]byte("\"\\\x00\xff\\123 \\"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 255 {
			data = data[:255]
		}
		m := new(dns.Msg)
		if err := m.Unpack(txtWire(data)); err != nil {
			t.Fatalf("unpack: %v", err)
		}
		txt := m.Answer[0].(*dns.TXT).Txt
		if len(txt) != 1 {
			t.Fatalf("%d strings", len(txt))
		}
		if got := unescapeTXT(txt[0]); got != string(data) {
			t.Fatalf("unescape(%q) = %q, want %q", txt[0], got, data)
		}
	})
}

func TestWithBudgetCapsContextsWithoutDeadline(t *testing.T) {
	ctx, cancel := withBudget(t.Context())
	defer cancel()
	deadline, ok := ctx.Deadline()
	if !ok || time.Until(deadline) > defaultLookupBudget {
		t.Fatalf("deadline %v, %v; want within %v", deadline, ok, defaultLookupBudget)
	}
}
