/** Renders a Plan for `--dry-run`: numbered steps with the commands and files of each. */
import { quoteArg } from '../log/events.js';
import type { Plan, PlanAction } from '../plan/plan.js';

function renderAction(action: PlanAction): string {
  switch (action.kind) {
    case 'run':
      return `$ ${action.argv.map(quoteArg).join(' ')}${action.stdin ? `  < ${action.stdin}` : ''}`;
    case 'write':
      return `write ${action.path}${action.mode === undefined ? '' : ` (mode ${action.mode.toString(8).padStart(4, '0')})`}`;
    case 'mkdir':
      return `mkdir ${action.path}`;
    case 'symlink':
      return `symlink ${action.path} -> ${action.target}`;
    case 'remove':
      return `remove ${action.path}`;
    case 'note':
      return `# ${action.text}`;
  }
}

/** The plan as text: one numbered line per step, its actions indented beneath. */
export function renderPlan(plan: Plan): string {
  const lines = [`Plan for ${plan.subject} (dry run: nothing is written)`, ''];
  plan.steps.forEach((step, i) => {
    lines.push(`${String(i + 1).padStart(2)}. ${step.title}  [${step.id}]`);
    for (const action of step.actions) lines.push(`      ${renderAction(action)}`);
  });
  return lines.join('\n') + '\n';
}
