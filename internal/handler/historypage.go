package handler

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Auto refresh of /history, in seconds: the default, and the bounds a
// refresh= value is held within (0 turns it off).
const (
	defaultRefresh = 15
	minRefresh     = 5
	maxRefresh     = 3600
)

// The values of the result filter and of a row's result.
const (
	resultSuccess = "success"
	resultFailure = "failure"
)

// historyFilter is what /history's query asks for: probes whose target
// contains Target (case-insensitive), of module Module, and the endpoint
// rows whose result is Result; empty fields match everything. Refresh is
// the auto refresh period in seconds, 0 for none.
type historyFilter struct {
	Target  string
	Module  string
	Result  string
	Refresh int
}

// parseHistoryFilter reads the filter from q; a result other than success
// or failure, or a refresh that is not a whole number of seconds, is an
// error. A refresh is held within [minRefresh, maxRefresh] unless 0.
func parseHistoryFilter(q url.Values) (historyFilter, error) {
	f := historyFilter{Target: strings.TrimSpace(q.Get("target")), Module: q.Get("module"), Result: q.Get("result"), Refresh: defaultRefresh}
	if f.Result != "" && f.Result != resultSuccess && f.Result != resultFailure {
		return f, fmt.Errorf("result is %q: want success, failure or nothing", f.Result)
	}
	if text := q.Get("refresh"); text != "" {
		seconds, err := strconv.Atoi(text)
		if err != nil || seconds < 0 {
			return f, fmt.Errorf("refresh is %q: want a number of seconds, 0 for no auto refresh", text)
		}
		f.Refresh = seconds
		if seconds != 0 {
			f.Refresh = min(max(seconds, minRefresh), maxRefresh)
		}
	}
	return f, nil
}

// query is the filter as a query string; withRefresh keeps the refresh
// setting, which otherwise goes back to the default.
func (f historyFilter) query(withRefresh bool) string {
	v := url.Values{}
	for key, value := range map[string]string{"target": f.Target, "module": f.Module, "result": f.Result} {
		if value != "" {
			v.Set(key, value)
		}
	}
	if withRefresh && f.Refresh != defaultRefresh {
		v.Set("refresh", strconv.Itoa(f.Refresh))
	}
	return "?" + v.Encode()
}

// matches reports whether rec passes the target and module filters.
func (f historyFilter) matches(rec *record) bool {
	return (f.Module == "" || rec.ModuleName == f.Module) &&
		(f.Target == "" || strings.Contains(strings.ToLower(rec.Target), strings.ToLower(f.Target)))
}

// historyRow is one endpoint of a probe on the page.
type historyRow struct {
	Host    string
	Port    int
	Address string
	// Result is success or failure; Class colours it: ok, warn (up, but
	// an expectation failed) or fail.
	Result string
	Class  string
	// Failure is phase/reason; empty on success.
	Failure string
	Took    string
}

// historyProbe is one probe on the page with its rows that pass the filter.
type historyProbe struct {
	ID         uint64
	Time       time.Time
	Target     string
	ModuleName string
	Success    bool
	Took       string
	Rows       []historyRow
	// Endpoints counts all the probe's endpoints, shown or not.
	Endpoints int
}

// rowOf is the page row of one endpoint.
func rowOf(ep endpointRecord) historyRow {
	row := historyRow{Host: ep.Host, Port: ep.Port, Address: ep.Address, Result: resultSuccess, Class: "ok", Took: roundDuration(ep.Took)}
	if !ep.Success {
		row.Result, row.Class = resultFailure, "fail"
		if ep.Up {
			row.Class = "warn"
		}
	}
	if f := ep.Failure; f != nil {
		row.Failure = f.Phase.String() + "/" + f.Reason
	}
	return row
}

// probeOf is rec as the page shows it under f, and false when no row of it
// passes. A probe without endpoints shows as one failed row.
func probeOf(rec *record, f historyFilter) (historyProbe, bool) {
	p := historyProbe{
		ID: rec.ID, Time: rec.Time, Target: rec.Target, ModuleName: rec.ModuleName,
		Success: rec.Success, Took: roundDuration(rec.Duration), Endpoints: len(rec.Endpoints),
	}
	rows := make([]historyRow, 0, len(rec.Endpoints))
	for _, ep := range rec.Endpoints {
		rows = append(rows, rowOf(ep))
	}
	if len(rows) == 0 {
		rows = append(rows, historyRow{Result: resultFailure, Class: "fail", Failure: "no endpoint"})
	}
	for _, row := range rows {
		if f.Result == "" || row.Result == f.Result {
			p.Rows = append(p.Rows, row)
		}
	}
	return p, len(p.Rows) > 0
}

// roundDuration rounds d to three or four significant digits.
func roundDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Microsecond).String()
}

// historyView is what the page template shows.
type historyView struct {
	Root   string
	Filter historyFilter
	// Modules are the module names in the history, for the module filter.
	Modules []string
	Probes  []historyProbe
	// Kept counts the probes kept, Limit the most kept.
	Kept, Limit int
	// RefreshOff and RefreshOn are this page without and with auto
	// refresh; Clear is it without filters.
	RefreshOff, RefreshOn, Clear string
}

// Filtered reports whether any filter is set.
func (v historyView) Filtered() bool {
	return v.Filter.Target != "" || v.Filter.Module != "" || v.Filter.Result != ""
}

// KeepsRefresh reports whether the filter form must carry the refresh
// setting, which is not the default.
func (v historyView) KeepsRefresh() bool { return v.Filter.Refresh != defaultRefresh }

// view builds the page for filter f from the records, newest first.
func (h *History) view(root string, f historyFilter) historyView {
	records := h.newestFirst()
	v := historyView{Root: root, Filter: f, Kept: len(records), Limit: h.limit}
	for _, rec := range records {
		if !slices.Contains(v.Modules, rec.ModuleName) {
			v.Modules = append(v.Modules, rec.ModuleName)
		}
		if !f.matches(rec) {
			continue
		}
		if p, ok := probeOf(rec, f); ok {
			v.Probes = append(v.Probes, p)
		}
	}
	if f.Module != "" && !slices.Contains(v.Modules, f.Module) {
		v.Modules = append(v.Modules, f.Module)
	}
	slices.Sort(v.Modules)
	off := f
	off.Refresh = 0
	v.RefreshOff, v.RefreshOn = off.query(true), f.query(false)
	v.Clear = historyFilter{Refresh: f.Refresh}.query(true)
	return v
}

// servePage writes the probe list for the request's filter.
func (h *History) servePage(w http.ResponseWriter, r *http.Request) {
	f, err := parseHistoryFilter(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var body bytes.Buffer
	if err := historyPage.Execute(&body, h.view(strings.TrimSuffix(r.URL.Path, "history"), f)); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// The page has no script and loads nothing: anything that slipped into
	// it could not run.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	w.Write(body.Bytes())
}
