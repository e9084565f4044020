// Log Analytics workspace with a workspace-based Application Insights component.
// Local (instrumentation key) auth is off: telemetry is sent with the app's managed identity,
// which is why the function app sets APPLICATIONINSIGHTS_AUTHENTICATION_STRING.
// The operator workbook charts the app's telemetry lines (migration progress, sync lag, request units
// and 429s, pending_sync and quarantine sizes) from this component's traces; see docs/telemetry.md.

param logAnalyticsName string
param applicationInsightsName string
param location string
param tags object

@minValue(30)
@maxValue(730)
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
  }
}

// A shared workbook, listed under the component's Workbooks. Its definition is infra/workbook.json as the
// workbook editor saves it; the placeholder becomes this component, the resource it opens on from the gallery.
resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // Workbook names must be GUIDs; this one is stable per component, so a redeployment updates it in place.
  name: guid(applicationInsights.id, 'nostria-migrate-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'Nostria Migrate: migration, sync and backlog'
    category: 'workbook'
    sourceId: applicationInsights.id
    serializedData: replace(loadTextContent('../workbook.json'), '__APPLICATION_INSIGHTS_ID__', applicationInsights.id)
  }
}

output applicationInsightsName string = applicationInsights.name
output logAnalyticsName string = workspace.name
