// The template tests package stages exactly as the local cloud does.

export type { CfnTemplate } from '../../local/resources/intrinsics';
export { packageStage, REPO_ROOT } from '../../local/resources/package';
