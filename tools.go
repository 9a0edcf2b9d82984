//go:build tools

// Package ensign pins dependencies while the packages that use them are written.
package ensign

import (
	_ "code.gitea.io/sdk/gitea"
	_ "github.com/fluxcd/flagger/pkg/apis/flagger/v1beta1"
	_ "github.com/fluxcd/flagger/pkg/client/clientset/versioned"
	_ "github.com/go-git/go-git/v5"
	_ "github.com/robfig/cron/v3"
	_ "github.com/sethvargo/go-envconfig"
	_ "gopkg.in/yaml.v3"
	_ "k8s.io/client-go/dynamic/dynamicinformer"
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/client-go/util/workqueue"
	_ "sigs.k8s.io/controller-runtime/pkg/envtest"
)
