/** Typed log events: every external command, step and message of a run, one formatter per kind. */
import path from 'node:path';

export type LogEvent =
  | {
      type: 'exec';
      argv: string[];
      exitCode: number | null;
      signal?: string | undefined;
      durationMs: number;
      stdout: string;
      stderr: string;
      /** The output was logged line by line as `output` events; stdout/stderr are its tail. */
      streamed?: boolean;
    }
  | { type: 'output'; command: string; stream: 'stdout' | 'stderr'; line: string }
  | { type: 'step-start'; id: string; title: string }
  | { type: 'step-end'; id: string; outcome: 'ok' | 'failed' | 'skipped'; durationMs: number }
  | { type: 'undo'; description: string; outcome: 'ok' | 'failed'; error?: string }
  | { type: 'info'; message: string }
  | { type: 'warn'; message: string };

/** Receives log events. The library only emits; the CLI decides where they go. */
export type EventSink = (event: LogEvent) => void;

/** A sink that drops everything: the library's default. */
export const silentSink: EventSink = () => undefined;

const MAX_OUTPUT = 4000;

function tail(text: string): string {
  return text.length > MAX_OUTPUT
    ? `[... ${text.length - MAX_OUTPUT} bytes cut]\n${text.slice(-MAX_OUTPUT)}`
    : text;
}

/** Renders one event as log-file text (timestamps are added by the writer). */
export function formatEvent(event: LogEvent): string {
  switch (event.type) {
    case 'exec': {
      const status = event.signal ? `killed by ${event.signal}` : `exit ${event.exitCode ?? '?'}`;
      const shown = event.streamed ? ', output above' : '';
      const lines = [`$ ${event.argv.map(quoteArg).join(' ')}  # ${status}, ${event.durationMs} ms${shown}`];
      if (event.streamed) return lines[0] as string;
      if (event.stdout.trim()) lines.push(indent(tail(event.stdout)));
      if (event.stderr.trim()) lines.push(indent(tail(event.stderr), '! '));
      return lines.join('\n');
    }
    case 'output':
      return `${event.stream === 'stderr' ? '! ' : '  '}${path.basename(event.command)}| ${event.line}`;
    case 'step-start':
      return `== ${event.title}`;
    case 'step-end':
      return `== ${event.id}: ${event.outcome} (${event.durationMs} ms)`;
    case 'undo':
      return `<< undo ${event.description}: ${event.outcome}${event.error ? ` (${event.error})` : ''}`;
    case 'info':
      return event.message;
    case 'warn':
      return `warning: ${event.message}`;
  }
}

function indent(text: string, prefix = '  '): string {
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((line) => prefix + line)
    .join('\n');
}

/** Quotes an argument for display only (never for execution). */
export function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * Wraps a sink so every string in every event has the given secrets replaced by `********`.
 * Secrets are added later (e.g. once a password is generated), so the set is live.
 */
export function redactingSink(inner: EventSink, secrets: Set<string>): EventSink {
  const scrub = (text: string): string => {
    let out = text;
    for (const secret of secrets) if (secret) out = out.split(secret).join('********');
    return out;
  };
  return (event) => {
    if (secrets.size === 0) return inner(event);
    const copy = JSON.parse(JSON.stringify(event), (_key, value: unknown) =>
      typeof value === 'string' ? scrub(value) : value,
    ) as LogEvent;
    inner(copy);
  };
}
