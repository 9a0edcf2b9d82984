{{/* The chart's name. */}}
{{- define "ensign.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The name of the release's objects: the release name, or release-chart. */}}
{{- define "ensign.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "ensign.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "ensign.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Labels that select the pods. */}}
{{- define "ensign.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ensign.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ensign.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ensign.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image reference: global.imageRegistry wins over image.registry; a digest pins it. */}}
{{- define "ensign.image" -}}
{{- $registry := .Values.global.imageRegistry | default .Values.image.registry -}}
{{- $ref := .Values.image.repository -}}
{{- if $registry -}}{{- $ref = printf "%s/%s" $registry $ref -}}{{- end -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString -}}
{{- if $tag -}}{{- $ref = printf "%s:%s" $ref $tag -}}{{- end -}}
{{- with .Values.image.digest -}}
{{- if not (regexMatch "^sha256:[0-9a-f]{64}$" .) -}}{{- fail (printf "image.digest %q: want sha256: and 64 hex digits" .) -}}{{- end -}}
{{- $ref = printf "%s@%s" $ref . -}}
{{- end -}}
{{- $ref -}}
{{- end -}}

{{/* The Secret holding the Gitea token and the webhook secret. */}}
{{- define "ensign.secretName" -}}
{{- .Values.existingSecret | default (include "ensign.fullname" .) -}}
{{- end -}}

{{/* The Secret holding remote clusters' kubeconfigs, if any. */}}
{{- define "ensign.kubeconfigSecretName" -}}
{{- .Values.kubeconfigs.existingSecret | default (printf "%s-kubeconfigs" (include "ensign.fullname" .)) -}}
{{- end -}}

{{/* The remote clusters' names, sorted. */}}
{{- define "ensign.remoteClusters" -}}
{{- if .Values.kubeconfigs.existingSecret -}}
{{- .Values.kubeconfigs.existingSecretClusters | sortAlpha | join "," -}}
{{- else -}}
{{- keys .Values.kubeconfigs.remote | sortAlpha | join "," -}}
{{- end -}}
{{- end -}}

{{/* Where the kubeconfigs Secret is mounted. */}}
{{- define "ensign.kubeconfigDir" -}}/etc/ensign/kubeconfigs{{- end -}}

{{/* ENSIGN_KUBECONFIGS: name= for in-cluster, name=<file> for remote clusters. */}}
{{- define "ensign.kubeconfigsEnv" -}}
{{- $pairs := list -}}
{{- range .Values.kubeconfigs.inCluster -}}{{- $pairs = append $pairs (printf "%s=" .) -}}{{- end -}}
{{- $dir := include "ensign.kubeconfigDir" . -}}
{{- range $name := splitList "," (include "ensign.remoteClusters" .) -}}
{{- if $name -}}
{{- if has $name $.Values.kubeconfigs.inCluster -}}{{- fail (printf "kubeconfigs: cluster %q is both in-cluster and remote" $name) -}}{{- end -}}
{{- $pairs = append $pairs (printf "%s=%s/%s" $name $dir $name) -}}
{{- end -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{/* ENSIGN_COMMAND_FLOORS from the commandFloors map, sorted. */}}
{{- define "ensign.commandFloors" -}}
{{- $pairs := list -}}
{{- range $cmd := keys .Values.config.commandFloors | sortAlpha -}}
{{- $pairs = append $pairs (printf "%s=%s" $cmd (index $.Values.config.commandFloors $cmd)) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}
