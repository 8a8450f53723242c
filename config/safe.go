package config

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// SafeConfig holds the running configuration and swaps it only when a new
// file loads without error.
type SafeConfig struct {
	path string

	mu  sync.RWMutex
	cfg *Config

	reloadSuccess   prometheus.Gauge
	reloadTimestamp prometheus.Gauge
}

// NewSafeConfig returns a SafeConfig for path (empty: the embedded default)
// whose reload gauges are registered with reg.
func NewSafeConfig(path string, reg prometheus.Registerer) *SafeConfig {
	s := &SafeConfig{
		path: path,
		reloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "smtp_exporter_config_last_reload_successful",
			Help: "Whether the last configuration load or reload succeeded (1) or failed (0).",
		}),
		reloadTimestamp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "smtp_exporter_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful configuration load or reload.",
		}),
	}
	reg.MustRegister(s.reloadSuccess, s.reloadTimestamp)
	return s
}

// Get returns the running configuration; callers must not modify it.
func (s *SafeConfig) Get() *Config {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cfg
}

// Reload loads the file again. On error the running configuration stays and
// the error is returned.
func (s *SafeConfig) Reload() error {
	c, err := Load(s.path)
	if err != nil {
		s.reloadSuccess.Set(0)
		return fmt.Errorf("config not reloaded, keeping the running one: %w", err)
	}
	s.mu.Lock()
	s.cfg = c
	s.mu.Unlock()
	s.reloadSuccess.Set(1)
	s.reloadTimestamp.SetToCurrentTime()
	return nil
}
