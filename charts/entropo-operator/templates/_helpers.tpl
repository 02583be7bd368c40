{{/* Chart name (nameOverride wins). */}}
{{- define "entropo-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object name prefix: fullnameOverride, else the release name (plus the chart name unless it is in it). */}}
{{- define "entropo-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "entropo-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "entropo-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "entropo-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "entropo-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: entropo
{{- end }}

{{- define "entropo-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "entropo-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag or repository@digest. */}}
{{- define "entropo-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "entropo-operator.metricsServiceName" -}}
{{- printf "%s-metrics" (include "entropo-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The job label of the operator's targets in alert expressions. */}}
{{- define "entropo-operator.operatorJob" -}}
{{- default (include "entropo-operator.metricsServiceName" .) .Values.prometheusRule.operatorJob }}
{{- end }}

{{- define "entropo-operator.policyServerJob" -}}
{{- default (printf "%s/%s-policy-servers" .Release.Namespace (include "entropo-operator.fullname" .)) .Values.prometheusRule.policyServerJob }}
{{- end }}

{{/*
The rules of the operator's work (shared by the ClusterRole and the per-namespace Roles). Least
privilege: Secrets only get (API keys named in a spec), never list or watch.
*/}}
{{- define "entropo-operator.workRules" -}}
- apiGroups: ["entropo.dev"]
  resources: ["trainingruns", "rolloutbatches", "evalsuites"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["entropo.dev"]
  resources: ["trainingruns/status", "rolloutbatches/status", "evalsuites/status"]
  verbs: ["get", "update", "patch"]
- apiGroups: ["entropo.dev"]
  resources: ["trainingruns/finalizers", "rolloutbatches/finalizers", "evalsuites/finalizers"]
  verbs: ["update"]
# Sandbox Pods and their logs (the termination message is read from Pod status).
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "create", "delete", "deletecollection"]
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get"]
# Task sets in ConfigMaps.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
# API keys of external endpoints: read one by name, never list.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
# The policy server.
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
# Trainer and verifier Jobs.
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
# Sandbox egress restricted to the policy endpoint.
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["", "events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
