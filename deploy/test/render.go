// Package deploytest checks the Helm chart and the plain Kubernetes
// manifests: every object helm renders decodes strictly into its Go type
// (k8s.io/api, the Prometheus Operator's monitoring types), so a misspelt
// or misplaced field fails. It is its own module so that the exporter's
// go.mod carries none of these dependencies.
package deploytest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Object is one decoded manifest: its kind and its typed value.
type Object struct {
	Kind  string
	Name  string
	Value any
}

// newObject returns an empty value of the Go type for apiVersion/kind.
func newObject(typeMeta metav1.TypeMeta) (any, error) {
	switch typeMeta.APIVersion + "/" + typeMeta.Kind {
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1/Service":
		return &corev1.Service{}, nil
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, nil
	case "apps/v1/StatefulSet":
		return &appsv1.StatefulSet{}, nil
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &monitoringv1.ServiceMonitor{}, nil
	case "monitoring.coreos.com/v1/Probe":
		return &monitoringv1.Probe{}, nil
	case "monitoring.coreos.com/v1alpha1/ScrapeConfig":
		return &monitoringv1alpha1.ScrapeConfig{}, nil
	}
	return nil, fmt.Errorf("no Go type for apiVersion %q kind %q", typeMeta.APIVersion, typeMeta.Kind)
}

// documentSeparator splits a YAML stream into documents.
var documentSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// DecodeStrict decodes every document of a YAML stream into its Go type.
// An unknown field, a duplicate field, a value of the wrong type or a kind
// without a Go type is an error naming the document.
func DecodeStrict(stream []byte) ([]Object, error) {
	var objects []Object
	for i, doc := range documentSeparator.Split(string(stream), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		obj, err := decodeDocument([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		objects = append(objects, obj)
	}
	return objects, nil
}

func decodeDocument(doc []byte) (Object, error) {
	var typeMeta metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &typeMeta); err != nil {
		return Object{}, fmt.Errorf("reading apiVersion and kind: %w", err)
	}
	value, err := newObject(typeMeta)
	if err != nil {
		return Object{}, err
	}
	if err := yaml.UnmarshalStrict(doc, value); err != nil {
		return Object{}, fmt.Errorf("%s: %w", typeMeta.Kind, err)
	}
	meta, ok := value.(metav1.Object)
	if !ok {
		return Object{}, fmt.Errorf("%s has no object metadata", typeMeta.Kind)
	}
	return Object{Kind: typeMeta.Kind, Name: meta.GetName(), Value: value}, nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// Helm runs the helm binary named by $HELM, or helm on PATH.
type Helm struct {
	Path string
}

// FindHelm returns the helm to run, or an error saying how to get one.
func FindHelm() (Helm, error) {
	if p := os.Getenv("HELM"); p != "" {
		return Helm{Path: p}, nil
	}
	p, err := exec.LookPath("helm")
	if err != nil {
		return Helm{}, fmt.Errorf("no helm on PATH and HELM unset (go install helm.sh/helm/v3/cmd/helm@v3.22.0): %w", err)
	}
	return Helm{Path: p}, nil
}

// Run runs helm with args and returns its standard output.
func (h Helm) Run(args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(h.Path, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.Bytes(), nil
}
