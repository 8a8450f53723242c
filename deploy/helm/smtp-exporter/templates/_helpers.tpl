{{/* The chart's name, or nameOverride. */}}
{{- define "smtp-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: fullnameOverride, or release-chart unless the release already names the chart. */}}
{{- define "smtp-exporter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "smtp-exporter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "smtp-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the exporter's pods. */}}
{{- define "smtp-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "smtp-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "smtp-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "smtp-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* host:port of the exporter's Service inside the cluster. */}}
{{- define "smtp-exporter.address" -}}
{{- printf "%s.%s.svc:%d" (include "smtp-exporter.fullname" .) .Release.Namespace (int .Values.service.port) }}
{{- end }}

{{/* The path of the mounted configuration file. */}}
{{- define "smtp-exporter.configFile" -}}
/etc/smtp_exporter/config/config.yml
{{- end }}

{{/* The liveness or readiness probe for path (dict "root" . "path" P "tuning" V). */}}
{{- define "smtp-exporter.httpProbe" -}}
httpGet:
  path: {{ .path }}
  port: http
  scheme: {{ ternary "HTTPS" "HTTP" .root.Values.webConfig.tls }}
  {{- with .root.Values.webConfig.probeHeaders }}
  httpHeaders:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{ toYaml .tuning }}
{{- end }}

{{/* scheme, tlsConfig and basicAuth of a Prometheus Operator endpoint, from scrapeClient. */}}
{{- define "smtp-exporter.scrapeClient" -}}
scheme: {{ .Values.scrapeClient.scheme }}
{{- with .Values.scrapeClient.tlsConfig }}
tlsConfig:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.scrapeClient.basicAuth }}
basicAuth:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Whether the exporter runs sharded: a StatefulSet of sharding.replicas pods behind a headless Service. */}}
{{- define "smtp-exporter.sharded" -}}
{{- if gt (int .Values.sharding.replicas) 0 }}true{{ end }}
{{- end }}

{{/* The headless Service that gives each pod of the StatefulSet its own DNS name. */}}
{{- define "smtp-exporter.headlessName" -}}
{{- printf "%s-headless" (include "smtp-exporter.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* host:port of pod i of the StatefulSet (dict "root" . "i" I). */}}
{{- define "smtp-exporter.podAddress" -}}
{{- printf "%s-%d.%s.%s.svc:10587" (include "smtp-exporter.fullname" .root) (int .i) (include "smtp-exporter.headlessName" .root) .root.Release.Namespace }}
{{- end }}

{{/*
The relabelings that send each target always to the same pod: hashmod of
the target (already in __param_target) modulo the pods, then that pod's
address; a shard with no pod is dropped rather than scraped at the target's
own address (the Operator drops an empty regex, so the last rule keeps
addresses rather than drop empty ones). Prometheus Operator RelabelConfig form, the same rules as
examples/prometheus-sharded.yml (deploy/test holds them equal).
*/}}
{{- define "smtp-exporter.shardRelabelings" -}}
- sourceLabels: [__param_target]
  modulus: {{ .Values.sharding.replicas }}
  targetLabel: __tmp_smtp_exporter_shard
  action: hashmod
- targetLabel: __address__
  replacement: ""
{{- range $i := until (int .Values.sharding.replicas) }}
- sourceLabels: [__tmp_smtp_exporter_shard]
  regex: {{ $i | toString | quote }}
  targetLabel: __address__
  replacement: {{ include "smtp-exporter.podAddress" (dict "root" $ "i" $i) }}
{{- end }}
- sourceLabels: [__address__]
  regex: .+
  action: keep
{{- end }}

{{/* A Prometheus duration ("1m30s") in milliseconds. */}}
{{- define "smtp-exporter.milliseconds" -}}
{{- $total := 0 }}
{{- range regexFindAll "[0-9]+(ms|s|m|h)" . -1 }}
{{- $unit := get (dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000) (regexFind "(ms|s|m|h)$" .) }}
{{- $total = add $total (mul (regexFind "^[0-9]+" . | int64) $unit) }}
{{- end }}
{{- $total }}
{{- end }}

{{/*
Fails when sharding.shareWindow is more than half the interval of the
Probe or ScrapeConfig: a scrape would then be answered from the
interval before instead of a probe of its own.
*/}}
{{- define "smtp-exporter.checkShareWindow" -}}
{{- $window := include "smtp-exporter.milliseconds" .Values.sharding.shareWindow | int64 }}
{{- range $kind := list "probe" "scrapeConfig" }}
{{- $v := index $.Values $kind }}
{{- if and $v.enabled (gt (mul $window 2) (include "smtp-exporter.milliseconds" $v.interval | int64)) }}
{{- fail (printf "sharding.shareWindow %s is more than half of %s.interval %s: a scrape would get the interval before's result" $.Values.sharding.shareWindow $kind $v.interval) }}
{{- end }}
{{- end }}
{{- end }}
