// Package dashboards holds the Grafana dashboard (smtp_exporter.json) and the
// Prometheus alerting rules (alerts.yml) shipped with smtp_exporter, and the
// tests that keep them in step with the metrics the exporter emits. It has no
// Go code of its own.
package dashboards
