import type { APIGatewayProxyStructuredResultV2 as HttpResult, LambdaFunctionURLEvent } from 'aws-lambda';
import { loadConfig } from '../shared/config';
import { answerHttp } from './http';
import { logger, metrics, models, validators } from './runtime';
import { annotate, traced } from './tracing';

const config = loadConfig('httpMaxBodyBytes', 'httpMaxRecords');
const settings = { maxBodyBytes: config.httpMaxBodyBytes, maxRecords: config.httpMaxRecords };

/** Function URL (AWS_IAM auth) → predictions. */
export const handler = traced('infer-http', async (event: LambdaFunctionURLEvent): Promise<HttpResult> => {
  const result = await answerHttp(event, { models, validators, metrics, settings });
  annotate({ statusCode: result.statusCode ?? 0 });
  const log = result.statusCode === 200 ? logger.info.bind(logger) : logger.warn.bind(logger);
  log('request answered', { statusCode: result.statusCode, requestId: event.requestContext?.requestId });
  return result;
});
