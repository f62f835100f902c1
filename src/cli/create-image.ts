/** `xen-create-image` / `xenkit create-image`: argv -> spec -> plan -> executed plan -> summary. */
import { readFileSync } from 'node:fs';
import { resolveCreateImage, renderDumpConfig } from '../config/create-image.js';
import { renderCreateImageHelp } from './create-image-options.js';
import { effectiveHashMethod, generatePassword, hashPassword } from '../customize/password.js';
import { usageError } from '../errors.js';
import { renderGuestCfg } from '../formats/xl-cfg-render.js';
import { RunLog } from '../log/run-log.js';
import type { GuestSpec } from '../model/guest-spec.js';
import { replacedGuestIdentity, refuseRunningGuest } from '../images/running.js';
import { buildCreateImagePlan } from '../images/create-image-plan.js';
import { imagePaths } from '../images/create-image-storage.js';
import { refillDrawnPools } from '../customize/host-key-pool.js';
import { planToJSON } from '../plan/plan.js';
import type { CliIO } from './run-cli.js';
import { recoverBeforeRun, runPlan, startProgress } from './plan-run.js';
import { promptPassword, readPasswordFile, readPasswordStdin } from './prompt-password.js';
import { renderPlan } from './render-plan.js';
import { buildSummary, renderSummary } from './render-summary.js';

export interface CreateImageIO extends CliIO {
  stdin: NodeJS.ReadStream;
}

/** The package version, for `--version`. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Obtains root's password as the spec says; returns it and whether it was generated. */
async function obtainPassword(
  spec: GuestSpec,
  io: CreateImageIO,
): Promise<{ plain: string; generated: boolean } | undefined> {
  const source = spec.accounts.rootPassword;
  switch (source.kind) {
    case 'none':
      return undefined;
    case 'generate':
      return { plain: generatePassword(source.length), generated: true };
    case 'value':
      return { plain: source.value, generated: false };
    case 'file':
      return { plain: readPasswordFile(source.path), generated: false };
    case 'stdin':
      return { plain: await readPasswordStdin(io.stdin), generated: false };
    case 'prompt':
      return { plain: await promptPassword(io.stdin, io.stderr as NodeJS.WriteStream), generated: false };
  }
}

/** Runs xen-create-image with `argv`; returns the exit status (errors are thrown to runCli). */
export async function runCreateImage(
  argv: string[],
  io: CreateImageIO,
  env: NodeJS.ProcessEnv,
  setJson: (on: boolean) => void,
): Promise<number> {
  const request = await resolveCreateImage(argv, env, {
    beforeValidate: (paths) => recoverBeforeRun(paths, io),
  });
  setJson(request.flags.json);
  if (request.flags.help) {
    io.stdout.write(renderCreateImageHelp());
    return 0;
  }
  if (request.flags.version) {
    io.stdout.write(`xen-create-image (xenkit) ${packageVersion()}\n`);
    return 0;
  }
  if (request.flags.dumpConfig) {
    io.stdout.write(renderDumpConfig(request.settings));
    return 0;
  }
  const spec = request.spec;
  if (!spec) throw usageError('E_INTERNAL', 'no guest specification was produced');
  for (const warning of request.warnings) io.stderr.write(`warning: ${warning}\n`);

  if (request.flags.dryRun) {
    const { plan } = buildCreateImagePlan({ spec, paths: request.paths, passwordHash: undefined });
    const cfg = spec.output.template ? undefined : renderGuestCfg(spec);
    if (request.flags.json) {
      io.stdout.write(
        JSON.stringify(
          {
            ok: true,
            dryRun: true,
            spec: redactSpec(spec),
            plan: planToJSON(plan),
            cfg: { path: spec.output.cfgPath, content: cfg },
          },
          null,
          2,
        ) + '\n',
      );
    } else {
      io.stdout.write(renderPlan(plan));
      io.stdout.write(
        `\nDomain config ${spec.output.cfgPath}:\n\n${cfg ?? `(rendered from template ${spec.output.template})\n`}`,
      );
    }
    return 0;
  }

  const password = await obtainPassword(spec, io);
  const log = new RunLog(spec.output.logPath);
  if (password) log.addSecret(password.plain);
  const reporter = startProgress(io, request.flags.quiet || request.flags.json);
  try {
    const method = effectiveHashMethod(spec.accounts.hashMethod);
    if (method.warning) reporter.warn(method.warning);
    const passwordHash = password ? await hashPassword(password.plain, method.method) : undefined;
    const paths = request.paths;
    const { plan, outcome } = buildCreateImagePlan({
      spec,
      paths,
      passwordHash,
      // --force replaces the images of an existing guest: never those of one that runs.
      refuseIfRunning: () => {
        const images = imagePaths(spec);
        const writes = [images.disk, images.swap].filter((p): p is string => p !== undefined);
        const identity = replacedGuestIdentity(paths, spec.hostname, spec.output.cfgPath, writes);
        return refuseRunningGuest(identity, paths, 'replace (--force)');
      },
    });
    log.sink({ type: 'info', message: `xen-create-image (xenkit ${packageVersion()}) for ${spec.hostname}` });
    for (const warning of request.warnings) log.sink({ type: 'warn', message: warning });
    const started = Date.now();
    await runPlan(plan, {
      paths: request.paths,
      journal: `create-image ${spec.hostname}`,
      sink: log.sink,
      reporter,
      env,
      logPath: spec.output.logPath,
    });
    reporter.stop();
    const summary = buildSummary(
      spec,
      outcome,
      password?.generated ? password.plain : undefined,
      Date.now() - started,
    );
    log.sink({
      type: 'info',
      message: renderSummary({
        ...summary,
        rootPassword: summary.rootPassword ? '(shown once on the terminal)' : undefined,
      }),
    });
    io.stdout.write(
      request.flags.json ? JSON.stringify({ ok: true, ...summary }, null, 2) + '\n' : renderSummary(summary),
    );
    return 0;
  } finally {
    reporter.stop();
    refillDrawnPools(request.paths.root, log.sink);
    log.close();
    // For bench/create-image.sh: this process's own peak memory, children excluded.
    if (env.XENKIT_REPORT_RUSAGE === '1')
      io.stderr.write(`xenkit-rusage: maxrss_kb=${process.resourceUsage().maxRSS}\n`);
  }
}

/** The spec without the password value (`--password=VALUE`), for JSON output. */
function redactSpec(spec: GuestSpec): GuestSpec {
  if (spec.accounts.rootPassword.kind !== 'value') return spec;
  return { ...spec, accounts: { ...spec.accounts, rootPassword: { kind: 'value', value: '********' } } };
}
