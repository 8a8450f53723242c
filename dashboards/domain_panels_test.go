package dashboards

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// domainFixture is what a `targets: mx` module with dns.dnssec, addresses:
// all, reverse_dns, dane, mta_sts and tlsrpt reports for example.org (two
// MX hosts, the primary on two addresses, its IPv6 one failing) and for
// gone.example.org (NXDOMAIN), in SPEC's names and labels.
const domainFixture = `
probe_success{instance="example.org"} 0
probe_smtp_deliverable{instance="example.org"} 1
probe_smtp_mx_lookup_info{instance="example.org",result="mx"} 1
probe_smtp_mx_records{instance="example.org"} 2
probe_smtp_mx_dnssec_secure{instance="example.org"} 1
probe_dns_lookup_time_seconds{instance="example.org"} 0.012
probe_smtp_mx_info{instance="example.org",host="mx1.example.org",preference="10"} 1
probe_smtp_mx_info{instance="example.org",host="mx2.example.org",preference="20"} 1
probe_smtp_mx_problem_info{instance="example.org",host="mx2.example.org",problem="cname"} 1
probe_smtp_host_dnssec_secure{instance="example.org",host="mx1.example.org"} 1
probe_smtp_host_dnssec_secure{instance="example.org",host="mx2.example.org"} 0
probe_smtp_host_addresses{instance="example.org",host="mx1.example.org",family="ip4"} 1
probe_smtp_host_addresses{instance="example.org",host="mx1.example.org",family="ip6"} 1
probe_smtp_host_addresses{instance="example.org",host="mx2.example.org",family="ip4"} 1
probe_smtp_up{instance="example.org",host="mx1.example.org",port="25",ip="192.0.2.1"} 1
probe_smtp_up{instance="example.org",host="mx1.example.org",port="25",ip="2001:db8::1"} 1
probe_smtp_up{instance="example.org",host="mx2.example.org",port="25",ip="192.0.2.2"} 1
probe_smtp_success{instance="example.org",host="mx1.example.org",port="25",ip="192.0.2.1"} 1
probe_smtp_success{instance="example.org",host="mx1.example.org",port="25",ip="2001:db8::1"} 0
probe_smtp_success{instance="example.org",host="mx2.example.org",port="25",ip="192.0.2.2"} 1
probe_smtp_failure_info{instance="example.org",host="mx1.example.org",port="25",ip="2001:db8::1",phase="tls",reason="dane_mismatch"} 1
probe_smtp_fcrdns{instance="example.org",host="mx1.example.org",port="25",ip="192.0.2.1"} 1
probe_smtp_fcrdns{instance="example.org",host="mx1.example.org",port="25",ip="2001:db8::1"} 0
probe_smtp_banner_hostname_match{instance="example.org",host="mx1.example.org",port="25",ip="192.0.2.1"} 1
probe_smtp_banner_hostname_match{instance="example.org",host="mx1.example.org",port="25",ip="2001:db8::1"} 1
probe_smtp_dane_info{instance="example.org",host="mx1.example.org",port="25",ip="192.0.2.1",state="usable"} 1
probe_smtp_dane_info{instance="example.org",host="mx1.example.org",port="25",ip="2001:db8::1",state="usable"} 1
probe_smtp_dane_info{instance="example.org",host="mx2.example.org",port="25",ip="192.0.2.2",state="insecure"} 1
probe_smtp_dane_records{instance="example.org",host="mx1.example.org",port="25",ip="192.0.2.1"} 2
probe_smtp_dane_records{instance="example.org",host="mx1.example.org",port="25",ip="2001:db8::1"} 2
probe_smtp_dane_verified{instance="example.org",host="mx1.example.org",port="25",ip="192.0.2.1"} 1
probe_smtp_dane_verified{instance="example.org",host="mx1.example.org",port="25",ip="2001:db8::1"} 0
probe_smtp_dane_rollover{instance="example.org",host="mx1.example.org",port="25",ip="192.0.2.1"} 1
probe_smtp_dane_rollover{instance="example.org",host="mx1.example.org",port="25",ip="2001:db8::1"} 1
probe_smtp_dane_match_info{instance="example.org",host="mx1.example.org",port="25",ip="192.0.2.1",usage="3",selector="1",matching_type="1"} 1
probe_smtp_mta_sts_info{instance="example.org",result="ok"} 1
probe_smtp_mta_sts_mode_info{instance="example.org",mode="enforce"} 1
probe_smtp_mta_sts_max_age_seconds{instance="example.org"} 604800
probe_smtp_mta_sts_policy_cert_expiry_timestamp_seconds{instance="example.org"} 1.9e9
probe_smtp_mta_sts_mx_match{instance="example.org",host="mx1.example.org"} 1
probe_smtp_mta_sts_mx_match{instance="example.org",host="mx2.example.org"} 1
probe_smtp_mta_sts_valid{instance="example.org",host="mx1.example.org",port="25",ip="192.0.2.1"} 1
probe_smtp_mta_sts_valid{instance="example.org",host="mx2.example.org",port="25",ip="192.0.2.2"} 1
probe_smtp_tlsrpt_info{instance="example.org",result="ok"} 1
probe_smtp_ocsp_stapled{instance="example.org",host="mx1.example.org",port="25",ip="192.0.2.1"} 1
probe_smtp_ocsp_stapled{instance="example.org",host="mx2.example.org",port="25",ip="192.0.2.2"} 0
probe_smtp_ocsp_status{instance="example.org",host="mx1.example.org",port="25",ip="192.0.2.1"} 0
probe_smtp_ocsp_next_update_timestamp_seconds{instance="example.org",host="mx1.example.org",port="25",ip="192.0.2.1"} 1.9e9
probe_smtp_tls_key_exchange_info{instance="example.org",host="mx1.example.org",port="25",ip="192.0.2.1",group="X25519MLKEM768"} 1
probe_smtp_tls_key_exchange_info{instance="example.org",host="mx2.example.org",port="25",ip="192.0.2.2",group="X25519"} 1
probe_success{instance="gone.example.org"} 0
probe_smtp_deliverable{instance="gone.example.org"} 0
probe_smtp_target_failure_info{instance="gone.example.org",phase="mx",reason="nxdomain"} 1
`

// openMetrics renders fixture lines (`name{labels} value`, job added) as
// OpenMetrics gauges sampled every 15 s over the 10 minutes before end.
func openMetrics(fixture string, end time.Time) string {
	byName := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(fixture), "\n") {
		name := line[:strings.IndexByte(line, '{')]
		byName[name] = append(byName[name], strings.Replace(line, "{", `{job="smtp_mx",`, 1))
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		fmt.Fprintf(&b, "# TYPE %s gauge\n", name)
		for _, sample := range byName[name] {
			for t := end.Add(-10 * time.Minute); !t.After(end); t = t.Add(15 * time.Second) {
				fmt.Fprintf(&b, "%s %d\n", sample, t.Unix())
			}
		}
	}
	b.WriteString("# EOF\n")
	return b.String()
}

// startPrometheus serves the fixture from a backfilled TSDB on a loopback
// port and returns its URL; the server ends with the test.
func startPrometheus(t *testing.T, fixture string) string {
	t.Helper()
	promtool, prometheus := tool(t, "promtool"), tool(t, "prometheus")
	dir := t.TempDir()
	om, data, config := filepath.Join(dir, "fixture.om"), filepath.Join(dir, "data"), filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(om, []byte(openMetrics(fixture, time.Now())), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, []byte("global: {scrape_interval: 1m}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, promtool, "tsdb", "create-blocks-from", "openmetrics", om, data)
	addr := freeLoopbackAddr(t)
	cmd := exec.Command(prometheus, "--config.file="+config, "--storage.tsdb.path="+data,
		"--web.listen-address="+addr, "--log.level=warn")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if resp, err := http.Get(base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus on %s not ready within 30 s", addr)
		}
	}
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// instantQuery returns the label sets of an instant query's result.
func instantQuery(base, expr string) ([]map[string]string, error) {
	resp, err := http.Get(base + "/api/v1/query?" + url.Values{"query": {expr}}.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var answer struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return nil, fmt.Errorf("decoding the answer: %w", err)
	}
	if answer.Status != "success" {
		return nil, fmt.Errorf("%s: %s", answer.Status, answer.Error)
	}
	var out []map[string]string
	for _, r := range answer.Data.Result {
		out = append(out, r.Metric)
	}
	return out, nil
}

// rowPanels returns the panels of the row titled title, in order.
func rowPanels(d map[string]any, title string) []map[string]any {
	var out []map[string]any
	in := false
	for _, p := range list(d["panels"]) {
		p := obj(p)
		if p["type"] == "row" {
			in = p["title"] == title
			for _, inner := range list(p["panels"]) {
				if in {
					out = append(out, obj(inner))
				}
			}
			continue
		}
		if in {
			out = append(out, p)
		}
	}
	return out
}

// TestDomainPanelsShowData runs every query of the "Mail domains" and
// "Mail transport security" rows against Prometheus holding a domain
// probe's series: each must evaluate (no many-to-many join with the ip
// label, say) and return data.
func TestDomainPanelsShowData(t *testing.T) {
	base := startPrometheus(t, domainFixture)
	d := loadDashboard(t)
	failing := map[string]bool{}
	for _, row := range []string{"Mail domains", "Mail transport security"} {
		panels := rowPanels(d, row)
		if len(panels) < 5 {
			t.Fatalf("row %q has %d panels", row, len(panels))
		}
		for _, p := range panels {
			for _, tgt := range list(p["targets"]) {
				tgt := obj(tgt)
				expr, err := substituteVariables(fmt.Sprint(tgt["expr"]))
				if err != nil {
					t.Fatal(err)
				}
				got, err := instantQuery(base, expr)
				switch {
				case err != nil:
					t.Errorf("panel %q %v: %v in %s", p["title"], tgt["refId"], err, expr)
				case len(got) == 0:
					t.Errorf("panel %q %v: no data for %s", p["title"], tgt["refId"], expr)
				case p["title"] == "Failing MX endpoints":
					for _, m := range got {
						failing[m["host"]+" "+m["ip"]+" "+m["preference"]+" "+m["reason"]] = true
					}
				}
			}
		}
	}
	if want := "mx1.example.org 2001:db8::1 10 dane_mismatch"; len(failing) != 1 || !failing[want] {
		t.Errorf("Failing MX endpoints shows %v, want only %q (host, ip, preference, reason)", keys(failing), want)
	}
}
