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
