package dashboards

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const (
	dashboardFile = "smtp_exporter.json"
	rulesFile     = "alerts.yml"
	rulesTestFile = "rules_test.yml"
)

// builtinNames are series Prometheus itself creates.
var builtinNames = []string{
	"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds",
	"scrape_samples_scraped", "scrape_samples_post_metric_relabeling", "scrape_series_added",
}

// exporterSources returns the non-test .go files under root, at any depth,
// outside directories whose Go files are not the exporter: test data,
// deployment manifests, benchmarks and Git's own.
func exporterSources(t *testing.T, root string) []string {
	t.Helper()
	skippedDirs := setOf("testdata", "deploy", "bench", ".git")
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skippedDirs[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// emittedNames reads the metric names the exporter emits from its source:
// every "probe_…" and "smtp_exporter_…" string literal in the non-test .go
// files of the repository (exporterSources), the _bucket/_sum/_count series
// of histograms, and smtp_exporter_build_info from the version collector.
func emittedNames(t *testing.T) map[string]bool {
	t.Helper()
	literal := regexp.MustCompile(`"((?:probe|smtp_exporter)_[a-z0-9_]+)"`)
	histogram := regexp.MustCompile(`(?s)HistogramOpts\{[^}]*?Name:\s*"([a-z0-9_]+)"`)
	names := map[string]bool{}
	for _, f := range exporterSources(t, "..") {
		src := readFile(t, f)
		for _, m := range literal.FindAllStringSubmatch(src, -1) {
			names[m[1]] = true
		}
		for _, m := range histogram.FindAllStringSubmatch(src, -1) {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[m[1]+suffix] = true
			}
		}
		if strings.Contains(src, `const name = "smtp_exporter"`) && strings.Contains(src, "versioncollector.NewCollector(name)") {
			names["smtp_exporter_build_info"] = true
		}
	}
	// Guard the guard: if the source layout changes so that nothing is
	// found, fail here rather than pass vacuously below.
	for _, must := range []string{"probe_success", "probe_smtp_up", "smtp_exporter_probes_total", "smtp_exporter_config_last_reload_successful", "smtp_exporter_build_info"} {
		if !names[must] {
			t.Fatalf("did not find %s in the exporter's source; update emittedNames", must)
		}
	}
	for _, b := range builtinNames {
		names[b] = true
	}
	return names
}

func TestExporterSourcesWalksTheTree(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{
		"main.go", "main_test.go", "internal/probe/dane/tlsa.go", "internal/probe/dane/tlsa_test.go",
		"probe/x.go", "probe/testdata/fake.go", "deploy/gen.go", "bench/floor/main.go",
		".git/hooks/h.go", "docs/notes.md",
	} {
		path := filepath.Join(root, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("package x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, f := range exporterSources(t, root) {
		rel, err := filepath.Rel(root, f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, filepath.ToSlash(rel))
	}
	sort.Strings(got)
	want := []string{"internal/probe/dane/tlsa.go", "main.go", "probe/x.go"}
	if !slices.Equal(got, want) {
		t.Errorf("exporterSources = %q, want %q", got, want)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// PromQL words that are not metric names.
var (
	keywords    = setOf("by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "atan2", "inf", "nan")
	aggregators = setOf("sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio")
	labelLists  = setOf("by", "without", "on", "ignoring", "group_left", "group_right")
)

func setOf(words ...string) map[string]bool {
	m := map[string]bool{}
	for _, w := range words {
		m[w] = true
	}
	return m
}

// metricNames returns the metric names an expression selects. It is a small
// tokenizer, not a parser: it skips strings, label matchers ({…}), ranges
// ([…]), label lists after by/without/on/ignoring/group_*, numbers,
// template variables, function calls and keywords; every other identifier
// is a metric name.
func metricNames(expr string) ([]string, error) {
	var names []string
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isIdent := func(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
	skipTo := func(i int, close byte) (int, error) {
		for j := i + 1; j < len(expr); j++ {
			switch expr[j] {
			case close:
				return j + 1, nil
			case '"', '\'', '`':
				end := strings.IndexByte(expr[j+1:], expr[j])
				if end < 0 {
					return 0, fmt.Errorf("unterminated string in %q", expr)
				}
				j += end + 1
			}
		}
		return 0, fmt.Errorf("no %q after offset %d in %q", close, i, expr)
	}
	nextNonSpace := func(i int) byte {
		for ; i < len(expr); i++ {
			if expr[i] != ' ' && expr[i] != '\t' && expr[i] != '\n' {
				return expr[i]
			}
		}
		return 0
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			end := strings.IndexByte(expr[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("unterminated string in %q", expr)
			}
			i += end + 2
		case c == '{':
			j, err := skipTo(i, '}')
			if err != nil {
				return nil, err
			}
			i = j
		case c == '[':
			j, err := skipTo(i, ']')
			if err != nil {
				return nil, err
			}
			i = j
		case c == '$': // Grafana variable: $name or ${name}
			i++
			if i < len(expr) && expr[i] == '{' {
				j, err := skipTo(i, '}')
				if err != nil {
					return nil, err
				}
				i = j
				continue
			}
			for i < len(expr) && isIdent(expr[i]) {
				i++
			}
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(expr) && isIdent(expr[j]) {
				j++
			}
			word := expr[i:j]
			i = j
			next := nextNonSpace(i)
			switch {
			case labelLists[word] && next == '(':
				k := strings.IndexByte(expr[i:], '(')
				end, err := skipTo(i+k, ')')
				if err != nil {
					return nil, err
				}
				i = end
			case keywords[word] || aggregators[word]:
			case next == '(': // a function call
			default:
				names = append(names, word)
			}
		default:
			i++
		}
	}
	return names, nil
}

// An expression found in a dashboard or rule file.
type expression struct {
	where string
	expr  string
}

// dashboardExpressions returns every panel query and the metric selector
// of every label_values() variable query.
func dashboardExpressions(t *testing.T, dash map[string]any) []expression {
	t.Helper()
	var out []expression
	for i, p := range allPanels(dash) {
		for j, tgt := range list(p["targets"]) {
			expr, _ := obj(tgt)["expr"].(string)
			out = append(out, expression{fmt.Sprintf("panel %d %q target %d", i, p["title"], j), expr})
		}
	}
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)
	for _, v := range list(obj(dash["templating"])["list"]) {
		v := obj(v)
		if v["type"] != "query" {
			continue
		}
		def, _ := v["definition"].(string)
		m := labelValues.FindStringSubmatch(def)
		if m == nil {
			t.Errorf("variable %v: query %q is not label_values(selector, label)", v["name"], def)
			continue
		}
		out = append(out, expression{fmt.Sprintf("variable %v", v["name"]), m[1]})
	}
	return out
}

func ruleExpressions(t *testing.T, rules ruleFile) []expression {
	t.Helper()
	var out []expression
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out = append(out, expression{fmt.Sprintf("group %s rule %s%s", g.Name, r.Alert, r.Record), r.Expr})
		}
	}
	return out
}

// unknownNames lists, per expression, the metric names the exporter does
// not emit.
func unknownNames(exprs []expression, emitted map[string]bool) ([]string, error) {
	var problems []string
	for _, e := range exprs {
		names, err := metricNames(e.expr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.where, err)
		}
		if len(names) == 0 {
			problems = append(problems, fmt.Sprintf("%s: no metric name in %q", e.where, e.expr))
		}
		for _, n := range names {
			if !emitted[n] {
				problems = append(problems, fmt.Sprintf("%s: %s is not emitted by the exporter (in %q)", e.where, n, e.expr))
			}
		}
	}
	return problems, nil
}

func TestDashboardMetricNamesAreEmitted(t *testing.T) {
	exprs := dashboardExpressions(t, loadDashboard(t))
	if len(exprs) < 20 {
		t.Fatalf("found only %d expressions in %s", len(exprs), dashboardFile)
	}
	problems, err := unknownNames(exprs, emittedNames(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

func TestRuleMetricNamesAreEmitted(t *testing.T) {
	exprs := ruleExpressions(t, loadRules(t))
	problems, err := unknownNames(exprs, emittedNames(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestDriftIsDetected renames one metric in memory and expects the check
// to notice.
func TestDriftIsDetected(t *testing.T) {
	emitted := emittedNames(t)
	delete(emitted, "probe_smtp_cert_expiry_timestamp_seconds")
	for _, exprs := range [][]expression{ruleExpressions(t, loadRules(t)), dashboardExpressions(t, loadDashboard(t))} {
		problems, err := unknownNames(exprs, emitted)
		if err != nil {
			t.Fatal(err)
		}
		if len(problems) == 0 {
			t.Error("a metric missing from the exporter went unnoticed")
		}
	}
}

func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`probe_success`, []string{"probe_success"}},
		{`probe_smtp_up{job=~"$job", port!="25"} == 0`, []string{"probe_smtp_up"}},
		{`sum by (instance, port) (rate(smtp_exporter_probes_total{job="a"}[$__rate_interval]))`, []string{"smtp_exporter_probes_total"}},
		{`(a == 0) * on (job, instance) group_left (phase, reason) b or on (x) c`, []string{"a", "b", "c"}},
		{`histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))`, []string{"x_bucket"}},
		{`time() - probe_smtp_cert_expiry_timestamp_seconds >= 7 * 86400 and 1e3 > 0x10`, []string{"probe_smtp_cert_expiry_timestamp_seconds"}},
		{`count(x < 14) or vector(0)`, []string{"x"}},
		{`label_replace(y, "dst", "$1", "src", "(.*)") offset 5m`, []string{"y"}},
		{`ALERTS{alertname=~"SMTP.*", instance=~"${instance}"}`, []string{"ALERTS"}},
		{`sum without (le) (z) unless ignoring(a) w`, []string{"z", "w"}},
	} {
		got, err := metricNames(tc.expr)
		if err != nil {
			t.Errorf("%q: %v", tc.expr, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

// ---------------------------------------------------------------- dashboard

func loadDashboard(t *testing.T) map[string]any {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal([]byte(readFile(t, dashboardFile)), &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func list(v any) []any         { l, _ := v.([]any); return l }

// allPanels returns the panels, those inside collapsed rows included.
func allPanels(d map[string]any) []map[string]any {
	var out []map[string]any
	for _, p := range list(d["panels"]) {
		out = append(out, obj(p))
		for _, inner := range list(obj(p)["panels"]) {
			out = append(out, obj(inner))
		}
	}
	return out
}

func TestDashboardShape(t *testing.T) {
	d := loadDashboard(t)
	if v, _ := d["schemaVersion"].(float64); v < 39 {
		t.Errorf("schemaVersion %v, want >= 39", d["schemaVersion"])
	}
	for _, key := range []string{"title", "uid"} {
		if s, _ := d[key].(string); s == "" {
			t.Errorf("dashboard has no %s", key)
		}
	}

	vars := map[string]map[string]any{}
	for _, v := range list(obj(d["templating"])["list"]) {
		vars[fmt.Sprint(obj(v)["name"])] = obj(v)
	}
	if ds := vars["datasource"]; ds == nil || ds["type"] != "datasource" || ds["query"] != "prometheus" {
		t.Errorf("want a variable datasource of type datasource for prometheus, got %v", ds)
	}
	for _, name := range []string{"job", "instance", "port", "exporter_job"} {
		v := vars[name]
		if v == nil || v["type"] != "query" {
			t.Errorf("want a query variable %s, got %v", name, v)
			continue
		}
		if uid := obj(v["datasource"])["uid"]; uid != "${datasource}" {
			t.Errorf("variable %s: datasource uid %v, want ${datasource}", name, uid)
		}
	}

	allowed := setOf("row", "stat", "timeseries", "table", "bargauge", "gauge")
	ids := map[float64]bool{}
	for _, p := range allPanels(d) {
		title, _ := p["title"].(string)
		if title == "" {
			t.Errorf("panel %v has no title", p["id"])
		}
		if !allowed[fmt.Sprint(p["type"])] {
			t.Errorf("panel %q: type %v is not one of %v", title, p["type"], keys(allowed))
		}
		id, _ := p["id"].(float64)
		if ids[id] {
			t.Errorf("panel %q: duplicate id %v", title, id)
		}
		ids[id] = true
		grid := obj(p["gridPos"])
		x, _ := grid["x"].(float64)
		w, _ := grid["w"].(float64)
		if w <= 0 || x+w > 24 {
			t.Errorf("panel %q: gridPos %v outside the 24 columns", title, grid)
		}
		if p["type"] == "row" {
			continue
		}
		if desc, _ := p["description"].(string); desc == "" {
			t.Errorf("panel %q has no description", title)
		}
		if uid := obj(p["datasource"])["uid"]; uid != "${datasource}" {
			t.Errorf("panel %q: datasource uid %v, want ${datasource}", title, uid)
		}
		targets := list(p["targets"])
		if len(targets) == 0 {
			t.Errorf("panel %q has no queries", title)
		}
		for _, tgt := range targets {
			tgt := obj(tgt)
			if expr, _ := tgt["expr"].(string); expr == "" {
				t.Errorf("panel %q: query %v has no expr", title, tgt["refId"])
			}
			if uid := obj(tgt["datasource"])["uid"]; uid != "${datasource}" {
				t.Errorf("panel %q: query %v datasource uid %v, want ${datasource}", title, tgt["refId"], uid)
			}
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// substituteVariables replaces Grafana's variables with what Grafana sends
// for "All" and typical intervals, so that the expression is plain PromQL.
func substituteVariables(expr string) (string, error) {
	values := map[string]string{
		"job": ".+", "instance": ".+", "port": ".+", "exporter_job": ".+",
		"__rate_interval": "1m", "__interval": "15s", "__range": "1h",
	}
	var missing []string
	out := regexp.MustCompile(`\$\{?(\w+)\}?`).ReplaceAllStringFunc(expr, func(m string) string {
		name := strings.Trim(m, "${}")
		v, ok := values[name]
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("unknown variables %v", missing)
	}
	return out, nil
}

// ---------------------------------------------------------------- rules

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	var r ruleFile
	if err := yaml.Unmarshal([]byte(readFile(t, rulesFile)), &r); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	return r
}

// The alerts the issue asks for.
var wantAlerts = []string{
	"SMTPEndpointDown", "SMTPProbeFailing", "SMTPSlowHandshake", "SMTPStartTLSNotAdvertised",
	"SMTPCertificateExpiring", "SMTPCertificateExpired", "SMTPCertificateNotVerified",
	"SMTPCertificateHostnameMismatch", "SMTPLegacyTLSNegotiated", "SMTPAuthOfferedWithoutTLS",
	"SMTPExporterConfigReloadFailed",
	// Mail domains (issue 11).
	"SMTPDomainNotDeliverable", "SMTPMXFailing", "SMTPMXMisconfigured", "SMTPMXSetChanged", "SMTPNullMX",
	// Mail transport security (issue 14).
	"SMTPDANEMismatch", "SMTPDANENotDNSSECSecure", "SMTPDANELookupFailing", "SMTPDANENoRolloverRecord",
	"SMTPMTASTSPolicyFailing", "SMTPMTASTSMXNotInPolicy", "SMTPMTASTSPolicyCertificateExpiring",
	"SMTPTLSRPTMissingOrInvalid", "SMTPOCSPRevoked",
}

// severities are those examples/alertmanager.yml routes: critical pages,
// warning mails, info mails and never pages.
var severities = []string{"critical", "warning", "info"}

func alertNames(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert != "" && !slices.Contains(names, r.Alert) {
				names = append(names, r.Alert)
			}
		}
	}
	return names
}

func TestAlertRulesShape(t *testing.T) {
	alertSeverities := map[string][]string{}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			sev := r.Labels["severity"]
			if !slices.Contains(severities, sev) {
				t.Errorf("%s: severity %q, want one of %q", r.Alert, sev, severities)
			}
			if slices.Contains(alertSeverities[r.Alert], sev) {
				t.Errorf("%s: two rules with severity %s", r.Alert, sev)
			}
			alertSeverities[r.Alert] = append(alertSeverities[r.Alert], sev)
			if r.For == "" {
				t.Errorf("%s: no for: duration", r.Alert)
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", r.Alert, a)
				}
			}
		}
	}
	for _, want := range wantAlerts {
		if alertSeverities[want] == nil {
			t.Errorf("no alert %s", want)
		}
	}
	if got := alertSeverities["SMTPCertificateExpiring"]; len(got) != 2 {
		t.Errorf("SMTPCertificateExpiring has severities %v, want a warning and a critical threshold", got)
	}
}

// TestEveryAlertIsUnitTested: rules_test.yml fires every alert and shows
// it silent at least once.
func TestEveryAlertIsUnitTested(t *testing.T) {
	var tests struct {
		RuleFiles []string `yaml:"rule_files"`
		Tests     []struct {
			Name       string `yaml:"name"`
			AlertTests []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, rulesTestFile)), &tests); err != nil {
		t.Fatalf("%s: %v", rulesTestFile, err)
	}
	if !slices.Contains(tests.RuleFiles, rulesFile) {
		t.Errorf("%s does not test %s", rulesTestFile, rulesFile)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertTests {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				silent[a.Alertname] = true
			}
		}
	}
	for _, name := range alertNames(t) {
		if !fires[name] {
			t.Errorf("%s: no test in %s fires it", name, rulesTestFile)
		}
		if !silent[name] {
			t.Errorf("%s: no test in %s shows it silent", name, rulesTestFile)
		}
	}
}

// ---------------------------------------------------------------- promtool, amtool

func tool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not on PATH (Debian: apt-get install prometheus prometheus-alertmanager)", name)
	}
	return path
}

func run(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

func TestPromtoolCheckRules(t *testing.T) {
	run(t, ".", tool(t, "promtool"), "check", "rules", rulesFile)
}

func TestPromtoolTestRules(t *testing.T) {
	run(t, ".", tool(t, "promtool"), "test", "rules", rulesTestFile)
}

// TestDashboardQueriesParse has promtool parse every dashboard query, with
// Grafana's variables substituted, as a recording rule.
func TestDashboardQueriesParse(t *testing.T) {
	promtool := tool(t, "promtool")
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	for i, e := range dashboardExpressions(t, loadDashboard(t)) {
		expr, err := substituteVariables(e.expr)
		if err != nil {
			t.Errorf("%s: %v", e.where, err)
			continue
		}
		rules = append(rules, rule{"dashboard:query_" + strconv.Itoa(i), expr})
	}
	b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "dashboard_queries.yml")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, ".", promtool, "check", "rules", f)
}

// TestExamplePrometheusConfig checks examples/prometheus.yml with the rules
// beside it, as the example tells users to install them.
func TestExamplePrometheusConfig(t *testing.T) {
	promtool := tool(t, "promtool")
	// In place: rule_files is relative to the file, ../dashboards/alerts.yml.
	run(t, "../examples", promtool, "check", "config", "prometheus.yml")
}

func TestExampleAlertmanagerConfig(t *testing.T) {
	amtool := tool(t, "amtool")
	abs, err := filepath.Abs("../examples/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	run(t, ".", amtool, "check-config", abs)
}

// TestAlertmanagerRoutesBySeverity routes every alert of alerts.yml through
// examples/alertmanager.yml: critical ones page, nothing else does.
func TestAlertmanagerRoutesBySeverity(t *testing.T) {
	amtool := tool(t, "amtool")
	config, err := filepath.Abs("../examples/alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			sev := r.Labels["severity"]
			out, err := exec.Command(amtool, "config", "routes", "test", "--config.file="+config,
				"alertname="+r.Alert, "severity="+sev).Output()
			if err != nil {
				t.Errorf("%s (%s): amtool: %v", r.Alert, sev, err)
				continue
			}
			receiver := strings.TrimSpace(string(out))
			if pages := receiver == "oncall-pager"; pages != (sev == "critical") {
				t.Errorf("%s (%s) goes to %q", r.Alert, sev, receiver)
			}
		}
	}
}
