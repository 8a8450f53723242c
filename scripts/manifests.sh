#!/usr/bin/env bash
# manifests.sh [OUTDIR] — renders the plain Kubernetes manifests from the
# chart into OUTDIR (default deploy/kubernetes/):
#   smtp-exporter.yaml        the chart's defaults, release smtp-exporter in
#                             namespace monitoring;
#   prometheus-operator.yaml  the ServiceMonitor, Probe and ScrapeConfig with
#                             deploy/kubernetes/prometheus-operator-values.yaml.
# `make manifests` runs it; deploy/test checks the committed files equal a
# fresh render. HELM names the helm binary (default: helm on PATH).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$repo/deploy/kubernetes}
helm=${HELM:-helm}
chart=$repo/deploy/helm/smtp-exporter
render=("$helm" template smtp-exporter "$chart" --namespace monitoring)

mkdir -p "$out"
"${render[@]}" >"$out/smtp-exporter.yaml"
"${render[@]}" -f "$repo/deploy/kubernetes/prometheus-operator-values.yaml" \
  --show-only templates/servicemonitor.yaml --show-only templates/probe.yaml \
  --show-only templates/scrapeconfig.yaml >"$out/prometheus-operator.yaml"
