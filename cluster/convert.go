package cluster

import "k8s.io/apimachinery/pkg/runtime"

func runtimeConvert(obj map[string]any, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(obj, into)
}
