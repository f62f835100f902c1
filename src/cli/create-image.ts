/** `xen-create-image` / `xenkit create-image`: argv -> spec -> plan -> executed plan -> summary. */
import path from 'node:path';
import { resolveCreateImage, renderDumpConfig } from '../config/create-image.js';
import { renderCreateImageHelp } from './create-image-options.js';
import { effectiveHashMethod, generatePassword, hashPassword } from '../customize/password.js';
import { runtimeError, usageError, XenkitError } from '../errors.js';
import type { Paths } from '../paths.js';
import { startDomain } from './xm/create.js';
import { Session } from './xm/session.js';
import { renderGuestCfg } from '../formats/xl-cfg-render.js';
import { escapeControlChars } from '../log/escape-control.js';
import { formatEvent, redactingSink, type EventSink } from '../log/events.js';
import { RunLog } from '../log/run-log.js';
import type { GuestSpec } from '../model/guest-spec.js';
import { replacedGuestIdentity, refuseRunningGuest } from '../images/running.js';
import { buildCreateImagePlan } from '../images/create-image-plan.js';
import { readMemAvailable } from '../install/staging-memory.js';
import { choosesTcgWithoutQemu } from '../hypervisors/accel-probe.js';
import {
  addRemoteSteps,
  remoteStagingDir,
  stageSpecForRemote,
  type RemoteHost,
} from '../images/remote-create.js';
import { checkHostName, findHost } from '../config/hosts-file.js';
import { imagePaths } from '../images/create-image-storage.js';
import { refillDrawnPools } from '../customize/host-key-pool.js';
import { planToJSON } from '../plan/plan.js';
import type { CliIO } from './run-cli.js';
import { recoverBeforeRun, runPlan, startProgress } from './plan-run.js';
import { promptPassword, readPasswordFile, readPasswordStdin } from './prompt-password.js';
import { renderPlan } from './render-plan.js';
import { buildSummary, renderSummary } from './render-summary.js';
import { packageVersion } from './package-version.js';

// Still exported here, where importers found it before it had its own module.
export { packageVersion };

export interface CreateImageIO extends CliIO {
  stdin: NodeJS.ReadStream;
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
  const asked = request.spec;
  if (!asked) throw usageError('E_INTERNAL', 'no guest specification was produced');
  const remote = await remoteHostOf(request.settings, request.paths);
  const staged = remote ? stageSpecForRemote(asked, remoteStagingDir(request.paths, asked.name)) : undefined;
  const spec = staged ?? asked;
  const pvhKernelCache = remote ? undefined : await tcgKernelCache(request.paths, io, env);
  const buildPlan = (passwordHash: string | undefined, refuseIfRunning?: () => Promise<void>) => {
    const built = buildCreateImagePlan({
      spec,
      paths: request.paths,
      passwordHash,
      refuseIfRunning,
      memAvailable: readMemAvailable(),
      ...(pvhKernelCache ? { pvhKernelCache } : {}),
    });
    if (!remote) return built;
    return {
      plan: addRemoteSteps(built.plan, spec, built.outcome, remote, asked.startAfter),
      outcome: built.outcome,
    };
  };
  for (const warning of request.warnings) io.stderr.write(`warning: ${warning}\n`);

  if (request.flags.dryRun) {
    const { plan } = buildPlan(undefined);
    const cfg = spec.output.template ? undefined : renderGuestCfg(spec);
    if (request.flags.json) {
      io.stdout.write(
        JSON.stringify(
          {
            ok: true,
            dryRun: true,
            spec: redactSpec(spec),
            plan: planToJSON(plan),
            ...(spec.startAfter ? { then: [bootLine(spec)] } : {}),
            cfg: { path: spec.output.cfgPath, content: cfg },
          },
          null,
          2,
        ) + '\n',
      );
    } else {
      io.stdout.write(renderPlan(plan));
      if (spec.startAfter) io.stdout.write(`\nThen (--boot): ${bootLine(spec)}\n`);
      io.stdout.write(
        `\nDomain config ${spec.output.cfgPath}:\n\n${cfg ?? `(rendered from template ${spec.output.template})\n`}`,
      );
    }
    return 0;
  }

  const password = await obtainPassword(spec, io);
  const log = new RunLog(spec.output.logPath);
  if (password) log.addSecret(password.plain);
  // --verbose: every event of the log also on stderr as it happens (redacted like the log), with
  // plain progress lines between them instead of a live display they would tear. It goes to
  // stderr, so it mixes with --json; with --quiet it still shows (asked for by name).
  const verbose = request.flags.verbose;
  const reporter = startProgress(io, request.flags.quiet || request.flags.json, { plain: verbose });
  const echo = redactingSink(
    (event) => io.stderr.write(`${escapeControlChars(formatEvent(event), '\n\t')}\n`),
    log.secrets,
  );
  const sink: EventSink = verbose
    ? (event) => {
        log.sink(event);
        echo(event);
      }
    : log.sink;
  try {
    const method = effectiveHashMethod(spec.accounts.hashMethod);
    if (method.warning) reporter.warn(method.warning);
    const passwordHash = password ? await hashPassword(password.plain, method.method) : undefined;
    const paths = request.paths;
    // --force replaces the images of an existing guest: never those of one that runs.
    const { plan, outcome } = buildPlan(passwordHash, () => {
      const images = imagePaths(spec);
      const writes = [images.disk, images.swap].filter((p): p is string => p !== undefined);
      const identity = replacedGuestIdentity(paths, spec.hostname, spec.output.cfgPath, writes);
      return refuseRunningGuest(identity, paths, 'replace (--force)');
    });
    log.sink({ type: 'info', message: `xen-create-image (xenkit ${packageVersion()}) for ${spec.hostname}` });
    for (const warning of request.warnings) log.sink({ type: 'warn', message: warning });
    const startedAt = Date.now();
    await runPlan(plan, {
      paths: request.paths,
      journal: `create-image ${spec.hostname}`,
      sink,
      reporter,
      env,
      logPath: spec.output.logPath,
    });
    reporter.stop();
    // --boot starts the guest once the run has committed and let go of the guest's lock (the
    // driver takes it to start); a guest that fails to start stays built, as with xen-tools.
    const boot = spec.startAfter ? await startBuiltGuest(spec, paths, io, env) : undefined;
    const started = boot && 'id' in boot ? boot : undefined;
    const built = buildSummary(
      spec,
      outcome,
      password?.generated ? password.plain : undefined,
      Date.now() - startedAt,
      started,
    );
    // A remote guest is a libvirt domain there: no cfg here for xm create.
    const summary = remote ? { ...built, next: `virsh --connect ${remote.uri} start ${spec.name}` } : built;
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
    if (boot && 'error' in boot) throw boot.error;
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

/**
 * The QEMU driver's cache of PVH kernels when `xm create` on this host would boot under TCG (the
 * driver xm detects, the accelerator without running QEMU), else undefined.
 */
async function tcgKernelCache(
  paths: Paths,
  io: CreateImageIO,
  env: NodeJS.ProcessEnv,
): Promise<string | undefined> {
  try {
    const session = new Session(
      { io: { ...io, isTTY: false }, env: { ...env, XENKIT_ROOT: paths.root }, prog: 'xm' },
      { root: paths.root },
    );
    if ((await session.chooseDriver()).driver !== 'qemu') return undefined;
    if (!(await choosesTcgWithoutQemu({ env }))) return undefined;
    return path.join(paths.cacheDir, 'pvh-kernels');
  } catch {
    // A driver or accelerator that cannot be told here: xm says why when it starts the guest.
    return undefined;
  }
}

/** `--host NAME` and `--pool POOL` as the remote host to build for, or undefined. */
async function remoteHostOf(
  settings: Record<string, unknown>,
  paths: Paths,
): Promise<RemoteHost | undefined> {
  const host = settings.host;
  if (typeof host !== 'string' || host === '') return undefined;
  const entry = await findHost(paths.hostsFile, checkHostName(host));
  const pool = typeof settings.pool === 'string' && settings.pool !== '' ? settings.pool : 'default';
  return { label: `"${entry.name}"`, uri: entry.uri, pool };
}

/** What --boot does after the build, for --dry-run. */
function bootLine(spec: GuestSpec): string {
  return `start the guest as \`xm create ${spec.output.cfgPath}\` does (through the xl or QEMU driver, detected)`;
}

/** Starts the built guest through the code of `xm create`; a failure keeps the guest and is returned. */
async function startBuiltGuest(
  spec: GuestSpec,
  paths: Paths,
  io: CreateImageIO,
  env: NodeJS.ProcessEnv,
): Promise<{ id: number } | { error: XenkitError }> {
  const session = new Session(
    { io: { ...io, isTTY: false }, env: { ...env, XENKIT_ROOT: paths.root }, prog: 'xm' },
    { root: paths.root, json: true },
  );
  try {
    const domain = await startDomain(session, spec.output.cfgPath, false);
    return { id: domain.id };
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return {
      error: runtimeError(
        'E_BOOT_FAILED',
        `guest "${spec.hostname}" was built (${spec.output.cfgPath}), but --boot could not start it: ${why}`,
        error instanceof XenkitError && error.hint
          ? `${error.hint}; then: xm create ${spec.output.cfgPath}`
          : `start it with: xm create ${spec.output.cfgPath}`,
      ),
    };
  }
}

/** The spec without the password value (`--password=VALUE`), for JSON output. */
function redactSpec(spec: GuestSpec): GuestSpec {
  if (spec.accounts.rootPassword.kind !== 'value') return spec;
  return { ...spec, accounts: { ...spec.accounts, rootPassword: { kind: 'value', value: '********' } } };
}
