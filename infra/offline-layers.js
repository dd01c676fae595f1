// A Serverless plugin so `serverless package` works without AWS credentials when the service has
// layers. Before packaging a layer, osls asks CloudFormation whether the deployed stack already holds
// the same layer (to skip re-uploading it); with no credentials that question fails the whole
// package. Offline there is no deployed stack to compare with, so the answer is the one osls gives
// for a first deploy: package the layer. With credentials nothing changes.
'use strict';

class OfflineLayers {
  constructor(serverless) {
    const compiler = serverless.pluginManager.plugins.find((p) => p.constructor.name === 'AwsCompileLayers');
    if (!compiler) return;
    const compare = compiler.compareWithLastLayer.bind(compiler);
    compiler.compareWithLastLayer = async (layerName) => {
      try {
        return await compare(layerName);
      } catch (error) {
        if (error?.code === 'AWS_CREDENTIALS_NOT_FOUND') return undefined;
        throw error;
      }
    };
  }
}

module.exports = OfflineLayers;
