package handler

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/smtp-exporter/smtp_exporter/internal/exposition"
	"github.com/smtp-exporter/smtp_exporter/internal/probe"
	"github.com/smtp-exporter/smtp_exporter/internal/smtptest"
)

// shownRow is one endpoint row of /history: its probe's tbody id, its
// class and data-result, and its own six endpoint cells' text (host, port,
// address, result, phase/reason, took).
type shownRow struct {
	probe, class, result string
	cells                []string
}

// shownProbe is the first four cells of a probe's rows (time, target,
// module, probe result) and the links in them.
type shownProbe struct {
	id    string
	cells []string
	links []string
}

// shownPage is what a /history page shows, read from its HTML.
type shownPage struct {
	probes  []shownProbe
	rows    []shownRow
	refresh string // the meta refresh's content; "" without one
	links   map[string]string
	times   []string // <time datetime> values
}

// parsePage reads a /history page as a browser's parser reads it.
func parsePage(t *testing.T, body string) shownPage {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("page does not parse: %v", err)
	}
	page := shownPage{links: map[string]string{}}
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		switch n.Data {
		case "meta":
			if attr(n, "http-equiv") == "refresh" {
				page.refresh = attr(n, "content")
			}
		case "a":
			page.links[textOf(n)] = attr(n, "href")
		case "time":
			page.times = append(page.times, attr(n, "datetime"))
		case "tbody":
			if strings.Contains(attr(n, "class"), "probe") {
				page.readProbe(n)
			}
		}
	}
	return page
}

// readProbe adds a probe's tbody to the page.
func (page *shownPage) readProbe(tbody *html.Node) {
	id := attr(tbody, "id")
	first := true
	for tr := range tbody.ChildNodes() {
		if tr.Type != html.ElementNode || tr.Data != "tr" {
			continue
		}
		var cells []string
		var links []string
		for td := range tr.ChildNodes() {
			if td.Type == html.ElementNode && td.Data == "td" {
				cells = append(cells, textOf(td))
				for a := range td.Descendants() {
					if a.Type == html.ElementNode && a.Data == "a" {
						links = append(links, attr(a, "href"))
					}
				}
			}
		}
		if first && len(cells) >= 10 {
			page.probes = append(page.probes, shownProbe{id: id, cells: cells[:4], links: links})
		}
		first = false
		page.rows = append(page.rows, shownRow{probe: id, class: attr(tr, "class"), result: attr(tr, "data-result"), cells: cells[max(len(cells)-6, 0):]})
	}
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// textOf is n's text, white space collapsed.
func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data + " ")
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// historyFixture is a handler fixture with real probes in its history:
// module good (one STARTTLS server), bad (a refused port), and mixed (both
// ports), probed in that order, so mixed is the newest.
type historyFixture struct {
	*handlerFixture
	good, dead int
	modules    []string // in the order newHistoryFixture probes them
}

func newHistoryFixture(t *testing.T) historyFixture {
	t.Helper()
	f := newHistoryModules(t)
	for _, module := range f.modules {
		if rec := f.probe(t.Context(), probeQuery("127.0.0.1", module, false)); rec.Code != http.StatusOK {
			t.Fatalf("probe with module %s: status %d", module, rec.Code)
		}
	}
	return f
}

// newHistoryModules is a historyFixture with its servers and modules and
// an empty history.
func newHistoryModules(t *testing.T) historyFixture {
	t.Helper()
	good, dead := smtptest.GoSMTPServer{}.Start(t), refusingPort(t)
	f := newHandlerFixture(t, modulesYAML(map[string]string{
		"good":  fmt.Sprintf("timeout: 5s\nports:\n  - {port: %d, tls: starttls}\n", good),
		"bad":   fmt.Sprintf("timeout: 5s\nports:\n  - {port: %d, tls: starttls}\n", dead),
		"mixed": fmt.Sprintf("timeout: 5s\nports:\n  - {port: %d, tls: starttls}\n  - {port: %d, tls: starttls}\n", good, dead),
	}), fixtureOptions{})
	return historyFixture{handlerFixture: f, good: good, dead: dead, modules: []string{"good", "bad", "mixed"}}
}

// page serves /history?query and reads it.
func (f historyFixture) page(t *testing.T, query string) shownPage {
	t.Helper()
	rec := f.getHistory(t, query)
	if rec.Code != http.StatusOK {
		t.Fatalf("/history?%s: status %d: %s", query, rec.Code, rec.Body)
	}
	return parsePage(t, rec.Body.String())
}

// TestHistoryPageRows: one row per endpoint with host, port, address,
// result, phase/reason and a rounded duration; each probe's rows in a tbody
// of their own, the probe's cells spanning them, newest probe first, each
// linking to its transcript; the time carries its zone.
func TestHistoryPageRows(t *testing.T) {
	f := newHistoryFixture(t)
	page := f.page(t, "")
	good, dead := strconv.Itoa(f.good), strconv.Itoa(f.dead)
	wantRows := []shownRow{
		{probe: "probe-3", class: "endpoint ok", result: "success", cells: []string{"127.0.0.1", good, "127.0.0.1", "success", ""}},
		{probe: "probe-3", class: "endpoint fail", result: "failure", cells: []string{"127.0.0.1", dead, "127.0.0.1", "failure", "connect/refused"}},
		{probe: "probe-2", class: "endpoint fail", result: "failure", cells: []string{"127.0.0.1", dead, "127.0.0.1", "failure", "connect/refused"}},
		{probe: "probe-1", class: "endpoint ok", result: "success", cells: []string{"127.0.0.1", good, "127.0.0.1", "success", ""}},
	}
	if len(page.rows) != len(wantRows) {
		t.Fatalf("%d rows, want %d: %+v", len(page.rows), len(wantRows), page.rows)
	}
	took := regexp.MustCompile(`^\d+(\.\d{1,2})?(µs|ms|s)$`)
	for i, want := range wantRows {
		got := page.rows[i]
		if got.probe != want.probe || got.class != want.class || got.result != want.result || strings.Join(got.cells[:5], "|") != strings.Join(want.cells, "|") {
			t.Errorf("row %d = %+v, want %+v", i, got, want)
		}
		if !took.MatchString(got.cells[5]) {
			t.Errorf("row %d took %q, want a rounded duration", i, got.cells[5])
		}
	}
	wantProbes := []struct{ id, module, result string }{{"probe-3", "mixed", "failure"}, {"probe-2", "bad", "failure"}, {"probe-1", "good", "success"}}
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z+-][A-Za-z0-9+-]*$`)
	for i, want := range wantProbes {
		got := page.probes[i]
		if got.id != want.id || got.cells[1] != "127.0.0.1" || got.cells[2] != want.module || !strings.HasPrefix(got.cells[3], want.result+" in ") {
			t.Errorf("probe %d = %+v, want %+v", i, got, want)
		}
		if !stamp.MatchString(got.cells[0]) {
			t.Errorf("probe %d time %q lacks date, time or zone", i, got.cells[0])
		}
		if wantLink := "?id=" + strings.TrimPrefix(want.id, "probe-"); len(got.links) != 1 || got.links[0] != wantLink {
			t.Errorf("probe %d links %v, want [%s]", i, got.links, wantLink)
		}
	}
	for _, stamp := range page.times {
		if _, err := time.Parse(time.RFC3339, stamp); err != nil {
			t.Errorf("datetime %q: %v", stamp, err)
		}
	}
	if page.links["Home"] != "/" {
		t.Errorf("Home links to %q, want /", page.links["Home"])
	}
}

// TestHistoryPageFilters: target (a case-insensitive part), module and
// result narrow the rows; a probe shows only its rows that pass, saying how
// many of its endpoints are shown.
func TestHistoryPageFilters(t *testing.T) {
	f := newHistoryFixture(t)
	f.probe(t.Context(), probeQuery("nowhere.test", "good", false)) // probe-4: the fixture's resolver knows no name, a dns failure
	for _, tt := range []struct {
		query     string
		wantRows  []string // probe id and result per row
		wantCount string
	}{
		{"", []string{"probe-4 failure", "probe-3 success", "probe-3 failure", "probe-2 failure", "probe-1 success"}, "4 of the 4 probes kept ("},
		{"result=failure", []string{"probe-4 failure", "probe-3 failure", "probe-2 failure"}, "3 of the 4 probes kept match the filters"},
		{"result=success", []string{"probe-3 success", "probe-1 success"}, "2 of the 4 probes kept match the filters"},
		{"module=mixed", []string{"probe-3 success", "probe-3 failure"}, "1 of the 4"},
		{"module=mixed&result=failure", []string{"probe-3 failure"}, "1 of the 4"},
		{"target=NOWHERE", []string{"probe-4 failure"}, "1 of the 4"},
		{"target=0.0.1", []string{"probe-3 success", "probe-3 failure", "probe-2 failure", "probe-1 success"}, "3 of the 4"},
		{"module=nosuch", nil, "No probe matches these filters."},
		{"target=127.0.0.1&module=good&result=failure", nil, "No probe matches these filters."},
	} {
		t.Run(tt.query, func(t *testing.T) {
			rec := f.getHistory(t, tt.query)
			page := parsePage(t, rec.Body.String())
			var got []string
			for _, row := range page.rows {
				got = append(got, row.probe+" "+row.result)
			}
			if strings.Join(got, ", ") != strings.Join(tt.wantRows, ", ") {
				t.Errorf("rows %v, want %v", got, tt.wantRows)
			}
			if !strings.Contains(rec.Body.String(), tt.wantCount) {
				t.Errorf("page lacks %q:\n%s", tt.wantCount, rec.Body)
			}
		})
	}
	body := f.getHistory(t, "module=mixed&result=failure").Body.String()
	if !strings.Contains(body, "1 of 2 endpoints shown") {
		t.Errorf("a probe with a row filtered out does not say so:\n%s", body)
	}
	if body := f.getHistory(t, "").Body.String(); strings.Contains(body, "endpoints shown") {
		t.Errorf("unfiltered page says endpoints are hidden:\n%s", body)
	}
}

// TestHistoryPageForm: the filters are a plain GET form that shows the
// filter in force; the module choice lists the modules in the history.
func TestHistoryPageForm(t *testing.T) {
	f := newHistoryFixture(t)
	body := f.getHistory(t, "target=127&module=bad&result=failure&refresh=0").Body.String()
	for _, want := range []string{
		`<form method="get"`, `name="target" value="127"`, `<option selected>bad</option>`,
		`<option>good</option>`, `<option>mixed</option>`, `<option selected>failure</option>`,
		`<input type="hidden" name="refresh" value="0">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("form lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script") {
		t.Error("the page has a script")
	}
	if page := parsePage(t, body); page.links["clear filters"] != "?refresh=0" {
		t.Errorf("clear filters links to %q, want ?refresh=0 (keeping auto refresh off)", page.links["clear filters"])
	}
}

// TestHistoryPageRefresh: a meta refresh by default, none with refresh=0,
// and links that switch between the two keeping the filters.
func TestHistoryPageRefresh(t *testing.T) {
	f := newHistoryFixture(t)
	for _, tt := range []struct {
		query, refresh, link, href string
	}{
		{"", "15", "stop auto refresh", "?refresh=0"},
		{"result=failure", "15", "stop auto refresh", "?refresh=0&result=failure"},
		{"result=failure&refresh=0", "", "turn it on", "?result=failure"},
		{"refresh=60&module=good", "60", "stop auto refresh", "?module=good&refresh=0"},
		{"refresh=1", "5", "stop auto refresh", "?refresh=0"},
		{"refresh=100000", "3600", "stop auto refresh", "?refresh=0"},
	} {
		t.Run(tt.query, func(t *testing.T) {
			page := f.page(t, tt.query)
			if page.refresh != tt.refresh {
				t.Errorf("meta refresh %q, want %q", page.refresh, tt.refresh)
			}
			if got := page.links[tt.link]; got != tt.href {
				t.Errorf("link %q goes to %q, want %q (links %v)", tt.link, got, tt.href, page.links)
			}
		})
	}
	for _, query := range []string{"refresh=-1", "refresh=abc", "refresh=1.5", "result=maybe", "result=%3Cb%3E"} {
		if rec := f.getHistory(t, query); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", query, rec.Code)
		}
	}
}

// TestHistoryPageEscapes: whatever a target or module name holds, the page
// shows it as text; the page loads nothing from elsewhere and forbids
// scripts.
func TestHistoryPageEscapes(t *testing.T) {
	h := NewHistory(10, 16<<20)
	tr := probe.NewTranscript(time.Now())
	h.add(newRecord(&probe.Outcome{
		Time: time.Now(), Target: `<script>alert("t")</script>`, ModuleName: `"><img src=x onerror=alert(1)>`,
		Answer:  exposition.NewBuilder(0).Answer(),
		Results: []*probe.Result{{Host: "<b>host</b>", Port: 25, Addr: "192.0.2.1:25", Transcript: tr}},
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, `/history?target=%22%3E%3Cscript%3E`, nil))
	body := rec.Body.String()
	for _, raw := range []string{"<script", "<img", "<b>host"} {
		if strings.Contains(body, raw) {
			t.Errorf("page holds %q unescaped:\n%s", raw, body)
		}
	}
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/history", nil))
	page := parsePage(t, rec.Body.String())
	if len(page.probes) != 1 || page.probes[0].cells[1] != `<script>alert("t")</script>` || page.rows[0].cells[0] != "<b>host</b>" || page.rows[0].cells[2] != "192.0.2.1" {
		t.Errorf("escaped text reads back as %+v %+v", page.probes, page.rows)
	}
	assertSelfContained(t, rec.Body.String())
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q, want default-src 'none'", csp)
	}
}

// assertSelfContained fails unless the page loads nothing: no element
// with a src, no link or script element, no style that imports, and links
// only within the exporter.
func assertSelfContained(t *testing.T, body string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		href := attr(n, "href")
		switch {
		case n.Data == "link" || n.Data == "script" || n.Data == "img" || n.Data == "iframe":
			t.Errorf("page has a <%s> element", n.Data)
		case attr(n, "src") != "":
			t.Errorf("<%s> loads %q", n.Data, attr(n, "src"))
		case strings.Contains(href, "//") || strings.Contains(href, ":"):
			t.Errorf("<%s> links out of the exporter: %q", n.Data, href)
		case n.Data == "style" && (strings.Contains(textOf(n), "@import") || strings.Contains(textOf(n), "url(")):
			t.Errorf("style loads something: %s", textOf(n))
		}
	}
}
