package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// buildExporter builds smtp_exporter from the repository root, for
// --config.check of the rendered configurations.
func buildExporter(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "smtp_exporter")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the exporter: %v\n%s", err, out)
	}
	return bin
}

// moduleAuth is the part of a module's configuration that names files
// the pod must mount.
type moduleAuth struct {
	Auth struct {
		PasswordFile string `json:"password_file"`
	} `json:"auth"`
}

// checkConfig: the pod mounts the ConfigMap and passes its file to
// --config.file; every password file lies in a mounted Secret; and the
// configuration passes the exporter's --config.check (password files
// replaced by a temporary one, since the Secrets exist only in a cluster).
func checkConfig(t *testing.T, exporter string, cm *corev1.ConfigMap, d *corev1.PodTemplateSpec) {
	t.Helper()
	c := d.Spec.Containers[0]
	if !slices.Contains(c.Args, "--config.file=/etc/smtp_exporter/config/config.yml") || mountPathOf(d, "config") != "/etc/smtp_exporter/config" {
		t.Errorf("args %v and mounts %+v do not serve the ConfigMap's config.yml", c.Args, c.VolumeMounts)
	}
	text := cm.Data["config.yml"]
	var cfg struct {
		Modules map[string]moduleAuth `json:"modules"`
	}
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatalf("config.yml: %v", err)
	}
	password := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(password, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, m := range cfg.Modules {
		file := m.Auth.PasswordFile
		if file == "" {
			continue
		}
		if !inSecretMount(d, file) {
			t.Errorf("module %s: password_file %s is in no mounted Secret", name, file)
		}
		text = strings.ReplaceAll(text, file, password)
	}
	configCheck(t, exporter, text)
}

func configCheck(t *testing.T, exporter, config string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(file, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(exporter, "--config.check", "--config.file="+file).CombinedOutput(); err != nil {
		t.Errorf("smtp_exporter --config.check: %v\n%s\n%s", err, out, config)
	}
}

// inSecretMount: path lies under the mount of a Secret volume.
func inSecretMount(d *corev1.PodTemplateSpec, path string) bool {
	for _, v := range d.Spec.Volumes {
		dir := mountPathOf(d, v.Name)
		if v.Secret != nil && dir != "" && strings.HasPrefix(path, dir+"/") {
			return true
		}
	}
	return false
}

// mountPathOf returns where the container mounts volume, or "".
func mountPathOf(d *corev1.PodTemplateSpec, volume string) string {
	for _, m := range d.Spec.Containers[0].VolumeMounts {
		if m.Name == volume {
			return m.MountPath
		}
	}
	return ""
}
