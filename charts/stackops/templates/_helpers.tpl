{{- define "stackops.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "stackops.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "stackops.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "stackops.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "stackops.selectorLabels" -}}
app.kubernetes.io/name: {{ include "stackops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "stackops.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "stackops.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "stackops.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "stackops.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The rules on the stacks, their events and their connection Secrets. */}}
{{- define "stackops.stackRules" -}}
- apiGroups: [stackops.io]
  resources: [ecommercestacks, bookingplatforms]
  verbs: [get, list, watch, patch, update]
- apiGroups: [stackops.io]
  resources: [ecommercestacks/status, bookingplatforms/status]
  verbs: [get, patch, update]
- apiGroups: [stackops.io]
  resources: [ecommercestacks/finalizers, bookingplatforms/finalizers]
  verbs: [update]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create, patch]
{{- end -}}
