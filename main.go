// Command smtp_exporter is a Prometheus multi-target exporter that probes
// every SMTP port of a target at once.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	webflag "github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/smtp-exporter/smtp_exporter/collector"
	"github.com/smtp-exporter/smtp_exporter/config"
)

const name = "smtp_exporter"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

// run starts the exporter and serves until ctx is done.
func run(ctx context.Context, args []string) int {
	app := kingpin.New(name, "A Prometheus exporter that probes every SMTP port of a target at once.")
	var (
		configFile    = app.Flag("config.file", "Configuration file; the embedded default config when empty.").Default("").String()
		configCheck   = app.Flag("config.check", "Check the configuration file and exit.").Default("false").Bool()
		metricsPath   = app.Flag("web.telemetry-path", "Path under which to expose the exporter's own metrics.").Default("/metrics").String()
		timeoutOffset = app.Flag("timeout-offset", "Seconds to subtract from Prometheus's scrape timeout to get the probe budget.").Default("0.5").Float64()
		historyLimit  = app.Flag("history.limit", "How many recent probes /history keeps.").Default("100").Int()
		maxConcurrent = app.Flag("probe.max-concurrent", "Probes in flight at most; more are answered with 503.").Default("1000").Int()
		webConfig     = webflag.AddFlags(app, ":10587")
		logConfig     = &promslog.Config{}
	)
	flag.AddFlags(app, logConfig)
	app.Version(version.Print(name))
	app.HelpFlag.Short('h')
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	logger := promslog.New(logConfig)

	if *configCheck {
		if _, err := config.Load(*configFile); err != nil {
			logger.Error("invalid configuration", "err", err)
			return 1
		}
		logger.Info("configuration is valid", "file", *configFile)
		return 0
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		versioncollector.NewCollector(name),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	safeConfig := config.NewSafeConfig(*configFile, reg)
	if err := safeConfig.Reload(); err != nil {
		logger.Error("loading configuration", "err", err)
		return 1
	}
	logger.Info("starting "+name, "version", version.Info(), "config", *configFile)

	reloads := make(chan chan error)
	go reloadLoop(ctx, safeConfig, reloads, logger)

	hostname, _ := os.Hostname()
	history := collector.NewHistory(*historyLimit)
	probe := collector.NewHandler(collector.HandlerOptions{
		Config:        safeConfig.Get,
		Prober:        collector.NewProber(hostname, logger),
		Metrics:       collector.NewExporterMetrics(reg),
		History:       history,
		TimeoutOffset: time.Duration(*timeoutOffset * float64(time.Second)),
		MaxConcurrent: *maxConcurrent,
		Logger:        logger,
	})

	mux := http.NewServeMux()
	mux.Handle("/probe", probe)
	mux.Handle("/history", history)
	mux.Handle(*metricsPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Registry: reg}))
	mux.HandleFunc("/-/reload", reloadHandler(reloads))
	mux.HandleFunc("/-/healthy", ok)
	mux.HandleFunc("/-/ready", ok)
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "SMTP Exporter",
		Description: "Prometheus exporter probing every SMTP port of a target at once",
		Version:     version.Info(),
		Links: []web.LandingLinks{
			{Address: *metricsPath, Text: "Exporter metrics"},
			{Address: "/probe?target=localhost&debug=true", Text: "Probe localhost (debug)"},
			{Address: "/history", Text: "Recent probes and their transcripts"},
		},
	})
	if err != nil {
		logger.Error("creating landing page", "err", err)
		return 1
	}
	mux.Handle("/", landing)

	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		server.Shutdown(context.Background())
	}()
	if err := web.ListenAndServe(server, webConfig, logger); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error("HTTP server stopped", "err", err)
		return 1
	}
	return 0
}

// reloadLoop is the one goroutine that reloads the configuration, on SIGHUP
// or when /-/reload sends a reply channel, until ctx is done.
func reloadLoop(ctx context.Context, cfg *config.SafeConfig, requests chan chan error, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		var reply chan error
		select {
		case <-ctx.Done():
			return
		case <-hup:
		case reply = <-requests:
		}
		err := cfg.Reload()
		if err != nil {
			logger.Error("reloading configuration", "err", err)
		} else {
			logger.Info("configuration reloaded")
		}
		if reply != nil {
			reply <- err
		}
	}
}

func reloadHandler(requests chan chan error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "reload needs POST", http.StatusMethodNotAllowed)
			return
		}
		reply := make(chan error)
		requests <- reply
		if err := <-reply; err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "configuration reloaded")
	}
}

func ok(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "OK") }
