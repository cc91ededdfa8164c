package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// overlays are the deployable kustomizations; prod gets the stricter image rule.
var overlays = []string{"k8s/overlays/dev", "k8s/overlays/prod"}

// kinds maps every kind we ship to its API type, by apiVersion/kind. Anything else (a Secret
// above all) fails the test.
var kinds = map[string]func() any{
	"apps/v1/Deployment":                     func() any { return &appsv1.Deployment{} },
	"v1/Service":                             func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                      func() any { return &corev1.ServiceAccount{} },
	"v1/ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"batch/v1/Job":                           func() any { return &batchv1.Job{} },
	"policy/v1/PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2/HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"networking.k8s.io/v1/NetworkPolicy":     func() any { return &networkingv1.NetworkPolicy{} },
}

// rendered is one overlay's objects, decoded.
type rendered struct {
	deployments []*appsv1.Deployment
	jobs        []*batchv1.Job
	services    []*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	pdbs        []*policyv1.PodDisruptionBudget
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	netpols     []*networkingv1.NetworkPolicy
	accounts    map[string]bool
}

// render runs kustomize like `kubectl kustomize dir` and decodes every object strictly: an
// unknown or misspelt field, a duplicate field, or a wrong type is an error.
func render(t *testing.T, dir string) *rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	r := &rendered{configMaps: map[string]*corev1.ConfigMap{}, accounts: map[string]bool{}}
	for _, res := range m.Resources() {
		gvk := res.GetGvk()
		key := gvk.Version + "/" + gvk.Kind
		if gvk.Group != "" {
			key = gvk.Group + "/" + key
		}
		name := key + " " + res.GetName()
		if gvk.Kind == "Secret" {
			t.Errorf("%s: %s defines a Secret; secrets are created out of band and only referenced", dir, name)
			continue
		}
		newObj, ok := kinds[key]
		if !ok {
			t.Errorf("%s: %s is not a kind this test knows; add it to kinds", dir, name)
			continue
		}
		data, err := res.MarshalJSON()
		if err != nil {
			t.Fatalf("%s: %s: %v", dir, name, err)
		}
		obj := newObj()
		strict, err := kjson.UnmarshalStrict(data, obj)
		if err != nil {
			t.Errorf("%s: %s does not decode: %v", dir, name, err)
			continue
		}
		for _, e := range strict {
			t.Errorf("%s: %s: %v", dir, name, e)
		}
		if ns := res.GetNamespace(); ns == "" && gvk.Kind != "Namespace" {
			t.Errorf("%s: %s has no namespace", dir, name)
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			r.deployments = append(r.deployments, o)
		case *batchv1.Job:
			r.jobs = append(r.jobs, o)
		case *corev1.Service:
			r.services = append(r.services, o)
		case *corev1.ConfigMap:
			r.configMaps[o.Name] = o
		case *policyv1.PodDisruptionBudget:
			r.pdbs = append(r.pdbs, o)
		case *autoscalingv2.HorizontalPodAutoscaler:
			r.hpas = append(r.hpas, o)
		case *networkingv1.NetworkPolicy:
			r.netpols = append(r.netpols, o)
		case *corev1.ServiceAccount:
			r.accounts[o.Name] = true
		}
	}
	return r
}

func TestOverlaysRenderAndValidate(t *testing.T) {
	t.Parallel()
	for _, dir := range overlays {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			r := render(t, dir)
			prod := filepath.Base(dir) == "prod"
			if len(r.deployments) != 2 || len(r.jobs) != 1 {
				t.Fatalf("rendered %d Deployments and %d Jobs, want supportsvc, ordersvc and the migration Job", len(r.deployments), len(r.jobs))
			}
			for _, d := range r.deployments {
				checkDeployment(t, r, d, prod)
			}
			for _, j := range r.jobs {
				checkPod(t, r, "Job "+j.Name, &j.Spec.Template.Spec, false, prod)
				if !slices.Equal(j.Spec.Template.Spec.Containers[0].Command, []string{"/usr/local/bin/ccctl", "migrate", "up"}) {
					t.Errorf("Job %s runs %v, want ccctl migrate up", j.Name, j.Spec.Template.Spec.Containers[0].Command)
				}
			}
			checkCoverage(t, r)
		})
	}
}

func checkDeployment(t *testing.T, r *rendered, d *appsv1.Deployment, prod bool) {
	t.Helper()
	name := "Deployment " + d.Name
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("%s: selector %v does not select its own pod template", name, d.Spec.Selector)
	}
	checkPod(t, r, name, &d.Spec.Template.Spec, true, prod)
	if d.Spec.Template.Spec.TerminationGracePeriodSeconds == nil || *d.Spec.Template.Spec.TerminationGracePeriodSeconds < 25 {
		t.Errorf("%s: terminationGracePeriodSeconds must cover preStop plus SHUTDOWN_GRACE (20 s)", name)
	}
}

// checkPod applies our rules to a pod template: limits, probes (for long-running pods),
// non-root, read-only root, no capabilities, secrets by reference, config maps that exist.
func checkPod(t *testing.T, r *rendered, name string, spec *corev1.PodSpec, needsProbes, prod bool) {
	t.Helper()
	if spec.SecurityContext == nil || spec.SecurityContext.RunAsNonRoot == nil || !*spec.SecurityContext.RunAsNonRoot {
		t.Errorf("%s: pod securityContext.runAsNonRoot must be true", name)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s: automountServiceAccountToken must be false (the services call no Kubernetes API)", name)
	}
	if !r.accounts[spec.ServiceAccountName] {
		t.Errorf("%s: service account %q is not rendered", name, spec.ServiceAccountName)
	}
	for _, v := range spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == "" {
			t.Errorf("%s: volume %s references a Secret without a name", name, v.Name)
		}
	}
	all := slices.Concat(spec.InitContainers, spec.Containers)
	if len(spec.Containers) == 0 {
		t.Fatalf("%s: no containers", name)
	}
	for _, c := range all {
		cn := name + " container " + c.Name
		checkImage(t, cn, c.Image, prod)
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := c.Resources.Limits[res]; !ok {
				t.Errorf("%s: no %s limit", cn, res)
			}
			if _, ok := c.Resources.Requests[res]; !ok {
				t.Errorf("%s: no %s request", cn, res)
			}
		}
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("%s: no securityContext", cn)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("%s: readOnlyRootFilesystem must be true", cn)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("%s: allowPrivilegeEscalation must be false", cn)
		case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0:
			t.Errorf("%s: capabilities must drop ALL and add none", cn)
		case sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot, sc.RunAsUser != nil && *sc.RunAsUser == 0:
			t.Errorf("%s: runs as root", cn)
		}
		if needsProbes {
			checkProbes(t, cn, &c)
		}
		checkEnv(t, r, cn, &c)
	}
}

func checkProbes(t *testing.T, cn string, c *corev1.Container) {
	t.Helper()
	ports := map[int32]bool{}
	for _, p := range c.Ports {
		ports[p.ContainerPort] = true
	}
	for kind, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		switch {
		case p == nil:
			t.Errorf("%s: no %s probe", cn, kind)
		case p.GRPC == nil:
			t.Errorf("%s: %s probe is not a gRPC health probe", cn, kind)
		case !ports[p.GRPC.Port]:
			t.Errorf("%s: %s probe port %d is not a container port", cn, kind, p.GRPC.Port)
		}
	}
}

var memLimitValue = regexp.MustCompile(`^(\d+)(MiB|GiB)$`)

func checkEnv(t *testing.T, r *rendered, cn string, c *corev1.Container) {
	t.Helper()
	for _, e := range c.Env {
		if e.Value != "" && looksSecret(e.Name) {
			t.Errorf("%s: %s has a literal value; secrets come from secretKeyRef", cn, e.Name)
		}
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			if ref := e.ValueFrom.SecretKeyRef; ref.Name == "" || ref.Key == "" {
				t.Errorf("%s: %s references a Secret without name or key", cn, e.Name)
			}
		}
		if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil && r.configMaps[e.ValueFrom.ConfigMapKeyRef.Name] == nil {
			t.Errorf("%s: %s references missing ConfigMap %s", cn, e.Name, e.ValueFrom.ConfigMapKeyRef.Name)
		}
		if e.Name == "GOMEMLIMIT" {
			m := memLimitValue.FindStringSubmatch(e.Value)
			limit := c.Resources.Limits[corev1.ResourceMemory]
			if m == nil {
				t.Errorf("%s: GOMEMLIMIT %q is not NMiB or NGiB", cn, e.Value)
			} else if q := resource.MustParse(m[1] + strings.TrimSuffix(m[2], "B")); q.Cmp(limit) >= 0 {
				t.Errorf("%s: GOMEMLIMIT %s is not below the memory limit %s", cn, e.Value, limit.String())
			}
		}
	}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef != nil && r.configMaps[from.ConfigMapRef.Name] == nil {
			t.Errorf("%s: envFrom references missing ConfigMap %s", cn, from.ConfigMapRef.Name)
		}
		if from.SecretRef != nil {
			t.Errorf("%s: envFrom a whole Secret; reference each key with secretKeyRef", cn)
		}
	}
	for _, cm := range r.configMaps {
		for k := range cm.Data {
			if looksSecret(k) {
				t.Errorf("ConfigMap %s holds %s, which is a secret", cm.Name, k)
			}
		}
	}
}

// looksSecret reports whether a setting's name says it is a secret.
func looksSecret(name string) bool {
	for _, s := range []string{"SECRET", "TOKEN", "PASSWORD", "MASTER_KEY", "DATABASE_URL"} {
		if strings.Contains(name, s) && !strings.HasSuffix(name, "_ID") && !strings.HasSuffix(name, "_FILE") {
			return true
		}
	}
	return false
}

func checkImage(t *testing.T, cn, image string, prod bool) {
	t.Helper()
	ref, digest, _ := strings.Cut(image, "@")
	slash := strings.LastIndex(ref, "/")
	tag := ""
	if i := strings.LastIndex(ref, ":"); i > slash {
		tag = ref[i+1:]
	}
	if !prod {
		return
	}
	if digest == "" && (tag == "" || tag == "latest") {
		t.Errorf("%s: image %q must carry a version tag or digest in prod, not latest", cn, image)
	}
	if !strings.Contains(ref[:max(slash, 0)], ".") {
		t.Errorf("%s: image %q must name its registry in prod", cn, image)
	}
}

// checkCoverage checks the objects that refer to others: every Deployment has a Service, a
// PDB and an HPA that select or target it, and some NetworkPolicy selects each pod.
func checkCoverage(t *testing.T, r *rendered) {
	t.Helper()
	for _, d := range r.deployments {
		podLabels := labels.Set(d.Spec.Template.Labels)
		var svc, pdb, hpa, np bool
		for _, s := range r.services {
			svc = svc || (len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels))
		}
		for _, p := range r.pdbs {
			sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
			pdb = pdb || (err == nil && !sel.Empty() && sel.Matches(podLabels))
		}
		for _, h := range r.hpas {
			ref := h.Spec.ScaleTargetRef
			if ref.Kind == "Deployment" && ref.Name == d.Name {
				hpa = true
				if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
					t.Errorf("HPA %s: replicas min %v max %d", h.Name, h.Spec.MinReplicas, h.Spec.MaxReplicas)
				}
			}
		}
		for _, n := range r.netpols {
			sel, err := metav1.LabelSelectorAsSelector(&n.Spec.PodSelector)
			np = np || (err == nil && !sel.Empty() && sel.Matches(podLabels) && len(n.Spec.Ingress) > 0)
		}
		for what, ok := range map[string]bool{"Service": svc, "PodDisruptionBudget": pdb, "HorizontalPodAutoscaler": hpa, "NetworkPolicy allowing ingress": np} {
			if !ok {
				t.Errorf("Deployment %s has no %s", d.Name, what)
			}
		}
	}
	var denyAll bool
	for _, n := range r.netpols {
		denyAll = denyAll || (len(n.Spec.PodSelector.MatchLabels) == 0 && len(n.Spec.PodSelector.MatchExpressions) == 0 &&
			len(n.Spec.Ingress) == 0 && len(n.Spec.Egress) == 0 && len(n.Spec.PolicyTypes) == 2)
	}
	if !denyAll {
		t.Error("no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)")
	}
}

// composeFile is the part of compose.yaml we check; unknown fields are allowed here (compose
// has many), the rules below are ours.
type composeFile struct {
	Services map[string]struct {
		Image       string                   `json:"image"`
		Entrypoint  []string                 `json:"entrypoint"`
		Command     []string                 `json:"command"`
		ReadOnly    bool                     `json:"read_only"`
		User        string                   `json:"user"`
		CapDrop     []string                 `json:"cap_drop"`
		Healthcheck *struct{ Test []string } `json:"healthcheck"`
		DependsOn   map[string]struct {
			Condition string `json:"condition"`
		} `json:"depends_on"`
	} `json:"services"`
}

func TestCompose(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	for _, name := range []string{"postgres", "stripe-mock", "migrate", "supportsvc", "ordersvc"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("compose.yaml has no %s service", name)
		}
	}
	if got := strings.Join(slices.Concat(c.Services["migrate"].Entrypoint, c.Services["migrate"].Command), " "); got != "/usr/local/bin/ccctl migrate up" {
		t.Errorf("migrate runs %q, want ccctl migrate up", got)
	}
	for _, name := range []string{"supportsvc", "ordersvc"} {
		s := c.Services[name]
		if s.Healthcheck == nil || len(s.Healthcheck.Test) == 0 {
			t.Errorf("%s: no healthcheck", name)
		}
		if s.DependsOn["migrate"].Condition != "service_completed_successfully" {
			t.Errorf("%s: must start only after migrate completed", name)
		}
		if !s.ReadOnly || s.User == "" || strings.HasPrefix(s.User, "0") || !slices.Contains(s.CapDrop, "ALL") {
			t.Errorf("%s: must run read-only, non-root, with all capabilities dropped", name)
		}
	}
	if c.Services["postgres"].Healthcheck == nil {
		t.Error("postgres: no healthcheck (migrate waits for service_healthy)")
	}
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms []string
	var user string
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "FROM" {
			froms = append(froms, line)
		}
		if len(f) >= 2 && f[0] == "USER" {
			user = f[1]
		}
	}
	if len(froms) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a multi-stage build", len(froms))
	}
	final := froms[len(froms)-1]
	if !strings.Contains(final, "distroless/static") && !strings.Contains(final, "scratch") {
		t.Errorf("final stage %q is not distroless static or scratch", strings.TrimSpace(final))
	}
	if user == "" || strings.HasPrefix(user, "0") || strings.HasPrefix(user, "root") {
		t.Errorf("final USER %q, want a non-root uid", user)
	}
	if !strings.Contains(string(data), "CGO_ENABLED=0") {
		t.Error("binaries must be static: CGO_ENABLED=0")
	}
	for _, cmd := range []string{"./cmd/supportsvc", "./cmd/ordersvc", "./cmd/ccctl"} {
		if !strings.Contains(string(data), cmd) {
			t.Errorf("image does not build %s", cmd)
		}
	}
}
