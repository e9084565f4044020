// Alerts for the team (docs/deploy.md, "Alerts"): log search alerts on the telemetry lines the app writes
// (docs/telemetry.md; the names come from shared/telemetry/telemetry.ts, and test/integration/infra.test.ts
// checks every query against them), a log search alert on failed executions, and metric alerts on the
// PostgreSQL server's own platform metrics. All of them notify one action group, whose only receiver is the
// e-mail address given (none when it is empty: the alerts still fire and show under Azure Monitor, Alerts).
// Every threshold is a parameter of main.bicep.

param nameSuffix string
param location string
param tags object

param applicationInsightsName string
param postgresServerName string
param postgresSkuName string

@description('max_connections of the server; 0 looks it up for postgresSkuName.')
param postgresMaxConnections int

@description('Where the alerts are e-mailed; empty: no receiver.')
param email string

param syncLagSeconds int
param syncLagMinutes int
param pendingSyncAgeMinutes int
param quarantineGrowth int
param poisonMessages int
param functionFailures int
param postgresStoragePercent int
param postgresConnectionsPercent int

// max_connections by size, from Microsoft Learn, "Limits in Azure Database for PostgreSQL" (the default a
// server gets when it is created with that size). scripts/preprovision.mjs refuses a size missing from it
// unless POSTGRES_MAX_CONNECTIONS says the figure.
var maxConnectionsBySku = loadJsonContent('../postgres-max-connections.json')
var maxConnections = postgresMaxConnections > 0 ? postgresMaxConnections : (contains(maxConnectionsBySku, postgresSkuName) ? maxConnectionsBySku[postgresSkuName] : 0)

var emailReceivers = empty(email) ? [] : [
  {
    name: 'operator'
    emailAddress: email
    useCommonAlertSchema: true
  }
]

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' existing = {
  name: postgresServerName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-nostria-migrate-${nameSuffix}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'nostriamig'
    enabled: true
    emailReceivers: emailReceivers
  }
}

// Each log search alert reads the telemetry lines as the workbook does: traces whose message starts with
// "nostria.telemetry ", the JSON after it parsed into t. The app's traces are not sampled (host.json), so a
// gauge's line is never missing from a window.

resource syncLag 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'nostria-migrate-sync-lag-${nameSuffix}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Nostria Migrate: sync lag above ${syncLagSeconds} s for ${syncLagMinutes} min'
    description: 'The change-feed sync wrote batches whose oldest change was more than ${syncLagSeconds} s old, in every 5-minute window for ${syncLagMinutes} minutes. docs/deploy.md, "Alerts".'
    severity: 2
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: '''
traces
| where message startswith "nostria.telemetry "
| extend t = parse_json(substring(message, strlen("nostria.telemetry ")))
| where tostring(t.event) == "sync.batch"
| extend lag_seconds = todouble(t.metrics["nostria.sync.lag_seconds"])
| where isnotnull(lag_seconds)
| project timestamp, lag_seconds
'''
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'lag_seconds'
          operator: 'GreaterThan'
          threshold: syncLagSeconds
          failingPeriods: {
            numberOfEvaluationPeriods: syncLagMinutes / 5
            minFailingPeriodsToAlert: syncLagMinutes / 5
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource poisonQueue 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'nostria-migrate-poison-queue-${nameSuffix}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Nostria Migrate: poison queue holds more than ${poisonMessages} message(s)'
    description: 'A migration, reconcile or retry message failed five times and waits in the poison queue. docs/deploy.md, "Alerts".'
    severity: 2
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: '''
traces
| where message startswith "nostria.telemetry "
| extend t = parse_json(substring(message, strlen("nostria.telemetry ")))
| where tostring(t.event) == "backlog"
| extend poison_messages = todouble(t.metrics["nostria.queue.poison_messages"])
| where isnotnull(poison_messages)
| project timestamp, poison_messages
'''
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'poison_messages'
          operator: 'GreaterThan'
          threshold: poisonMessages
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

// Growth between consecutive backlog counts (five minutes apart), summed over the hour; evaluated every 15
// minutes over the last hour, so growth across the edge of one window is inside the next.
resource quarantineGrew 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'nostria-migrate-quarantine-grew-${nameSuffix}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Nostria Migrate: quarantine grew by more than ${quarantineGrowth} document(s) in an hour'
    description: 'Documents arrived that no table can hold. docs/deploy.md, "Alerts".'
    severity: 3
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: '''
traces
| where message startswith "nostria.telemetry "
| extend t = parse_json(substring(message, strlen("nostria.telemetry ")))
| where tostring(t.event) == "backlog"
| extend quarantine_size = todouble(t.metrics["nostria.quarantine.size"])
| where isnotnull(quarantine_size)
| sort by timestamp asc
| extend quarantine_growth = quarantine_size - prev(quarantine_size)
| where quarantine_growth > 0
| project timestamp, quarantine_growth
'''
          timeAggregation: 'Total'
          metricMeasureColumn: 'quarantine_growth'
          operator: 'GreaterThan'
          threshold: quarantineGrowth
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource pendingSyncAge 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'nostria-migrate-pending-sync-age-${nameSuffix}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Nostria Migrate: a pending_sync entry is older than ${pendingSyncAgeMinutes} min'
    description: 'A write made in PostgreSQL has not reached Cosmos DB for longer than ${pendingSyncAgeMinutes} minutes. docs/deploy.md, "Alerts".'
    severity: 2
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: '''
traces
| where message startswith "nostria.telemetry "
| extend t = parse_json(substring(message, strlen("nostria.telemetry ")))
| where tostring(t.event) == "backlog"
| extend oldest_pending_sync_minutes = todouble(t.metrics["nostria.pending_sync.oldest_age_seconds"]) / 60
| where isnotnull(oldest_pending_sync_minutes)
| project timestamp, oldest_pending_sync_minutes
'''
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'oldest_pending_sync_minutes'
          operator: 'GreaterThan'
          threshold: pendingSyncAgeMinutes
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

// Every invocation is a request in Application Insights (requests are never sampled, host.json); one alert
// per function, named in the alert.
resource functionFailed 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'nostria-migrate-function-failures-${nameSuffix}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Nostria Migrate: more than ${functionFailures} failed execution(s) of a function in 15 min'
    description: 'A function threw: its exceptions and logs say why. docs/deploy.md, "Alerts".'
    severity: 2
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: '''
requests
| where success == false
| project timestamp, function_name = operation_Name
'''
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: functionFailures
          dimensions: [
            {
              name: 'function_name'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource postgresStorage 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'nostria-migrate-postgres-storage-${nameSuffix}'
  location: 'global'
  tags: tags
  properties: {
    description: 'PostgreSQL storage above ${postgresStoragePercent} % (the server turns read-only at 95 %). docs/deploy.md, "Alerts".'
    severity: 1
    enabled: true
    scopes: [
      postgres.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'storage'
          metricNamespace: 'Microsoft.DBforPostgreSQL/flexibleServers'
          metricName: 'storage_percent'
          timeAggregation: 'Average'
          operator: 'GreaterThan'
          threshold: postgresStoragePercent
        }
      ]
    }
    autoMitigate: true
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

resource postgresConnections 'Microsoft.Insights/metricAlerts@2018-03-01' = if (maxConnections > 0) {
  name: 'nostria-migrate-postgres-connections-${nameSuffix}'
  location: 'global'
  tags: tags
  properties: {
    description: 'PostgreSQL active connections above ${postgresConnectionsPercent} % of max_connections ${maxConnections}. docs/deploy.md, "Alerts".'
    severity: 2
    enabled: true
    scopes: [
      postgres.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'connections'
          metricNamespace: 'Microsoft.DBforPostgreSQL/flexibleServers'
          metricName: 'active_connections'
          timeAggregation: 'Maximum'
          operator: 'GreaterThan'
          threshold: maxConnections * postgresConnectionsPercent / 100
        }
      ]
    }
    autoMitigate: true
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

output actionGroupName string = actionGroup.name
output postgresMaxConnections int = maxConnections
