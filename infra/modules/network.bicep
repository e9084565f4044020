// Private networking (usePrivateNetworking): a virtual network with two subnets, the private DNS zones
// the private endpoints register in, and explicit outbound internet for the app.
//
//   app                 delegated to Microsoft.App/environments, the delegation Flex Consumption VNet
//                       integration requires; outbound through the NAT gateway
//   private-endpoints   PostgreSQL, storage (blob, queue) and Key Vault private endpoints
//
// The app still reaches public endpoints it does not own: the existing Cosmos DB account (referenced,
// never changed, so no private endpoint is added to it) and Application Insights ingestion. It does so
// through a NAT gateway, explicit outbound access, instead of the subnet's implicit "default outbound
// access", which Azure is retiring (Microsoft Learn, "Default outbound access in Azure").

param name string
param location string
param tags object

@description('Address space of the virtual network; the two /24 subnets are carved from its start.')
param addressPrefix string = '10.40.0.0/16'

// The private DNS zone of each private endpoint sub-resource (Microsoft Learn, "Azure Private Endpoint
// private DNS zone values"): postgresqlServer, blob, queue, vault, in this order (the outputs below).
var zoneNames = [
  'privatelink.postgres.database.azure.com'
  'privatelink.blob.${environment().suffixes.storage}'
  'privatelink.queue.${environment().suffixes.storage}'
  'privatelink.vaultcore.azure.net'
]

resource outboundIp 'Microsoft.Network/publicIPAddresses@2024-05-01' = {
  name: 'pip-${name}'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
  }
}

resource natGateway 'Microsoft.Network/natGateways@2024-05-01' = {
  name: 'ng-${name}'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIpAddresses: [
      {
        id: outboundIp.id
      }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 0)
          defaultOutboundAccess: false
          natGateway: {
            id: natGateway.id
          }
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 1)
          defaultOutboundAccess: false
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for zoneName in zoneNames: {
    name: zoneName
    location: 'global'
    tags: tags
  }
]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for i in range(0, length(zoneNames)): {
    parent: zones[i]
    name: 'link-${name}'
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: vnet.id
      }
    }
  }
]

output appSubnetId string = '${vnet.id}/subnets/app'
output privateEndpointSubnetId string = '${vnet.id}/subnets/private-endpoints'
output postgresZoneId string = zones[0].id
output blobZoneId string = zones[1].id
output queueZoneId string = zones[2].id
output vaultZoneId string = zones[3].id
output outboundIpAddress string = outboundIp.properties.ipAddress
