// One private endpoint in the private-endpoints subnet, registered in its private DNS zone so the
// resource's usual host name (psql-....postgres.database.azure.com, st....blob.core.windows.net,
// kv-....vault.azure.net) resolves to the endpoint's private address inside the virtual network.

param name string
param location string
param tags object

@description('Subnet the endpoint gets its address from (network.bicep, private-endpoints).')
param subnetId string

@description('Resource the endpoint connects to.')
param targetResourceId string

@description('Private-link sub-resource: postgresqlServer, blob, queue or vault.')
@allowed([
  'postgresqlServer'
  'blob'
  'queue'
  'vault'
])
param groupId string

@description('Private DNS zone of that sub-resource (network.bicep).')
param privateDnsZoneId string

resource endpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    privateLinkServiceConnections: [
      {
        name: name
        properties: {
          privateLinkServiceId: targetResourceId
          groupIds: [
            groupId
          ]
        }
      }
    ]
  }
}

resource zoneGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = {
  parent: endpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: groupId
        properties: {
          privateDnsZoneId: privateDnsZoneId
        }
      }
    ]
  }
}
