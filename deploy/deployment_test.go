package deploy

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// TestDeploymentRunsEnsign checks what the schema cannot: that the pods run
// `ensign run` as replicas that elect a leader, roll one at a time, probe
// ensign's health endpoints on the port it listens on, mount writable
// volumes where it writes, and run locked down.
func TestDeploymentRunsEnsign(t *testing.T) {
	var d appsv1.Deployment
	fromManifest(t, findManifest(t, "Deployment", "ensign"), &d)
	var cm corev1.ConfigMap
	fromManifest(t, findManifest(t, "ConfigMap", "ensign"), &cm)

	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("replicas: want at least 2, a leader and a standby")
	}
	if cm.Data["ENSIGN_LEADER_ELECTION"] != "true" {
		t.Errorf("ENSIGN_LEADER_ELECTION %q: more than one replica needs leader election", cm.Data["ENSIGN_LEADER_ELECTION"])
	}
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("strategy %q: want RollingUpdate; leader election keeps two from acting at once", d.Spec.Strategy.Type)
	}
	if d.Spec.Template.Spec.ServiceAccountName != "ensign" {
		t.Errorf("serviceAccountName %q: want ensign (the one the ClusterRole is bound to)", d.Spec.Template.Spec.ServiceAccountName)
	}
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(d.Spec.Template.Spec.Containers))
	}
	c := d.Spec.Template.Spec.Containers[0]
	if len(c.Args) != 1 || c.Args[0] != "run" {
		t.Errorf("args %q: want [run]", c.Args)
	}
	if kz := readKustomization(t); len(kz.Images) != 1 || c.Image != kz.Images[0].Name+":"+kz.Images[0].NewTag {
		t.Errorf("image %q does not match the kustomization's images entry %+v", c.Image, kz.Images)
	}

	// The probes reach the port ENSIGN_LISTEN_ADDR listens on.
	if cm.Data["ENSIGN_LISTEN_ADDR"] != ":8080" {
		t.Errorf("ENSIGN_LISTEN_ADDR %q: the probes and the Service expect :8080", cm.Data["ENSIGN_LISTEN_ADDR"])
	}
	port := map[string]int32{}
	for _, p := range c.Ports {
		port[p.Name] = p.ContainerPort
	}
	for _, pr := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"readiness", c.ReadinessProbe, "/readyz"}, {"liveness", c.LivenessProbe, "/healthz"}} {
		if pr.probe == nil || pr.probe.HTTPGet == nil {
			t.Errorf("no %s HTTP probe", pr.name)
			continue
		}
		got := pr.probe.HTTPGet
		p := got.Port.IntVal
		if got.Port.StrVal != "" {
			p = port[got.Port.StrVal]
		}
		if got.Path != pr.path || p != 8080 {
			t.Errorf("%s probe: GET %s on port %d, want %s on 8080", pr.name, got.Path, p, pr.path)
		}
	}

	// Writable volumes where ensign writes; everything else read-only.
	mounts := map[string]bool{}
	for _, m := range c.VolumeMounts {
		if !m.ReadOnly {
			mounts[m.MountPath] = true
		}
	}
	tmp := ""
	for _, e := range c.Env {
		if e.Name == "TMPDIR" {
			tmp = e.Value
		}
	}
	for _, dir := range []string{cm.Data["ENSIGN_DATA_DIR"], tmp} {
		if dir == "" || !mounts[dir] {
			t.Errorf("no writable volume at %q (ENSIGN_DATA_DIR and TMPDIR need one; mounts %v)", dir, mounts)
		}
	}
	sc, psc := c.SecurityContext, d.Spec.Template.Spec.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("the container's root filesystem is not read-only")
	}
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("the pod does not set runAsNonRoot")
	}
	if req := c.Resources.Requests.Memory(); req.Value() != 64<<20 {
		t.Errorf("memory request %s, want 64Mi (ensign's memory goal)", req)
	}

	// The Lease holder is the pod, in the pod's namespace.
	fields := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			fields[e.Name] = e.ValueFrom.FieldRef.FieldPath
		}
	}
	for name, path := range map[string]string{"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace", "ENSIGN_LEADER_ELECTION_NAMESPACE": "metadata.namespace"} {
		if fields[name] != path {
			t.Errorf("%s comes from %q, want the downward API's %s", name, fields[name], path)
		}
	}

	// The secrets come from the Secret, never from the ConfigMap.
	secrets := map[string]bool{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			secrets[e.Name] = true
		}
	}
	for _, name := range []string{"ENSIGN_GITEA_TOKEN", "ENSIGN_WEBHOOK_SECRET"} {
		if !secrets[name] {
			t.Errorf("%s does not come from a Secret", name)
		}
		if _, ok := cm.Data[name]; ok {
			t.Errorf("%s is in the ConfigMap; it belongs in the Secret", name)
		}
	}

	// The Service reaches the pod's webhook port.
	var svc corev1.Service
	fromManifest(t, findManifest(t, "Service", "ensign"), &svc)
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("the Service selects %s=%s; the pods are labelled %v", k, v, d.Spec.Template.Labels)
		}
	}
	for _, p := range svc.Spec.Ports {
		if tp := p.TargetPort; (tp.StrVal != "" && port[tp.StrVal] != 8080) || (tp.StrVal == "" && tp.IntVal != 8080) {
			t.Errorf("the Service's port %s targets %s, not the container's 8080", p.Name, tp.String())
		}
	}
}
