import {
  CreateModelPackageCommand,
  type SageMakerClient,
  UpdateModelPackageCommand,
} from '@aws-sdk/client-sagemaker';
import * as z from 'zod';
import {
  modelPackageInput,
  type RegistrationSummary,
  type RegistryStatus,
  runStateSchema,
  summariseCause,
} from '../../core/pipeline';

/**
 * The register step: one model package per candidate in the pipeline's group of the SageMaker Model
 * Registry, with metrics, gate decision and lineage. `register` creates it (Rejected when the gate
 * said no; Approved, or PendingManualApproval where the stage requires a person); `approve` and
 * `reject` record the person's decision on the same package.
 */
export const registerEventSchema = z.object({
  action: z.enum(['register', 'approve', 'reject']),
  status: z.enum(['auto', 'Rejected']).optional(),
  execution: z.string().min(1),
  run: runStateSchema,
});
export type RegisterEvent = z.output<typeof registerEventSchema>;

export interface RegisterSettings {
  readonly modelPackageGroupPrefix: string;
  readonly inferenceImage: string;
  readonly approvalRequired: boolean;
}

export class RegistrationError extends Error {
  override name = 'RegistrationError';
}

export const registerModel = async (
  event: RegisterEvent,
  deps: { sagemaker: SageMakerClient; settings: RegisterSettings },
): Promise<RegistrationSummary> => {
  const { run } = event;
  const evaluated = run.evaluated?.result;
  if (!evaluated) throw new RegistrationError('the state carries no evaluation to register');
  if (event.action === 'register') {
    const status: RegistryStatus =
      event.status === 'Rejected' || !evaluated.gate.passed
        ? 'Rejected'
        : deps.settings.approvalRequired
          ? 'PendingManualApproval'
          : 'Approved';
    const created = await deps.sagemaker.send(
      new CreateModelPackageCommand(
        modelPackageInput(evaluated, status, {
          modelPackageGroup: `${deps.settings.modelPackageGroupPrefix}-${run.pipeline}`,
          inferenceImage: deps.settings.inferenceImage,
          execution: event.execution,
          ingestId: run.ingestId,
          trainingJob: run.training?.jobName ?? evaluated.version,
        }),
      ),
    );
    if (!created.ModelPackageArn) throw new RegistrationError('CreateModelPackage returned no ARN');
    return { modelPackageArn: created.ModelPackageArn, status };
  }
  const registered = run.registered?.result;
  if (!registered) throw new RegistrationError(`cannot ${event.action}: the model was never registered`);
  const approved = event.action === 'approve';
  const approval = run.approval as { approvedBy?: string; comment?: string } | undefined;
  const description = approved
    ? `approved by ${approval?.approvedBy ?? 'a reviewer'}${approval?.comment ? `: ${approval.comment}` : ''}`
    : `rejected by a reviewer: ${summariseCause(run.rejection?.Cause)}`;
  await deps.sagemaker.send(
    new UpdateModelPackageCommand({
      ModelPackageArn: registered.modelPackageArn,
      ModelApprovalStatus: approved ? 'Approved' : 'Rejected',
      ApprovalDescription: description.slice(0, 1024),
    }),
  );
  return { modelPackageArn: registered.modelPackageArn, status: approved ? 'Approved' : 'Rejected' };
};
