package handler

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smtp-exporter/smtp_exporter/config"
	"github.com/smtp-exporter/smtp_exporter/internal/exposition"
	"github.com/smtp-exporter/smtp_exporter/internal/probe"
	"github.com/smtp-exporter/smtp_exporter/internal/smtptest"
)

// getHistory serves GET /history?query.
func (f *handlerFixture) getHistory(t *testing.T, query string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	f.history.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/history?"+query, nil))
	return rec
}

func TestDebugOutput(t *testing.T) {
	port := smtptest.GoSMTPServer{TLS: selfSignedTLS(t)}.Start(t)
	f := newHandlerFixture(t, oneModule("5s", config.TLSStartTLS, port), fixtureOptions{})
	rec := f.probe(t.Context(), probeQuery(loopbackTarget(port), "", true))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200; body %q", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want text/plain", ct)
	}
	body := rec.Body.String()
	for _, want := range []string{
		"Probe of " + loopbackTarget(port) + ` with module "default"`,
		"success=true",
		fmt.Sprintf("== 127.0.0.1 port %d (starttls): up=true success=true", port),
		"S: 220 ",
		"C: EHLO prober.example.net",
		"S: 250-",
		"C: STARTTLS",
		"TLS established: TLS 1.3",
		"C: QUIT",
		"S: 221 ",
		"\n== Metrics\n",
		"probe_success 1",
		fmt.Sprintf(`probe_smtp_success{host="127.0.0.1",port="%d"} 1`, port),
		fmt.Sprintf(`probe_smtp_duration_seconds{host="127.0.0.1",phase="ehlo_tls",port="%d"}`, port),
		"\n== Module\n",
		"default:",
		"timeout: 5s",
		fmt.Sprintf("port: %d", port),
		"tls: starttls",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("debug output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("debug output:\n%s", body)
	}
	// Sections in order: transcript, metrics, module.
	if i, j, k := strings.Index(body, "C: EHLO"), strings.Index(body, "== Metrics"), strings.Index(body, "== Module"); !(i < j && j < k) {
		t.Errorf("sections out of order: transcript at %d, metrics at %d, module at %d", i, j, k)
	}
	// The exporter metrics count a debug probe like any other.
	if got := testutil.ToFloat64(f.metrics.probes.WithLabelValues("default", "success")); got != 1 {
		t.Errorf("smtp_exporter_probes_total{module=default,result=success} = %v after a debug probe, want 1", got)
	}
}

func TestDebugFailure(t *testing.T) {
	port := refusingPort(t)
	f := newHandlerFixture(t, oneModule("2s", config.TLSStartTLS, port), fixtureOptions{})
	body := f.probe(t.Context(), probeQuery(loopbackTarget(port), "", true)).Body.String()
	for _, want := range []string{
		"success=false",
		"up=false success=false",
		"failed in phase connect, reason refused",
		fmt.Sprintf(`probe_smtp_failure_info{host="127.0.0.1",phase="connect",port="%d",reason="refused"} 1`, port),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("debug output lacks %q:\n%s", want, body)
		}
	}
}

// secretForms are the ways a credential could leak into output.
func secretForms(user, password string) map[string]string {
	b64 := base64.StdEncoding.EncodeToString
	return map[string]string{
		"username":            user,
		"password":            password,
		"PLAIN response":      b64([]byte("\x00" + user + "\x00" + password)),
		"PLAIN without authz": b64([]byte(user + "\x00" + password)),
		"LOGIN username":      b64([]byte(user)),
		"LOGIN password":      b64([]byte(password)),
		"unpadded password":   base64.RawStdEncoding.EncodeToString([]byte(password)),
	}
}

func TestDebugAuthHidesCredentials(t *testing.T) {
	const (
		user     = "probe-u53r"
		password = "s3cr3t-Pa55w0rd"
	)
	ca := smtptest.NewCA(t)
	port := smtptest.GoSMTPServer{TLS: smtptest.ServerTLS(ca.Issue(t, smtptest.CertSpec{Names: []string{"127.0.0.1"}})), User: user, Password: password}.Start(t)
	caFile := ca.WriteFile(t)
	dir := t.TempDir()
	goodFile, badFile := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	if err := os.WriteFile(goodFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(badFile, []byte("not-"+password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	modules := map[string]string{}
	for _, mech := range []string{config.MechanismPlain, config.MechanismLogin} {
		for name, file := range map[string]string{"good": goodFile, "bad": badFile} {
			modules[strings.ToLower(mech)+"_"+name] = fmt.Sprintf(
				"timeout: 5s\ntls_config: {ca_file: %s}\nports:\n  - {port: %d, tls: starttls}\nauth: {username: %s, password_file: %s, mechanism: %s}\nallowed_targets: [127.0.0.1]\n",
				caFile, port, user, file, mech)
		}
	}
	f := newHandlerFixture(t, modulesYAML(modules), fixtureOptions{})
	ep := []string{"host", "127.0.0.1", "port", strconv.Itoa(port)}

	for _, tt := range []struct {
		module   string
		wantOK   bool
		shownCmd string
	}{
		{"plain_good", true, "C: AUTH PLAIN <credentials hidden>"},
		{"plain_bad", false, "C: AUTH PLAIN <credentials hidden>"},
		{"login_good", true, "C: <password hidden>"},
		{"login_bad", false, "C: <password hidden>"},
	} {
		t.Run(tt.module, func(t *testing.T) {
			s := parseExposition(t, f.probe(t.Context(), probeQuery(loopbackTarget(port), tt.module, false)).Body.String())
			s.want(t, 1, "probe_smtp_up", ep...)
			if tt.wantOK {
				s.want(t, 1, "probe_success")
				s.want(t, 1, "probe_smtp_success", ep...)
				s.want(t, 235, "probe_smtp_status_code", ep...)
				s.absent(t, "probe_smtp_failure_info")
				if d := s.series("probe_smtp_duration_seconds", append(ep, "phase", "auth")...); len(d) != 1 || dtoValue(d[0]) <= 0 {
					t.Errorf("auth phase duration %v, want one series > 0", d)
				}
			} else {
				s.want(t, 0, "probe_success")
				s.want(t, 0, "probe_smtp_success", ep...)
				s.want(t, 1, "probe_smtp_failure_info", append(ep, "phase", "auth", "reason", "auth_failed")...)
				s.want(t, 535, "probe_smtp_status_code", ep...)
			}

			debug := f.probe(t.Context(), probeQuery(loopbackTarget(port), tt.module, true))
			newest := f.history.newestFirst()[0] // the debug probe
			if newest.ModuleName != tt.module {
				t.Fatalf("newest history entry is module %q, want %q", newest.ModuleName, tt.module)
			}
			hist := f.getHistory(t, "id="+strconv.FormatUint(newest.ID, 10))
			for where, text := range map[string]string{"debug output": debug.Body.String(), "history transcript": hist.Body.String()} {
				if !strings.Contains(text, tt.shownCmd) {
					t.Errorf("%s lacks %q", where, tt.shownCmd)
				}
				if !strings.Contains(text, "auth:") || !strings.Contains(text, "<hidden>") {
					t.Errorf("%s lacks the module's auth section with the username hidden", where)
				}
				for form, secret := range secretForms(user, password) {
					if strings.Contains(text, secret) {
						t.Errorf("%s contains the %s %q:\n%s", where, form, secret, text)
					}
				}
			}
		})
	}
}

func TestHistory(t *testing.T) {
	good := smtptest.GoSMTPServer{}.Start(t)
	dead := refusingPort(t)
	cfgText := modulesYAML(map[string]string{
		"good": fmt.Sprintf("timeout: 5s\nports:\n  - {port: %d, tls: starttls}\n", good),
		"bad":  fmt.Sprintf("timeout: 5s\nports:\n  - {port: %d, tls: starttls}\n", dead),
	})
	f := newHandlerFixture(t, cfgText, fixtureOptions{historyLimit: 2})

	if body := f.getHistory(t, "").Body.String(); strings.Contains(body, "?id=") {
		t.Errorf("empty history lists probes:\n%s", body)
	}
	probes := []struct{ target, module string }{
		{"127.0.0.1", "good"},                       // id 1, evicted
		{"127.0.0.1", "bad"},                        // id 2
		{"127.0.0.1:" + strconv.Itoa(good), "good"}, // id 3
	}
	for _, p := range probes {
		if rec := f.probe(t.Context(), probeQuery(p.target, p.module, false)); rec.Code != http.StatusOK {
			t.Fatalf("probe %v: status %d", p, rec.Code)
		}
	}
	f.probe(t.Context(), probeQuery("127.0.0.1", "nosuchmodule", false)) // refused, not kept

	rec := f.getHistory(t, "")
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("status %d, Content-Type %q: want 200 and HTML", rec.Code, rec.Header().Get("Content-Type"))
	}
	page := parsePage(t, rec.Body.String())
	if len(page.probes) != 2 {
		t.Fatalf("%d probes shown, want the limit of 2:\n%s", len(page.probes), rec.Body)
	}
	wantProbes := []string{"probe-3 127.0.0.1:" + strconv.Itoa(good) + " good success ?id=3", "probe-2 127.0.0.1 bad failure ?id=2"}
	for i, want := range wantProbes {
		p := page.probes[i]
		got := strings.Join([]string{p.id, p.cells[1], p.cells[2], strings.Fields(p.cells[3])[0], strings.Join(p.links, " ")}, " ")
		if got != want {
			t.Errorf("probe %d: %q, want %q", i, got, want)
		}
	}
	if got := page.rows[1].cells[4]; got != "connect/refused" {
		t.Errorf("failed row's phase/reason %q, want connect/refused", got)
	}
	if strings.Contains(rec.Body.String(), "?id=1") {
		t.Error("history still links the evicted probe 1")
	}

	for _, tt := range []struct {
		query    string
		status   int
		contains string
	}{
		{"id=3", http.StatusOK, "S: 220 "},
		{"id=3", http.StatusOK, "C: EHLO prober.example.net"},
		{"id=3", http.StatusOK, "== Metrics"},
		{"id=2", http.StatusOK, "failed in phase connect, reason refused"},
		{"id=2", http.StatusOK, `module "bad"`},
		{"id=1", http.StatusNotFound, "keeps the last 2"},
		{"id=4", http.StatusNotFound, "no probe"},
		{"id=99", http.StatusNotFound, "no probe"},
		{"id=0", http.StatusNotFound, "no probe"},
		{"id=abc", http.StatusNotFound, "no probe"},
		{"id=-1", http.StatusNotFound, "no probe"},
	} {
		t.Run(tt.query, func(t *testing.T) {
			rec := f.getHistory(t, tt.query)
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.contains) {
				t.Errorf("status %d, body:\n%s\nwant %d and %q", rec.Code, rec.Body, tt.status, tt.contains)
			}
			if tt.status == http.StatusOK && !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
				t.Errorf("Content-Type %q, want text/plain", rec.Header().Get("Content-Type"))
			}
		})
	}
}

func TestHistoryLimit(t *testing.T) {
	for _, limit := range []int{0, 1, 2, 5} {
		t.Run(strconv.Itoa(limit), func(t *testing.T) {
			h := NewHistory(limit, 16<<20)
			for i := range 7 {
				h.add(&record{Target: "t" + strconv.Itoa(i)})
			}
			got := h.newestFirst()
			if len(got) != min(limit, 7) {
				t.Fatalf("%d records kept, want %d", len(got), min(limit, 7))
			}
			for i, rec := range got {
				if want := uint64(7 - i); rec.ID != want || rec.Target != "t"+strconv.Itoa(int(want)-1) {
					t.Errorf("record %d is id %d %q, want id %d (newest first)", i, rec.ID, rec.Target, want)
				}
				if h.find(rec.ID) != rec {
					t.Errorf("find(%d) does not return the kept record", rec.ID)
				}
			}
			if oldest := uint64(7 - limit); limit < 7 && h.find(oldest) != nil {
				t.Errorf("find(%d) returns an evicted record", oldest)
			}
		})
	}
}

// TestHistoryByteBound: whatever the record limit, the history holds no
// more than its byte bound, evicting the oldest records.
func TestHistoryByteBound(t *testing.T) {
	const maxBytes = 1 << 20
	h := NewHistory(1000, maxBytes)
	for i := range 200 {
		outcome := &probe.Outcome{Target: "t" + strconv.Itoa(i), Answer: exposition.NewBuilder(0).Answer()}
		for range 4 {
			tr := probe.NewTranscript(time.Now())
			for size := -1; size != tr.Footprint(); { // until the transcript is full
				size = tr.Footprint()
				tr.Sent(strings.Repeat("x", 1000))
			}
			outcome.Results = append(outcome.Results, &probe.Result{Transcript: tr})
		}
		h.add(newRecord(outcome))
	}
	got := h.newestFirst()
	total := 0
	for _, rec := range got {
		total += rec.Size
	}
	if total > maxBytes || len(got) == 0 || len(got) >= 200 {
		t.Errorf("%d records of %d bytes kept, want some, within %d bytes", len(got), total, maxBytes)
	}
	if got[0].Target != "t199" {
		t.Errorf("newest record %q, want t199", got[0].Target)
	}
	if h.bytes != total {
		t.Errorf("history counts %d bytes, its records hold %d", h.bytes, total)
	}
}

// TestHistoryPathRoot: the Home link goes to the exporter's root, also
// behind a path prefix.
func TestHistoryPathRoot(t *testing.T) {
	h := NewHistory(1, 16<<20)
	for path, want := range map[string]string{"/history": `href="/"`, "/smtp/history": `href="/smtp/"`} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("%s: body lacks %s:\n%s", path, want, rec.Body)
		}
	}
}
