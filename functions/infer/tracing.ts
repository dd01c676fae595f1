import { Tracer } from '@aws-lambda-powertools/tracer';

/**
 * X-Ray for the inference entry points: one subsegment per invocation (`## <entry point>`) with the
 * cold start, the service and what the entry point annotates (indexed, so traces can be searched by
 * them), and the AWS SDK clients' calls as subsegments of their own. Powertools turns it off outside
 * Lambda (no AWS_EXECUTION_ENV: the local cloud, tests) and where POWERTOOLS_TRACE_ENABLED is false.
 * https://docs.powertools.aws.dev/lambda/typescript/latest/core/tracer/
 */
export const tracer = new Tracer({ serviceName: 'mlpipe-infer' });

/** Adds indexed annotations to the current invocation's subsegment. */
export const annotate = (annotations: Readonly<Record<string, string | number | boolean>>): void => {
  for (const [key, value] of Object.entries(annotations)) tracer.putAnnotation(key, value);
};

export const traced =
  <E, R>(name: string, handler: (event: E) => Promise<R>) =>
  async (event: E): Promise<R> => {
    const parent = tracer.getSegment();
    const segment = parent?.addNewSubsegment(`## ${name}`);
    if (segment) tracer.setSegment(segment);
    tracer.annotateColdStart();
    tracer.addServiceNameAnnotation();
    try {
      return await handler(event);
    } catch (error) {
      tracer.addErrorAsMetadata(error as Error);
      throw error;
    } finally {
      if (parent && segment) {
        segment.close();
        tracer.setSegment(parent);
      }
    }
  };
