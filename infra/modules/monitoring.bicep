// Log Analytics workspace with a workspace-based Application Insights component.
// Local (instrumentation key) auth is off: telemetry is sent with the app's managed identity,
// which is why the function app sets APPLICATIONINSIGHTS_AUTHENTICATION_STRING.
// The operator workbook (issue 13, item 6: migration progress, sync lag, throttling, quarantine and
// pending_sync charts over the app's custom metrics) is to be deployed from this module; see
// docs/deploy.md, "Telemetry".

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

output applicationInsightsName string = applicationInsights.name
output logAnalyticsName string = workspace.name
