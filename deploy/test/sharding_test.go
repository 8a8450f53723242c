package deploytest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// shardedExample is the scrape config test/ha/run.sh runs with an HA pair
// of real Prometheus servers.
const shardedExample = "../../examples/prometheus-sharded.yml"

// TestShardingRelabelsAsTheExample: with sharding.replicas 3 the chart
// runs a StatefulSet behind a headless Service, and its ScrapeConfig and
// Probe send targets to the pods with the same relabeling as
// examples/prometheus-sharded.yml (whose addresses are this release's pod
// names), so what test/ha/run.sh shows of that file holds for the chart.
func TestShardingRelabelsAsTheExample(t *testing.T) {
	objects := renderValues(t, "sharding-values.yaml")
	checkHeadless(t, objects)
	want := exampleRelabeling(t)
	sc := only[*monitoringv1alpha1.ScrapeConfig](t, objects)
	if got := promRelabeling(t, sc.Spec.RelabelConfigs); !reflect.DeepEqual(got, want) {
		t.Errorf("ScrapeConfig relabelings:\n%v\nwant those of %s:\n%v", got, shardedExample, want)
	}
	// The Operator puts the target into __param_target and instance, and
	// prober.url into __address__, before a Probe's own relabelings.
	probe := only[*monitoringv1.Probe](t, objects)
	if got := promRelabeling(t, probe.Spec.Targets.StaticConfig.RelabelConfigs); !reflect.DeepEqual(got, want[2:]) {
		t.Errorf("Probe relabelingConfigs:\n%v\nwant those of %s after the first two:\n%v", got, shardedExample, want[2:])
	}
}

// TestShareWindowFromValues: sharding.shareWindow reaches every module
// that sets no share_window of its own, and "0s" leaves them all alone.
func TestShareWindowFromValues(t *testing.T) {
	windows := func(cm *corev1.ConfigMap) map[string]string {
		var cfg struct {
			Modules map[string]struct {
				ShareWindow string `json:"share_window"`
			} `json:"modules"`
		}
		if err := yaml.Unmarshal([]byte(cm.Data["config.yml"]), &cfg); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for name, m := range cfg.Modules {
			got[name] = m.ShareWindow
		}
		return got
	}
	cm := only[*corev1.ConfigMap](t, renderValues(t, "sharding-values.yaml"))
	if got, want := windows(cm), map[string]string{"default": "30s", "mx": "20s", "submission": "30s"}; !reflect.DeepEqual(got, want) {
		t.Errorf("share_window per module = %v, want %v", got, want)
	}
	cm = only[*corev1.ConfigMap](t, renderValues(t, "sharding-values.yaml", "--set", "sharding.shareWindow=0s"))
	if got, want := windows(cm), map[string]string{"default": "", "mx": "20s", "submission": ""}; !reflect.DeepEqual(got, want) {
		t.Errorf("with shareWindow 0s, share_window per module = %v, want %v", got, want)
	}
}

// TestShareWindowAtMostHalfTheInterval: a window over half the scrape
// interval would answer a scrape with the interval before's result.
func TestShareWindowAtMostHalfTheInterval(t *testing.T) {
	helm := findHelm(t)
	for _, set := range []string{"probe.interval=59s", "scrapeConfig.interval=45s", "sharding.shareWindow=1m"} {
		args := []string{"template", "smtp-exporter", chartDir, "-f", filepath.Join(valuesDir, "sharding-values.yaml"), "--set", set}
		if _, err := helm.Run(args...); err == nil || !strings.Contains(err.Error(), "more than half") {
			t.Errorf("--set %s: err = %v, want a refusal", set, err)
		}
	}
}

func renderValues(t *testing.T, values string, extra ...string) []Object {
	t.Helper()
	args := append([]string{"template", "smtp-exporter", chartDir, "--namespace", namespace, "-f", filepath.Join(valuesDir, values)}, extra...)
	out, err := findHelm(t).Run(args...)
	if err != nil {
		t.Fatal(err)
	}
	objects, err := DecodeStrict(out)
	if err != nil {
		t.Fatal(err)
	}
	return objects
}

// checkHeadless: the StatefulSet names the headless Service, which
// selects its pods and has no cluster address, so each pod has a DNS name.
func checkHeadless(t *testing.T, objects []Object) {
	t.Helper()
	sts := only[*appsv1.StatefulSet](t, objects)
	var headless *corev1.Service
	for _, o := range objects {
		if s, ok := o.Value.(*corev1.Service); ok && s.Name == sts.Spec.ServiceName {
			headless = s
		}
	}
	switch {
	case headless == nil:
		t.Fatalf("no Service named %q, the StatefulSet's serviceName", sts.Spec.ServiceName)
	case headless.Spec.ClusterIP != corev1.ClusterIPNone:
		t.Errorf("Service %s has clusterIP %q, want None", headless.Name, headless.Spec.ClusterIP)
	case !reflect.DeepEqual(headless.Spec.Selector, sts.Spec.Selector.MatchLabels):
		t.Errorf("Service %s selects %v, the pods carry %v", headless.Name, headless.Spec.Selector, sts.Spec.Selector.MatchLabels)
	case sts.Spec.Replicas == nil || *sts.Spec.Replicas != 3:
		t.Errorf("StatefulSet replicas = %v, want 3", sts.Spec.Replicas)
	}
}

// exampleRelabeling returns the relabel_configs of the example's smtp job,
// each rule as Prometheus reads it.
func exampleRelabeling(t *testing.T) []map[string]any {
	t.Helper()
	text, err := os.ReadFile(shardedExample)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			JobName        string           `json:"job_name"`
			RelabelConfigs []map[string]any `json:"relabel_configs"`
		} `json:"scrape_configs"`
	}
	if err := yaml.Unmarshal(text, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, job := range cfg.ScrapeConfigs {
		if job.JobName == "smtp" {
			return job.RelabelConfigs
		}
	}
	t.Fatalf("%s has no job smtp", shardedExample)
	return nil
}

// promRelabeling turns the Operator's relabel configs into Prometheus's
// spelling: the same keys in snake_case, values through JSON.
func promRelabeling(t *testing.T, rules []monitoringv1.RelabelConfig) []map[string]any {
	t.Helper()
	names := map[string]string{"sourceLabels": "source_labels", "targetLabel": "target_label"}
	var out []map[string]any
	for _, r := range rules {
		text, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(text, &m); err != nil {
			t.Fatal(err)
		}
		rule := map[string]any{}
		for k, v := range m {
			if n, ok := names[k]; ok {
				k = n
			}
			rule[k] = v
		}
		out = append(out, rule)
	}
	return out
}
