import * as z from 'zod';
import { pipelineSpecSchema } from './schema';

/**
 * JSON Schema of the spec for editors (YAML language server), generated from the same zod schema
 * that validates, so the two never disagree. Cross-field rules (a feature's column must exist…) are
 * checked by `mlpipe validate` only.
 */
export const pipelineSpecJsonSchema = (): Record<string, unknown> => ({
  ...z.toJSONSchema(pipelineSpecSchema(), { io: 'input', unrepresentable: 'any' }),
  title: 'mlpipe pipeline spec',
});
