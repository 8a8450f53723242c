package handler

import "html/template"

// historyPage is /history: a filter form (a plain GET form, no script),
// then one table row per endpoint, each probe's rows in a tbody of their
// own, newest probe first. Auto refresh is a meta refresh that refresh=0
// turns off. Everything it shows is escaped by html/template, and it loads
// nothing from elsewhere: the exporter may run air-gapped.
var historyPage = template.Must(template.New("history").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>smtp_exporter: recent probes</title>
{{if .Filter.Refresh}}<meta http-equiv="refresh" content="{{.Filter.Refresh}}">{{end}}
<style>
body{font-family:system-ui,sans-serif;margin:1em 2em;color:#202124}
h1{font-size:1.4em;margin:.2em 0}
nav,.count{color:#5f6368;margin:.4em 0}
form{display:flex;gap:1em;flex-wrap:wrap;align-items:center;margin:.8em 0;padding:.6em;background:#f8f9fa;border:1px solid #dadce0}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{padding:4px 8px;text-align:left;vertical-align:top;border-bottom:1px solid #e0e0e0}
th{background:#f1f3f4}
tbody.probe{border-top:2px solid #5f6368}
td.ok{background:#e6f4ea;color:#137333}
td.warn{background:#fef7e0;color:#b06000}
td.fail{background:#fce8e6;color:#c5221f}
td.num{text-align:right;font-variant-numeric:tabular-nums}
small{color:#5f6368}
</style></head>
<body>
<h1>Recent probes</h1>
<nav><a href="{{.Root}}">Home</a> ·
{{if .Filter.Refresh}}refreshes every {{.Filter.Refresh}} s: <a href="{{.RefreshOff}}">stop auto refresh</a>
{{else}}auto refresh is off: <a href="{{.RefreshOn}}">turn it on</a>{{end}}</nav>
<form method="get" action="">
<label>Target contains <input type="search" name="target" value="{{.Filter.Target}}"></label>
<label>Module <select name="module"><option value="">any</option>
{{range .Modules}}<option{{if eq . $.Filter.Module}} selected{{end}}>{{.}}</option>{{end}}</select></label>
<label>Result <select name="result"><option value="">any</option>
<option{{if eq .Filter.Result "success"}} selected{{end}}>success</option>
<option{{if eq .Filter.Result "failure"}} selected{{end}}>failure</option></select></label>
{{if .KeepsRefresh}}<input type="hidden" name="refresh" value="{{.Filter.Refresh}}">{{end}}
<button type="submit">Filter</button> <a href="{{.Clear}}">clear filters</a>
</form>
<p class="count">{{len .Probes}} of the {{.Kept}} probes kept{{if .Filtered}} match the filters{{end}} (the history keeps the last {{.Limit}} at most).</p>
{{if .Probes}}<table>
<thead><tr><th>Time</th><th>Target</th><th>Module</th><th>Probe</th><th>Host</th><th>Port</th><th>Address</th><th>Result</th><th>Phase/reason</th><th>Took</th></tr></thead>
{{range $p := .Probes}}<tbody class="probe" id="probe-{{$p.ID}}">
{{range $i, $row := $p.Rows}}<tr class="endpoint {{$row.Class}}" data-result="{{$row.Result}}">
{{if eq $i 0}}<td rowspan="{{len $p.Rows}}"><time datetime="{{$p.Time.Format "2006-01-02T15:04:05.000Z07:00"}}">{{$p.Time.Format "2006-01-02 15:04:05 MST"}}</time></td>
<td rowspan="{{len $p.Rows}}">{{$p.Target}}</td><td rowspan="{{len $p.Rows}}">{{$p.ModuleName}}</td>
<td rowspan="{{len $p.Rows}}" class="{{if $p.Success}}ok{{else}}fail{{end}}">{{if $p.Success}}success{{else}}failure{{end}} in {{$p.Took}}
{{if lt (len $p.Rows) $p.Endpoints}}<br><small>{{len $p.Rows}} of {{$p.Endpoints}} endpoints shown</small>{{end}}
<br><a href="?id={{$p.ID}}">transcript</a></td>
{{end}}<td>{{or $row.Host "—"}}</td><td class="num">{{if $row.Port}}{{$row.Port}}{{end}}</td><td>{{or $row.Address "—"}}</td>
<td class="{{$row.Class}}">{{$row.Result}}</td><td>{{$row.Failure}}</td><td class="num">{{$row.Took}}</td></tr>
{{end}}</tbody>
{{end}}</table>
{{else}}<p class="count">{{if .Kept}}No probe matches these filters.{{else}}No probes yet: each /probe request adds one.{{end}}</p>
{{end}}</body></html>
`))
