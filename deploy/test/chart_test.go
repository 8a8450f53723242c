package deploytest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

const (
	chartDir  = "../helm/smtp-exporter"
	valuesDir = "../helm/ci"
	namespace = "monitoring"
)

// wantKinds are the kinds each values set of ../helm/ci renders.
var wantKinds = map[string][]string{
	"default-values.yaml":     {"ConfigMap", "Deployment", "Service", "ServiceAccount"},
	"auth-secret-values.yaml": {"ConfigMap", "Deployment", "Service", "ServiceAccount"},
	"web-config-values.yaml":  {"ConfigMap", "Deployment", "Service", "ServiceAccount", "ServiceMonitor"},
	"all-values.yaml":         {"ConfigMap", "Deployment", "Probe", "ScrapeConfig", "Service", "ServiceAccount", "ServiceMonitor"},
	"sharding-values.yaml":    {"ConfigMap", "Probe", "ScrapeConfig", "Service", "Service", "ServiceAccount", "StatefulSet"},
}

func findHelm(t *testing.T) Helm {
	t.Helper()
	h, err := FindHelm()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// valuesFiles lists ../helm/ci/*.yaml and checks each has an entry in wantKinds.
func valuesFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(valuesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no values files in %s: %v", valuesDir, err)
	}
	for _, f := range files {
		if _, ok := wantKinds[filepath.Base(f)]; !ok {
			t.Fatalf("%s: add the kinds it renders to wantKinds", f)
		}
	}
	return files
}

func TestChartLint(t *testing.T) {
	helm := findHelm(t)
	for _, values := range valuesFiles(t) {
		t.Run(filepath.Base(values), func(t *testing.T) {
			if _, err := helm.Run("lint", "--strict", chartDir, "--namespace", namespace, "-f", values); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestChartRendersValidObjects(t *testing.T) {
	helm := findHelm(t)
	exporter := buildExporter(t)
	for _, values := range valuesFiles(t) {
		name := filepath.Base(values)
		t.Run(name, func(t *testing.T) {
			out, err := helm.Run("template", "smtp-exporter", chartDir, "--namespace", namespace, "-f", values)
			if err != nil {
				t.Fatal(err)
			}
			objects, err := DecodeStrict(out)
			if err != nil {
				t.Fatal(err)
			}
			if got := kinds(objects); !slices.Equal(got, wantKinds[name]) {
				t.Errorf("kinds = %v, want %v", got, wantKinds[name])
			}
			pod := podTemplate(t, objects)
			checkPodHardening(t, pod)
			checkHealthProbes(t, pod)
			checkConfig(t, exporter, only[*corev1.ConfigMap](t, objects), pod)
			checkScrapeTargets(t, objects, service(t, objects))
		})
	}
}

// TestRenderRefusesBadValues: the chart refuses a Probe or ScrapeConfig
// without targets and a web config without its Secret instead of rendering
// a broken object, and values.schema.json refuses misspelt keys and wrong
// values instead of ignoring them.
func TestRenderRefusesBadValues(t *testing.T) {
	helm := findHelm(t)
	for _, set := range []string{
		"probe.enabled=true",
		"scrapeConfig.enabled=true",
		"webConfig.enabled=true",
		"serviceMonitor.enable=true",
		"log.level=verbose",
		"scrapeClient.scheme=ftp",
		"probe.interval=1minute",
		"extraArgs={config.file=x}",
	} {
		if out, err := helm.Run("template", "smtp-exporter", chartDir, "--set", set); err == nil {
			t.Errorf("--set %s rendered:\n%s", set, out)
		}
	}
}

func TestPlainManifestsEqualAFreshRender(t *testing.T) {
	helm := findHelm(t)
	fresh := t.TempDir()
	cmd := exec.Command("bash", "../../scripts/manifests.sh", fresh)
	cmd.Env = append(os.Environ(), "HELM="+helm.Path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/manifests.sh: %v\n%s", err, out)
	}
	for _, name := range []string{"smtp-exporter.yaml", "prometheus-operator.yaml"} {
		want, err := os.ReadFile(filepath.Join(fresh, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("../kubernetes", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("deploy/kubernetes/%s differs from a fresh render: run `make manifests`", name)
		}
		if _, err := DecodeStrict(got); err != nil {
			t.Errorf("deploy/kubernetes/%s: %v", name, err)
		}
	}
}

func kinds(objects []Object) []string {
	var k []string
	for _, o := range objects {
		k = append(k, o.Kind)
	}
	slices.Sort(k)
	return k
}

// podTemplate returns the pod template of the one workload: a Deployment,
// or a StatefulSet when the chart runs sharded.
func podTemplate(t *testing.T, objects []Object) *corev1.PodTemplateSpec {
	t.Helper()
	var templates []*corev1.PodTemplateSpec
	for _, o := range objects {
		switch v := o.Value.(type) {
		case *appsv1.Deployment:
			templates = append(templates, &v.Spec.Template)
		case *appsv1.StatefulSet:
			templates = append(templates, &v.Spec.Template)
		}
	}
	if len(templates) != 1 {
		t.Fatalf("%d Deployments and StatefulSets, want 1", len(templates))
	}
	return templates[0]
}

// service returns the Service with a cluster address: the one that is
// not headless.
func service(t *testing.T, objects []Object) *corev1.Service {
	t.Helper()
	var found []*corev1.Service
	for _, o := range objects {
		if v, ok := o.Value.(*corev1.Service); ok && v.Spec.ClusterIP != corev1.ClusterIPNone {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d Services with a cluster address, want 1", len(found))
	}
	return found[0]
}

// only returns the one object of type T.
func only[T any](t *testing.T, objects []Object) T {
	t.Helper()
	var found []T
	for _, o := range objects {
		if v, ok := o.Value.(T); ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("%d objects of type %T, want 1", len(found), zero)
	}
	return found[0]
}

func checkPodHardening(t *testing.T, template *corev1.PodTemplateSpec) {
	t.Helper()
	pod := template.Spec
	c := pod.Containers[0]
	sc := c.SecurityContext
	switch {
	case sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("container root filesystem is not read-only")
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 65534:
		t.Error("container does not run as non-root 65534")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("container allows privilege escalation")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}):
		t.Error("container keeps capabilities")
	case pod.SecurityContext == nil || pod.SecurityContext.SeccompProfile == nil ||
		pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("pod has no RuntimeDefault seccomp profile")
	}
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Error("container has no memory request or limit")
	}
}

func checkHealthProbes(t *testing.T, pod *corev1.PodTemplateSpec) {
	t.Helper()
	c := pod.Spec.Containers[0]
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 10587 || c.Ports[0].Name != "http" {
		t.Errorf("container ports = %+v, want http on 10587", c.Ports)
	}
	wantScheme := corev1.URISchemeHTTP
	if slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--web.config.file=") }) {
		wantScheme = corev1.URISchemeHTTPS
	}
	for path, p := range map[string]*corev1.Probe{"/-/healthy": c.LivenessProbe, "/-/ready": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "http" || p.HTTPGet.Scheme != wantScheme {
			t.Errorf("probe for %s = %+v, want GET %s %s on port http", path, p, wantScheme, path)
		}
	}
}

// checkScrapeTargets: the Probe and ScrapeConfig send their scrapes to
// the Service's cluster address, on /probe, with the target as a parameter.
func checkScrapeTargets(t *testing.T, objects []Object, svc *corev1.Service) {
	t.Helper()
	address := svc.Name + "." + namespace + ".svc:10587"
	for _, o := range objects {
		switch v := o.Value.(type) {
		case *monitoringv1.Probe:
			if v.Spec.ProberSpec.URL != address || v.Spec.ProberSpec.Path != "/probe" {
				t.Errorf("Probe prober = %+v, want %s/probe", v.Spec.ProberSpec, address)
			}
			if v.Spec.Targets.StaticConfig == nil || len(v.Spec.Targets.StaticConfig.Targets) == 0 {
				t.Error("Probe has no targets")
			}
		case *monitoringv1alpha1.ScrapeConfig:
			checkScrapeConfig(t, v, address)
		}
	}
}

func checkScrapeConfig(t *testing.T, sc *monitoringv1alpha1.ScrapeConfig, address string) {
	t.Helper()
	if sc.Spec.MetricsPath == nil || *sc.Spec.MetricsPath != "/probe" || len(sc.Spec.Params["module"]) != 1 {
		t.Errorf("ScrapeConfig path %v params %v, want /probe with one module", sc.Spec.MetricsPath, sc.Spec.Params)
	}
	var toParam, toAddress bool
	for _, r := range sc.Spec.RelabelConfigs {
		toParam = toParam || (r.TargetLabel == "__param_target" && slices.Equal(r.SourceLabels, []monitoringv1.LabelName{"__address__"}))
		toAddress = toAddress || (r.TargetLabel == "__address__" && r.Replacement != nil && *r.Replacement == address)
		// Sharded: each target to one pod (TestShardingRelabelsAsTheExample).
		toAddress = toAddress || r.Action == "hashmod"
	}
	if !toParam || !toAddress {
		t.Errorf("ScrapeConfig relabelings %+v do not move the target to ?target= and scrape %s", sc.Spec.RelabelConfigs, address)
	}
}
