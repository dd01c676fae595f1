// Functions are declared one folder at a time: `functions/<name>/function.yml` holds that function's
// Serverless definition (handler, events, environment) plus `iamRoleStatements`, the least-privilege
// statements of its own role. This file gathers them for serverless.yml, so adding a function never
// means editing a shared list, and gives every function one IAM role of its own.
const { readdirSync, existsSync, readFileSync } = require('node:fs');
const { join } = require('node:path');
const YAML = require('yaml');

const root = join(__dirname, '..', 'functions');
const logicalName = (name) => name.replace(/(^|-)([a-z0-9])/g, (_, __, c) => c.toUpperCase());

function declarations() {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(root, entry.name, 'function.yml')))
    .flatMap((entry) => {
      const file = join('functions', entry.name, 'function.yml');
      const definition = YAML.parse(readFileSync(join(root, entry.name, 'function.yml'), 'utf8'));
      if (!definition || typeof definition !== 'object') throw new Error(`${file}: expected a mapping`);
      // A folder holds one function, or several entry points of one image under `functions:`
      // (named <folder>-<entry>).
      const entries = definition.functions
        ? Object.entries(definition.functions).map(([part, d]) => [`${entry.name}-${part}`, d])
        : [[entry.name, definition]];
      return entries.map(([name, { iamRoleStatements = [], ...rest }]) => {
        for (const [index, statement] of iamRoleStatements.entries()) {
          const actions = [statement.Action].flat();
          if (actions.some((action) => action.includes('*'))) {
            throw new Error(
              `${file}: ${name}: iamRoleStatements[${index}]: wildcard actions are not allowed`,
            );
          }
        }
        return { name, file, statements: iamRoleStatements, definition: withImage(rest) };
      });
    });
}

// An image function names only its command; the image is the stage param's URI (packaging needs no
// Docker and no registry), or, for `serverless deploy` without MLPIPE_INFERENCE_IMAGE_URI, the one
// `provider.ecr.images.infer` builds from functions/infer/Dockerfile.
const buildsImage = () => process.argv.includes('deploy') && !process.env.MLPIPE_INFERENCE_IMAGE_URI;
function withImage(definition) {
  if (!definition.image || definition.image.uri || definition.image.name) return definition;
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a Serverless variable, resolved by serverless
  const image = buildsImage() ? { name: 'infer' } : { uri: '${param:inferenceImageUri}' };
  return { ...definition, image: { ...image, ...definition.image } };
}

module.exports.hasFunctions = () => declarations().length > 0;

module.exports.functions = () => {
  const functions = {};
  for (const { name, definition } of declarations()) {
    functions[name] = { ...definition, role: `${logicalName(name)}LambdaRole` };
  }
  return functions;
};

module.exports.roles = () => {
  const resources = {};
  for (const { name, statements } of declarations()) {
    const functionName = `\${self:service}-\${sls:stage}-${name}`;
    resources[`${logicalName(name)}LambdaRole`] = {
      Type: 'AWS::IAM::Role',
      Properties: {
        RoleName: `${functionName}-\${aws:region}`,
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        },
        Policies: [
          {
            PolicyName: name,
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                {
                  Sid: 'OwnLogs',
                  Effect: 'Allow',
                  Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
                  Resource: {
                    'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${functionName}:*`,
                  },
                },
                ...statements,
              ],
            },
          },
        ],
      },
    };
  }
  return resources;
};

// The local cloud needs only the template (it runs handlers from source), so it packages with
// MLPIPE_TEMPLATE_ONLY=1: no bundling and empty code archives, in a third of the time.
const templateOnly = () => process.env.MLPIPE_TEMPLATE_ONLY === '1';
module.exports.templateOnly = templateOnly;

// serverless-esbuild fails to package a service without functions; it joins once the first exists.
module.exports.plugins = () => [
  ...(module.exports.hasFunctions() && !templateOnly() ? ['serverless-esbuild'] : []),
  'serverless-step-functions',
  './infra/offline-layers.js',
  './infra/compiled-specs.js',
];

module.exports.package = () =>
  templateOnly()
    ? { individually: true, excludeDevDependencies: false, patterns: ['!**', 'package.json'] }
    : { individually: true };
