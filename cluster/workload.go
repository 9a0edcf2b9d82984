package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	flaggerv1 "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Container is one container of a canary's target workload and its image.
type Container struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

// TargetImages returns the containers (init containers first, then the
// others, each in spec order) of the workload a canary targets: the version
// under analysis, or the one that failed. Deployments and DaemonSets are
// supported, as Flagger supports them.
func (s *Set) TargetImages(ctx context.Context, cluster string, c *flaggerv1.Canary) ([]Container, error) {
	return s.images(ctx, cluster, c, c.Spec.TargetRef.Name)
}

// PrimaryImages returns the containers of the canary's primary workload
// (Flagger's "<target>-primary"): the version Flagger last promoted, which
// after a Succeeded analysis is exactly the version that was verified.
func (s *Set) PrimaryImages(ctx context.Context, cluster string, c *flaggerv1.Canary) ([]Container, error) {
	return s.images(ctx, cluster, c, c.Spec.TargetRef.Name+"-primary")
}

// ErrUnsupportedTarget means a canary targets a kind of workload ensign
// cannot read images from.
var ErrUnsupportedTarget = errors.New("unsupported canary target")

func (s *Set) images(ctx context.Context, cluster string, c *flaggerv1.Canary, name string) ([]Container, error) {
	cl, err := s.Client(cluster)
	if err != nil {
		return nil, err
	}
	kind := c.Spec.TargetRef.Kind
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var res schema.GroupVersionResource
	switch kind {
	case "Deployment":
		res = appsv1.SchemeGroupVersion.WithResource("deployments")
	case "DaemonSet":
		res = appsv1.SchemeGroupVersion.WithResource("daemonsets")
	default:
		return nil, fmt.Errorf("%w: canary %s/%s targets a %s, which ensign cannot read images from (Deployment and DaemonSet are supported)", ErrUnsupportedTarget, c.Namespace, c.Name, kind)
	}
	u, err := cl.Dynamic.Resource(res).Namespace(c.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("read %s %s/%s of canary %s: %w", strings.ToLower(kind), c.Namespace, name, c.Name, err)
	}
	var spec corev1.PodSpec
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(podSpec(u.Object), &spec); err != nil {
		return nil, fmt.Errorf("read %s %s/%s of canary %s: its pod template: %w", strings.ToLower(kind), c.Namespace, name, c.Name, err)
	}
	var out []Container
	for _, ct := range spec.InitContainers {
		out = append(out, Container{Name: ct.Name, Image: ct.Image})
	}
	for _, ct := range spec.Containers {
		out = append(out, Container{Name: ct.Name, Image: ct.Image})
	}
	return out, nil
}

// podSpec is a workload's spec.template.spec, or an empty map.
func podSpec(obj map[string]any) map[string]any {
	spec, _, _ := unstructured.NestedMap(obj, "spec", "template", "spec")
	if spec == nil {
		return map[string]any{}
	}
	return spec
}

// eventsResource is core/v1 Events, which ensign reads and writes through
// the dynamic client: a typed client would link every API group.
var eventsResource = corev1.SchemeGroupVersion.WithResource("events")

// Event is a Kubernetes event about a canary, reduced to what a report shows.
type Event struct {
	Time    time.Time `json:"time"`
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
	Count   int32     `json:"count"`
}

// WarningEvents returns up to limit of the canary's most recent Warning
// events, newest first.
func (s *Set) WarningEvents(ctx context.Context, cluster string, c *flaggerv1.Canary, limit int) ([]Event, error) {
	cl, err := s.Client(cluster)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	sel := fields.Set{
		"involvedObject.kind": "Canary",
		"involvedObject.name": c.Name,
		"type":                corev1.EventTypeWarning,
	}.AsSelector().String()
	list, err := cl.Dynamic.Resource(eventsResource).Namespace(c.Namespace).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list warning events of canary %s/%s: %w", c.Namespace, c.Name, err)
	}
	out := make([]Event, 0, len(list.Items))
	for _, item := range list.Items {
		var e corev1.Event
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(item.Object, &e); err != nil {
			return nil, fmt.Errorf("list warning events of canary %s/%s: event %s: %w", c.Namespace, c.Name, item.GetName(), err)
		}
		t := e.LastTimestamp.Time
		if t.IsZero() {
			t = e.EventTime.Time
		}
		if t.IsZero() {
			t = e.CreationTimestamp.Time
		}
		out = append(out, Event{Time: t, Reason: e.Reason, Message: e.Message, Count: e.Count})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Note is an event ensign records on a canary. Key makes it idempotent:
// recording the same key on the same canary again records nothing.
type Note struct {
	Type    string // corev1.EventTypeNormal or corev1.EventTypeWarning
	Reason  string
	Message string
	Key     string
}

// RecordEvent records n on the canary, once per n.Key.
func (s *Set) RecordEvent(ctx context.Context, cluster string, c *flaggerv1.Canary, n Note, now time.Time) error {
	cl, err := s.Client(cluster)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	const component = "ensign"
	ts := metav1.NewTime(now)
	e := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: eventName(c.Name, n.Key), Namespace: c.Namespace},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: flaggerv1.SchemeGroupVersion.String(), Kind: "Canary",
			Namespace: c.Namespace, Name: c.Name, UID: c.UID,
		},
		Type: n.Type, Reason: n.Reason, Message: truncate(n.Message, 1024),
		Source:         corev1.EventSource{Component: component},
		FirstTimestamp: ts, LastTimestamp: ts, Count: 1,
		ReportingController: "ensign.dev/" + component, ReportingInstance: component,
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(e)
	if err != nil {
		return fmt.Errorf("record %s event on canary %s/%s: %w", n.Reason, c.Namespace, c.Name, err)
	}
	u := &unstructured.Unstructured{Object: obj}
	u.SetAPIVersion("v1")
	u.SetKind("Event")
	_, err = cl.Dynamic.Resource(eventsResource).Namespace(c.Namespace).Create(ctx, u, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record %s event on canary %s/%s: %w", n.Reason, c.Namespace, c.Name, err)
	}
	return nil
}

// eventName derives a valid, stable event name from the canary and key.
func eventName(canaryName, key string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(key) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	name := canaryName + ".ensign-" + b.String()
	if len(name) > 253 {
		name = name[:253]
	}
	return strings.TrimRight(name, "-.")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n-3], "") + "..."
}
